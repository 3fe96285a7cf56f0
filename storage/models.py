"""Loa's tables. Times are UTC. A province is its current two-digit code as text; a topic is its
slug.

Changing a model means changing the migrations in storage/migrations/versions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from model.enums import OutboxState

# Stable constraint names, so that SQLite and PostgreSQL migrations agree.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always gives them back aware (SQLite forgets zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}
    # Every model maps one Table (SQLAlchemy types it as any FromClause).
    __table__: ClassVar[Table]


# --- Sources and items -------------------------------------------------------------------


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="feed")  # feed | listing
    listing_preset: Mapped[str | None] = mapped_column(String(64))
    # CSS selectors for a listing without a preset: {"item", "link", "summary", "time"}.
    listing_config: Mapped[dict[str, Any] | None]
    name: Mapped[str] = mapped_column(String(256), default="")
    province: Mapped[str | None] = mapped_column(String(2))  # home province, a prior
    state: Mapped[str] = mapped_column(String(16), default="active")  # active | paused
    paused_reason: Mapped[str | None] = mapped_column(Text)
    interval_seconds: Mapped[int | None]  # None: the configured default
    error_count: Mapped[int] = mapped_column(default=0)  # consecutive failures
    first_error_at: Mapped[datetime | None]  # start of the current run of failures
    last_error: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    last_fetch_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None]
    # False until the first successful fetch: that fetch stores the backlog as already seen.
    primed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The instance polling it now, until when (storage.leases.claim_due_sources): a lease, so
    # a source is fetched by one instance, and by another if that one dies mid-poll.
    claimed_by: Mapped[str | None] = mapped_column(String(40))
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("source_id", "guid", name="uq_items_source_guid"),
        Index("ix_items_published", "published_at"),
        Index("ix_items_fetched", "fetched_at"),  # digests take the items fetched in a window
        Index("ix_items_title_fold", "title_fold"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    canonical_url: Mapped[str] = mapped_column(String(2048), unique=True)
    guid: Mapped[str] = mapped_column(String(2048))
    title: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime]
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    content_hash: Mapped[str] = mapped_column(String(64))
    title_fold: Mapped[str] = mapped_column(String(1024), default="")
    search_text: Mapped[str] = mapped_column(Text, default="")  # folded title + summary
    # A republished copy ("Theo Báo Lào Cai") points at the first copy and is never delivered.
    duplicate_of: Mapped[int | None] = mapped_column(
        ForeignKey("items.id", ondelete="SET NULL"), index=True
    )
    # Backlog of a newly added source: stored and searchable, never pushed.
    backlog: Mapped[bool] = mapped_column(Boolean, default=False)
    classified_at: Mapped[datetime | None]
    # Set in the transaction that queues the item's instant alerts. A deliverable item left
    # without it (the process died between storing and matching) is matched at the next start.
    matched_at: Mapped[datetime | None] = mapped_column(index=True)


class ItemProvince(Base):
    __tablename__ = "item_provinces"
    # A province's items newest first, a page at a time (services.browse).
    __table_args__ = (Index("ix_item_provinces_recent", "province", "published_at", "item_id"),)

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    province: Mapped[str] = mapped_column(String(2), primary_key=True, index=True)
    rank: Mapped[int] = mapped_column(default=0)  # 0 = most relevant
    evidence: Mapped[list[Any]]  # [{"text", "resolved", "label", "kind"}]
    # The classifier's confidence, 0..1; instant pushes need INSTANT_MIN_SCORE (delivery.match).
    score: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")
    # The item's published_at, copied by the database's triggers (migration 0005), never by
    # a writer: it lets the label's index list its items newest first.
    published_at: Mapped[datetime | None]


class ItemTopic(Base):
    __tablename__ = "item_topics"
    __table_args__ = (Index("ix_item_topics_recent", "topic", "published_at", "item_id"),)

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    evidence: Mapped[list[Any]]
    score: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")
    # The item's published_at, copied by the database's triggers (migration 0005), never by
    # a writer: it lets the label's index list its items newest first.
    published_at: Mapped[datetime | None]


# --- People ----------------------------------------------------------------------------


class Chat(Base):
    """Where messages go: a private chat, a group or a channel, on one channel adapter."""

    __tablename__ = "chats"
    __table_args__ = (UniqueConstraint("channel", "chat_key", name="uq_chats_channel_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # telegram | zalo | console
    chat_key: Mapped[str] = mapped_column(String(64))  # the channel's chat id, as text
    kind: Mapped[str] = mapped_column(String(16), default="private")  # private | group | channel
    title: Mapped[str] = mapped_column(String(256), default="")
    lang: Mapped[str] = mapped_column(String(2), default="vi")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    inactive_reason: Mapped[str | None] = mapped_column(Text)
    # Default delivery for new subscriptions (set with /digest).
    default_mode: Mapped[str] = mapped_column(String(8), default="instant")
    default_hour: Mapped[int] = mapped_column(default=7)
    default_weekday: Mapped[int] = mapped_column(default=0)  # 0 = Monday
    # Onboarding or typed-dialogue state: {"step": ..., ...}
    dialog: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("channel", "user_key", name="uq_users_channel_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    user_key: Mapped[str] = mapped_column(String(64))  # numeric or opaque id, never a username
    display_name: Mapped[str] = mapped_column(String(256), default="")
    role: Mapped[str] = mapped_column(String(16), default="citizen")  # citizen | official | admin
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OfficialProvince(Base):
    __tablename__ = "official_provinces"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    province: Mapped[str] = mapped_column(String(2), primary_key=True)


# --- Subscriptions -----------------------------------------------------------------------


class Subscription(Base):
    """Matches an item when every non-empty part matches: any of its topics AND any of its
    provinces AND all of its keywords."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), index=True)
    # The words as typed, marks kept ("lũ lụt" shows as typed); matching folds them.
    keywords: Mapped[str] = mapped_column(String(256), default="")
    label: Mapped[str] = mapped_column(String(256), default="")  # the phrase the user typed
    mode: Mapped[str] = mapped_column(String(8), default="instant")  # instant|daily|weekly|off
    hour: Mapped[int] = mapped_column(default=7)  # local hour for digests
    weekday: Mapped[int] = mapped_column(default=0)  # 0 = Monday, for weekly
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # Officials' province reports are subscriptions too, with kind "report".
    kind: Mapped[str] = mapped_column(String(16), default="news")  # news | report
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SubscriptionTopic(Base):
    __tablename__ = "subscription_topics"

    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class SubscriptionProvince(Base):
    __tablename__ = "subscription_provinces"

    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True
    )
    province: Mapped[str] = mapped_column(String(2), primary_key=True, index=True)


# --- Outbox ------------------------------------------------------------------------------


class Delivery(Base):
    """One message (or one digest, in parts) to send. The database decides what is sent."""

    __tablename__ = "deliveries"
    __table_args__ = (
        # Ends with the id: a claim reads due rows in (due_at, id) order (migration 0008).
        Index("ix_deliveries_due", "state", "lane", "due_at", "id"),
        UniqueConstraint("dedup_key", name="uq_deliveries_dedup_key"),
        # Room in each page for a row's next version: storing a claimed row's items is then a
        # heap-only update on PostgreSQL, no new entry in each index (migration 0009).
        {"postgresql_with": {"fillfactor": 70}},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # instant | digest | report | broadcast | alert
    lane: Mapped[int] = mapped_column(default=1)  # 0 = interactive/instant, 1 = bulk
    # Makes enqueueing idempotent: "digest:daily:<chat>:<period>", "item:<chat>:<item>", ...
    dedup_key: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]]  # rendered parts or what to render
    due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(12), default=OutboxState.PENDING)
    # pending | sending | sent | failed | cancelled
    parts_sent: Mapped[int] = mapped_column(default=0)  # a long digest resumes after a crash
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[datetime | None]  # renewed while the claimer works: a lease
    claimed_by: Mapped[str | None] = mapped_column(String(40))  # sender instance holding it
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeliveredItem(Base):
    """Which items a chat has been given (or has queued): each item reaches a chat once."""

    __tablename__ = "delivered_items"

    chat_id: Mapped[int] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL")
    )
    # When it was given: retention deletes by it (delivery.retention). No link to the outbox
    # row: a column and an index per row, at the size of the largest table (migration 0007).
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# --- Admin -------------------------------------------------------------------------------


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(96))  # "telegram:12345", "cli", "zalo:ab12"
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(512), default="")
    allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    details: Mapped[dict[str, Any] | None]


# --- Several instances ----------------------------------------------------------------------


class Lease(Base):
    """A duty one instance holds for a while and renews (storage.leases): "channel:telegram"."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[datetime]


class SeenUpdate(Base):
    """A chat update (Telegram update_id, Zalo message id) taken by an instance: each is handled
    once. `done` once handled; an undone one whose taker died is taken again. Pruned."""

    __tablename__ = "seen_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(index=True)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
