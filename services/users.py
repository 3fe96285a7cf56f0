"""People and roles: citizen, official (bound to provinces) and admin.

Admins are those listed in ADMIN_IDS (always admin, whatever the table says) and those granted
the role by another admin. Officials get a daily and a weekly province report by default.

A role goes to a person named by an id of their channel's shape, or to someone the bot has seen.
An id the bot has never seen is accepted (officials are often set up before they first write)
and the result says so, so that the admin can check the id. The last admin is never removed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import catalog
from config import Settings
from model.enums import SubscriptionKind
from runtime import App
from services import audit, chats, limits
from services.errors import Refusal, ServiceError
from storage.dialect import lock_for_write
from storage.models import Chat, OfficialProvince, Subscription, SubscriptionProvince, User

ROLES = ("citizen", "official", "admin")
# Default report schedule for a new official, in local time: daily at 7, and Mondays at 7.
REPORT_SCHEDULES = (("daily", 7, 0), ("weekly", 7, 0))


@dataclass(frozen=True)
class Person:
    id: int
    channel: str
    user_key: str
    role: str  # effective: a configured admin is "admin" whatever the table says
    provinces: tuple[str, ...]  # an official's provinces


@dataclass(frozen=True)
class RoleChange:
    person: Person
    new_to_loa: bool  # the id was never seen: the role waits for the person's first message


async def is_admin(app: App, channel: str, user_key: str) -> bool:
    """An admin by ADMIN_IDS (Settings.is_admin, per channel) or by a grant, whether or not the
    bot has seen them yet."""
    if app.settings.is_admin(channel, user_key):
        return True
    person = await find_user(app, channel, user_key)
    return person is not None and person.role == "admin"


async def _person(session: AsyncSession, settings: Settings, user: User) -> Person:
    # A citizen holds no province (revoke deletes them, a grant sets the role): one query less
    # on nearly every message.
    provinces = () if user.role == "citizen" else (await session.scalars(
        select(OfficialProvince.province).where(OfficialProvince.user_id == user.id)
        .order_by(OfficialProvince.province))).all()
    role = "admin" if settings.is_admin(user.channel, user.user_key) else user.role
    return Person(user.id, user.channel, user.user_key, role, tuple(provinces))


async def _get_or_create(session: AsyncSession, channel: str, user_key: str,
                         display_name: str = "") -> User:
    display_name = limits.clean_name(display_name)
    user = await session.scalar(
        select(User).where(User.channel == channel, User.user_key == user_key))
    if user is None:
        user = User(channel=channel, user_key=user_key, display_name=display_name)
        session.add(user)
        await session.flush()
    elif display_name and user.display_name != display_name:
        user.display_name = display_name
    return user


async def ensure_user(app: App, channel: str, user_key: str, display_name: str = "") -> Person:
    """The person behind a message, created on first contact."""
    for _ in range(2):  # a concurrent first message may create the row first
        async with app.sessions() as session:
            try:
                user = await _get_or_create(session, channel, user_key, display_name)
                person = await _person(session, app.settings, user)
                await session.commit()
                return person
            except IntegrityError:
                await session.rollback()
    raise RuntimeError(f"could not create user {channel}:{user_key}")


async def ensure_sender(app: App, channel: str, chat_key: str, chat_kind: str, chat_title: str,
                        user_key: str, user_name: str) -> tuple[Chat, Person]:
    """The chat a message comes from and the person who sent it (`chats.ensure_chat` and
    `ensure_user`), in one transaction: the router asks for both on every message."""
    for _ in range(3):  # concurrent first messages may create the chat, then the user, first
        async with app.sessions() as session:
            try:
                chat = await chats.chat_row(session, channel, chat_key, chat_kind, chat_title)
                user = await _get_or_create(session, channel, user_key, user_name)
                person = await _person(session, app.settings, user)
                await session.commit()
                return chat, person
            except IntegrityError:
                await session.rollback()
    raise RuntimeError(f"could not create chat {channel}:{chat_key} or user {user_key}")


async def find_user(app: App, channel: str, user_key: str) -> Person | None:
    async with app.sessions() as session:
        user = await session.scalar(
            select(User).where(User.channel == channel, User.user_key == user_key))
        return await _person(session, app.settings, user) if user else None


async def staff_roles(app: App, channel: str) -> dict[str, str]:
    """User key -> role for everyone of `channel` above citizen (granted, or in ADMIN_IDS)."""
    async with app.sessions() as session:
        rows = await session.execute(
            select(User.user_key, User.role).where(User.channel == channel, User.role != "citizen")
        )
        roles = {user_key: role for user_key, role in rows}
    roles.update({user_key: "admin" for user_key in app.settings.admin_keys(channel)})
    return roles


def _check_provinces(codes: list[str]) -> list[str]:
    known = catalog.provinces()
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ServiceError(Refusal.BAD_PROVINCE, f"unknown province code(s): {', '.join(unknown)}",
                           province=", ".join(unknown))
    return sorted(set(codes))


async def _private_chat(session: AsyncSession, channel: str, user_key: str) -> Chat:
    """A person's private chat has the person's id on every channel we serve."""
    chat = await session.scalar(
        select(Chat).where(Chat.channel == channel, Chat.chat_key == user_key))
    if chat is None:
        chat = Chat(channel=channel, chat_key=user_key, kind="private")
        session.add(chat)
        await session.flush()
    return chat


async def _set_report_subscriptions(session: AsyncSession, chat_id: int,
                                    provinces: list[str]) -> None:
    existing = (await session.scalars(select(Subscription).where(
        Subscription.chat_id == chat_id, Subscription.kind == SubscriptionKind.REPORT))).all()
    if not existing:
        existing = [
            Subscription(
                chat_id=chat_id,
                kind=SubscriptionKind.REPORT,
                mode=mode,
                hour=hour,
                weekday=weekday,
                label="",
            )
            for mode, hour, weekday in REPORT_SCHEDULES
        ]
        session.add_all(existing)
        await session.flush()
    for sub in existing:
        await session.execute(
            delete(SubscriptionProvince).where(SubscriptionProvince.subscription_id == sub.id))
        session.add_all(SubscriptionProvince(subscription_id=sub.id, province=p) for p in provinces)


def _bad_person(channel: str, user_key: str) -> ServiceError:
    return ServiceError(Refusal.BAD_USER_ID,
                        f"'{limits.shown(user_key)}' is not a {channel} user id the bot knows",
                        value=limits.shown(user_key), channel=channel)


async def _named_user(session: AsyncSession, channel: str, user_key: str, *,
                      create: bool) -> tuple[User | None, bool]:
    """The person an admin names and whether the bot had seen them. Only an id of the channel's
    shape (limits.person_id_ok) may name someone never seen; with `create` their row is made."""
    if (channel not in limits.CHANNELS or not user_key or len(user_key) > limits.MAX_KEY_CHARS
            or limits.has_bad_characters(user_key)):
        raise _bad_person(channel, user_key)
    user = await session.scalar(
        select(User).where(User.channel == channel, User.user_key == user_key))
    if user is not None:
        return user, True
    if not limits.person_id_ok(channel, user_key):
        raise _bad_person(channel, user_key)
    if create:
        user = User(channel=channel, user_key=user_key)
        session.add(user)
        await session.flush()
    return user, False


async def _keep_an_admin(session: AsyncSession, settings: Settings, user: User,
                         new_role: str) -> None:
    """Refuse a change that would leave the bot without any admin. The caller's transaction has
    the write lock on SQLite; on PostgreSQL the admins' rows are locked, so two admins demoting
    each other at once cannot both succeed."""
    if user.role != "admin" or new_role == "admin" or settings.admin_ids:
        return  # not losing an admin, or one is configured (always admin, whatever the table says)
    admins = (await session.scalars(
        select(User.id).where(User.role == "admin").with_for_update())).all()
    if not set(admins) - {user.id}:
        raise ServiceError(Refusal.LAST_ADMIN, f"{user.channel}:{user.user_key} is the last admin")


async def grant(app: App, actor: str, channel: str, user_key: str, role: str,
                provinces: list[str] | None = None) -> RoleChange:
    """Make someone an official of `provinces` (replacing earlier ones) or an admin."""
    if role not in ("official", "admin"):
        raise ServiceError(Refusal.BAD_ROLE, f"unknown role '{limits.shown(role)}'",
                           value=limits.shown(role))
    codes = _check_provinces(list(provinces or []))
    if role == "official" and not codes:
        raise ServiceError(Refusal.GRANT_NEEDS_PROVINCE, "an official needs at least one province")
    async with app.sessions() as session, session.begin():
        await lock_for_write(session)
        user, seen = await _named_user(session, channel, user_key, create=True)
        assert user is not None
        await _keep_an_admin(session, app.settings, user, role)
        user.role = role
        if role == "official":
            await session.execute(
                delete(OfficialProvince).where(OfficialProvince.user_id == user.id))
            session.add_all(OfficialProvince(user_id=user.id, province=p) for p in codes)
            chat = await _private_chat(session, channel, user_key)
            await _set_report_subscriptions(session, chat.id, codes)
        audit.record(session, actor, "grant", audit.actor_of(channel, user_key),
                     role=role, provinces=codes, new_to_loa=not seen)
        await session.flush()
        return RoleChange(await _person(session, app.settings, user), not seen)


async def revoke(app: App, actor: str, channel: str, user_key: str) -> Person:
    """Back to citizen: provinces and report subscriptions go; news subscriptions stay."""
    if app.settings.is_admin(channel, user_key):
        raise ServiceError(Refusal.REVOKE_CONFIGURED_ADMIN,
                           f"{channel}:{user_key} is an admin by ADMIN_IDS; change the config")
    async with app.sessions() as session, session.begin():
        await lock_for_write(session)
        user, _ = await _named_user(session, channel, user_key, create=False)
        if user is None:
            raise ServiceError(Refusal.USER_NOT_FOUND, f"no user {channel}:{user_key}",
                               value=user_key)
        await _keep_an_admin(session, app.settings, user, "citizen")
        previous = user.role
        user.role = "citizen"
        await session.execute(delete(OfficialProvince).where(OfficialProvince.user_id == user.id))
        chat_ids = select(Chat.id).where(Chat.channel == channel, Chat.chat_key == user_key)
        await session.execute(delete(Subscription).where(
            Subscription.kind == SubscriptionKind.REPORT, Subscription.chat_id.in_(chat_ids)))
        audit.record(session, actor, "revoke", audit.actor_of(channel, user_key),
                     previous_role=previous)
        await session.flush()
        return await _person(session, app.settings, user)
