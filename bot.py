#!/usr/bin/env python3
"""Loa's single entry point: `python bot.py <command>`. Run `python bot.py -h` for the list.

Every command runs inside one guard: a wrong setting prints one line that names it (exit 2);
an unexpected exception prints one line with its class and redacted message (exit 1), and its
traceback goes, redacted, to LOG_FILE only, since a traceback can quote a token.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from cli import COMMANDS, DIAGNOSIS
from config import ConfigError, load_settings
from logs import Redactor, log_crash, setup_logging

EXIT_CRASH = 1
EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130
MAX_LINE_CHARS = 300


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser for `argv`: the command it names is registered by its module (see
    cli/__init__.py), the others by name and help only, so a start imports one command's
    module, not the whole bot."""
    parser = argparse.ArgumentParser(prog="bot.py", description="Loa: civic news to chat")
    sub = parser.add_subparsers(dest="command", required=True)
    chosen = _command(argv)
    if chosen in COMMANDS:
        importlib.import_module(COMMANDS[chosen][0]).register(sub)
    for name, (_, help_) in COMMANDS.items():
        if name not in sub.choices:
            sub.add_parser(name, help=help_)
    return parser


def _command(argv: list[str]) -> str | None:
    return next((word for word in argv if not word.startswith("-")), None)


def _say(text: str, suffix: str = "") -> None:
    line = " ".join(text.split())  # one line, whatever the message holds
    if len(line) > MAX_LINE_CHARS:
        line = line[: MAX_LINE_CHARS - 1] + "…"
    print(f"loa: {line}{suffix}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The settings load before the command's module (for `run`, the whole bot: a second of
    # imports), so a wrong one is named at once; help, a wrong command, and `doctor`, which
    # names every wrong setting itself, still read the command line first.
    chosen = _command(argv)
    named_first = chosen in COMMANDS and chosen != DIAGNOSIS and {"-h", "--help"}.isdisjoint(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        if named_first:
            _say(str(exc))
            return EXIT_CONFIG
        return _unconfigured(build_parser(argv).parse_args(argv), str(exc))
    except Exception as exc:  # noqa: BLE001 - e.g. an unreadable .env; its text may quote a value
        if not named_first:
            build_parser(argv).parse_args(argv)  # help (and its exit) still works
        _say(f"cannot start: {type(exc).__name__}")
        return EXIT_CONFIG
    args = build_parser(argv).parse_args(argv)
    try:  # after the imports, whose own log lines are not the command's
        redact = setup_logging(settings.log_level, settings.secrets(), settings.log_file,
                               settings.log_format)
    except ConfigError as exc:
        return _unconfigured(args, str(exc))
    try:
        return int(args.func(args, settings) or 0)
    except ConfigError as exc:
        _say(redact(str(exc)))
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the guard: whatever it is, one line and the log
        return _crashed(exc, redact, settings.log_file)


def _unconfigured(args: argparse.Namespace, problem: str) -> int:
    """The settings do not load: `doctor` names every wrong one, another command this one."""
    if getattr(args, "diagnose", None):
        try:
            return int(args.diagnose(args))
        except Exception as crash:  # noqa: BLE001 - the same guard, with what is known
            return _crashed(crash, Redactor([]), "")
    _say(problem)
    return EXIT_CONFIG


def _crashed(exc: Exception, redact: Redactor, log_file: str) -> int:
    where = f" (traceback in {log_file})" if log_crash(exc) else ""
    message = str(exc).strip()
    _say(redact(f"{type(exc).__name__}: {message}" if message else type(exc).__name__), where)
    return EXIT_CRASH


if __name__ == "__main__":
    sys.exit(main())
