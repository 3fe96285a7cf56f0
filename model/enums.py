"""The shared states and kinds, as str-valued enums.

`StrEnum` members are `str`s, so they are stored in the existing string columns and compare equal
to the values already there: no migration.
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


class SubscriptionMode(StrEnum):
    """When a subscription is delivered: at once, in a daily or weekly digest, or not at all."""

    INSTANT = "instant"
    DAILY = "daily"
    WEEKLY = "weekly"
    OFF = "off"


class SubscriptionKind(StrEnum):
    """What a subscription is for: matching news, or an official's province report."""

    NEWS = "news"
    REPORT = "report"


class SourceStatus(StrEnum):
    """How one poll of a source ended (ingest.handler.SourceOutcome)."""

    NEW = "new"
    UNCHANGED = "unchanged"
    ERROR = "error"


class DeliveryKind(StrEnum):
    """What one outbox row carries (storage.models.Delivery.kind); a held digest is a "digest"
    whose payload mode is delivery.digests.HELD."""

    INSTANT = "instant"
    DIGEST = "digest"
    REPORT = "report"
    BROADCAST = "broadcast"
    ALERT = "alert"
    REPLY = "reply"  # a command's reply taken in by an instance that does not lead the channel
