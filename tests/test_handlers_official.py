"""/report: officials see reports for their own provinces only, with the chart as a photo."""

from __future__ import annotations

from datetime import timedelta

from services import users
from tests.chat_support import Person
from tests.delivery_support import add_item, add_source


async def test_official_reports_only_for_own_provinces(app) -> None:  # type: ignore[no-untyped-def]
    now = app.clock()
    async with app.sessions() as session, session.begin():
        src = await add_source(session)
        for n, (code, topic) in enumerate([("33", "nha-dai-doan-ket"), ("33", "bau-cu"),
                                           ("15", "bau-cu"), ("01", "bau-cu")]):
            await add_item(session, src, f"Tin {n} ở tỉnh {code}", provinces=[code],
                           topics=[topic], published_at=now - timedelta(hours=n + 1))
    await users.grant(app, "cli", "telegram", "50", "official", ["33", "15"])
    official = Person(app, "50")
    await official.say("/report")
    photos = [m for m in official.last.messages if m.photo]
    assert len(photos) == 1 and photos[0].photo.startswith(b"\x89PNG")
    assert "Hưng Yên" in official.text and "Lào Cai" in official.text
    await official.say("/report hưng yên 3 ngày")
    assert "Hưng Yên" in official.text and "Lào Cai" not in official.text
    await official.say("/report hà nội")
    assert "không phải: Hà Nội" in official.text
    assert not any(m.photo for m in official.last.messages)
    await official.say("/report thái bình tuần")  # a former name of one of their provinces
    assert any(m.photo for m in official.last.messages)

    admin = Person(app, "51")
    await users.grant(app, "cli", "telegram", "51", "admin")
    await admin.say("/report hà nội hôm nay")  # admins may see any province
    assert any(m.photo for m in admin.last.messages)
    citizen = Person(app, "52")
    await citizen.say("/report hưng yên")
    assert "chỉ dành cho cán bộ" in citizen.text
