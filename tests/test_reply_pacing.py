"""A burst of commands from many people: the replies keep Telegram's limits as the platform
counts them (at most 30 in any second, 1 per second per chat), with the fake Bot API enforcing
them: no 429. Replies count from the platform's answer, as the sender's messages do; counted from
their grant, a reply held up on the way arrived bunched with later ones (31 in one second)."""

from __future__ import annotations

from delivery.pacing import Pacer, limits_for
from handlers.types import Incoming, Result
from model.channel import OutMessage
from runtime import App, open_app
from tests.conftest import make_settings
from tests.fakes.telegram_api import FakeTelegram

USERS = range(30_000, 30_075)


async def _answer(app: App, incoming: Incoming) -> Result:
    return Result(messages=[OutMessage(text=f"<b>Đã nhận</b> {incoming.text}")])


async def test_a_burst_of_commands_is_answered_within_the_limits(sqlite_url: str) -> None:
    from channels.telegram_app import start_telegram, stop_telegram

    with FakeTelegram(enforce_limits=True) as fake:
        app = open_app(make_settings(sqlite_url, **fake.settings_overrides()))
        pacer = Pacer(limits_for(app.settings, "telegram"))
        handle = await start_telegram(app, pacer=pacer, dispatch=_answer)
        try:
            for user in USERS:
                fake.push_message(user, user, f"/id {user}")
            for user in USERS:
                await fake.wait_for_messages(user, 1)
        finally:
            await stop_telegram(handle)
            pacer.close()
            await app.close()
        report = fake.limit_report()
    assert report["messages"] == len(USERS)
    assert report["count_429"] == 0, report
    assert report["max_global_per_second"] <= 30, report
    assert report["max_private_per_second"] <= 1, report
