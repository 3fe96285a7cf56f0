"""The one exception the feed pipeline raises: a source's content could not be used."""

from __future__ import annotations


class FeedError(Exception):
    """`reason` is a human-readable English line, recorded on the source and shown to admins."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
