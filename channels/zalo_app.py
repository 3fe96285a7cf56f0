"""Zalo inbound: events arrive by long polling or by webhook, go to the handlers as `Incoming`,
and the replies go back through the `ZaloChannel`.

- Long polling: `getUpdates` returns one event per call and has no offset; 408 means "nothing
  yet, poll again". Any webhook is deleted first, since the two modes exclude each other.
- Webhook: Zalo POSTs each event to `<PUBLIC_BASE_URL>/zalo/webhook` with our secret in the
  `X-Bot-Api-Secret-Token` header; a wrong or missing secret gets 403 and is not processed.
- Messages of one chat are handled in order, different chats concurrently; a redelivered event
  (same message id) is handled once. Every message counts against the person's flood limit
  (handlers/flood.py).
- Zalo does not say who administers a group, so in a Zalo group Loa's own admins (ADMIN_IDS, or
  granted) stand in for the group's admins when it is set up.
- Replies take the interactive lane of the channel's pacer when one is given (the sender's), so
  replies and deliveries share one set of limits; Zalo's quota errors and outages are ridden out,
  and a chat that is gone is marked inactive, as the sender does.

`bot.py run` calls `start_zalo(app, pacer=...)` and, on the way out, `stop_zalo(handle)`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from channels.base import OutMessage
from channels.replies import chat_lang, send_reply
from channels.zalo import NAME, ZaloChannel
from channels.zalo_client import ZaloClient, ZaloError
from channels.zalo_http import WEBHOOK_PATH, HttpServer, MediaStore, Request, Response
from config import ConfigError
from delivery.pacing import Pacer
from handlers.flood import FloodLimiter, Verdict
from handlers.types import Incoming, Result
from render.texts import t
from runtime import App
from services import limits, users

log = logging.getLogger(__name__)

TEXT_EVENT = "message.text.received"
IMAGE_EVENT = "message.image.received"
TYPING_AFTER = 1.0  # show "typing…" when a command takes longer than this
MAX_IN_FLIGHT = 64  # messages being handled at once; beyond this, intake waits
POLL_BACKOFF_START = 1.0
POLL_BACKOFF_MAX = 60.0

Dispatch = Callable[[App, Incoming], Awaitable[Result]]


async def _router_dispatch(app: App, incoming: Incoming) -> Result:
    from handlers.router import dispatch  # imported late: the router imports every handler

    return await dispatch(app, incoming)


def _unwrap(event: dict[str, Any]) -> dict[str, Any]:
    """The event itself: the webhook may wrap it in the same envelope as getUpdates."""
    if "event_name" not in event and isinstance(event.get("result"), dict):
        return event["result"]  # type: ignore[no-any-return]
    return event


def to_incoming(event: dict[str, Any]) -> Incoming | None:
    """The handlers' view of one Zalo event; None for events Loa does not act on."""
    event = _unwrap(event)
    message = event.get("message")
    if not isinstance(message, dict):
        return None
    name = event.get("event_name") or (TEXT_EVENT if "text" in message else "")
    if name == TEXT_EVENT:
        text = message.get("text")
    elif name == IMAGE_EVENT:
        text = message.get("caption")  # a photo is read only for its caption
    else:
        return None
    sender = message.get("from") if isinstance(message.get("from"), dict) else {}
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    user_key, chat_key = str(sender.get("id") or ""), str(chat.get("id") or "")
    if not isinstance(text, str) or not text.strip() or not user_key or not chat_key:
        return None
    if not (limits.platform_key_ok(user_key) and limits.platform_key_ok(chat_key)):
        # Looked up before the router sees it (flood limit, language): never a stored id.
        log.warning("zalo event with malformed ids: user %s, chat %s",
                    limits.shown(user_key), limits.shown(chat_key))
        return None
    if sender.get("is_bot"):
        return None
    return Incoming(
        channel=NAME,
        chat_key=chat_key,
        user_key=user_key,
        text=text,
        chat_kind="group" if str(chat.get("chat_type", "")).upper() == "GROUP" else "private",
        user_name=str(sender.get("display_name") or sender.get("name") or ""),
    )


def _event_id(event: dict[str, Any]) -> str | None:
    message = _unwrap(event).get("message")
    if not isinstance(message, dict) or not message.get("message_id"):
        return None
    return str(message["message_id"])


class ZaloInbound:
    """Takes events from either intake and runs them through the handlers."""

    def __init__(self, app: App, channel: ZaloChannel, *, pacer: Pacer | None = None,
                 dispatch: Dispatch | None = None, webhook_secret: str = "") -> None:
        self.app = app
        self.channel = channel
        self.pacer = pacer
        self.dispatch = dispatch or _router_dispatch
        self.webhook_secret = webhook_secret
        self.flood = FloodLimiter(app.settings.command_flood_per_minute)
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._tails: dict[str, asyncio.Task[None]] = {}  # the last task of each chat
        self._tasks: set[asyncio.Task[None]] = set()
        self._seen: OrderedDict[str, None] = OrderedDict()

    # --- Intake ------------------------------------------------------------------------------

    async def accept(self, event: dict[str, Any]) -> None:
        """Queue one event for handling; returns once it is queued (waits when at capacity)."""
        event_id = _event_id(event)
        if event_id is not None:
            if event_id in self._seen:
                log.info("Zalo event %s delivered twice; handled once", event_id)
                return
            self._seen[event_id] = None
            while len(self._seen) > 10_000:
                self._seen.popitem(last=False)
        incoming = to_incoming(event)
        if incoming is None:
            log.debug("Zalo event ignored: %s", event.get("event_name") or "no event name")
            return
        verdict = self.flood.check(f"{NAME}:{incoming.user_key}")  # counted in arrival order
        await self._slots.acquire()
        previous = self._tails.get(incoming.chat_key)
        task = asyncio.create_task(self._run(incoming, verdict, previous))
        self._tails[incoming.chat_key] = task
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finished(incoming.chat_key, done))

    async def webhook(self, request: Request) -> Response:
        given = request.headers.get("x-bot-api-secret-token", "")
        if not self.webhook_secret or not hmac.compare_digest(
            given.encode(), self.webhook_secret.encode()
        ):
            log.warning("Zalo webhook call refused: wrong or missing secret header")
            return Response.text(403)
        try:
            event = json.loads(request.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return Response.text(400, "body is not JSON")
        if not isinstance(event, dict):
            return Response.text(400, "body is not a JSON object")
        await self.accept(event)
        return Response(200, b'{"ok":true}', "application/json")

    async def poll_forever(self, client: ZaloClient, timeout: int) -> None:
        """Long-poll getUpdates until cancelled; errors back off, up to a minute."""
        webhook_deleted = False
        delay = POLL_BACKOFF_START
        while True:
            try:
                if not webhook_deleted:
                    await client.delete_webhook()
                    webhook_deleted = True
                event = await client.get_updates(timeout)
                if event is not None:
                    await self.accept(event)
            except ZaloError as exc:
                if exc.code == 401:
                    log.error("Zalo rejected the bot token (401): check ZALO_BOT_TOKEN")
                else:
                    log.warning("Zalo polling failed, retrying in %.0f s: %s", delay, exc)
            except Exception:  # a bug in one event must not end the intake
                log.exception("Zalo event could not be taken in")
            else:
                delay = POLL_BACKOFF_START
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, POLL_BACKOFF_MAX)

    async def drain(self, timeout: float = 10.0) -> None:
        """Let messages being handled finish (up to `timeout`), then cancel the rest."""
        pending = set(self._tasks)
        if pending:
            _, late = await asyncio.wait(pending, timeout=timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    # --- Handling ---------------------------------------------------------------------------

    def _finished(self, chat_key: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._tails.get(chat_key) is task:
            del self._tails[chat_key]

    async def _run(self, incoming: Incoming, verdict: Verdict,
                   previous: asyncio.Task[None] | None) -> None:
        try:
            if previous is not None:
                await asyncio.wait({previous})  # keep the chat's order; its failure is its own
            await self._handle(incoming, verdict)
        finally:
            self._slots.release()

    async def _handle(self, incoming: Incoming, verdict: Verdict) -> None:
        if verdict is not Verdict.ALLOW:
            log.info("flood limit: %s from user %s in chat %s", verdict.value, incoming.user_key,
                     incoming.chat_key)
            if verdict is Verdict.WARN:
                text = t(await chat_lang(self.app, NAME, incoming.chat_key), "flood_limited")
                await self.reply(incoming.chat_key, incoming.chat_kind, OutMessage(text=text))
            return
        try:
            if incoming.chat_kind == "group":
                incoming.sender_is_chat_admin = await users.is_admin(self.app, NAME,
                                                                     incoming.user_key)
            result = await self._dispatch(incoming)
        except Exception:  # the router answers its own failures; this is the last resort
            log.exception("Zalo message failed: chat %s, user %s, text %r",
                          incoming.chat_key, incoming.user_key, incoming.text[:200])
            text = t(await chat_lang(self.app, NAME, incoming.chat_key), "error_internal")
            result = Result(messages=[OutMessage(text=text)])
        for message in result.messages:
            await self.reply(incoming.chat_key, incoming.chat_kind, message)

    async def _dispatch(self, incoming: Incoming) -> Result:
        task = asyncio.create_task(self.dispatch(self.app, incoming))
        done, _ = await asyncio.wait({task}, timeout=TYPING_AFTER)
        if not done:
            await self.channel.typing(incoming.chat_key)
        return await task

    async def reply(self, chat_key: str, kind: str, message: OutMessage) -> None:
        await send_reply(self.app, self.channel, self.pacer, chat_key, kind, message)

@dataclass
class ZaloHandle:
    """What `start_zalo` started; give it back to `stop_zalo`."""

    app: App
    channel: ZaloChannel
    inbound: ZaloInbound
    server: HttpServer | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


async def start_zalo(app: App, *, pacer: Pacer | None = None,
                     dispatch: Dispatch | None = None) -> ZaloHandle:
    """Serve Zalo: register the channel as `app.channels["zalo"]`, start the HTTP server when
    PUBLIC_BASE_URL is set, and take messages by polling or webhook (ZALO_MODE). Replies share
    `pacer` (the sender's for this channel) when given. A rejected token stops start-up
    (ConfigError); an unreachable Zalo is retried in the background."""
    settings = app.settings
    if settings.zalo_bot_token is None or not settings.zalo_bot_token.get_secret_value():
        raise ConfigError("invalid setting ZALO_BOT_TOKEN: it is not set")
    client = ZaloClient(settings.zalo_api_base_url, settings.zalo_bot_token.get_secret_value(),
                        timeout=settings.http_timeout_seconds)
    try:
        me = await client.get_me() or {}
        log.info("Zalo bot %s is ready", me.get("account_name") or me.get("id") or "")
    except ZaloError as exc:
        if exc.code == 401:
            await client.aclose()
            raise ConfigError(f"invalid setting ZALO_BOT_TOKEN: Zalo rejected it ({exc.description})") from None
        log.warning("Zalo is not reachable yet, will keep trying: %s", exc)
    media = MediaStore(settings.public_base_url) if settings.public_base_url else None
    channel = ZaloChannel(settings, client, media)
    secret = settings.zalo_webhook_secret.get_secret_value() if settings.zalo_webhook_secret else ""
    inbound = ZaloInbound(app, channel, pacer=pacer, dispatch=dispatch, webhook_secret=secret)
    handle = ZaloHandle(app, channel, inbound)
    if media is not None:
        handle.server = HttpServer(
            settings.zalo_listen_host, settings.zalo_listen_port, media=media,
            webhook=inbound.webhook if settings.zalo_mode == "webhook" else None,
        )
        try:
            await handle.server.start()
        except OSError as exc:
            await client.aclose()
            raise ConfigError(f"invalid setting ZALO_LISTEN_PORT: cannot listen on "
                              f"{settings.zalo_listen_host}:{settings.zalo_listen_port} ({exc.strerror})") from None
    app.channels[NAME] = channel
    if settings.zalo_mode == "webhook":
        url = f"{settings.public_base_url.rstrip('/')}{WEBHOOK_PATH}"  # type: ignore[union-attr]
        handle.tasks.append(asyncio.create_task(_register_webhook(client, url, secret)))
    else:
        handle.tasks.append(asyncio.create_task(
            inbound.poll_forever(client, settings.zalo_poll_timeout_seconds)))
    return handle


async def _register_webhook(client: ZaloClient, url: str, secret: str) -> None:
    delay = POLL_BACKOFF_START
    while True:
        try:
            await client.set_webhook(url, secret)
        except ZaloError as exc:
            log.warning("Zalo setWebhook failed, retrying in %.0f s: %s", delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, POLL_BACKOFF_MAX)
            continue
        log.info("Zalo webhook registered at %s", url)
        return


async def stop_zalo(handle: ZaloHandle) -> None:
    """Stop taking messages, finish the ones being handled, and close the connections."""
    for task in handle.tasks:
        task.cancel()
    await asyncio.gather(*handle.tasks, return_exceptions=True)
    if handle.server is not None:
        await handle.server.stop()
    await handle.inbound.drain()
    if handle.app.channels.get(NAME) is handle.channel:
        del handle.app.channels[NAME]
    await handle.channel.close()
