"""Serve the pages and feeds on WEB_ADDR (aiohttp's AppRunner), inside the bot's event loop."""

from __future__ import annotations

import logging

from aiohttp import web

from config import split_addr
from runtime import App
from web.pages import pages_app

log = logging.getLogger(__name__)


def root_app(app: App) -> web.Application:
    """The pages at the root, or under WEB_PREFIX when it is set."""
    prefix = app.settings.web_prefix
    if not prefix:
        return pages_app(app)
    root = web.Application()
    root.add_subapp(prefix, pages_app(app, prefix))
    return root


async def start_web(app: App) -> web.AppRunner:
    """Listen on WEB_ADDR (which must be set); `runner.cleanup()` stops."""
    assert app.settings.web_addr
    host, port = split_addr(app.settings.web_addr)
    runner = web.AppRunner(root_app(app), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("web pages on http://%s:%d%s/", host, port, app.settings.web_prefix)
    return runner
