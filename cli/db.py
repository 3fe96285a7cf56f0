"""`bot.py db upgrade`: apply the migrations."""

from __future__ import annotations

import argparse

from cli import help_of
from config import Settings
from storage.migrate import upgrade


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("db", help=help_of("db"))
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations up to the latest")
    up.set_defaults(func=_upgrade)


def _upgrade(args: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.database_url)
    print("database is up to date")
    return 0
