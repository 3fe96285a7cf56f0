"""The offline demo (issue 12): what the console shows a newcomer whose database is empty.

The five bundled outlets (data/demo/, see its README: 87 real headlines over many provinces and
all 13 topics) are added as ordinary sources, `http://demo.loa.invalid/<file>`, and replayed on
a demo clock, so `/latest` and `/search` have content at once and a subscription made in the
first minute gets an instant push.

**Transport, and why.** A small aiohttp server on 127.0.0.1 (an ephemeral port, in the bot's own
loop) serves the outlets' files, cut and dated by the demo clock. Every demo item therefore goes
the real way: the poller's schedule, feeds.fetch over a real socket (conditional GET, ETag,
304), the RSS and listing parsers, dedup, classification, matching, the outbox, the console
channel. A `file:` scheme or a stub transport would skip the network layer, which is where real
sources differ most. The source policy (feeds.policy refuses loopback) has one exact exception:
the fetcher connects the name `demo.loa.invalid`, which DNS never answers (`.invalid`, RFC 6761),
to the address this server listens on (`App.local_sites`); no other name or address is exempt.
The URLs stay the same across restarts, whatever port the server gets.

**The demo clock** is `App.clock` (tests move it). At the first request (the demo's first poll,
made as it is seeded) the first `BACKLOG` items of the replay order (`demo.json`) are there,
dated `STEP` apart over the preceding hours: that poll stores them as each source's backlog (a
source's first read is stored, not pushed). Then one more item appears every `ARRIVAL`, dated
when it arrives, and the next poll (demo sources are polled every `POLL_SECONDS`, below the
minimum that spares real servers) stores, classifies and matches it, so it is pushed. The
backlog holds the first three Đại đoàn kết items, so `/search dai doan ket` finds them; the
others arrive within the first two minutes.

**The end.** `/demo off`, adding a real source (services.sources, OPML import), or starting
on Telegram or Zalo (cli/run.py) removes the demo sources with the items only they brought;
subscriptions stay. A database is seeded once
(audit action `demo_start`); a restart while the demo runs serves it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING

from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from runtime import App
from services import audit
from storage.models import AuditLog, Item, Source

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger(__name__)

DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "demo"
HOST = "demo.loa.invalid"
URL_PREFIX = f"http://{HOST}/"
BACKLOG = 27  # items there at once
STEP = timedelta(minutes=7)  # between backlog items' dates
ARRIVAL = timedelta(seconds=3)  # then one item every ARRIVAL
POLL_SECONDS = 10
ACTOR = "demo"
_CONTENT_TYPES = {"rss": "application/rss+xml", "listing": "text/html"}


@dataclass(frozen=True, slots=True)
class Outlet:
    file: str
    kind: str  # rss | listing
    title: str
    preset: str | None
    home_province: str | None

    @property
    def url(self) -> str:
        return URL_PREFIX + self.file


def is_demo_url(url: str) -> bool:
    return url.startswith(URL_PREFIX)


class Replay:
    """The outlets' files as the demo clock has them at a given moment."""

    def __init__(self, local: tzinfo, directory: Path = DEMO_DIR) -> None:
        manifest = json.loads((directory / "demo.json").read_text(encoding="utf-8"))
        self.outlets = {o["file"]: Outlet(**o) for o in manifest["outlets"]}
        self._seq = {item["url"]: int(item["seq"]) for item in manifest["items"]}
        self._bodies = {name: (directory / name).read_bytes() for name in self.outlets}
        self._local = local
        self.started: datetime | None = None

    def _arrived(self, now: datetime) -> int:
        if self.started is None:
            self.started = now
        return min(len(self._seq), BACKLOG + int((now - self.started) / ARRIVAL))

    def _dated(self, seq: int) -> datetime:
        assert self.started is not None
        if seq < BACKLOG:
            return self.started - (BACKLOG - seq) * STEP
        return self.started + (seq - BACKLOG + 1) * ARRIVAL

    def render(self, outlet: Outlet, now: datetime) -> bytes:
        """The outlet's file with the items arrived by `now`, each with its demo date."""
        arrived = self._arrived(now)
        if outlet.kind == "rss":
            return self._rss(self._bodies[outlet.file], arrived)
        return self._listing(self._bodies[outlet.file], arrived)

    def _rss(self, body: bytes, arrived: int) -> bytes:
        root = ET.fromstring(body)  # our own bundled file
        channel = root.find("channel")
        assert channel is not None
        newest = self._dated(0)
        for item in channel.findall("item"):
            seq = self._seq[item.findtext("link") or ""]
            pub_date = item.find("pubDate")
            if seq >= arrived or pub_date is None:
                channel.remove(item)
                continue
            pub_date.text = format_datetime(self._dated(seq))
            newest = max(newest, self._dated(seq))
        build_date = channel.find("lastBuildDate")
        if build_date is not None:
            build_date.text = format_datetime(newest)
        return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))

    def _listing(self, body: bytes, arrived: int) -> bytes:
        tree = LexborHTMLParser(body)
        for story in tree.css("article.story"):
            link = story.css_first("a")
            seq = self._seq[link.attributes.get("href") or ""] if link else len(self._seq)
            shown = story.css_first(".story__time")
            if seq >= arrived or shown is None or shown.child is None:
                story.decompose()
                continue
            shown.child.replace_with(f"{self._dated(seq).astimezone(self._local):%H:%M %d/%m/%Y}")
        return (tree.html or "").encode("utf-8")


class DemoFeeds:
    """The HTTP server the demo sources are fetched from (see the module's docstring)."""

    def __init__(self, app: App, replay: Replay) -> None:
        self.app = app
        self.replay = replay
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        # aiohttp's server and the poller load here, not with the module: every `bot.py
        # sources` command reads is_demo_url and would pay for them (0.3 s of CPU).
        from aiohttp import web

        application = web.Application()
        application.router.add_get("/{name}", self._serve)
        self._runner = web.AppRunner(application, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = next(a[1] for a in self._runner.addresses if isinstance(a, tuple))
        self.app.local_sites[HOST] = ("127.0.0.1", int(port))

    async def stop(self) -> None:
        self.app.local_sites.pop(HOST, None)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _serve(self, request: web.Request) -> web.Response:
        from aiohttp import web

        outlet = self.replay.outlets.get(request.match_info["name"])
        if outlet is None:
            raise web.HTTPNotFound()
        body = self.replay.render(outlet, self.app.clock())
        etag = f'"{hashlib.sha1(body).hexdigest()[:20]}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, content_type=_CONTENT_TYPES[outlet.kind], charset="utf-8",
                            headers={"ETag": etag})


async def _seed(app: App, outlets: list[Outlet]) -> bool:
    """Add the demo sources if the database has no source, no item and was never seeded."""
    async with app.sessions() as session, session.begin():
        used = (await session.scalar(select(func.count()).select_from(Source))
                or await session.scalar(select(func.count()).select_from(Item))
                or await session.scalar(select(func.count()).select_from(AuditLog)
                                        .where(AuditLog.action == "demo_start")))
        if used:
            return False
        # Not due: the first poll is made by start_demo itself, before the console opens.
        later = app.clock() + timedelta(days=1)
        session.add_all(Source(url=o.url, kind="listing" if o.kind == "listing" else "feed",
                               listing_preset=o.preset, name=o.title, province=o.home_province,
                               state="active", interval_seconds=POLL_SECONDS,
                               next_check_at=later) for o in outlets)
        audit.record(session, ACTOR, "demo_start", HOST, sources=len(outlets))
    return True


async def running_sources(app: App) -> int:
    """How many demo sources are active."""
    async with app.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Source).where(
            Source.url.startswith(URL_PREFIX), Source.state == "active")) or 0)


async def start_demo(app: App) -> DemoFeeds | None:
    """Seed the demo on an empty database, and serve it while its sources are active; its first
    poll (the backlog) is done before this returns. None when there is no demo to run.

    The seeded sources are not due, so the running poller leaves them alone until this first
    poll has recorded them (and scheduled their next check)."""
    replay = Replay(app.settings.tz)
    seeded = await _seed(app, list(replay.outlets.values()))
    if not await running_sources(app):
        return None
    feeds = DemoFeeds(app, replay)
    await feeds.start()
    if seeded:
        from ingest.worker import Poller

        report = await Poller(app).poll_all()
        log.info("demo seeded: %d sources, %d items in the backlog", len(replay.outlets),
                 report.new_items)
    return feeds


async def remove_demo_sources(session: AsyncSession, actor: str) -> int:
    """Remove the demo sources and the items only they brought; how many there were."""
    removed = await session.scalars(
        delete(Source).where(Source.url.startswith(URL_PREFIX)).returning(Source.id))
    count = len(removed.all())
    if count:
        audit.record(session, actor, "demo_end", HOST, sources=count)
        log.info("demo ended by %s: %d demo sources removed", actor, count)
    return count


async def end_demo(app: App, actor: str) -> int:
    """`/demo off`: remove the demo sources; how many there were."""
    async with app.sessions() as session, session.begin():
        return await remove_demo_sources(session, actor)
