"""`bot.py sources ...`: add, list, remove, pause, resume and test news sources."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime

from cli import help_of
from cli.running import PROVINCE_HELP, run_with_app
from config import Settings
from runtime import App
from services import sources


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("sources", help=help_of("sources"))
    commands = parser.add_subparsers(dest="sources_command", required=True)

    add = commands.add_parser("add", help="add a feed, or a listing page with --listing")
    add.add_argument("url")
    add.add_argument("--province", help=f"home province: {PROVINCE_HELP}")
    add.add_argument("--name", help="display name (default: the feed's own title, read at its"
                     " first fetch)")
    add.add_argument("--listing", metavar="PRESET", help="read an HTML listing with a preset")
    add.set_defaults(func=_add)

    commands.add_parser("list", help="state, last fetch, errors and items of each source"
                        ).set_defaults(func=_list)
    for name, func, text in (("remove", _remove, "remove a source and its items"),
                             ("pause", _pause, "stop polling a source"),
                             ("resume", _resume, "poll a paused source again")):
        cmd = commands.add_parser(name, help=text)
        cmd.add_argument("ref", help="source id or URL")
        cmd.set_defaults(func=func)

    test = commands.add_parser("test", help="fetch or read a source and show its items,"
                               " storing nothing")
    test.add_argument("location", metavar="URL_OR_FILE")
    test.add_argument("--listing", metavar="PRESET", help="read it as an HTML listing")
    test.set_defaults(func=_test)


def _when(value: datetime | None, settings: Settings) -> str:
    return value.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M") if value else "never"


def _describe(info: sources.SourceInfo) -> str:
    extra = f" [{info.listing_preset}]" if info.listing_preset else ""
    where = f", province {info.province}" if info.province else ""
    name = f"{info.name} " if info.name else ""  # unnamed until its first read gives its title
    return f"source {info.id}: {name}<{info.url}> ({info.kind}{extra}{where}, {info.state})"


def _add(args: argparse.Namespace, settings: Settings) -> int:
    async def command(app: App) -> int:
        info = await sources.add_source(app, args.url, province=args.province, name=args.name,
                                        listing=args.listing, actor="cli")
        print(f"added {_describe(info)}")
        return 0
    return run_with_app(settings, command)


def _list(args: argparse.Namespace, settings: Settings) -> int:
    async def command(app: App) -> int:
        rows = await sources.list_sources(app)
        if not rows:
            print("no sources yet: add one with `bot.py sources add URL`")
            return 0
        print(f"{'id':>4}  {'state':<7} {'last fetch':<16}  {'errors':>6}  {'items':>6}  source")
        for info in rows:
            print(f"{info.id:>4}  {info.state:<7} {_when(info.last_fetch_at, settings):<16}"
                  f"  {info.error_count:>6}  {info.items:>6}  {info.name or '–'} <{info.url}>")
            problem = info.paused_reason if info.state == "paused" else info.last_error
            if problem:
                print(f"{'':>6}{problem}")
        return 0
    return run_with_app(settings, command)


def _change(action: str) -> Callable[[argparse.Namespace, Settings], int]:
    def handler(args: argparse.Namespace, settings: Settings) -> int:
        async def command(app: App) -> int:
            info = await getattr(sources, f"{action}_source")(app, args.ref, actor="cli")
            print(f"{action}d {_describe(info)}")
            return 0
        return run_with_app(settings, command)
    return handler


_remove, _pause, _resume = _change("remove"), _change("pause"), _change("resume")


def _test(args: argparse.Namespace, settings: Settings) -> int:
    async def command(app: App) -> int:
        result = await sources.test_source(app, args.location, listing=args.listing)
        print(f"{result.location}: {len(result.items)} items ({result.kind}); nothing stored")
        if result.moved_to:
            print(f"moved permanently to {result.moved_to}")
        for item in result.items:
            local = item.published_local.strftime("%Y-%m-%d %H:%M %z")
            utc = item.published_at.strftime("%Y-%m-%d %H:%M UTC")
            dated = "" if item.dated else " (no date given: fetch time)"
            print(f"\n{local} ({utc}){dated}\n  {item.title}\n  {item.url}")
            labels = [*item.provinces, *item.topics]
            if labels:
                print(f"  labels: {', '.join(labels)}")
            for hit in item.evidence:
                # `resolved` is the whole chain, starting with the matched text.
                print(f"    {hit.kind} {hit.label}: {hit.resolved or hit.text}")
        return 0
    return run_with_app(settings, command)
