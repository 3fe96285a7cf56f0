"""Sub-commands of bot.py. Each module has `register(subparsers)` and sets `func` on its parsers;
`func(args, settings)` returns the process exit code."""
