"""Match new items to subscriptions. Placeholder until issue 5 lands."""

from __future__ import annotations

from runtime import App


async def on_new_items(app: App, item_ids: list[int]) -> None:
    """Called by the poller after it stores and classifies new, deliverable items."""
