"""Alerts to admins (a paused source, a rejected message). Placeholder until issue 5 lands."""

from __future__ import annotations

import logging

from runtime import App

log = logging.getLogger(__name__)


async def alert_admins(app: App, text: str) -> None:
    log.warning("admin alert: %s", text)
