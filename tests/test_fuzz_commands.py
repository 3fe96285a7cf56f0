"""Hostile input through the real router, on both engines: every chat command, with arguments
made by Hypothesis (random unicode with surrogates and controls, NUL, direction marks, huge
strings, numeric edges, markup), typed by an admin, an official and a citizen with a hostile
display name.

The property: the reply is a normal answer or a refusal, never the apology; it is valid for the
platform (length, Telegram HTML); and where it is a refusal, nothing stored has changed.

Bounded for CI: a fixed number of examples per command, derandomised (the same examples every
run), no deadline, no example database.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine, Iterator
from functools import lru_cache
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import bindparam, select

from handlers.commands import commands
from handlers.router import dispatch
from handlers.types import Incoming, Result
from render.texts import LANGS, messages, t
from runtime import App, open_app
from services import users
from storage.db import make_sync_engine
from storage.models import (
    Delivery,
    OfficialProvince,
    Source,
    Subscription,
    SubscriptionProvince,
    SubscriptionTopic,
    User,
)
from tests.chat_support import check_html
from tests.conftest import make_settings
from vntext import utf16_len

EXAMPLES_PER_COMMAND = 12
ADMIN, OFFICIAL, CITIZEN = "1", "50", "100"
APOLOGIES = {t(lang, "error_internal") for lang in LANGS}
_BUTTON_REFUSALS = {t(lang, key) for lang in LANGS for key in ("button_invalid", "button_stale")}

# Lines that refuse: every error line, and the generic ones the router and handlers use.
_REFUSAL_KEYS = ("usage", "unknown_command", "admin_only", "official_only", "confirm_nothing")
# What the database holds that a refusal must leave alone (chats and the audit log change on
# every message: a chat's dialogue, the log of admin attempts).
_WATCHED = (Source, Subscription, SubscriptionTopic, SubscriptionProvince, OfficialProvince,
            Delivery, User)
_UNWATCHED_COLUMNS = {"display_name"}  # the platform's, refreshed on every message

# Pieces that have broken parsers and databases before: controls, invisible and direction
# marks, lone surrogates, numbers at the edges of 32 and 64 bits and beyond, non-ASCII digits,
# markup and format strings, province and role words, and a local URL that answers nothing.
NASTY = [
    "\x00", "\x1b[31m", "\x7f", "\x85", "\u200b", "\u200d", "\u200e", "\u200f", "\u202e",
    "\u2066", "\ufeff", "\ud800", "\udfff", "\U0001f600", "\u0301", "ﷺ", " ", "\n", "\t",
    "0", "-1", "1", "2", "7", "24", "99", "2147483647", "2147483648", "-2147483649",
    "9223372036854775807", "9223372036854775808", "1" * 40, "1e309", "NaN", "٣", "²", "#1",
    "<b>", "</i>", "&amp;", "<a href='x'>", "%s", "{}", "{0}", "{who}", "'; DROP TABLE users;--",
    "an giang", "hà nội", "Cao Bằng", "thái bình", "nhà đại đoàn kết", "bầu cử", "tất cả",
    "all", "admin", "official", "cán bộ", "daily", "hangtuan thu2 25", "ngay", "off",
    "telegram:42", "zalo:ab12", "console:local", "http://127.0.0.1:9/rss", "x" * 300,
    "mưa lũ " * 50,
]
# Arguments every command gets, besides the generated ones: each broke something once.
EDGES = ["bầu cử\x00", "1 cao bang", "99999999999", "2147483648", "9" * 100 + " admin",
         "\u200b42 admin", "https://a.example/rss\x00 an giang", "²", "x" * 5000]
_CHARS = st.characters(exclude_categories=())  # every code point, surrogates and controls too
ARGS = st.one_of(
    st.lists(st.one_of(st.sampled_from(NASTY), st.text(_CHARS, max_size=8)), min_size=1,
             max_size=6).map(" ".join),
    st.text(_CHARS, max_size=40),
    st.integers(min_value=-2**70, max_value=2**70).map(str),
    st.sampled_from(["x" * 5000, "9" * 10_000, "\x00" * 100, "\u202e" * 300]),
)
# Forged button data: the real actions (and one that is not) with arguments near and far from
# what the bot makes.
BUTTON_DATA = st.tuples(
    st.sampled_from(["pk", "ls", "dl", "sf", "sr", "cf", "lg", "zz"]),
    st.lists(st.one_of(st.sampled_from([
        "0", "1", "2", "3", "999999999999", "2147483648", "-", "all", "y", "n", "p", "t", "k",
        "rm", "pa", "re", "dl", "ok", "x", "pg", "m", "h", "w", "daily", "weekly", "instant",
        "off", "23", "24", "99", "6", "7", "vi", "en", "abcd", "01", "bau-cu"]),
        st.text(_CHARS, max_size=6)), max_size=5),
).map(lambda parts: ":".join([parts[0], *parts[1]]))
BUTTON_EXAMPLES = 100
NAMES = st.one_of(st.just("An"), st.text(_CHARS, max_size=300))


@lru_cache(maxsize=1)
def _refusals() -> list[re.Pattern[str]]:
    """Each refusal line of the catalogue as a pattern; a parameter matches anything."""
    patterns = []
    for lang in LANGS:
        for key, template in messages(lang).items():
            if key.startswith("error_") and key != "error_internal" \
                    or key in _REFUSAL_KEYS:
                parts = re.split(r"\{\w+\}", template)
                patterns.append(re.compile(".*?".join(map(re.escape, parts)), re.DOTALL))
    return patterns


def is_refusal(text: str) -> bool:
    return any(p.match(text) for p in _refusals())


class Bench:
    """An app on its own event loop, so that Hypothesis (which runs plain functions) can drive
    the async router example after example on one database."""

    def __init__(self, db_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.app: App = open_app(make_settings(db_url, admin_ids=ADMIN))
        # The snapshot reads through a blocking engine of its own: the same rows, but without
        # the async driver's hops (aiosqlite's thread, the event loop), which made the two
        # snapshots of every example half of this test's time.
        self.reader = make_sync_engine(db_url)
        self.watched = [select(*[c for c in model.__table__.columns
                                 if c.name not in _UNWATCHED_COLUMNS]) for model in _WATCHED]
        self.known = select(User.id).where(User.channel == "telegram",
                                           User.user_key == bindparam("who"))
        self.run(users.grant(self.app, "cli", "telegram", OFFICIAL, "official", ["01"]))
        for who in (ADMIN, CITIZEN):  # known already: a first message creates their rows
            self.run(self.say(who, "/help", "An"))

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.reader.dispose()
        self.run(self.app.close())
        self.loop.close()

    def ensure_user(self, who: str) -> None:
        """`who` has a row before each example (a /stop deletes it): looked up through the
        blocking engine, created through the app only when missing (the app's read of a known
        user was a third of an example's time)."""
        with self.reader.connect() as conn:
            known = conn.execute(self.known, {"who": who}).first()
        if known is None:
            self.run(users.ensure_user(self.app, "telegram", who))

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """What the watched tables hold, as committed (one read transaction)."""
        with self.reader.connect() as conn:
            return {model.__tablename__: sorted(tuple(map(repr, r))
                                                for r in conn.execute(query).all())
                    for model, query in zip(_WATCHED, self.watched, strict=True)}

    async def press(self, who: str, data: str) -> Result:
        return await dispatch(self.app, Incoming(channel="telegram", chat_key=who, user_key=who,
                                                 callback_data=data, callback_id="cb",
                                                 message_id="7"))

    async def say(self, who: str, text: str, name: str) -> Result:
        return await dispatch(self.app, Incoming(channel="telegram", chat_key=who, user_key=who,
                                                 text=text, user_name=name))


@pytest.fixture
def bench(db_url: str) -> Iterator[Bench]:
    made = Bench(db_url)
    yield made
    made.close()


def _check_reply(text: str, result: Result) -> str:
    assert result.messages, f"no reply to {text[:80]!r}"
    for message in result.messages:
        assert message.text not in APOLOGIES, f"the apology for {text[:200]!r}"
        assert utf16_len(message.text) <= 4096
        check_html(message.text)
    return result.messages[0].text


def _property(bench: Bench, command: str):  # type: ignore[no-untyped-def]
    def with_edges(test):  # type: ignore[no-untyped-def]
        for arg in EDGES:
            test = example(arg=arg, who=ADMIN, name="An\x00")(test)
        return test

    @settings(max_examples=EXAMPLES_PER_COMMAND, deadline=None, derandomize=True,
              database=None, suppress_health_check=list(HealthCheck))
    @with_edges
    @given(arg=ARGS, who=st.sampled_from([ADMIN, OFFICIAL, CITIZEN]), name=NAMES)
    def check(arg: str, who: str, name: str) -> None:
        text = f"/{command} {arg}"
        bench.ensure_user(who)  # back after a /stop
        before = bench.snapshot()
        first = _check_reply(text, bench.run(bench.say(who, text, name)))
        if is_refusal(first):
            after = bench.snapshot()
            changed = [table for table in before if before[table] != after[table]]
            assert not changed, f"refused {text[:200]!r} ({first[:100]!r}) changed {changed}"
    return check


# Hundreds of examples, 15 to 35 s: dealt first, like the end-to-end tests, so that it never
# starts last and ends the run alone (tests/conftest.py).
@pytest.mark.slow(weight=8)
def test_every_command_answers_hostile_arguments(bench: Bench) -> None:
    for command in commands():
        _property(bench, command)()


def test_forged_buttons_get_an_answer_not_the_apology(bench: Bench) -> None:
    @settings(max_examples=BUTTON_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=BUTTON_DATA, who=st.sampled_from([ADMIN, OFFICIAL, CITIZEN]))
    def check(data: str, who: str) -> None:
        bench.ensure_user(who)
        before = bench.snapshot()
        result = bench.run(bench.press(who, data))
        answers = [m.text for m in result.messages] + [result.button_answer or ""]
        assert not APOLOGIES & set(answers), f"the apology for button {data!r}"
        for text in answers:
            check_html(text)
        if result.button_answer in _BUTTON_REFUSALS or is_refusal(answers[0]):
            after = bench.snapshot()
            assert before == after, f"refused button {data!r} changed data"

    bench.run(bench.say(ADMIN, "/sub bầu cử", "An"))  # something for the buttons to name
    check()


def test_the_refusal_patterns_know_a_refusal() -> None:
    assert is_refusal(t("vi", "error_too_long", limit=256))
    assert is_refusal(t("en", "usage", usage="/sub"))
    assert not is_refusal(t("vi", "granted_admin", who="telegram:1"))
