"""`bot.py poll --once`: poll every active source once; `bot.py poll`: keep polling on schedule."""

from __future__ import annotations

import argparse
import asyncio

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from cli import help_of
from cli.running import run_with_app
from config import Settings
from ingest.worker import poll_once, start_polling
from model.enums import SourceStatus
from runtime import App


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("poll", help=help_of("poll"))
    parser.add_argument("--once", action="store_true",
                        help="poll every active source once, print what each brought, and exit"
                             " (status 1 when any source failed)")
    parser.set_defaults(func=_poll)


def _poll(args: argparse.Namespace, settings: Settings) -> int:
    async def once(app: App) -> int:
        report = await poll_once(app)
        for outcome in report.outcomes:
            detail = outcome.error if outcome.status == SourceStatus.ERROR else (
                f"{outcome.new} new" + (" (backlog, not pushed)" if outcome.backlog else "")
                if outcome.status == SourceStatus.NEW else "unchanged")
            paused = " — now paused" if outcome.paused else ""
            print(f"source {outcome.source_id} {outcome.name}: {detail}{paused}")
        print(report.summary())
        return 1 if report.failed else 0

    async def forever(app: App) -> int:
        scheduler = AsyncIOScheduler(timezone=settings.timezone)
        start_polling(app, scheduler)
        scheduler.start()
        try:
            await asyncio.Event().wait()
        finally:
            scheduler.shutdown(wait=False)
        return 0

    if args.once:
        return run_with_app(settings, once)
    try:
        return run_with_app(settings, forever)
    except KeyboardInterrupt:
        return 0
