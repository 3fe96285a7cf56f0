"""Run a CLI command's coroutine against a migrated database, turning bad input into one line."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable

from config import Settings
from runtime import App, open_app
from services.errors import ServiceError
from storage.migrate import upgrade

EXIT_BAD_INPUT = 2
# How every --province and province argument is read (classify.query.province_code).
PROVINCE_HELP = ("an official code (01 … 96 with gaps: 01 Hà Nội, 31 Hải Phòng, 79 Hồ Chí Minh),"
                 " a name or a slug, with or without diacritics (\"Hải Phòng\", hai-phong)")


def run_with_app(settings: Settings, command: Callable[[App], Awaitable[int]]) -> int:
    """Apply migrations, open the app, run `command`; a ServiceError prints its reason and
    exits with status 2, without a traceback."""
    logging.getLogger("alembic").setLevel(
        logging.WARNING
    )  # one line per migration step is noise here
    upgrade(settings.database_url)

    async def main() -> int:
        app = open_app(settings)
        try:
            return await command(app)
        finally:
            await app.close()

    try:
        return asyncio.run(main())
    except ServiceError as exc:
        print(f"loa: {exc.reason}", file=sys.stderr)
        return EXIT_BAD_INPUT
