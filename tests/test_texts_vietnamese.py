"""No English reaches a Vietnamese reader: every chat command, its refusals and the services'
reasons are driven in Vietnamese, and no reply holds an English word that the Vietnamese
catalogue does not itself teach (an argument to type, like "official"). Refusals are typed
(services.errors.Refusal) and rendered through the catalogue, for admins too."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from delivery.alerts import Alert
from render.compose import render_alert
from render.texts import messages
from runtime import App, open_app
from services import sources, users
from tests.chat_support import Person
from tests.conftest import make_settings
from tests.fakes.feed_server import FeedServer

ROOT = Path(__file__).resolve().parent.parent
FEED = ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Báo Hải Phòng</title><item><title>Hải Phòng xây nhà Đại đoàn kết</title>"
        "<link>https://baohaiphong.example.vn/1</link><description>Trao nhà Đại đoàn kết cho hộ"
        " nghèo ở Hải Phòng.</description></item></channel></rss>").encode()
# Words of the English catalogue, of the services' reasons and of the stored states: none may
# reach a Vietnamese reply unless the Vietnamese catalogue uses it itself.
ENGLISH = set("""
the a an is are was not no of to in on for by with from already exists exist same unknown
item items source sources feed feeds listing subscription subscriptions user users chat chats
admin official citizen instant daily weekly off active paused pending sending sent failed
cancelled refused reason error errors file twice listed new news added removed province
provinces topic topics keyword keywords none every all only this that there here please
delivery digest report week today page more and or but last first number broadcast
""".split())


def _catalogue_words() -> set[str]:
    texts = list(messages("vi").values())
    commands = json.loads((ROOT / "data" / "commands.json").read_text(encoding="utf-8"))
    texts += re.findall(r'"vi": "([^"]*)"', json.dumps(commands, ensure_ascii=False))
    return {w.lower() for text in texts for w in re.findall(r"\w+", text)}


def english_in(text: str) -> set[str]:
    """The English words of a reply, after what is not prose: links, code and markup."""
    text = re.sub(r"https?://\S+|<code>.*?</code>|<[^>]+>|/\w+", " ", text, flags=re.S)
    words = {w.lower() for w in re.findall(r"\w+", text)}
    return (words & ENGLISH) - _catalogue_words()


OPML = b"""<?xml version="1.0" encoding="UTF-8"?><opml version="2.0"><body>
  <outline type="rss" text="A" xmlUrl="https://a.example.vn/rss"/>
  <outline type="rss" text="A" xmlUrl="https://a.example.vn/rss"/>
  <outline type="rss" text="B" xmlUrl="https://b.example.vn/rss" province="hai-phong"/>
  <outline type="rss" text="C" xmlUrl="ftp://c.example.vn/feed"/>
</body></opml>"""


@pytest.fixture
async def admin_app(sqlite_url: str):  # type: ignore[no-untyped-def]
    application = open_app(make_settings(sqlite_url, admin_ids="1"))
    yield application
    await application.close()


async def _replies(person: Person, script: list[str | tuple[str, bytes]]) -> list[str]:
    said = []
    for line in script:
        if isinstance(line, tuple):
            await person.say("/import", document=line)
        else:
            await person.say(line)
        said += [m.text for m in person.last.messages]
        said += [label for label, _ in person.buttons()]
        said += [person.last.button_answer or ""]
    return said


async def test_every_reply_in_vietnamese_is_vietnamese(admin_app: App,
                                                       feed_server: FeedServer) -> None:
    feed = feed_server.add("/rss", FEED)
    await sources.add_source(admin_app, "https://b.example.vn/rss")
    await users.ensure_user(admin_app, "telegram", "7")
    admin = Person(admin_app, "1")
    citizen = Person(admin_app, "42")
    replies = await _replies(admin, [
        "/start", "/sub nhà đại đoàn kết hải phòng", "/sub nhà đại đoàn kết hải phòng",
        "/list", "/pause 1", "/resume 1", "/edit 1 lũ lụt hải phòng", "/edit 9 bão",
        "/digest hangngay 7", "/digest 1 hangngay 30", "/unsub 9", "/why 9999", "/why abc",
        "/search hải phòng", "/latest", "/help", "/id", "/report", "/confirm", "/cancel",
        f"/addfeed {feed} hải phòng", f"/addfeed {feed}", "/addfeed https://10.0.0.1/rss",
        "/addfeed https://x.example.vn/rss tỉnh Không Có", "/feeds", f"/testfeed {feed}",
        "/pausefeed 1", "/feeds", "/resumefeed 1", "/removefeed 99", "/removefeed abc",
        "/grant 7 official hai-phong", "/grant 7 official", "/grant 8 sếp", "/revoke 1",
        "/revoke 99999", "/stats", "/broadcast", "/broadcast hải phòng Họp tổ dân phố",
        "/cancel", ("nguon.opml", OPML), ("hong.opml", b"<html/>"), "/export", "/lang",
        "/khonglenh", "xin chào", "/demo", "/demo off",
    ])
    replies += await _replies(citizen, ["/stats", "/grant 1 admin", "/report", "/unsub 1"])
    leaked = {text: english_in(text) for text in replies if english_in(text)}
    assert not leaked, leaked
    [stats] = [text for text in replies if text.startswith("📊 <b>Thống kê")]
    assert "cán bộ 1" in stats and "Telegram" in stats and "hằng ngày" in stats, stats
    assert any("Nguồn này có hai lần trong tệp" in text for text in replies)  # import reasons
    assert any("Bạn đã có đăng ký này rồi" in text for text in replies)  # no "Lý do: …"


def test_the_check_finds_english() -> None:
    found = english_in("Không thực hiện được.\n<i>Lý do: the same subscription exists</i>")
    assert {"the", "subscription", "exists"} <= found
    assert english_in("Người dùng: admin 1, citizen 2") - _catalogue_words()
    assert not english_in("Gõ <code>/digest hangngay 7</code> tại https://the.example/is")


@pytest.mark.parametrize("alert", list(Alert))
def test_admin_alerts_are_vietnamese_with_the_detail_quoted(alert: Alert) -> None:
    params = {"id": 3, "name": "Báo", "url": "https://a.vn/rss", "chat": "telegram:5",
              "channel": "telegram", "detail": "HTTP 404: the page is not found"}
    text = render_alert("vi", alert, params)
    assert "<code>HTTP 404: the page is not found</code>" in text  # the source's own words
    assert not english_in(text), text
