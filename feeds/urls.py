"""Article URLs: resolve relative links and reduce a URL to the one form we dedup on."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# Query parameters that only say where a click came from; two URLs that differ only in these
# are the same article. Prefix entries end in "_".
_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "at_", "vero_", "hsa_")
_TRACKING_NAMES = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
    "zarsrc", "gidzl", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ref_src", "ref_url",
    "cmpid", "ocid", "spm", "trk", "srsltid",
})
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def resolve(base: str, href: str) -> str:
    """An absolute URL for `href` found in a document fetched from `base`."""
    href = href.strip()
    if not href:
        return ""
    return urljoin(base, href) if base else href


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_NAMES or lowered.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """Lowercase scheme and host, no default port, no fragment, no tracking parameters, and the
    remaining query sorted: the form two copies of one article's link share."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a malformed port or IPv6 literal: keep what we were given
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    if port is not None and str(port) != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    if parts.username or parts.password:
        userinfo = parts.username or ""
        if parts.password:
            userinfo += f":{parts.password}"
        host = f"{userinfo}@{host}"
    query = ""
    if parts.query:
        pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                 if not is_tracking_param(k)]
        query = urlencode(sorted(pairs))
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, query, ""))


def is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
