"""`bot.py admin ...`: the admin chat actions from the command line (grant, revoke, stats,
broadcast, OPML export and import). The actor in the audit log is "cli"."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from classify.query import province_code
from cli import help_of
from cli.running import EXIT_BAD_INPUT, PROVINCE_HELP, run_with_app
from config import Settings
from handlers import args as typed
from render.markup import escape
from render.texts import t
from runtime import App
from services import admin, limits, users

ACTOR = "cli"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("admin", help=help_of("admin"))
    commands = parser.add_subparsers(dest="admin_command", required=True)

    grant = commands.add_parser("grant", help="make someone an official of provinces, or an admin")
    grant.add_argument("user", help='user id ("12345" on --channel) or "zalo:ab12"')
    grant.add_argument("role", choices=["official", "admin"])
    grant.add_argument("provinces", nargs="*", help=f"for an official: {PROVINCE_HELP}")
    grant.add_argument("--channel", choices=limits.CHANNELS, default="telegram")
    grant.set_defaults(func=_grant)

    revoke = commands.add_parser("revoke", help="back to citizen")
    revoke.add_argument("user")
    revoke.add_argument("--channel", choices=limits.CHANNELS, default="telegram")
    revoke.set_defaults(func=_revoke)

    commands.add_parser("stats", help="users, subscriptions, items, deliveries and failures"
                        ).set_defaults(func=_stats)

    cast = commands.add_parser("broadcast", help="announce to every chat, or to a province's;"
                               " shows the audience unless --yes")
    cast.add_argument("text")
    cast.add_argument("--province", help=PROVINCE_HELP)
    cast.add_argument("--yes", action="store_true", help="queue it (otherwise only a preview)")
    cast.set_defaults(func=_broadcast)

    export = commands.add_parser("export", help="write every source as OPML")
    export.add_argument("file", nargs="?", type=Path, help="default: standard output")
    export.set_defaults(func=_export)

    load = commands.add_parser("import", help="add the feeds of an OPML file")
    load.add_argument("file", type=Path)
    load.set_defaults(func=_import)


def _grant(args: argparse.Namespace, settings: Settings) -> int:
    codes = typed.provinces_in(" ".join(args.provinces))
    channel, key = limits.person_ref(args.user, args.channel)

    async def command(app: App) -> int:
        change = await users.grant(app, ACTOR, channel, key, args.role, codes)
        where = f" of {', '.join(change.person.provinces)}" if args.role == "official" else ""
        print(f"{channel}:{key} is now {args.role}{where}")
        if change.new_to_loa:
            print(f"note: {channel}:{key} has never written to Loa; check the id"
                  " (they can send /id to the bot)")
        return 0
    return run_with_app(settings, command)


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    channel, key = limits.person_ref(args.user, args.channel)

    async def command(app: App) -> int:
        await users.revoke(app, ACTOR, channel, key)
        print(f"{channel}:{key} is now a citizen")
        return 0
    return run_with_app(settings, command)


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    async def command(app: App) -> int:
        found = await admin.stats(app)
        for name, value in vars(found).items():
            if name == "tables":
                continue
            if isinstance(value, dict):
                value = ", ".join(f"{k} {n}" for k, n in sorted(value.items())) or "0"
            print(f"{name.replace('_', ' ')}: {value}")
        print("tables:")
        for size in found.tables:
            rows = f"~{size.rows}" if size.estimated else str(size.rows)
            print(f"  {size.name}: {rows} rows, {size.mb:.1f} MB")
        return 0
    return run_with_app(settings, command)


def _broadcast(args: argparse.Namespace, settings: Settings) -> int:
    province = province_code(args.province) if args.province else None
    if args.province and province is None:
        print(f"loa: --province {args.province!r} is not one province", file=sys.stderr)
        return EXIT_BAD_INPUT
    html = f"{t('vi', 'broadcast_header')}\n{escape(args.text.strip())}"

    async def command(app: App) -> int:
        admin.check_broadcast(html, province)
        if not args.yes:
            audience = await admin.broadcast_audience(app, province)
            print(f"would reach {audience} chats; run again with --yes to queue it")
            return 0
        queued = await admin.send_broadcast(app, ACTOR, html, province)
        print(f"queued {queued} messages")
        return 0
    return run_with_app(settings, command)


def _export(args: argparse.Namespace, settings: Settings) -> int:
    async def command(app: App) -> int:
        data = await admin.export_opml(app, ACTOR)
        if args.file:
            args.file.write_bytes(data)
            print(f"wrote {args.file}")
        else:
            sys.stdout.write(data.decode("utf-8"))
        return 0
    return run_with_app(settings, command)


def _import(args: argparse.Namespace, settings: Settings) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"loa: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT

    async def command(app: App) -> int:
        done = await admin.import_opml(app, data, ACTOR)
        for url in done.added:
            print(f"added {url}")
        for url, why in done.skipped:
            print(f"skipped {url}: {why.reason}")
        print(f"imported {len(done.added)} sources, skipped {len(done.skipped)}")
        return 0
    return run_with_app(settings, command)
