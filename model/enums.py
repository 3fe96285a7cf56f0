"""The shared states and kinds, as str-valued enums.

`StrEnum` members are `str`s, so they are stored in the existing string columns and compare equal to the
values already there: no migration.
"""

from enum import StrEnum


class OutboxState(StrEnum):
    """Where one outbox row (storage.models.Delivery) is in its life."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ActionKind(StrEnum):
    """What the sender does with a row after one send attempt (delivery.sender.decide)."""

    SENT = "sent"
    WAIT = "wait"
    RETRY = "retry"
    FAIL = "fail"
    GONE = "gone"
    MIGRATE = "migrate"
    AUTH = "auth"
