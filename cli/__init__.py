"""Sub-commands of bot.py. Each module has `register(subparsers)` and sets `func` on its parsers;
`func(args, settings)` returns the process exit code.

COMMANDS names each top-level command's module and its one-line help, so that bot.py imports
only the module of the command it runs (a module pulls in most of the bot: a second or two per
start) and still lists every command in `bot.py --help`.
"""

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("cli.run", "run the bot (console channel when no token is set)"),
    "db": ("cli.db", "database maintenance"),
    "sources": ("cli.sources", "manage news sources (feeds and listing pages)"),
    "poll": ("cli.poll", "poll the sources and store new items"),
    "classify": ("cli.classify", "classify items read as JSON Lines on stdin"),
    "reclassify": ("cli.classify", "classify every stored item again (after the gazetteer or "
                                   "the topic rules change)"),
    "admin": ("cli.admin", "roles, statistics, broadcasts and OPML"),
    "deliver": ("cli.deliver", "send due digests and queued messages (no chat)"),
    "doctor": ("cli.doctor", "check the set-up: settings, database, channels, sources, disk, "
                              "time zone"),
}

# The command that runs when the settings do not load, to name every wrong one (bot.py).
DIAGNOSIS = "doctor"


def help_of(command: str) -> str:
    return COMMANDS[command][1]
