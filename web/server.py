"""The HTTP servers of the running bot, on aiohttp (AppRunner and TCPSite in the bot's loop).

The contract for whatever Loa serves: a part is a `Mount`, a function that adds its routes (or
an `add_subapp`) to an aiohttp Application, given with the address setting it listens on:

    servers = await start_web([Site("METRICS_ADDR", settings.metrics_addr, ops.mount(app, checks)),
                               Site("WEB_ADDR", settings.web_addr, pages.mount(app))])
    ...
    await servers.stop()

Sites whose address is empty are off. Sites with the same address share one server, so
/healthz, /metrics and the pages can be served from one port; their routes must not collide
(aiohttp refuses a duplicate route at start).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiohttp import web

from config import ConfigError, listen_addr

log = logging.getLogger(__name__)

Mount = Callable[[web.Application], None]


@dataclass(frozen=True)
class Site:
    setting: str  # the setting that names the address, for the one-line error
    address: str  # host:port; empty: this part is off
    mount: Mount


@dataclass
class Servers:
    """What `start_web` started: one runner per address."""

    runners: list[web.AppRunner] = field(default_factory=list)
    # setting -> (host, port) actually bound: the real port when 0 was asked.
    bound: dict[str, tuple[str, int]] = field(default_factory=dict)

    async def stop(self) -> None:
        for runner in reversed(self.runners):
            await runner.cleanup()
        self.runners.clear()


async def start_web(sites: Iterable[Site]) -> Servers:
    """Start one server per distinct address. An address that cannot be bound stops start-up
    with a ConfigError naming its setting."""
    grouped: dict[tuple[str, int], list[Site]] = {}
    for site in sites:
        if site.address:
            grouped.setdefault(listen_addr(site.address), []).append(site)
    servers = Servers()
    try:
        for (host, port), parts in grouped.items():
            application = web.Application()
            for part in parts:
                part.mount(application)
            runner = web.AppRunner(application, access_log=None, handle_signals=False)
            await runner.setup()
            servers.runners.append(runner)
            tcp = web.TCPSite(runner, host, port)
            try:
                await tcp.start()
            except OSError as exc:
                names = " and ".join(sorted({p.setting for p in parts}))
                raise ConfigError(f"invalid setting {names}: cannot listen on {host}:{port} "
                                  f"({exc.strerror})") from None
            bound = _bound_port(runner, port)
            for part in parts:
                servers.bound[part.setting] = (host, bound)
            log.info("serving %s on http://%s:%d", " and ".join(p.setting for p in parts),
                     host, bound)
    except BaseException:
        await servers.stop()
        raise
    return servers


def _bound_port(runner: web.AppRunner, asked: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return asked
