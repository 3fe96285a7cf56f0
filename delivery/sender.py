"""The sender: claims due outbox rows of one channel, sends them paced, records every answer.

Two lanes, each with its own claim loop and its own in-flight slots: lane 0 (instant alerts,
admin alerts) and lane 1 (digests, reports, broadcasts). The pacer serves lane 0 first, and the
chat handlers' replies wait in lane 0 of the same pacer, so a digest run for 100,000 chats never
holds up an alert or a reply: they take the next free slot in the global window.

What happens after each answer is decided by the outcome alone (`decide`):

| Outcome      | What the sender does                                                          |
|--------------|-------------------------------------------------------------------------------|
| OK           | records the part; the next part, or the row is sent and its items are given   |
| RETRY_AFTER  | pauses the whole channel for `retry_after`, then sends the same part again    |
| GONE         | marks the chat inactive with the reason and cancels its pending rows          |
| MIGRATED     | moves the chat (subscriptions, rows) to its new id and resends the same part   |
| TRANSIENT    | back to pending, due after an exponential backoff; failed after max attempts  |
| BAD_CONTENT  | failed with the reason, admins alerted; never retried                         |
| AUTH         | the channel stops sending for a while, row back to pending, admins alerted    |
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import InterfaceError, OperationalError

from config import Settings
from delivery import outbox
from delivery.alerts import Alert, alert_admins
from delivery.chats import mark_chat_inactive, migrate_chat
from delivery.contents import Matches, Rendered, Row
from delivery.pacing import BULK, INTERACTIVE, Pacer
from delivery.recorder import Recorder
from metrics import DELIVERY
from model.channel import Channel, Outcome, OutMessage, Status
from model.enums import ActionKind, DeliveryKind, OutboxState
from model.outbox import Part
from runtime import App

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600.0
# A platform that keeps answering "retry after" for one message: give the slot back for later.
MAX_WAITS_PER_ROW = 20
AUTH_PAUSE_SECONDS = 300.0


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    delay: float = 0.0
    reason: str = ""
    alert: bool = False


def backoff(attempts: int, base: float) -> float:
    """Wait before retry number `attempts` (1, 2, …): base, 2×base, 4×base, … at most an hour."""
    return min(base * 2.0 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)


def decide(outcome: Outcome, attempts: int, settings: Settings) -> Action:
    """The decision table. `attempts` counts this one: the first failed send is attempt 1."""
    detail = outcome.detail or outcome.status.value
    match outcome.status:
        case Status.OK:
            return Action(ActionKind.SENT)
        case Status.RETRY_AFTER:
            return Action(
                ActionKind.WAIT, delay=max(outcome.retry_after or 1.0, 0.0), reason=detail
            )
        case Status.GONE:
            return Action(ActionKind.GONE, reason=detail)
        case Status.MIGRATED:
            return Action(ActionKind.MIGRATE, reason=detail)
        case Status.TRANSIENT:
            if attempts >= settings.delivery_max_attempts:
                return Action(
                    ActionKind.FAIL, reason=f"gave up after {attempts} attempts: {detail}"
                )
            return Action(
                ActionKind.RETRY,
                delay=backoff(attempts, settings.delivery_retry_base_seconds),
                reason=detail,
            )
        case Status.BAD_CONTENT:
            return Action(ActionKind.FAIL, reason=f"rejected as malformed: {detail}", alert=True)
        case Status.AUTH:
            return Action(ActionKind.AUTH, delay=AUTH_PAUSE_SECONDS, reason=detail)
    return Action(ActionKind.RETRY, delay=settings.delivery_retry_base_seconds, reason=detail)


def message_of(part: Part) -> OutMessage:
    return OutMessage(text=part.text, photo=part.photo)


class ChannelSender:
    """Sends one channel's outbox rows. One per channel per process."""

    def __init__(self, app: App, channel: Channel, pacer: Pacer, recorder: Recorder,
                 owner: str) -> None:
        self.app = app
        self.channel = channel
        self.pacer = pacer
        self.recorder = recorder
        self.owner = owner
        rate = pacer.limiter.limits.global_per_second
        # Enough rows in flight to keep the window full while others wait on the network.
        self.capacity = {INTERACTIVE: max(16, rate), BULK: max(16, 2 * rate)}
        # Per lane: each task being sent -> the id of its row.
        self.inflight: dict[int, dict[asyncio.Task[None], int]] = {INTERACTIVE: {}, BULK: {}}
        self.composing: set[int] = set()  # claimed rows not yet handed to a send task
        self.slot_free = {INTERACTIVE: asyncio.Event(), BULK: asyncio.Event()}
        self.auth_until = 0.0
        self.preparing = asyncio.Lock()
        self.limit = {channel.name: channel.capabilities.max_text_units}
        self.rendered = Rendered()
        self.matches = Matches()

    @property
    def name(self) -> str:
        return self.channel.name

    def in_flight_ids(self) -> list[int]:
        """The rows this sender holds, whose leases it renews: those being sent, and those
        claimed and still being composed (a big batch on a busy machine can take longer than a
        lease; taken over meanwhile, a row would go out twice)."""
        sending = [row_id for lane in self.inflight.values() for row_id in lane.values()]
        return [*self.composing, *sending]

    async def run(self) -> None:
        await asyncio.gather(self._lane(INTERACTIVE), self._lane(BULK))

    async def stop(self, grace: float = 5.0) -> None:
        """Let in-flight sends finish for a moment, then cancel the rest (released by the
        caller: they go back to pending)."""
        tasks = [t for lane in self.inflight.values() for t in lane]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _lane(self, lane: int) -> None:
        poll = self.app.settings.delivery_poll_seconds
        capacity = self.capacity[lane]
        event = self.slot_free[lane]
        while True:
            pause = self.auth_until - time.monotonic()
            if pause > 0:
                await asyncio.sleep(min(pause, poll * 10))
                continue
            free = capacity - len(self.inflight[lane])
            claimed = 0
            # Claim in batches: one query per quarter of the slots, not one per message.
            if free >= max(1, capacity // 4) or not self.inflight[lane]:
                try:
                    rows: list[Row] = []
                    if await outbox.any_due(self.app, self.name, lane):  # an idle poll reads
                        rows = await self.recorder.write(outbox.claiming(
                            self.name, lane, free, self.owner, self.app.clock()))
                    claimed = len(rows)
                    self.composing.update(r.id for r in rows)
                    try:
                        for row in await self._prepared(rows):
                            self._start(row)
                    finally:
                        self.composing.difference_update(r.id for r in rows)
                except Exception:
                    log.exception(
                        "%s sender: claiming lane %d failed; trying again", self.name, lane
                    )
            if not claimed and not self.composing and not any(self.inflight.values()):
                # The run is over: its messages and matches are not wanted again.
                self.rendered.clear()
                self.matches.clear()
            event.clear()
            timeout = None if claimed and claimed >= free else poll
            if claimed >= free and not self.inflight[lane]:
                timeout = 0
            try:
                await asyncio.wait_for(event.wait(), timeout=timeout)
            except TimeoutError:
                pass

    async def _prepared(self, rows: list[Row]) -> list[Row]:
        """Resolve and render the claimed rows (batch first, then one by one so that one bad row
        can't hold up the others); returns those with parts to send."""
        if not rows:
            return []
        try:
            await self._prepare(rows)
        except Exception:
            log.exception("%s sender: composing %d rows together failed; one by one now",
                          self.name, len(rows))
            for row in rows:
                try:
                    await self._prepare([row])
                except (OperationalError, InterfaceError) as exc:  # the database, not the row
                    row.parts = None
                    await self.recorder.write(outbox.retry_later(
                        row, self.owner, self.app.clock() + timedelta(seconds=5),
                        f"database unavailable: {exc!r}", count_attempt=False))
                except Exception as exc:
                    log.exception("could not compose delivery %s", row.id)
                    await self.recorder.write(outbox.closed(
                        row, self.owner, OutboxState.FAILED, f"could not compose: {exc!r}"))
                    await alert_admins(self.app, Alert.COMPOSE_FAILED, id=row.id,
                                       detail=repr(exc))
                    row.parts = None
        return [r for r in rows if r.parts]

    async def _prepare(self, rows: list[Row]) -> None:
        async with self.preparing:  # one batch at a time (see outbox.prepare)
            await outbox.prepare(self.app, rows, self.limit, self.rendered, self.matches,
                                 self.owner, self.recorder.write)

    def _start(self, row: Row) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(row))
        lane = self.inflight[row.lane if row.lane in self.inflight else BULK]
        lane[task] = row.id

        def done(t: asyncio.Task[None]) -> None:
            lane.pop(t, None)
            self.slot_free[row.lane if row.lane in self.slot_free else BULK].set()

        task.add_done_callback(done)

    async def _deliver(self, row: Row) -> None:
        try:
            await self._send_parts(row)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or the database: the row is retried later, not lost
            log.exception(
                "delivery %s to %s:%s failed unexpectedly", row.id, self.name, row.chat_key
            )
            row.attempts += 1
            settings = self.app.settings
            due = self.app.clock() + timedelta(
                seconds=backoff(row.attempts, settings.delivery_retry_base_seconds))
            write = (outbox.closed(row, self.owner, OutboxState.FAILED, f"error: {exc!r}")
                     if row.attempts >= settings.delivery_max_attempts
                     else outbox.retry_later(row, self.owner, due, f"error: {exc!r}"))
            await self.recorder.write(write)

    async def _send_parts(self, row: Row) -> None:
        app, settings = self.app, self.app.settings
        parts = row.parts or []
        migrated = False
        waits = 0
        while row.parts_sent < len(parts):
            message = message_of(parts[row.parts_sent])
            # The send counts against the limits from its answer: see pacing.Window.
            async with self.pacer.slot(row.chat_key, row.chat_kind, row.lane):
                try:
                    outcome = await self.channel.send(row.chat_key, message,
                                                      chat_kind=row.chat_kind)
                except Exception as exc:  # noqa: BLE001 - the contract is never to raise
                    outcome = Outcome(Status.TRANSIENT, detail=f"send raised {exc!r}")
            action = decide(outcome, row.attempts + 1, settings)
            app.metrics.sent(self.name, DELIVERY, outcome.status.value,
                             action.delay if action.kind == ActionKind.WAIT else None)
            now = app.clock()
            where = f"{self.name}:{row.chat_key}"
            if action.kind == ActionKind.SENT:
                row.parts_sent += 1
                if row.parts_sent < len(parts):
                    await self.recorder.write(outbox.part_sent(row, self.owner, now))
                continue
            if action.kind == ActionKind.WAIT:
                self.pacer.pause(action.delay)
                waits += 1
                if waits <= MAX_WAITS_PER_ROW:
                    continue
                await self.recorder.write(outbox.retry_later(
                    row, self.owner, now + timedelta(seconds=action.delay),
                    f"rate limited: {action.reason}", count_attempt=False))
                return
            if action.kind == ActionKind.RETRY:
                row.attempts += 1
                log.info("delivery %s to %s: %s; retry %d in %.1fs", row.id, where, action.reason,
                         row.attempts, action.delay, extra={"chat": where})
                await self.recorder.write(outbox.retry_later(
                    row, self.owner, now + timedelta(seconds=action.delay), action.reason))
                return
            if action.kind == ActionKind.FAIL:
                row.attempts += 1
                log.warning("delivery %s to %s failed: %s", row.id, where, action.reason,
                            extra={"chat": where})
                await self.recorder.write(
                    outbox.closed(row, self.owner, OutboxState.FAILED, action.reason))
                # An alert about an alert would loop.
                if action.alert and row.kind != DeliveryKind.ALERT:
                    await alert_admins(app, Alert.DELIVERY_FAILED, id=row.id, chat=where,
                                       detail=f"{row.kind}: {action.reason}")
                return
            if action.kind == ActionKind.GONE:
                log.info("chat %s is gone (%s): deliveries stopped", where, action.reason,
                         extra={"chat": where})
                await self.recorder.write(outbox.closed(
                    row, self.owner, OutboxState.CANCELLED, f"chat gone: {action.reason}"))
                await mark_chat_inactive(app, row.chat_id, action.reason)
                return
            if action.kind == ActionKind.MIGRATE:
                if migrated or not outcome.new_chat_key:
                    await self.recorder.write(
                        outbox.closed(
                            row,
                            self.owner,
                            OutboxState.FAILED,
                            f"migration without a usable new id: {action.reason}",
                        )
                    )
                    return
                migrated = True
                new_id = await migrate_chat(app, self.name, row.chat_key, outcome.new_chat_key)
                log.info("chat %s moved to %s; resending", where, outcome.new_chat_key)
                row.chat_key = outcome.new_chat_key
                row.chat_id = new_id or row.chat_id
                continue
            if action.kind == ActionKind.AUTH:
                self.auth_until = time.monotonic() + action.delay
                log.critical("%s rejected our token (%s): sending stops for %.0fs; fix the token",
                             self.name, action.reason, action.delay)
                await self.recorder.write(outbox.retry_later(
                    row, self.owner, now, f"auth: {action.reason}", count_attempt=False))
                await alert_admins(app, Alert.TOKEN_REJECTED, channel=self.name,
                                   detail=action.reason)
                return
        await self.recorder.write(outbox.finished(row, self.owner, app.clock()))
