"""A fake Telegram Bot API server on 127.0.0.1, speaking Telegram's wire format.

Tests start it themselves; it runs a stdlib `ThreadingHTTPServer` in a daemon thread, so sync
and async tests (and a bot in another process) can all talk to it over real sockets. What it
shares with the Zalo fake (life cycle, sliding windows, waiting, control API) is in http_fake.py.

Wire format, as Telegram's:
- `GET|POST /bot<TOKEN>/<method>` with a query string, a JSON, form-urlencoded or multipart body
  (PTB sends form fields whose values are JSON-encoded: `reply_markup`, `scope`, ...).
- Answers `{"ok": true, "result": ...}` or
  `{"ok": false, "error_code": N, "description": "...", "parameters": {...}}`.
- A token of the right shape that is not ours: 401 Unauthorized; a malformed token or an unknown
  method: 404 Not Found. Files: `GET /file/bot<TOKEN>/<file_path>`.
- Methods: getMe, getUpdates (offset, limit, long-poll timeout, allowed_updates; 409 while a
  webhook is set or when a newer poll starts), setWebhook, deleteWebhook, getWebhookInfo,
  sendMessage, sendPhoto, sendDocument, editMessageText, editMessageCaption,
  editMessageReplyMarkup, answerCallbackQuery, getFile, setMyCommands, getMyCommands,
  deleteMyCommands, getChat, getChatMember, getChatAdministrators, sendChatAction.
- Validation: parse_mode HTML with Telegram's tags only (b strong i em u ins s strike del a[href]
  code pre span[class=tg-spoiler] tg-spoiler blockquote tg-emoji); unknown/unclosed/unmatched tags
  and bare `<` give "can't parse entities". A bare `&` is refused too: real Telegram keeps it
  literally, but here it always means someone forgot to escape. Text over 4096 UTF-16 units after
  entity parsing, empty text, captions over 1024, callback_data over 64 bytes
  (BUTTON_DATA_INVALID), badly shaped inline keyboards, photos that are not images.

Python API (all methods are thread-safe):

    with FakeTelegram(token=DEFAULT_TOKEN, enforce_limits=False, global_per_second=30,
                      private_per_second=1, group_per_minute=20, paid_per_second=1000) as tg:
        settings = make_settings(url, **tg.settings_overrides())
        tg.base_url          # "http://127.0.0.1:PORT/bot"  (TELEGRAM_API_BASE_URL)
        tg.file_base_url     # "http://127.0.0.1:PORT/file/bot"  (TELEGRAM_FILE_BASE_URL)
        tg.token, tg.bot_id, tg.bot_username

        # Inject updates (returned by getUpdates); each returns what it created.
        msg = tg.push_message(user_id, chat_id, "/start", chat_type="private",
                              language_code="vi", title=None)        # -> message dict
        qid = tg.push_callback(user_id, chat_id, data, message_id)   # -> callback query id
        msg = tg.push_document(user_id, chat_id, "feeds.opml", b"...", caption="")
        tg.push_migration(old_chat_id, new_chat_id, user_id=1)       # group -> supergroup
        tg.push_chat_member(chat_id, user_id, new_status="member", old_status="left")
        tg.push_update({...})                                        # anything else

        # Script failures.
        tg.script_chat(chat_id, "blocked" | "deactivated" | "kicked" | "not_found" |
                       "migrated" | "error" | "slow" | None,
                       times=None, new_chat_id=None, status=500, delay=0.0)
        tg.force_429(n, retry_after=1, chat_id=None)   # next n sends answer 429
        tg.set_chat_member(chat_id, user_id, "creator" | "administrator" | "member" | ...)

        # Inspect.
        tg.sent                      # list[Sent]: accepted sends and edits, in order
        tg.messages_for(chat_id)     # the Sent records of one chat
        tg.wait_for_messages(chat_id, n, timeout=10)  # blocks in sync code; in async code
                                     # it returns an awaitable: `await tg.wait_for_messages(...)`
        tg.count_429                 # 429s answered (forced or by limits)
        tg.errors                    # [(method, chat_id, error_code, description)]
        tg.commands                  # {(scope_key, language_code): [(command, description)]}
                                     # scope_key: "default", "all_private_chats", "chat:<id>", ...
        tg.callback_answers          # {callback query id: {"text": ..., "show_alert": ...}}
        tg.chat_actions, tg.webhook, tg.calls (Counter of method names)
        tg.send_times(chat_id=None)  # monotonic arrival times of accepted new messages
        tg.limit_report()            # max messages seen in any sliding window (global 1 s,
                                     # per private chat 1 s, per group 60 s), count_429, span

`Sent` fields: method, chat_id, message_id, text (as sent, HTML), plain (after entity parsing),
parse_mode, reply_markup (dict), buttons (rows of button dicts), photo (bytes), document (bytes),
filename, params (all request fields), time (time.monotonic() at arrival).

Limits (enforce_limits=True): sliding windows over accepted new messages (sendMessage,
sendPhoto, sendDocument; edits are not counted): at most `global_per_second` in any 1 s
(`paid_per_second` for requests with allow_paid_broadcast=true), `private_per_second` per
private chat in any 1 s, `group_per_minute` per group (negative chat id) in any 60 s. A violation
answers 429 with parameters.retry_after and is counted in `count_429`.

Standalone: `python -m tests.fakes.telegram_api --port N [--token T] [--enforce-limits]`
prints `FAKE_TELEGRAM_READY port=N` once listening. A control API lets another process drive it:
`GET /_fake/state` and `POST /_fake/<push_message|push_callback|push_migration|script_chat|
force_429|set_chat_member>` with the method's keyword arguments as a JSON object.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import math
import re
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.fakes.http_fake import FakeHandler, FakeServer, run_standalone

DEFAULT_TOKEN = "7000000001:AAFakeTokenForLoaTests_0123456789ab"
_TOKEN_SHAPE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{30,}$")

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
NEW_MESSAGE_METHODS = {"sendmessage", "sendphoto", "senddocument"}
EDIT_METHODS = {"editmessagetext", "editmessagecaption", "editmessagereplymarkup"}
SENDING_METHODS = NEW_MESSAGE_METHODS | EDIT_METHODS
CHAT_METHODS = SENDING_METHODS | {
    "sendchataction",
    "getchat",
    "getchatmember",
    "getchatadministrators",
}

BEHAVIOURS = {
    "blocked": (403, "Forbidden: bot was blocked by the user"),
    "deactivated": (403, "Forbidden: user is deactivated"),
    "kicked": (403, "Forbidden: bot was kicked from the group chat"),
    "not_found": (400, "Bad Request: chat not found"),
    "migrated": (400, "Bad Request: group chat was upgraded to a supergroup chat"),
    "error": (500, "Internal Server Error"),
    "slow": (200, ""),
}
_BAD_GATEWAY_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


class ApiError(Exception):
    """An error answer: HTTP status = error_code, as Telegram does."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


# --- Telegram's HTML ---------------------------------------------------------------------------

_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_TAGS = set(_SIMPLE_TAGS) | {"a", "span", "tg-emoji"}
_SPECIAL = re.compile(r"[<&]")
_NAME = re.compile(r"[A-Za-z0-9-]*")
_ATTR_NAME = re.compile(r"[A-Za-z0-9_-]*")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _entity_error(text: str, what: str) -> ApiError:
    return _bad(f"can't parse entities: {what}")


def _decode_entity(text: str, i: int) -> tuple[str, int] | None:
    match = _ENTITY.match(text, i)
    if not match:
        return None
    name = match.group(1)
    if name in _NAMED:
        return _NAMED[name], match.end()
    code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
    if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end()


def _decode_attr(text: str, value: str, at: int) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "&":
            decoded = _decode_entity(value, i)
            if decoded is None:
                raise _entity_error(text, f'Unescaped "&" at byte offset {_byte_offset(text, at)}')
            out.append(decoded[0])
            i = decoded[1]
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML parse mode: (plain text, entities with UTF-16 offsets), or ApiError."""
    out: list[str] = []
    units = 0
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[dict[str, Any]] = []
    i, n = 0, len(text)
    while i < n:
        match = _SPECIAL.search(text, i)
        j = match.start() if match else n
        if j > i:
            chunk = text[i:j]
            out.append(chunk)
            units += utf16_units(chunk)
            i = j
            continue
        begin = i
        if text[i] == "&":
            decoded = _decode_entity(text, i)
            if decoded is None:
                raise _entity_error(text, f'Unescaped "&" at byte offset {_byte_offset(text, i)}')
            out.append(decoded[0])
            units += utf16_units(decoded[0])
            i = decoded[1]
            continue
        i += 1
        if i < n and text[i] == "/":
            name_match = _NAME.match(text, i + 1)
            assert name_match
            tag = name_match.group(0).lower()
            i = name_match.end()
            while i < n and text[i] in " \t\r\n":
                i += 1
            if i >= n or text[i] != ">":
                raise _entity_error(
                    text, f"Unclosed end tag at byte offset {_byte_offset(text, begin)}"
                )
            i += 1
            if not stack:
                raise _entity_error(
                    text, f"Unexpected end tag at byte offset {_byte_offset(text, begin)}"
                )
            open_tag, start, attrs = stack.pop()
            if tag != open_tag:
                raise _entity_error(
                    text,
                    f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                    f'expected "</{open_tag}>", found "</{tag}>"',
                )
            _add_entity(entities, open_tag, start, units - start, attrs, stack)
            continue
        name_match = _NAME.match(text, i)
        assert name_match
        tag = name_match.group(0).lower()
        if tag not in _TAGS:
            raise _entity_error(
                text, f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
            )
        i = name_match.end()
        attrs: dict[str, str] = {}
        while True:
            while i < n and text[i] in " \t\r\n":
                i += 1
            if i >= n:
                raise _entity_error(
                    text, f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
                )
            if text[i] == ">":
                i += 1
                break
            attr_match = _ATTR_NAME.match(text, i)
            assert attr_match
            attr = attr_match.group(0).lower()
            if not attr:
                raise _entity_error(
                    text,
                    f'Empty attribute name in the tag "{tag}" '
                    f"at byte offset {_byte_offset(text, begin)}",
                )
            i = attr_match.end()
            while i < n and text[i] in " \t\r\n":
                i += 1
            if i >= n or text[i] != "=":
                raise _entity_error(
                    text,
                    f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                    f"at byte offset {_byte_offset(text, begin)}",
                )
            i += 1
            while i < n and text[i] in " \t\r\n":
                i += 1
            if i >= n:
                raise _entity_error(
                    text, f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
                )
            if text[i] in "\"'":
                end = text.find(text[i], i + 1)
                if end < 0:
                    raise _entity_error(
                        text, f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
                    )
                raw, i = text[i + 1 : end], end + 1
            else:
                end = i
                while end < n and text[end] not in " \t\r\n>":
                    end += 1
                raw, i = text[i:end], end
            attrs[attr] = _decode_attr(text, raw, begin)
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise _entity_error(
                text,
                f'Tag "span" must have class "tg-spoiler" '
                f"at byte offset {_byte_offset(text, begin)}",
            )
        if tag == "a" and not attrs.get("href"):
            raise _entity_error(
                text,
                f'Tag "a" must have attribute "href" at byte offset {_byte_offset(text, begin)}',
            )
        if tag == "tg-emoji" and not attrs.get("emoji-id"):
            raise _entity_error(
                text,
                f'Tag "tg-emoji" must have attribute "emoji-id" '
                f"at byte offset {_byte_offset(text, begin)}",
            )
        stack.append((tag, units, attrs))
    if stack:
        raise _entity_error(
            text, f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"'
        )
    return _trim("".join(out), entities)


def _add_entity(
    entities: list[dict[str, Any]],
    tag: str,
    offset: int,
    length: int,
    attrs: dict[str, str],
    stack: list[tuple[str, int, dict[str, str]]],
) -> None:
    if length <= 0:
        return
    if tag == "a":
        entity: dict[str, Any] = {"type": "text_link", "url": attrs["href"]}
    elif tag == "span":
        entity = {"type": "spoiler"}
    elif tag == "tg-emoji":
        entity = {"type": "custom_emoji", "custom_emoji_id": attrs["emoji-id"]}
    else:
        entity = {"type": _SIMPLE_TAGS[tag]}
        if tag == "blockquote" and "expandable" in attrs:
            entity["type"] = "expandable_blockquote"
        if tag == "code" and stack and stack[-1][0] == "pre":
            language = attrs.get("class", "")
            if language.startswith("language-"):
                stack[-1][2]["language"] = language.removeprefix("language-")
            return  # <pre><code class=...> is one pre entity
        if tag == "pre" and attrs.get("language"):
            entity["language"] = attrs["language"]
    entity.update(offset=offset, length=length)
    entities.append(entity)


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram strips leading and trailing whitespace and shifts the entities to match."""
    stripped = text.strip()
    if stripped == text:
        return text, sorted(entities, key=lambda e: (e["offset"], -e["length"]))
    lead = utf16_units(text[: len(text) - len(text.lstrip())])
    total = utf16_units(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, sorted(kept, key=lambda e: (e["offset"], -e["length"]))


def _command_entity(text: str) -> list[dict[str, Any]]:
    if not text.startswith("/"):
        return []
    command = re.match(r"/[A-Za-z0-9_@]+", text)
    return (
        [{"type": "bot_command", "offset": 0, "length": utf16_units(command.group(0))}]
        if command
        else []
    )


# --- State ---------------------------------------------------------------------------------------


@dataclass
class Sent:
    method: str
    chat_id: int
    message_id: int
    text: str = ""
    plain: str = ""
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    photo: bytes | None = None
    document: bytes | None = None
    filename: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    time: float = 0.0

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        return (self.reply_markup or {}).get("inline_keyboard", [])

    def summary(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "text": self.text,
            "plain": self.plain,
            "parse_mode": self.parse_mode,
            "reply_markup": self.reply_markup,
            "filename": self.filename,
            "time": self.time,
            "photo_bytes": len(self.photo or b""),
            "document_bytes": len(self.document or b""),
        }


@dataclass
class _Script:
    behaviour: str
    times: int | None
    new_chat_id: int | None = None
    status: int = 500
    delay: float = 0.0


@dataclass
class _Chat:
    id: int
    type: str
    title: str = ""
    first_name: str = ""
    members: dict[int, str] = field(default_factory=dict)
    next_message_id: int = 1
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        if self.type == "private":
            return {"id": self.id, "type": "private", "first_name": self.first_name or "User"}
        return {"id": self.id, "type": self.type, "title": self.title or f"Chat {self.id}"}


def _default_type(chat_id: int) -> str:
    if chat_id > 0:
        return "private"
    return "supergroup" if chat_id <= -1_000_000_000_000 else "group"


def _scope_key(scope: dict[str, Any] | None) -> str:
    if not scope or scope.get("type", "default") == "default":
        return "default"
    kind = scope["type"]
    if kind in ("chat", "chat_administrators"):
        return f"{kind}:{scope['chat_id']}"
    if kind == "chat_member":
        return f"chat_member:{scope['chat_id']}:{scope['user_id']}"
    return kind


class FakeTelegram(FakeServer[int, "Sent"]):
    thread_name = "fake-telegram"
    control_methods = frozenset({
        "push_message",
        "push_callback",
        "push_migration",
        "push_chat_member",
        "script_chat",
        "force_429",
        "set_chat_member",
    })

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        enforce_limits: bool = False,
        global_per_second: int = 30,
        private_per_second: int = 1,
        group_per_minute: int = 20,
        paid_per_second: int = 1000,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_username: str = "loa_test_bot",
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.enforce_limits = enforce_limits
        self.global_per_second = global_per_second
        self.private_per_second = private_per_second
        self.group_per_minute = group_per_minute
        self.paid_per_second = paid_per_second
        super().__init__(host=host, port=port)
        self.sent: list[Sent] = []
        self.errors: list[tuple[str, int | None, int, str]] = []
        self.count_429 = 0
        self.commands: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.chat_actions: list[tuple[int, str]] = []
        self.webhook: dict[str, Any] = {}
        self.calls: collections.Counter[str] = collections.Counter()

        self._chats: dict[int, _Chat] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._scripts: dict[int, _Script] = {}
        self._forced: list[tuple[int | None, int]] = []  # (chat_id or None, retry_after)
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, bytes)
        self._file_seq = itertools.count(1)
        self._open_queries: dict[str, int] = {}  # callback query id -> chat id
        self._query_seq = itertools.count(1)

    # --- lifecycle (start, stop, `with`: see FakeServer) -----------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def settings_overrides(self) -> dict[str, str]:
        """Keyword arguments for `load_settings`/`make_settings` that point Loa at this fake."""
        return {
            "telegram_bot_token": self.token,
            "telegram_api_base_url": self.base_url,
            "telegram_file_base_url": self.file_base_url,
        }

    @property
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Loa",
            "username": self.bot_username,
        }

    # --- scripting -------------------------------------------------------------------------------

    def script_chat(
        self,
        chat_id: int,
        behaviour: str | None,
        *,
        times: int | None = None,
        new_chat_id: int | None = None,
        status: int = 500,
        delay: float = 0.0,
    ) -> None:
        """Make requests about `chat_id` fail (or be slow) `times` times, or always (None).
        `behaviour=None` clears the script. "error" answers `status` (500, or 502 with nginx's
        HTML page as the real one does); "slow" waits `delay` seconds and then succeeds."""
        chat_id = int(chat_id)
        with self._lock:
            if behaviour is None:
                self._scripts.pop(chat_id, None)
                return
            if behaviour not in BEHAVIOURS:
                raise ValueError(f"unknown behaviour {behaviour!r}; one of {sorted(BEHAVIOURS)}")
            if behaviour == "migrated" and new_chat_id is None:
                raise ValueError("migrated needs new_chat_id")
            self._scripts[chat_id] = _Script(behaviour, times, new_chat_id, status, delay)

    def force_429(self, n: int = 1, retry_after: int = 1, chat_id: int | None = None) -> None:
        """The next `n` sends (to `chat_id`, or to any chat) answer 429 with retry_after."""
        with self._lock:
            self._forced.extend([(chat_id, retry_after)] * n)

    def set_chat_member(self, chat_id: int, user_id: int, status: str) -> None:
        """status: creator | administrator | member | restricted | left | kicked."""
        with self._lock:
            self._chat(int(chat_id)).members[int(user_id)] = status

    # --- updates ---------------------------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        with self._changed:
            update = {"update_id": self._next_update_id, **update}
            self._next_update_id += 1
            kind = next(k for k in update if k != "update_id")
            if not self._allowed_updates or kind in self._allowed_updates:
                self._updates.append(update)
            self._changed.notify_all()
            return update

    def _user(
        self,
        user_id: int,
        first_name: str | None = None,
        language_code: str | None = "vi",
        username: str | None = None,
    ) -> dict[str, Any]:
        user = self._users.setdefault(
            user_id, {"id": user_id, "is_bot": False, "first_name": first_name or f"User {user_id}"}
        )
        if first_name:
            user["first_name"] = first_name
        if language_code:
            user["language_code"] = language_code
        if username:
            user["username"] = username
        return dict(user)

    def _chat(self, chat_id: int, chat_type: str | None = None, title: str | None = None) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = _Chat(chat_id, chat_type or _default_type(chat_id))
        if chat_type:
            chat.type = chat_type
        if title:
            chat.title = title
        return chat

    def _user_message(
        self,
        user_id: int,
        chat_id: int,
        chat_type: str | None,
        title: str | None,
        first_name: str | None,
        language_code: str | None,
        username: str | None,
        **content: Any,
    ) -> dict[str, Any]:
        user = self._user(user_id, first_name, language_code, username)
        chat = self._chat(chat_id, chat_type, title)
        if chat.type == "private":
            chat.first_name = user["first_name"]
        message = {
            "message_id": chat.next_message_id,
            "from": user,
            "chat": chat.as_json(),
            "date": int(time.time()),
            **content,
        }
        chat.next_message_id += 1
        chat.messages[message["message_id"]] = message
        return message

    def push_message(
        self,
        user_id: int,
        chat_id: int,
        text: str,
        chat_type: str | None = None,
        *,
        title: str | None = None,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "vi",
    ) -> dict[str, Any]:
        """A user's text message; a leading /command gets its bot_command entity, as Telegram
        does. chat_type defaults to the chat's known type, else by id (private when positive)."""
        with self._lock:
            content: dict[str, Any] = {"text": text}
            entities = _command_entity(text)
            if entities:
                content["entities"] = entities
            message = self._user_message(
                int(user_id),
                int(chat_id),
                chat_type,
                title,
                first_name,
                language_code,
                username,
                **content,
            )
            self.push_update({"message": message})
            return message

    def push_document(
        self,
        user_id: int,
        chat_id: int,
        filename: str,
        content: bytes,
        *,
        caption: str = "",
        mime_type: str = "application/octet-stream",
        chat_type: str | None = None,
    ) -> dict[str, Any]:
        """A user sends a file; the bot can fetch it with getFile and the file URL."""
        with self._lock:
            document = self._store_file("documents", filename, content)
            document.update(file_name=filename, mime_type=mime_type)
            extra: dict[str, Any] = {"document": document}
            if caption:
                extra["caption"] = caption
                if _command_entity(caption):
                    extra["caption_entities"] = _command_entity(caption)
            message = self._user_message(
                int(user_id), int(chat_id), chat_type, None, None, "vi", None, **extra
            )
            self.push_update({"message": message})
            return message

    def push_callback(self, user_id: int, chat_id: int, data: str, message_id: int) -> str:
        """A user presses an inline button with `data` on message `message_id`; returns the
        callback query id (see `callback_answers`)."""
        with self._lock:
            chat = self._chat(int(chat_id))
            message = chat.messages.get(int(message_id)) or {
                "message_id": int(message_id),
                "chat": chat.as_json(),
                "date": 0,
            }
            query_id = str(next(self._query_seq) + 10_000_000_000)
            self._open_queries[query_id] = int(chat_id)
            self.push_update(
                {
                    "callback_query": {
                        "id": query_id,
                        "from": self._user(int(user_id)),
                        "message": message,
                        "chat_instance": str(chat_id),
                        "data": data,
                    }
                }
            )
            return query_id

    def push_migration(self, old_chat_id: int, new_chat_id: int, *, user_id: int = 1) -> None:
        """The group `old_chat_id` becomes supergroup `new_chat_id`: Telegram's two service
        messages arrive, and sends to the old id answer 400 with migrate_to_chat_id."""
        old_chat_id, new_chat_id = int(old_chat_id), int(new_chat_id)
        with self._lock:
            old = self._chat(old_chat_id, "group")
            self._chat(new_chat_id, "supergroup", old.title or f"Chat {old_chat_id}")
            self._chats[new_chat_id].members.update(old.members)
            self._scripts[old_chat_id] = _Script("migrated", None, new_chat_id)
            self.push_update(
                {
                    "message": self._user_message(
                        int(user_id),
                        old_chat_id,
                        None,
                        None,
                        None,
                        "vi",
                        None,
                        migrate_to_chat_id=new_chat_id,
                    )
                }
            )
            self.push_update(
                {
                    "message": self._user_message(
                        int(user_id),
                        new_chat_id,
                        None,
                        None,
                        None,
                        "vi",
                        None,
                        migrate_from_chat_id=old_chat_id,
                    )
                }
            )

    def push_chat_member(
        self,
        chat_id: int,
        user_id: int,
        new_status: str = "member",
        old_status: str = "left",
        *,
        chat_type: str | None = None,
        title: str | None = None,
    ) -> dict[str, Any]:
        """A my_chat_member update: user `user_id` changed the bot's status in the chat (e.g. added
        it to a group: old "left", new "member")."""
        with self._lock:
            chat = self._chat(int(chat_id), chat_type, title)
            bot = self.bot_user
            return self.push_update(
                {
                    "my_chat_member": {
                        "chat": chat.as_json(),
                        "from": self._user(int(user_id)),
                        "date": int(time.time()),
                        "old_chat_member": _member_json(bot, old_status),
                        "new_chat_member": _member_json(bot, new_status),
                    }
                }
            )

    # --- inspection ------------------------------------------------------------------------------

    # (wait_for_messages(chat_id, n) and send_times(chat_id): see FakeServer.)

    def _chat_key(self, chat_id: Any) -> int:
        return int(chat_id)

    def messages_for(self, chat_id: int) -> list[Sent]:
        """The records (sends and edits) of one chat."""
        chat_id = int(chat_id)
        with self._lock:
            return [s for s in self.sent if s.chat_id == chat_id]

    def _preview(self, record: Sent) -> str:
        return record.plain[:80]

    def _recent_errors(self, chat_id: int) -> list[Any]:
        return [e for e in self.errors if e[1] == chat_id][-3:]

    def limit_report(self) -> dict[str, Any]:
        """The most accepted new messages seen in any sliding window, to check pacing."""
        with self._lock:
            log = list(self.windows.log)
            chats, most, private, groups = self.windows.peaks(lambda chat: chat < 0)
            count_429 = self.count_429
        return {
            "messages": len(log),
            "chats": chats,
            "max_global_per_second": most,
            "max_private_per_second": private,
            "max_group_per_minute": groups,
            "count_429": count_429,
            "first": log[0][0] if log else None,
            "last": log[-1][0] if log else None,
        }

    def state(self) -> dict[str, Any]:
        """Everything recorded, as JSON (for the control API)."""
        with self._lock:
            return {
                "sent": [s.summary() for s in self.sent],
                "errors": self.errors,
                "count_429": self.count_429,
                "commands": [[list(k), v] for k, v in self.commands.items()],
                "callback_answers": self.callback_answers,
                "limits": self.limit_report(),
            }

    # --- request handling ------------------------------------------------------------------------

    def handle_api(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, bytes, str]:
        """One Bot API call: (HTTP status, body, content type)."""
        if token != self.token:
            if _TOKEN_SHAPE.match(token):
                return _error_body(ApiError(401, "Unauthorized"))
            return _error_body(ApiError(404, "Not Found"))
        name = method.lower()
        handler = _METHODS.get(name)
        if handler is None:
            return _error_body(ApiError(404, "Not Found"))
        chat_id: int | None = None
        try:
            with self._lock:
                self.calls[method] += 1
            if name in CHAT_METHODS:
                chat_id = _chat_id(params)
                delay = self._scripted(name, chat_id)
                if delay:
                    time.sleep(delay)  # a slow server: the handler thread waits, not the test
            result = handler(self, params)
        except ApiError as err:
            with self._lock:
                self.errors.append((method, chat_id, err.code, err.description))
                if err.code == 429:
                    self.count_429 += 1
            if err.code == 502:
                return 502, _BAD_GATEWAY_PAGE, "text/html"
            return _error_body(err)
        return 200, json.dumps({"ok": True, "result": result}).encode(), "application/json"

    def _scripted(self, name: str, chat_id: int) -> float:
        """Apply the chat's script and forced 429s; returns a delay to apply, or raises."""
        with self._lock:
            script = self._scripts.get(chat_id)
            if script is not None:
                if script.times is not None:
                    script.times -= 1
                    if script.times <= 0:
                        del self._scripts[chat_id]
                if script.behaviour == "slow":
                    return script.delay
                code, description = BEHAVIOURS[script.behaviour]
                if script.behaviour == "migrated":
                    raise ApiError(code, description, {"migrate_to_chat_id": script.new_chat_id})
                if script.behaviour == "error":
                    code = script.status
                    description = HTTPStatus(code).phrase
                raise ApiError(code, description)
            if name in SENDING_METHODS:
                for index, (target, retry_after) in enumerate(self._forced):
                    if target is None or target == chat_id:
                        del self._forced[index]
                        raise _too_many(retry_after)
        return 0.0

    def _admit(self, chat_id: int, paid: bool) -> float:
        """Record an accepted new message at its arrival time, or raise 429 when over a limit."""
        now = time.monotonic()
        if self.enforce_limits:
            window, limit = (
                (1.0, self.private_per_second) if chat_id > 0 else (60.0, self.group_per_minute)
            )
            wait = self.windows.over(now, [
                ("global", 1.0, self.paid_per_second if paid else self.global_per_second),
                (chat_id, window, limit),
            ])
            if wait is not None:
                raise _too_many(max(1, math.ceil(wait)))
            self.windows.count(now, ["global", chat_id])
        self.windows.record(now, chat_id)
        return now

    def _store_file(self, folder: str, filename: str, content: bytes) -> dict[str, Any]:
        seq = next(self._file_seq)
        file_id = f"BQACAgIAAx{seq:08d}fake"
        suffix = filename.rsplit(".", 1)[-1] if "." in filename else "bin"
        self._files[file_id] = (f"{folder}/file_{seq}.{suffix}", content)
        return {"file_id": file_id, "file_unique_id": f"AgAD{seq:06d}", "file_size": len(content)}

    def file_content(self, token: str, path: str) -> tuple[int, bytes, str]:
        if token != self.token:
            return _error_body(
                ApiError(
                    401 if _TOKEN_SHAPE.match(token) else 404,
                    "Unauthorized" if _TOKEN_SHAPE.match(token) else "Not Found",
                )
            )
        with self._lock:
            for file_path, content in self._files.values():
                if file_path == path:
                    return 200, content, "application/octet-stream"
        return _error_body(ApiError(404, "Not Found"))

    # --- methods ---------------------------------------------------------------------------------

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = _int(params, "offset", 0)
        limit = min(max(_int(params, "limit", 100), 1), 100)
        timeout = max(_int(params, "timeout", 0), 0)
        allowed = _json(params, "allowed_updates")
        deadline = time.monotonic() + timeout
        with self._changed:
            if self.webhook.get("url"):
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if isinstance(allowed, list):
                self._allowed_updates = [str(a) for a in allowed]
            if offset < 0:
                del self._updates[: max(len(self._updates) + offset, 0)]
            elif offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._poll_generation += 1
            generation = self._poll_generation
            self._changed.notify_all()
            while True:
                ready = [u for u in self._updates if self._wanted(u)][:limit]
                if ready or self._stopping:
                    return ready
                if generation != self._poll_generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._changed.wait(remaining)

    def _wanted(self, update: dict[str, Any]) -> bool:
        if not self._allowed_updates:
            return True
        return any(kind in update for kind in self._allowed_updates)

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self.webhook = {
                "url": str(params.get("url", "")),
                "secret_token": params.get("secret_token"),
                "allowed_updates": _json(params, "allowed_updates"),
            }
            if _bool(params, "drop_pending_updates"):
                self._updates.clear()
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        with self._changed:
            self.webhook = {}
            if _bool(params, "drop_pending_updates"):
                self._updates.clear()
        return True

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return {
                "url": self.webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        text = params.get("text")
        if text is None or text == "":
            raise _bad("message text is empty")
        plain, entities = self._render(
            str(text), params.get("parse_mode"), MAX_TEXT, "message is too long"
        )
        if not plain:
            raise _bad("message text is empty")
        markup = _inline_markup(params)
        return self._deliver(
            "sendMessage", params, {"text": plain}, entities, markup, raw_text=str(text)
        )

    def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        photo = params.get("photo")
        caption, entities = self._caption(params)
        content = self._file_param(photo, "photo")
        if content is not None and not content.startswith(
            (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8", b"RIFF")
        ):
            raise _bad("IMAGE_PROCESS_FAILED")
        with self._lock:
            stored = self._store_file("photos", "photo.png", content or b"")
        sizes = [{**stored, "width": w, "height": w} for w in (90, 320, 800)]
        extra = {"photo": sizes, **({"caption": caption} if caption else {})}
        return self._deliver(
            "sendPhoto",
            params,
            extra,
            entities,
            _inline_markup(params),
            raw_text=str(params.get("caption") or ""),
            photo=content,
        )

    def _send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        document = params.get("document")
        caption, entities = self._caption(params)
        content = self._file_param(document, "document")
        filename = document[0] if isinstance(document, tuple) else "file"
        with self._lock:
            stored = self._store_file("documents", filename, content or b"")
        extra: dict[str, Any] = {"document": {**stored, "file_name": filename}}
        if caption:
            extra["caption"] = caption
        return self._deliver(
            "sendDocument",
            params,
            extra,
            entities,
            _inline_markup(params),
            raw_text=str(params.get("caption") or ""),
            document=content,
            filename=filename,
        )

    def _caption(self, params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        caption = params.get("caption")
        if not caption:
            return "", []
        return self._render(
            str(caption), params.get("parse_mode"), MAX_CAPTION, "message caption is too long"
        )

    def _file_param(self, value: Any, name: str) -> bytes | None:
        if isinstance(value, tuple):  # uploaded: (filename, bytes)
            if not value[1]:
                raise _bad("file must be non-empty")
            return value[1]
        if isinstance(value, str) and value:
            with self._lock:
                if value in self._files:
                    return self._files[value][1]
            if value.startswith(("http://", "https://")):
                return None  # by URL: Telegram fetches it; the fake doesn't
            raise _bad("wrong file identifier/HTTP URL specified")
        raise _bad(f"there is no {name} in the request")

    @staticmethod
    def _render(
        text: str, parse_mode: Any, limit: int, too_long: str
    ) -> tuple[str, list[dict[str, Any]]]:
        mode = str(parse_mode or "").lower()
        if mode == "html":
            plain, entities = parse_html(text)
        elif mode:
            if mode not in ("markdown", "markdownv2"):
                raise _bad(f"unsupported parse_mode {parse_mode}")
            plain, entities = text.strip(), []  # not used by Loa: accepted without checking
        else:
            plain, entities = text.strip(), []
        if utf16_units(plain) > limit:
            raise _bad(too_long)
        return plain, entities

    def _deliver(
        self,
        method: str,
        params: dict[str, Any],
        content: dict[str, Any],
        entities: list[dict[str, Any]],
        markup: dict[str, Any] | None,
        *,
        raw_text: str,
        photo: bytes | None = None,
        document: bytes | None = None,
        filename: str | None = None,
    ) -> dict[str, Any]:
        chat_id = _chat_id(params)
        with self._changed:
            arrived = self._admit(chat_id, _bool(params, "allow_paid_broadcast"))
            chat = self._chat(chat_id)
            message: dict[str, Any] = {
                "message_id": chat.next_message_id,
                "from": self.bot_user,
                "chat": chat.as_json(),
                "date": int(time.time()),
                **content,
            }
            if entities:
                message["caption_entities" if "text" not in content else "entities"] = entities
            if markup:
                message["reply_markup"] = markup
            chat.next_message_id += 1
            chat.messages[message["message_id"]] = message
            self._record(
                method,
                chat_id,
                message,
                raw_text,
                params,
                markup,
                arrived,
                photo,
                document,
                filename,
            )
            return message

    def _record(
        self,
        method: str,
        chat_id: int,
        message: dict[str, Any],
        raw_text: str,
        params: dict[str, Any],
        markup: dict[str, Any] | None,
        arrived: float,
        photo: bytes | None = None,
        document: bytes | None = None,
        filename: str | None = None,
    ) -> None:
        self.sent.append(
            Sent(
                method=method,
                chat_id=chat_id,
                message_id=message["message_id"],
                text=raw_text,
                plain=message.get("text", message.get("caption", "")),
                parse_mode=params.get("parse_mode"),
                reply_markup=markup,
                photo=photo,
                document=document,
                filename=filename,
                params={k: v for k, v in params.items() if not isinstance(v, tuple)},
                time=arrived,
            )
        )
        self._changed.notify_all()

    def _edit_target(self, params: dict[str, Any]) -> tuple[int, _Chat, dict[str, Any]]:
        if params.get("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        chat_id = _chat_id(params)
        message_id = _int(params, "message_id", 0)
        chat = self._chat(chat_id)
        message = chat.messages.get(message_id)
        if message is None:
            raise _bad("message to edit not found")
        if message["from"]["id"] != self.bot_id:
            raise _bad("message can't be edited")
        return chat_id, chat, message

    def _finish_edit(
        self,
        method: str,
        chat_id: int,
        old: dict[str, Any],
        new: dict[str, Any],
        params: dict[str, Any],
        raw_text: str,
    ) -> dict[str, Any]:
        if all(
            old.get(k) == new.get(k)
            for k in ("text", "caption", "entities", "caption_entities", "reply_markup")
        ):
            raise _bad(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        new["edit_date"] = int(time.time())
        self._chats[chat_id].messages[new["message_id"]] = new
        self._record(
            method, chat_id, new, raw_text, params, new.get("reply_markup"), time.monotonic()
        )
        return new

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        text = params.get("text")
        if not text:
            raise _bad("message text is empty")
        plain, entities = self._render(
            str(text), params.get("parse_mode"), MAX_TEXT, "MESSAGE_TOO_LONG"
        )
        if not plain:
            raise _bad("message text is empty")
        markup = _inline_markup(params)
        with self._changed:
            chat_id, _chat, old = self._edit_target(params)
            if "text" not in old:
                raise _bad("there is no text in the message to edit")
            new = {k: v for k, v in old.items() if k not in ("entities", "reply_markup")}
            new["text"] = plain
            if entities:
                new["entities"] = entities
            if markup:
                new["reply_markup"] = markup
            return self._finish_edit("editMessageText", chat_id, old, new, params, str(text))

    def _edit_message_caption(self, params: dict[str, Any]) -> dict[str, Any]:
        caption, entities = self._caption(params)
        markup = _inline_markup(params)
        with self._changed:
            chat_id, _chat, old = self._edit_target(params)
            if "text" in old:
                raise _bad("there is no caption in the message to edit")
            new = {
                k: v
                for k, v in old.items()
                if k not in ("caption", "caption_entities", "reply_markup")
            }
            if caption:
                new["caption"] = caption
            if entities:
                new["caption_entities"] = entities
            if markup:
                new["reply_markup"] = markup
            return self._finish_edit(
                "editMessageCaption", chat_id, old, new, params, str(params.get("caption") or "")
            )

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        markup = _inline_markup(params)
        with self._changed:
            chat_id, _chat, old = self._edit_target(params)
            new = {k: v for k, v in old.items() if k != "reply_markup"}
            if markup:
                new["reply_markup"] = markup
            raw = old.get("text", old.get("caption", ""))
            return self._finish_edit("editMessageReplyMarkup", chat_id, old, new, params, raw)

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        text = str(params.get("text") or "")
        if len(text) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        with self._changed:
            if query_id not in self._open_queries:
                raise _bad("query is too old and response timeout expired or query ID is invalid")
            del self._open_queries[query_id]
            self.callback_answers[query_id] = {
                "text": text,
                "show_alert": _bool(params, "show_alert"),
            }
            self._changed.notify_all()
        return True

    def _get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params.get("file_id", ""))
        with self._lock:
            if file_id not in self._files:
                raise _bad("invalid file_id")
            path, content = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": "AgAD" + file_id[-12:],
            "file_size": len(content),
            "file_path": path,
        }

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = _json(params, "commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad(
                "can't parse commands JSON object"
                if not isinstance(commands, list)
                else "BOT_COMMANDS_TOO_MUCH"
            )
        parsed = []
        for command in commands:
            name = str(command.get("command", "")) if isinstance(command, dict) else ""
            description = str(command.get("description", "")) if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name.removeprefix("/")):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            parsed.append((name.removeprefix("/"), description))
        key = (_scope_key(_json(params, "scope")), str(params.get("language_code") or ""))
        with self._lock:
            self.commands[key] = parsed
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, str]]:
        key = (_scope_key(_json(params, "scope")), str(params.get("language_code") or ""))
        with self._lock:
            return [{"command": c, "description": d} for c, d in self.commands.get(key, [])]

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        key = (_scope_key(_json(params, "scope")), str(params.get("language_code") or ""))
        with self._lock:
            self.commands.pop(key, None)
        return True

    def _get_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            chat = self._chat(_chat_id(params))
            info = chat.as_json()
        return {
            **info,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _get_chat_member(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = _int(params, "user_id", 0)
        with self._lock:
            chat = self._chat(_chat_id(params))
            if user_id == self.bot_id:
                return _member_json(self.bot_user, chat.members.get(user_id, "administrator"))
            if chat.type == "private" and user_id != chat.id:
                raise _bad("member not found")
            status = chat.members.get(user_id, "member")
            return _member_json(self._user(user_id, language_code=None), status)

    def _get_chat_administrators(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._lock:
            chat = self._chat(_chat_id(params))
            if chat.type == "private":
                raise _bad("there are no administrators in the private chat")
            return [
                _member_json(self._user(uid, language_code=None), status)
                for uid, status in chat.members.items()
                if status in ("creator", "administrator")
            ]

    def _send_chat_action(self, params: dict[str, Any]) -> bool:
        action = str(params.get("action", ""))
        if action not in {
            "typing",
            "upload_photo",
            "record_video",
            "upload_video",
            "record_voice",
            "upload_voice",
            "upload_document",
            "choose_sticker",
            "find_location",
            "record_video_note",
            "upload_video_note",
        }:
            raise _bad("wrong parameter action in request")
        with self._lock:
            self.chat_actions.append((_chat_id(params), action))
        return True


_METHODS = {
    "getme": FakeTelegram._get_me,
    "getupdates": FakeTelegram._get_updates,
    "setwebhook": FakeTelegram._set_webhook,
    "deletewebhook": FakeTelegram._delete_webhook,
    "getwebhookinfo": FakeTelegram._get_webhook_info,
    "sendmessage": FakeTelegram._send_message,
    "sendphoto": FakeTelegram._send_photo,
    "senddocument": FakeTelegram._send_document,
    "editmessagetext": FakeTelegram._edit_message_text,
    "editmessagecaption": FakeTelegram._edit_message_caption,
    "editmessagereplymarkup": FakeTelegram._edit_message_reply_markup,
    "answercallbackquery": FakeTelegram._answer_callback_query,
    "getfile": FakeTelegram._get_file,
    "setmycommands": FakeTelegram._set_my_commands,
    "getmycommands": FakeTelegram._get_my_commands,
    "deletemycommands": FakeTelegram._delete_my_commands,
    "getchat": FakeTelegram._get_chat,
    "getchatmember": FakeTelegram._get_chat_member,
    "getchatadministrators": FakeTelegram._get_chat_administrators,
    "sendchataction": FakeTelegram._send_chat_action,
}

# --- parameters ----------------------------------------------------------------------------------


def _too_many(retry_after: int) -> ApiError:
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


def _error_body(err: ApiError) -> tuple[int, bytes, str]:
    body: dict[str, Any] = {"ok": False, "error_code": err.code, "description": err.description}
    if err.parameters:
        body["parameters"] = err.parameters
    return err.code, json.dumps(body).encode(), "application/json"


def _int(params: dict[str, Any], name: str, default: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"wrong parameter {name} in request") from None


def _bool(params: dict[str, Any], name: str) -> bool:
    value = params.get(name)
    return value is True or str(value).lower() in ("true", "1")


def _json(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise _bad(f"can't parse {name} JSON object") from None
    return value


def _chat_id(params: dict[str, Any]) -> int:
    value = params.get("chat_id")
    if value is None or value == "":
        raise _bad("chat_id is empty")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad("chat not found") from None  # @usernames: Loa never uses them


_TEXT_BUTTONS = (
    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
)
_BUTTON_ACTIONS = {
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
}


def _inline_markup(params: dict[str, Any]) -> dict[str, Any] | None:
    if params.get("reply_markup") in (None, ""):
        return None
    try:
        markup = _json(params, "reply_markup")
    except ApiError:
        raise _bad("can't parse reply keyboard markup JSON object") from None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return None  # reply keyboards and force_reply are not echoed back, as on Telegram
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad(
            'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    if sum(len(row) for row in rows) > 100:
        raise _bad("reply markup is too long")
    for row in rows:
        for button in row:
            if not isinstance(button, dict):
                raise _bad(
                    "can't parse inline keyboard button: InlineKeyboardButton should be an Object"
                )
            if not str(button.get("text", "")).strip():
                raise _bad(
                    _TEXT_BUTTONS
                    if "text" in button
                    else 'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            actions = [k for k in button if k in _BUTTON_ACTIONS]
            if len(actions) != 1:
                raise _bad(_TEXT_BUTTONS)
            if actions[0] == "callback_data":
                data = button["callback_data"]
                if (
                    not isinstance(data, str)
                    or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA
                ):
                    raise _bad("BUTTON_DATA_INVALID")
            if actions[0] == "url" and not re.match(r"^(https?|tg)://\S+$", str(button["url"])):
                raise _bad("BUTTON_URL_INVALID")
    return {"inline_keyboard": rows}


def _member_json(user: dict[str, Any], status: str) -> dict[str, Any]:
    if status == "creator":
        return {"status": "creator", "user": user, "is_anonymous": False}
    if status == "administrator":
        return {
            "status": "administrator",
            "user": user,
            "can_be_edited": False,
            "is_anonymous": False,
            "can_manage_chat": True,
            "can_delete_messages": True,
            "can_manage_video_chats": True,
            "can_restrict_members": True,
            "can_promote_members": False,
            "can_change_info": True,
            "can_invite_users": True,
            "can_post_stories": False,
            "can_edit_stories": False,
            "can_delete_stories": False,
        }
    if status == "restricted":
        return {
            "status": "restricted",
            "user": user,
            "is_member": True,
            "can_send_messages": False,
            "can_send_audios": False,
            "can_send_documents": False,
            "can_send_photos": False,
            "can_send_videos": False,
            "can_send_video_notes": False,
            "can_send_voice_notes": False,
            "can_send_polls": False,
            "can_send_other_messages": False,
            "can_add_web_page_previews": False,
            "can_change_info": False,
            "can_invite_users": False,
            "can_pin_messages": False,
            "can_manage_topics": False,
            "until_date": 0,
        }
    if status == "kicked":
        return {"status": "kicked", "user": user, "until_date": 0}
    if status in ("member", "left"):
        return {"status": status, "user": user}
    raise ValueError(f"unknown member status {status!r}")


def _parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    """JSON, form-urlencoded or multipart; uploaded files become (filename, bytes)."""
    if not body:
        return {}
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise _bad("can't parse JSON object") from None
        return data if isinstance(data, dict) else {}
    if kind == "multipart/form-data":
        return _parse_multipart(content_type, body)
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))


_DISPOSITION_PARAM = re.compile(r'(name|filename)="((?:[^"\\]|\\.)*)"', re.IGNORECASE)


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise _bad("can't parse multipart body")
    params: dict[str, Any] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for section in body.split(b"--" + match.group(1).encode())[1:]:
        if section.startswith(b"--"):
            break
        head, _, data = section.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        disposition = next(
            (
                line
                for line in head.decode("utf-8", "replace").split("\r\n")
                if line.lower().startswith("content-disposition")
            ),
            "",
        )
        found = {k.lower(): v for k, v in _DISPOSITION_PARAM.findall(disposition)}
        if "filename" in found:
            files[found.get("name", "")] = (found["filename"], data)
        else:
            params[found.get("name", "")] = data.decode("utf-8")
    for name, value in list(params.items()):  # media given as "attach://<name>"
        if isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
            params[name] = files.pop(value[9:])
    params.update(files)
    return params


class _Handler(FakeHandler):
    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        fake: FakeTelegram = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        parts = unquote(url.path).split("/")
        try:
            params: dict[str, Any] = dict(parse_qsl(url.query, keep_blank_values=True))
            params.update(_parse_body(self.headers.get("Content-Type", ""), body))
            if len(parts) == 3 and parts[1].startswith("bot"):
                status, payload, ctype = fake.handle_api(parts[1][3:], parts[2], params)
            elif len(parts) >= 4 and parts[1] == "file" and parts[2].startswith("bot"):
                status, payload, ctype = fake.file_content(parts[2][3:], "/".join(parts[3:]))
            elif len(parts) == 3 and parts[1] == "_fake":
                code, answer = fake.control(parts[2], json.loads(body or b"{}"))
                status, payload, ctype = code, json.dumps(answer).encode(), "application/json"
            else:
                status, payload, ctype = _error_body(ApiError(404, "Not Found"))
        except ApiError as err:
            status, payload, ctype = _error_body(err)
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(payload)}\r\n"
            f"Connection: {'close' if self.close_connection else 'keep-alive'}\r\n\r\n"
        )
        try:
            self.wfile.write(head.encode("latin-1") + payload)
        except OSError:
            self.close_connection = True  # the client went away (e.g. a cancelled long poll)


FakeTelegram.handler = _Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake Telegram Bot API server on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--enforce-limits", action="store_true")
    parser.add_argument("--global-per-second", type=int, default=30)
    parser.add_argument("--private-per-second", type=int, default=1)
    parser.add_argument("--group-per-minute", type=int, default=20)
    args = parser.parse_args(argv)
    fake = FakeTelegram(
        args.token,
        port=args.port,
        enforce_limits=args.enforce_limits,
        global_per_second=args.global_per_second,
        private_per_second=args.private_per_second,
        group_per_minute=args.group_per_minute,
    )
    run_standalone(fake, "FAKE_TELEGRAM_READY")


if __name__ == "__main__":
    main()
