#!/usr/bin/env python3
"""Loa's single entry point: `python bot.py <command>`. Run `python bot.py -h` for the list."""

from __future__ import annotations

import argparse
import sys

from config import ConfigError, load_settings
from logs import setup_logging

# Each module adds its sub-commands; see cli/__init__.py.
from cli import admin, classify, db, deliver, poll, run, sources

COMMAND_MODULES = [run, db, sources, poll, classify, admin, deliver]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bot.py", description="Loa: civic news to chat")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"loa: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.secrets())
    return int(args.func(args, settings) or 0)


if __name__ == "__main__":
    sys.exit(main())
