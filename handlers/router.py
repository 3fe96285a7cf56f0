"""Placeholder until the chat issue lands: every message gets a short notice."""

from __future__ import annotations

from channels.base import OutMessage
from handlers.types import Incoming, Result
from runtime import App


async def dispatch(app: App, msg: Incoming) -> Result:
    return Result(messages=[OutMessage(text="Loa đang được xây dựng.")])
