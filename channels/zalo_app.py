"""Zalo inbound: events arrive by long polling or by webhook, go to the handlers as `Incoming`,
and the replies go back through the `ZaloChannel`.

- Long polling: `getUpdates` returns one event per call and has no offset; 408 means "nothing
  yet, poll again". Any webhook is deleted first, since the two modes exclude each other.
- Webhook: Zalo POSTs each event to `<PUBLIC_BASE_URL>/zalo/webhook` with our secret in the
  `X-Bot-Api-Secret-Token` header; a wrong or missing secret gets 403 and is not processed.
- Each event becomes an `Incoming` (channels/zalo_events.py) for the shared inbound runner
  (channels/inbound.py): one chat's messages in order, different chats concurrently, the flood
  limit, "typing…", the apology, and the replies. A redelivered event (same message id) is
  handled once, by whichever instance it reaches.
- Zalo does not say who administers a group, so in a Zalo group Loa's own admins (ADMIN_IDS, or
  granted) stand in for the group's admins when it is set up.
- Replies take the interactive lane of the channel's pacer when one is given (the sender's), so
  replies and deliveries share one set of limits.

`bot.py run` calls `start_zalo(app, pacer=...)` and, on the way out, `stop_zalo(handle)`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from channels import zalo_events
from channels.inbound import Dispatch, Inbound, Relay
from channels.zalo import NAME, ZaloChannel
from channels.zalo_client import ZaloClient, ZaloError
from channels.zalo_http import WEBHOOK_PATH, HttpServer, MediaStore
from config import ConfigError
from delivery.pacing import Pacer
from handlers.types import Incoming
from runtime import App
from services import users

log = logging.getLogger(__name__)

POLL_BACKOFF_START = 1.0
POLL_BACKOFF_MAX = 60.0


class ZaloInbound:
    """Takes events from either intake and hands them to the inbound runner."""

    def __init__(self, app: App, channel: ZaloChannel, *, pacer: Pacer | None = None,
                 dispatch: Dispatch | None = None, webhook_secret: str = "",
                 relay: Relay | None = None) -> None:
        self.app = app
        self.runner = Inbound(app, channel, pacer=pacer, dispatch=dispatch, typing=channel.typing,
                              relay=relay)
        self.webhook_secret = webhook_secret
        self._seen: OrderedDict[str, None] = OrderedDict()
        # Why the intake is not connected (a failing poll, a webhook not yet registered).
        self.problem: str | None = "not connected yet"

    # --- Intake ------------------------------------------------------------------------------

    async def accept(self, event: dict[str, Any]) -> None:
        """Queue one event for handling; returns once it is queued (waits when at capacity)."""
        event_id = zalo_events.event_id(event)
        if event_id is not None:
            if event_id in self._seen:
                log.info("Zalo event %s delivered twice; handled once", event_id)
                return
            self._seen[event_id] = None
            while len(self._seen) > 10_000:
                self._seen.popitem(last=False)
        incoming = zalo_events.to_incoming(event)
        if incoming is None:
            log.debug("Zalo event ignored: %s", event.get("event_name") or "no event name")
            return
        incoming.update_key = event_id  # handled once across instances (channels.inbound)
        await self.runner.submit(incoming, self._prepare)

    async def webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get("X-Bot-Api-Secret-Token", "")
        if not self.webhook_secret or not hmac.compare_digest(
            given.encode(), self.webhook_secret.encode()
        ):
            log.warning("Zalo webhook call refused: wrong or missing secret header")
            return web.Response(status=403, text="Forbidden")
        try:
            event = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.Response(status=400, text="body is not JSON")
        if not isinstance(event, dict):
            return web.Response(status=400, text="body is not a JSON object")
        await self.accept(event)
        return web.json_response({"ok": True})

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
                self.problem = None
                if event is not None:
                    await self.accept(event)
            except ZaloError as exc:
                self.problem = f"Zalo polling failed: {exc.code or 'no answer'}"
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

    async def _prepare(self, incoming: Incoming) -> bool:
        """Zalo does not say who administers a group: Loa's own admins stand in."""
        if incoming.chat_kind == "group":
            incoming.sender_is_chat_admin = await users.is_admin(self.app, NAME, incoming.user_key)
        return True


@dataclass
class ZaloHandle:
    """What `start_zalo` started; give it back to `stop_zalo`."""

    app: App
    channel: ZaloChannel
    inbound: ZaloInbound
    server: HttpServer | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def problem(self) -> str | None:
        """Why Zalo is not connected (for /healthz), or None."""
        return self.inbound.problem


async def start_zalo(app: App, *, pacer: Pacer | None = None, dispatch: Dispatch | None = None,
                     relay: Relay | None = None) -> ZaloHandle:
    """Serve Zalo: register the channel as `app.channels["zalo"]`, start the HTTP server when
    PUBLIC_BASE_URL is set, and take messages by polling or webhook (ZALO_MODE). Replies share
    `pacer` (the sender's for this channel) when given. With `relay` (an instance that does not
    lead Zalo, in webhook mode) it only takes webhook events in: replies go to `relay`, and the
    channel is not registered for sending. A rejected token stops start-up (ConfigError); an
    unreachable Zalo is retried in the background."""
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
            raise ConfigError(
                f"invalid setting ZALO_BOT_TOKEN: Zalo rejected it ({exc.description})") from None
        log.warning("Zalo is not reachable yet, will keep trying: %s", exc)
    media = MediaStore(settings.public_base_url) if settings.public_base_url else None
    channel = ZaloChannel(settings, client, media)
    secret = settings.zalo_webhook_secret.get_secret_value() if settings.zalo_webhook_secret else ""
    inbound = ZaloInbound(app, channel, pacer=pacer, dispatch=dispatch, webhook_secret=secret,
                          relay=relay)
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
            where = f"{settings.zalo_listen_host}:{settings.zalo_listen_port}"
            raise ConfigError(f"invalid setting ZALO_LISTEN_PORT: cannot listen on {where} "
                              f"({exc.strerror})") from None
    if relay is not None:
        inbound.problem = None  # it only takes events in, and its server listens
        return handle
    app.channels[NAME] = channel
    if settings.zalo_mode == "webhook":
        base = settings.public_base_url or ""  # set: config requires it in webhook mode
        url = f"{base.rstrip('/')}{WEBHOOK_PATH}"
        inbound.problem = "the webhook is not registered yet"
        handle.tasks.append(asyncio.create_task(_register_webhook(inbound, client, url, secret)))
    else:
        handle.tasks.append(asyncio.create_task(
            inbound.poll_forever(client, settings.zalo_poll_timeout_seconds)))
    return handle


async def _register_webhook(inbound: ZaloInbound, client: ZaloClient, url: str,
                            secret: str) -> None:
    delay = POLL_BACKOFF_START
    while True:
        try:
            await client.set_webhook(url, secret)
            inbound.problem = None
        except ZaloError as exc:
            inbound.problem = f"Zalo setWebhook failed: {exc.code or 'no answer'}"
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
    await handle.inbound.runner.drain()
    if handle.app.channels.get(NAME) is handle.channel:
        del handle.app.channels[NAME]
    await handle.channel.close()
