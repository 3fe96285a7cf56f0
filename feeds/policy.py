"""Which network addresses Loa may fetch sources from (ALLOW_PRIVATE_SOURCES).

An admin-supplied URL must not turn the bot into a probe of the network it runs in: loopback,
link-local (the cloud metadata service at 169.254.169.254), private, shared, unspecified,
multicast and reserved addresses are refused unless ALLOW_PRIVATE_SOURCES is true. The check is
on addresses, never on names, so it holds after DNS resolution: a public name that resolves to a
private address is refused. IPv6 forms that carry an IPv4 address (mapped ::ffff:a.b.c.d, 6to4,
Teredo, NAT64 64:ff9b::/96) are judged by that IPv4 address too.

The check runs where the connection is made (feeds.fetch's network backend), on the very address
the socket then connects to, for every request, redirects included; there is no second lookup
that DNS rebinding could answer differently. A refusal happens before any connection, so it
says nothing about whether a port is open.

One exception, exact: the offline demo's name `demo.loa.invalid`, which DNS never answers, is
connected to the loopback port this process serves it on (feeds.fetch `local_sites`,
services/demo.py); no other name or address is exempt.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Names that always mean this machine (RFC 6761), refused before any lookup.
_LOCAL_NAMES = ("localhost", "localhost.localdomain")


class SourceRefused(Exception):
    """A source's address is not allowed by the policy; the message is one line for the admin."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _own_kind(ip: Address) -> str | None:
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "non-public"  # e.g. shared address space 100.64.0.0/10
    return None


def refusal(ip: Address) -> str | None:
    """Why `ip` is not a public address ("loopback", "private", ...), or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # the socket goes to the IPv4 address itself
            return _own_kind(ip.ipv4_mapped)
        if ip in _NAT64:  # a DNS64 answer: the gateway connects to the IPv4 address inside
            return _own_kind(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        # 6to4 and Teredo tunnel to the IPv4 address they carry (Teredo: the client's).
        inner = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is not None and _own_kind(inner) is not None:
            return _own_kind(inner)
    return _own_kind(ip)


def literal_address(host: str) -> Address | None:
    """The address a URL's host names without DNS: "127.0.0.1", "::1", and the legacy IPv4 forms
    that resolvers accept ("127.1", "2130706433", "0x7f.0.0.1")."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host) and host[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _refuse(what: str, ip: Address, kind: str) -> SourceRefused:
    shown = f"{what} ({ip})" if what != str(ip) else str(ip)
    return SourceRefused(f"refused: {shown} is a {kind} address, and Loa only reads public"
                         " addresses (ALLOW_PRIVATE_SOURCES=false)")


def check_host(host: str) -> None:
    """Refuse a host that is a non-public address or a name for this machine, without DNS.
    Names are checked again, after resolution, when they are fetched."""
    name = host.strip("[]").rstrip(".").lower()
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        raise _refuse(name, ipaddress.ip_address("127.0.0.1"), "loopback")
    ip = literal_address(name)
    if ip is not None:
        kind = refusal(ip)
        if kind is not None:
            raise _refuse(name, ip, kind)


def check_url(url: str) -> None:
    """check_host for a URL's host (an unparsable URL is left to the caller's own checks)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return
    if host:
        check_host(host)


async def resolve(host: str, port: int) -> list[Address]:
    """The addresses `host` resolves to, in the resolver's order. Tests replace this function to
    stand in for DNS."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: dict[Address, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        found[ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
    return list(found)


async def addresses(host: str, port: int) -> list[Address]:
    """The addresses to connect to for `host`: itself when it is an address, else resolved."""
    ip = literal_address(host)
    return [ip] if ip is not None else await resolve(host, port)


async def public_addresses(host: str, port: int) -> list[Address]:
    """addresses(), or SourceRefused if any of them is not public: a name with one private
    address among public ones is refused, since the connection could go to any of them."""
    check_host(host)
    found = await addresses(host, port)
    for address in found:
        kind = refusal(address)
        if kind is not None:
            raise _refuse(host, address, kind)
    return found
