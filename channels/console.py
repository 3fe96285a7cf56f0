"""The console channel: the whole bot in a terminal, offline, for a newcomer with no bot token.

You are one local person (`console:local`), an admin, in a private chat. Each line you type goes
through the shared inbound runner (channels/inbound.py) like a chat message; replies print as
plain text. Buttons print as numbered choices, and typing a number presses that button. A command
whose last word is `@path` sends that local file with it (`/import @nguon.opml`). Photos and
files the bot sends are saved to data/console/ and their path is printed. Deliveries (alerts,
digests) print the same way, since this is also a `Channel` the sender can send to. The
greeting says where the database and the log file are, and how to leave the demo when it runs
(services.demo).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TextIO

from channels.inbound import Dispatch, Inbound
from config import DATA_DIR
from handlers.types import Incoming
from model.channel import Capabilities, Markup, Outcome, OutMessage, Status
from render.markup import html_to_plain
from render.texts import t
from runtime import App
from services import demo
from services.users import find_user, grant

NAME = "console"
LOCAL_KEY = "local"  # the one chat and the one person: "console:local"
QUIT_WORDS = ("/quit", "/exit", "/thoat")

CAPABILITIES = Capabilities(
    max_text_units=4096,  # as Telegram, so what you see here is what a Telegram user would get
    max_caption_units=1024,
    markup=Markup.PLAIN,
    buttons=True,  # shown as numbered choices
    edits=False,  # printed lines can't change: an edit prints anew
    global_per_second=1000,
    private_per_second=1000,
    group_per_minute=60_000,
)

class ConsoleChannel:
    name = NAME
    capabilities = CAPABILITIES

    def __init__(self, output: TextIO | None = None, files_dir: Path | None = None) -> None:
        self.output = output or sys.stdout
        self.files_dir = files_dir or DATA_DIR / "console"
        self._next_id = 1
        self._choices: dict[int, tuple[str, str]] = {}  # number -> (button data, message id)
        self._renumber = True  # the next buttons shown start again at 1

    def new_turn(self) -> None:
        """The person typed something: the buttons printed next are numbered from 1 again."""
        self._renumber = True

    def choice(self, line: str) -> tuple[str, str] | None:
        """The (button data, message id) a typed number stands for, if it is one on screen."""
        return self._choices.get(int(line)) if line.isdigit() else None

    async def send(
        self, chat_key: str, message: OutMessage, *, chat_kind: str = "private"
    ) -> Outcome:
        message_id = str(self._next_id)
        self._next_id += 1
        lines: list[str] = []
        if message.text:
            lines.append(html_to_plain(message.text).strip())
        if message.photo is not None:
            lines.append(
                t("vi", "console_photo", path=self._save(f"photo-{message_id}.png", message.photo))
            )
        elif message.photo_url:
            lines.append(message.photo_url)
        if message.document is not None:
            name, content = message.document
            lines.append(
                t("vi", "console_file", path=self._save(f"{message_id}-{Path(name).name}", content))
            )
        lines.extend(self._number_buttons(message, message_id))
        if not any(lines):
            return Outcome(Status.BAD_CONTENT, "empty message")
        self._write("\n".join(lines))
        return Outcome(Status.OK, message_id=message_id)

    async def answer_button(self, callback_id: str, text: str = "") -> Outcome:
        if text:
            self._write(f"» {html_to_plain(text)}")
        return Outcome(Status.OK)

    async def set_role_menu(self, user_key: str, role: str) -> None:
        """The console has no command menu: /help lists the commands."""

    def _number_buttons(self, message: OutMessage, message_id: str) -> list[str]:
        if not message.buttons:
            return []
        if self._renumber:
            self._choices.clear()
            self._renumber = False
        rows = []
        for row in message.buttons:
            cells = []
            for button in row:
                number = len(self._choices) + 1
                self._choices[number] = (button.data, message_id)
                cells.append(f"[{number}] {html_to_plain(button.label)}")
            rows.append("  " + "   ".join(cells))
        return rows

    def _save(self, name: str, content: bytes) -> str:
        self.files_dir.mkdir(parents=True, exist_ok=True)
        path = self.files_dir / name
        path.write_bytes(content)
        return str(path)

    def _write(self, text: str) -> None:
        self.output.write(text + "\n\n")
        self.output.flush()


def _attachment(line: str) -> tuple[str, tuple[str, bytes] | None]:
    """`/import @feeds.opml` -> ("/import", ("feeds.opml", bytes)); other lines are unchanged.
    A missing file is left in the text, for the handlers' usage line."""
    words = line.rsplit(maxsplit=1)
    if len(words) == 2 and words[1].startswith("@"):
        path = Path(words[1][1:]).expanduser()
        if path.is_file():
            return words[0], (path.name, path.read_bytes())
    return line, None


async def ensure_local_admin(app: App) -> None:
    """The person at the keyboard is an admin (granted once, and audited, by "cli")."""
    person = await find_user(app, NAME, LOCAL_KEY)
    if person is None or person.role != "admin":
        await grant(app, "cli", NAME, LOCAL_KEY, "admin")


async def run_console(
    app: App,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    files_dir: Path | None = None,
    dispatch: Dispatch | None = None,
) -> None:
    """Chat in the terminal until end of input (Ctrl-D) or /quit. Registers the channel as
    `app.channels["console"]` meanwhile, so deliveries print here too."""
    source = stdin or sys.stdin
    channel = ConsoleChannel(stdout, files_dir)
    # One person at their own keyboard: no flood limit, and nothing to wait for but them.
    inbound = Inbound(app, channel, dispatch=dispatch, flood=False)
    await ensure_local_admin(app)
    app.channels[NAME] = channel
    channel._write(await greeting(app))
    try:
        while True:
            line = await asyncio.to_thread(source.readline)
            if not line:
                break
            line = line.strip()
            if not line:
                continue
            if line.lower() in QUIT_WORDS:
                break
            await inbound.handle(_incoming(channel, line))
    finally:
        if app.channels.get(NAME) is channel:
            del app.channels[NAME]


async def greeting(app: App) -> str:
    """How to use the console, where its data and logs are, and whether this is the demo."""
    settings = app.settings
    where = t("vi", "console_where", database=settings.database_shown(),
              log=settings.log_file or t("vi", "console_no_log_file"))
    lines = [t("vi", "console_welcome"), where]
    if await demo.running_sources(app):
        lines.append(t("vi", "console_demo"))
    return "\n\n".join(html_to_plain(line) for line in lines)


def _incoming(channel: ConsoleChannel, line: str) -> Incoming:
    """One typed line: a button number (a press) or a message."""
    pressed = channel.choice(line)
    channel.new_turn()
    incoming = Incoming(
        channel=NAME,
        chat_key=LOCAL_KEY,
        user_key=LOCAL_KEY,
        sender_is_chat_admin=True,
        user_name="console",
    )
    if pressed is not None:
        incoming.callback_data, incoming.message_id = pressed
        incoming.callback_id = f"console-{line}"
    else:
        incoming.text, incoming.document = _attachment(line)
    return incoming
