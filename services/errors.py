"""The one exception services raise for bad input or a refused action."""

from __future__ import annotations


class ServiceError(Exception):
    """`code` picks the user's one polite line (render/texts.py); `reason` is for admins and
    logs."""

    def __init__(self, code: str, reason: str, **params: object) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.params = params
