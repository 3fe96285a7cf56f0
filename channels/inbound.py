"""The inbound path, written once for every channel.

An adapter (Telegram, Zalo, the console) only translates its platform's updates into `Incoming`
and hands each one to `Inbound.handle` (or `Inbound.submit`, for an intake that must not wait for
the reply). From there the path is the same everywhere:

1. the person's flood verdict (handlers/flood.py), counted in arrival order: the first command
   over the limit gets one polite line, the next ones are dropped in silence;
2. one chat's updates in order, different chats concurrently; an update with the platform's
   id (`Incoming.update_key`) once, across instances too (services.leadership.take_update);
3. the adapter's own preparation, if any (a Telegram file download, who may set up a group);
4. dispatch through handlers/router.py, with "typing…" when it takes a while; a failure the
   router did not answer itself is logged with its context and the person gets an apology;
5. the button answer and the replies (or, with a `relay`, the replies handed to another
   sender: the outbox, when this instance does not lead the channel), in the pacer's
   interactive lane (ahead of digests) and
   handled by the sender's own outcome policy (`delivery.sender.decide`): "retry after" and
   outages are ridden out, a migrated group is followed, a gone chat is marked inactive, and
   rejected content or a refused token alerts the admins.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from delivery.alerts import Alert, alert_admins
from delivery.chats import chat_gone, chat_lang, migrate_chat
from delivery.pacing import INTERACTIVE, Pacer
from delivery.sender import MAX_WAITS_PER_ROW, decide
from handlers import router
from handlers.flood import FloodLimiter, Verdict
from handlers.types import Incoming, Result
from metrics import REPLY
from model.channel import Channel, OutMessage
from model.enums import ActionKind
from render.texts import t
from runtime import App
from services.leadership import finish_update, take_update

log = logging.getLogger(__name__)

TYPING_AFTER = 1.0  # show "typing…" when a command takes longer than this
MAX_IN_FLIGHT = 64  # updates queued by `submit` and not yet handled; beyond this, intake waits

Dispatch = Callable[[App, Incoming], Coroutine[Any, Any, Result]]
Prepare = Callable[[Incoming], Awaitable[bool]]  # False: the adapter has answered, stop there
Typing = Callable[[str], Awaitable[object]]
# Hands a reply to another sender instead of sending it (chat key, chat kind, message).
Relay = Callable[[str, str, OutMessage], Awaitable[None]]


class ChatOrder:
    """One lock per chat while it has updates in hand, so one chat's updates run in order.

    asyncio's locks wake their waiters first come, first served, and the lock is taken before
    the caller's first await, so the order is the order of the calls."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def __call__(self, chat_key: str, work: Callable[[], Awaitable[None]]) -> None:
        lock, users = self._locks.get(chat_key, (asyncio.Lock(), 0))
        self._locks[chat_key] = (lock, users + 1)
        try:
            async with lock:
                await work()
        finally:
            lock, users = self._locks[chat_key]
            if users == 1:
                del self._locks[chat_key]
            else:
                self._locks[chat_key] = (lock, users - 1)


async def send_reply(
    app: App, channel: Channel, pacer: Pacer | None, chat_key: str, kind: str,
    message: OutMessage,
) -> None:
    """Send one reply now, acting on each outcome as the sender does for an outbox row; a reply
    has no row to put back, so a retry waits here instead."""
    waits, attempts, migrated = 0, 0, False
    while True:
        if pacer is None:
            outcome = await channel.send(chat_key, message, chat_kind=kind)
        else:
            # Counted from the answer, as the sender's messages are (pacing.Window): counted
            # from the grant, a reply held up on the way arrives bunched with later ones.
            async with pacer.slot(chat_key, kind, INTERACTIVE):
                outcome = await channel.send(chat_key, message, chat_kind=kind)
        action = decide(outcome, attempts + 1, app.settings)
        app.metrics.sent(channel.name, REPLY, outcome.status.value,
                         action.delay if action.kind == ActionKind.WAIT else None)
        if action.kind == ActionKind.SENT:
            return
        if action.kind == ActionKind.WAIT and waits < MAX_WAITS_PER_ROW:
            waits += 1
            if pacer is not None:
                pacer.pause(action.delay)
        elif action.kind == ActionKind.RETRY:
            attempts += 1
        elif action.kind == ActionKind.MIGRATE and outcome.new_chat_key and not migrated:
            migrated = True
            await migrate_chat(app, channel.name, chat_key, outcome.new_chat_key)
            chat_key, kind = outcome.new_chat_key, "group"
            continue
        else:
            break
        await asyncio.sleep(action.delay)  # the platform's wait or the sender's back-off
    log.warning("%s reply to chat %s not sent (%s): %s",
                channel.name, chat_key, outcome.status.value, action.reason,
                extra={"chat": f"{channel.name}:{chat_key}"})
    if action.kind == ActionKind.GONE:
        await chat_gone(app, channel.name, chat_key, action.reason)
    elif action.alert or action.kind == ActionKind.AUTH:
        await alert_admins(app, Alert.REPLY_FAILED, channel=channel.name, chat=chat_key,
                           detail=f"reply not sent ({outcome.status.value}): {action.reason}")


def first_word(text: str) -> str:
    return text.split(maxsplit=1)[0][:64] if text.strip() else ""


class Inbound:
    """One channel's inbound runner: give it each `Incoming`, it does the rest."""

    def __init__(
        self,
        app: App,
        channel: Channel,
        *,
        pacer: Pacer | None = None,
        dispatch: Dispatch | None = None,
        typing: Typing | None = None,
        flood: bool = True,
        relay: Relay | None = None,
    ) -> None:
        self.app = app
        self.relay = relay
        self.channel = channel
        self.pacer = pacer
        self.dispatch = dispatch or router.dispatch
        self.typing = typing
        self.flood = FloodLimiter(app.settings.command_flood_per_minute) if flood else None
        self._order = ChatOrder()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, incoming: Incoming, prepare: Prepare | None = None) -> None:
        """Handle one update and send its replies; returns when they are sent."""
        verdict = self._verdict(incoming)
        await self._order(incoming.chat_key, lambda: self._work(incoming, verdict, prepare))

    async def submit(self, incoming: Incoming, prepare: Prepare | None = None) -> None:
        """Queue one update for handling; returns once it is queued (waits when at capacity)."""
        verdict = self._verdict(incoming)
        await self._slots.acquire()
        task = asyncio.create_task(
            self._order(incoming.chat_key, lambda: self._queued(incoming, verdict, prepare)))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    async def drain(self, timeout: float = 10.0) -> None:
        """Let queued updates finish (up to `timeout`), then cancel the rest."""
        pending = set(self._tasks)
        if pending:
            _, late = await asyncio.wait(pending, timeout=timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def reply(self, chat_key: str, kind: str, message: OutMessage) -> None:
        if self.relay is not None:
            await self.relay(chat_key, kind, message)
            return
        await send_reply(self.app, self.channel, self.pacer, chat_key, kind, message)

    async def say(self, incoming: Incoming, key: str, **params: object) -> None:
        """One line of the catalogue to the chat, in its language (for the adapters' own lines)."""
        text = t(await chat_lang(self.app, self.channel.name, incoming.chat_key), key, **params)
        await self.reply(incoming.chat_key, incoming.chat_kind, OutMessage(text=text))

    def _verdict(self, incoming: Incoming) -> Verdict:
        if self.flood is None:
            return Verdict.ALLOW
        return self.flood.check(f"{self.channel.name}:{incoming.user_key}")

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def _queued(self, incoming: Incoming, verdict: Verdict, prepare: Prepare | None) -> None:
        try:
            await self._work(incoming, verdict, prepare)
        except Exception:  # nobody awaits a queued update: its failure ends here, logged
            log.exception("%s update could not be handled: chat %s, user %s",
                          self.channel.name, incoming.chat_key, incoming.user_key)

    async def _work(self, incoming: Incoming, verdict: Verdict, prepare: Prepare | None) -> None:
        key = incoming.update_key
        if key is None:
            await self._answer(incoming, verdict, prepare)
            return
        if not await take_update(self.app, self.channel.name, key):
            log.info("%s update %s was handled by another instance", self.channel.name, key)
            return
        try:
            await self._answer(incoming, verdict, prepare)
        finally:  # failed or not, it was answered (an apology at least): never again
            await finish_update(self.app, self.channel.name, key)

    async def _answer(self, incoming: Incoming, verdict: Verdict,
                      prepare: Prepare | None) -> None:
        if verdict is not Verdict.ALLOW:
            await self._refuse_flood(incoming, verdict)
            return
        result = await self._dispatch(incoming, prepare)
        if result is None:
            return
        if incoming.callback_id is not None:
            await self.channel.answer_button(incoming.callback_id, result.button_answer or "")
        for message in result.messages:
            await self.reply(incoming.chat_key, incoming.chat_kind, message)

    async def _refuse_flood(self, incoming: Incoming, verdict: Verdict) -> None:
        log.info("flood limit: %s from user %s in chat %s", verdict.value, incoming.user_key,
                 incoming.chat_key)
        if verdict is not Verdict.WARN:
            if incoming.callback_id is not None:
                await self.channel.answer_button(incoming.callback_id, "")
            return
        if incoming.callback_id is not None:
            lang = await chat_lang(self.app, self.channel.name, incoming.chat_key)
            await self.channel.answer_button(incoming.callback_id, t(lang, "flood_limited"))
        else:
            await self.say(incoming, "flood_limited")

    async def _dispatch(self, incoming: Incoming, prepare: Prepare | None) -> Result | None:
        """The handlers' result, an apology if they failed, or None when `prepare` said stop."""
        try:
            if prepare is not None and not await prepare(incoming):
                return None
            task = asyncio.create_task(self.dispatch(self.app, incoming))
            done, _ = await asyncio.wait({task}, timeout=TYPING_AFTER)
            if not done and incoming.callback_id is None and self.typing is not None:
                await self.typing(incoming.chat_key)
            return await task
        except Exception:  # the router answers its own failures; this is the last resort
            log.exception("%s handler failed: chat %s, user %s, %s %r", self.channel.name,
                          incoming.chat_key, incoming.user_key,
                          "button" if incoming.callback_data is not None else "command",
                          incoming.callback_data or first_word(incoming.text))
            lang = await chat_lang(self.app, self.channel.name, incoming.chat_key)
            return Result(messages=[OutMessage(text=t(lang, "error_internal"))])
