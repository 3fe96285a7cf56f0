"""Zalo by webhook with two instances on one database: either may take an event in, each event
is handled once (by its id), and the instance that does not lead Zalo sends nothing itself: its
replies go through the outbox to the leader's sender, under the leader's one pacer."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from channels.inbound import Dispatch
from channels.zalo_app import start_zalo, stop_zalo
from delivery.outbox import relay_reply
from delivery.service import start_delivery
from handlers.types import Incoming, Result
from model.channel import OutMessage
from model.enums import DeliveryKind
from runtime import App, open_app
from services.chats import ensure_chat
from storage.models import Delivery
from tests.conftest import count_rows, make_settings
from tests.fakes.zalo_api import FakeZaloApi, message_event

SECRET = "webhook-secret-for-tests"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _echo(seen: list[tuple[str, Incoming]], who: str) -> Dispatch:
    async def dispatch(app: App, msg: Incoming) -> Result:
        seen.append((who, msg))
        await ensure_chat(app, msg.channel, msg.chat_key)  # as the router does
        return Result(messages=[OutMessage(text=f"echo: {msg.text}")])
    return dispatch


@asynccontextmanager
async def _instance(db_url: str, fake: FakeZaloApi, dispatch: Dispatch, *,
                    leads: bool) -> AsyncIterator[tuple[App, str]]:
    port = _free_port()
    app = open_app(make_settings(
        db_url, **fake.settings_overrides(), zalo_mode="webhook", zalo_webhook_secret=SECRET,
        public_base_url=f"http://127.0.0.1:{port}", zalo_listen_port=port,
        delivery_poll_seconds=0.05))

    async def relay(chat_key: str, _kind: str, message: OutMessage) -> None:
        await relay_reply(app, "zalo", chat_key, message)

    delivery = await start_delivery(app)
    handle = await start_zalo(app, dispatch=dispatch,
                              pacer=delivery.pacer("zalo") if leads else None,
                              relay=None if leads else relay)
    delivery.start_senders()
    try:
        assert ("zalo" in app.channels) == leads  # only the leader sends on Zalo
        yield app, f"http://127.0.0.1:{port}/zalo/webhook"
    finally:
        await delivery.stop()
        await stop_zalo(handle)
        await app.close()


async def test_either_instance_takes_events_in_each_once_and_the_leader_sends(
        db_url: str) -> None:
    seen: list[tuple[str, Incoming]] = []
    with FakeZaloApi() as fake:
        async with _instance(db_url, fake, _echo(seen, "leader"), leads=True) as (leader, a), \
                _instance(db_url, fake, _echo(seen, "standby"), leads=False) as (_, b):
            events = [message_event("message.text.received", f"u{n}", f"u{n}", "PRIVATE",
                                    "Lan", text=f"/list {n}") for n in range(6)]
            headers = {"X-Bot-Api-Secret-Token": SECRET}
            async with httpx.AsyncClient() as client:
                # Each event reaches both instances (a retry routed elsewhere), at once.
                answers = await asyncio.gather(*(client.post(url, json=event, headers=headers)
                                                 for event in events for url in (a, b)))
                # One reaches the instance that does not lead only.
                only_b = message_event("message.text.received", "u6", "u6", "PRIVATE", "Lan",
                                       text="/list 6")
                answers.append(await client.post(b, json=only_b, headers=headers))
            assert {r.status_code for r in answers} == {200}
            for n in range(7):
                [reply] = await fake.wait_for_messages(f"u{n}", 1)
                assert reply.text == f"echo: /list {n}"
            assert sorted(m.text for _, m in seen) == sorted(f"/list {n}" for n in range(7))
            relayed = [m for who, m in seen if who == "standby"]
            assert "/list 6" in [m.text for m in relayed]
            assert await count_rows(leader, Delivery,
                                    Delivery.kind == DeliveryKind.REPLY) == len(relayed)
