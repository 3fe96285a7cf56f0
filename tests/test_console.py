"""The console channel: typed lines in, plain-text replies out, buttons as numbered choices."""

from __future__ import annotations

import io
from pathlib import Path

from channels.console import ConsoleChannel, run_console
from handlers.types import Incoming, Result
from model.channel import Button, OutMessage, Status
from render.texts import t
from runtime import App
from services.users import find_user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


class Script:
    def __init__(self) -> None:
        self.seen: list[Incoming] = []

    async def __call__(self, app: App, incoming: Incoming) -> Result:
        self.seen.append(incoming)
        if incoming.callback_data:
            return Result(
                messages=[
                    OutMessage(
                        text=f"Bạn chọn {incoming.callback_data}",
                        edit_message_id=incoming.message_id,
                    )
                ],
                button_answer="Đã chọn",
            )
        if incoming.text == "/boom":
            raise RuntimeError("handler bug")
        if incoming.document:
            return Result(messages=[OutMessage(text=f"Nhận tệp {incoming.document[0]}")])
        if incoming.text == "/report":
            return Result(messages=[OutMessage(text="<b>Báo cáo</b>", photo=PNG)])
        return Result(
            messages=[
                OutMessage(
                    text="<b>Chào</b> &amp; mời chọn tỉnh:",
                    buttons=[
                        [Button("Hưng Yên", "pk:ab12:p:33"), Button("Lào Cai", "pk:ab12:p:15")]
                    ],
                ),
                OutMessage(text="Hoặc chủ đề:", buttons=[[Button("Nhà ở", "pk:ab12:t:nha-o")]]),
            ]
        )


async def test_a_conversation(sqlite_app: App, tmp_path: Path) -> None:
    opml = tmp_path / "nguon.opml"
    opml.write_bytes(b"<opml/>")
    lines = ["/start", "2", "3", "/boom", f"/import @{opml}", "/report", "7", "", "/quit", "/start"]
    out = io.StringIO()
    script = Script()
    await run_console(
        sqlite_app,
        stdin=io.StringIO("\n".join(lines) + "\n"),
        stdout=out,
        files_dir=tmp_path / "out",
        dispatch=script,
    )
    text = out.getvalue()
    assert text.startswith(t("vi", "console_welcome"))
    assert "Chào & mời chọn tỉnh:\n  [1] Hưng Yên   [2] Lào Cai\n" in text
    assert "Hoặc chủ đề:\n  [3] Nhà ở\n" in text
    assert "» Đã chọn\n\nBạn chọn pk:ab12:p:15\n" in text
    assert t("vi", "error_internal") in text
    assert "Nhận tệp nguon.opml" in text
    saved = tmp_path / "out" / "photo-7.png"
    assert saved.read_bytes() == PNG and str(saved) in text
    assert [(i.text, i.callback_data, i.message_id) for i in script.seen] == [
        ("/start", None, None),
        ("", "pk:ab12:p:15", "1"),  # "2": the second button, on the first message
        ("", "pk:ab12:t:nha-o", "2"),  # buttons stay pressable until new ones are shown
        ("/boom", None, None),
        ("/import", None, None),
        ("/report", None, None),
        ("7", None, None),
    ]
    assert script.seen[4].document == ("nguon.opml", b"<opml/>")
    assert all(
        (i.channel, i.chat_key, i.user_key) == ("console", "local", "local") for i in script.seen
    )
    assert sqlite_app.channels == {}
    person = await find_user(sqlite_app, "console", "local")
    assert person is not None and person.role == "admin"


async def test_deliveries_print_too(tmp_path: Path) -> None:
    out = io.StringIO()
    channel = ConsoleChannel(out, tmp_path)
    outcome = await channel.send(
        "local",
        OutMessage(
            text='<b>Tin mới</b>: <a href="https://baohungyen.vn/a">Nhà đại đoàn kết</a> &lt;3',
            document=("loa.opml", b"<opml/>"),
        ),
    )
    assert outcome.ok and outcome.message_id == "1"
    assert out.getvalue().startswith("Tin mới: Nhà đại đoàn kết https://baohungyen.vn/a <3\n")
    assert (tmp_path / "1-loa.opml").read_bytes() == b"<opml/>"
    assert (await channel.send("local", OutMessage())).status is Status.BAD_CONTENT


async def test_the_real_router_over_the_console(sqlite_app: App, tmp_path: Path) -> None:
    out = io.StringIO()
    await run_console(sqlite_app, stdin=io.StringIO("/start\n"), stdout=out, files_dir=tmp_path)
    reply = out.getvalue().removeprefix(t("vi", "console_welcome")).strip()
    assert reply and t("vi", "error_internal") not in reply
    assert "<b>" not in reply  # HTML became plain text
