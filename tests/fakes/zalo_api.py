"""A fake Zalo Bot API on 127.0.0.1, behaving as the real one is documented to.

- URLs are `/bot<token>/<method>`; a wrong token gets HTTP 401.
- `getUpdates {timeout}` is a long poll that returns ONE event object (no list, no offset) and
  answers error code 408 when nothing arrived in time. It refuses while a webhook is set.
- `setWebhook {url, secret_token}`: events are then POSTed to that URL with the secret in the
  `X-Bot-Api-Secret-Token` header, and the answer of each POST is recorded.
- `sendMessage` rejects empty text and text over 2000 characters (counted strictly, in UTF-16).
- `sendPhoto` takes the photo as a URL, and fetches it like Zalo would.
- Failures can be scripted per method (`script`), as HTTP errors or as HTTP 200 with `ok: false`;
  `quota_storm` scripts a run of 429s; `block` makes a chat answer 403.

With `enforce_limits=True` it also holds a quota of its own (Zalo publishes none), as sliding
windows over accepted sends: `global_per_second` in any 1 s, `private_per_second` per private chat
and `group_per_minute` per group; beyond them it answers 429, counted in `count_429`.

It runs in its own threads, so a bot under test can run in the test's event loop or in another
process. Its base (tests/fakes/http_fake.py) is the Telegram fake's too. Python API:

    with FakeZaloApi() as zalo:
        settings = make_settings(url, **zalo.settings_overrides())
        zalo.push_text(user_id, "/start", chat_id=None, chat_type="PRIVATE")   # -> the event
        zalo.script("sendMessage", QUOTA, PASS, Reply(400, "..."))  # next answers, in order
        zalo.quota_storm(20)                    # the next 20 sends answer 429
        zalo.block(chat_id)                     # sends to it answer 403
        zalo.sent, zalo.messages_for(chat_id), zalo.texts_for(chat_id), zalo.calls_of(method)
        await zalo.wait_for_messages(chat_id, n)    # blocks instead when called outside a loop
        zalo.count_429, zalo.rejected, zalo.webhook_posts, zalo.limit_report()

Standalone: `python -m tests.fakes.zalo_api --port N` prints `FAKE_ZALO_READY port=N`; another
process drives it with `POST /_fake/<push_text|script|quota_storm|block>` (JSON keyword
arguments) and reads `GET /_fake/state`.
"""

from __future__ import annotations

import argparse
import collections
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.http_fake import FakeHandler, FakeServer, run_standalone
from tests.waiting import PATIENCE, wait_for
from vntext import utf16_len

DEFAULT_TOKEN = "1234567890:zalo-fake-token-abcdefghijklmnop"
MAX_TEXT = 2000


@dataclass(frozen=True)
class Reply:
    """A scripted failure: `http_status` 200 means HTTP 200 with `ok: false`."""

    error_code: int
    description: str
    http_status: int = 200

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error_code": self.error_code, "description": self.description}


QUOTA = Reply(429, "Too Many Requests: quota exceeded")
QUOTA_HTTP = Reply(429, "Too Many Requests: quota exceeded", http_status=429)
DISCONNECT = Reply(0, "connection closed without an answer", http_status=0)
PASS = Reply(0, "answer normally", http_status=-1)  # in a script: this call behaves normally


@dataclass
class Sent:
    """One message the bot sent: `text` is the text, or the caption of a photo."""

    method: str
    chat_id: str
    text: str
    photo: str | None = None
    photo_bytes: bytes | None = None
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex[:20])
    at: float = field(default_factory=time.monotonic)


@dataclass
class WebhookPost:
    event: dict[str, Any]
    secret: str | None
    status: int  # our server's answer; 0 when it could not be reached


class FakeZaloApi(FakeServer[str, Sent]):
    thread_name = "fake-zalo"
    control_methods = frozenset({"push_text", "quota_storm", "block", "script"})

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        port: int = 0,
        fetch_photos: bool = True,
        empty_poll_http_status: int = 200,
        enforce_limits: bool = False,
        global_per_second: float = 5,
        private_per_second: float = 0.5,
        group_per_minute: float = 10,
    ) -> None:
        super().__init__(port=port)
        self.token = token
        self.fetch_photos = fetch_photos
        self.empty_poll_http_status = empty_poll_http_status  # 200 (ok:false) or 408
        self.enforce_limits = enforce_limits
        self.limits = {"global": _window(global_per_second, 1.0),
                       "PRIVATE": _window(private_per_second, 1.0),
                       "GROUP": _window(group_per_minute, 60.0)}
        self.count_429 = 0
        self.chat_types: dict[str, str] = {}  # learnt from the events pushed
        self.sent: list[Sent] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.rejected: list[tuple[str, dict[str, Any], Reply]] = []  # every error answered
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.webhook_posts: list[WebhookPost] = []
        self.blocked: set[str] = set()
        self._events: collections.deque[dict[str, Any]] = collections.deque()
        self._scripts: dict[str, collections.deque[Reply]] = collections.defaultdict(
            collections.deque)
        self._webhook_queue: collections.deque[tuple[dict[str, Any], str | None]] = (
            collections.deque())

    # --- Life cycle (start, stop, `with`: see FakeServer) ----------------------------------

    def _workers(self) -> Sequence[Callable[[], None]]:
        return (self._webhook_worker,)

    @property
    def base_url(self) -> str:
        """The value for ZALO_API_BASE_URL: the token is appended to it."""
        return f"http://127.0.0.1:{self.port}/bot"

    def settings_overrides(self) -> dict[str, str]:
        """Keyword arguments for `load_settings`/`make_settings` that point Loa at this fake."""
        return {"zalo_bot_token": self.token, "zalo_api_base_url": self.base_url}

    # --- Test controls -----------------------------------------------------------------------

    def push_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """Queue an event for getUpdates, or POST it to the webhook when one is set."""
        message = event.get("message") or {}
        with self._changed:
            chat = message.get("chat") or {}
            if chat.get("id"):
                self.chat_types[str(chat["id"])] = str(chat.get("chat_type") or "PRIVATE")
            if self.webhook_url:
                self._webhook_queue.append((event, self.webhook_secret))
            else:
                self._events.append(event)
            self._changed.notify_all()
        return event

    def push_text(
        self,
        user_id: str,
        text: str,
        chat_id: str | None = None,
        chat_type: str = "PRIVATE",
        display_name: str = "Người dùng Zalo",
    ) -> dict[str, Any]:
        """A user types `text`; in a private chat the chat id is the user's id."""
        return self.push_event(
            message_event("message.text.received", user_id, chat_id or user_id, chat_type,
                          display_name, text=text)
        )

    def push_image(self, user_id: str, photo_url: str, caption: str = "",
                   chat_id: str | None = None, chat_type: str = "PRIVATE") -> dict[str, Any]:
        return self.push_event(
            message_event("message.image.received", user_id, chat_id or user_id, chat_type,
                          "Người dùng Zalo", photo_url=photo_url, caption=caption)
        )

    def script(self, method: str, *replies: Reply) -> None:
        """The next calls of `method` get these answers, one each, before behaving normally."""
        with self._changed:
            self._scripts[method].extend(replies)

    def quota_storm(self, count: int, method: str = "sendMessage", http: bool = False) -> None:
        self.script(method, *([QUOTA_HTTP if http else QUOTA] * count))

    def block(self, chat_id: str) -> None:
        """The user blocked the bot: sends to them fail with 403."""
        self.blocked.add(chat_id)

    def scripted_left(self, method: str) -> int:
        with self._changed:
            return len(self._scripts[method])

    def messages_for(self, chat_id: str) -> list[Sent]:
        with self._changed:
            return [m for m in self.sent if m.chat_id == chat_id]

    def texts_for(self, chat_id: str) -> list[str]:
        return [m.text for m in self.messages_for(chat_id)]

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        with self._changed:
            return [params for name, params in self.calls if name == method]

    def pending_events(self) -> int:
        with self._changed:
            return len(self._events)

    # (wait_for_messages(chat_id, n) and send_times(chat_id): see FakeServer.)

    def _chat_key(self, chat_id: Any) -> str:
        return str(chat_id)

    def _preview(self, record: Sent) -> str:
        return record.text[:80]

    def _recent_errors(self, chat_id: str) -> list[Any]:
        with self._changed:
            return [(method, reply.error_code, reply.description)
                    for method, params, reply in self.rejected
                    if params.get("chat_id") == chat_id][-3:]

    def limit_report(self) -> dict[str, Any]:
        """The most accepted sends seen in any sliding window, to check pacing."""
        private_window = self.limits["PRIVATE"][0]
        with self._changed:
            messages = len(self.windows.log)
            chats, most, private, groups = self.windows.peaks(
                lambda chat: self.chat_types.get(chat) == "GROUP", private_window)
        return {
            "messages": messages,
            "chats": chats,
            "max_global_per_second": most,
            f"max_private_per_{private_window:g}s": private,
            "max_group_per_minute": groups,
            "count_429": self.count_429,
        }

    def state(self) -> dict[str, Any]:
        """What was recorded, as JSON (for the control API)."""
        with self._changed:
            sent = [{"method": m.method, "chat_id": m.chat_id, "text": m.text, "photo": m.photo}
                    for m in self.sent]
        return {"sent": sent, "count_429": self.count_429, "limits": self.limit_report()}

    def _control_call(self, name: str, params: dict[str, Any]) -> Any:
        if name == "script":  # the replies arrive as JSON objects
            return self.script(params["method"], *(Reply(**r) for r in params["replies"]))
        return super()._control_call(name, params)

    async def wait_for_text(self, chat_id: str, needle: str, timeout: float = PATIENCE) -> Sent:
        """Wait for a message to `chat_id` containing `needle`, and return it."""

        def found() -> Sent | None:
            return next((m for m in self.messages_for(chat_id) if needle in m.text), None)

        return await wait_for(found, timeout)

    async def wait_for_webhook_posts(
        self, count: int, timeout: float = PATIENCE
    ) -> list[WebhookPost]:
        await wait_for(lambda: len(self.webhook_posts) >= count, timeout)
        return list(self.webhook_posts)

    def post_to_webhook(self, event: dict[str, Any], secret: str | None) -> None:
        """POST `event` to the webhook with this secret (None: no header), as an attacker might."""
        with self._changed:
            self._webhook_queue.append((event, secret))
            self._changed.notify_all()

    # --- Behaviour ---------------------------------------------------------------------------

    def handle(
        self, token: str, method: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any] | None]:
        """Answer one call: (HTTP status, body); a body of None closes the connection."""
        if token != self.token:
            return 401, {"ok": False, "error_code": 401,
                         "description": "Unauthorized: invalid token"}
        with self._changed:
            self.calls.append((method, params))
            scripted = self._scripts[method].popleft() if self._scripts[method] else None
        if scripted is PASS:
            scripted = None
        if scripted is None and method in ("sendMessage", "sendPhoto") and self._over_limit(params):
            scripted = QUOTA
        if scripted is not None:
            return self._fail(method, params, scripted)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._fail(method, params, Reply(404, f"Not Found: method {method}", 404))
        outcome = handler(params)
        if isinstance(outcome, Reply):
            return self._fail(method, params, outcome)
        return 200, {"ok": True, "result": outcome}

    def _fail(
        self, method: str, params: dict[str, Any], reply: Reply
    ) -> tuple[int, dict[str, Any] | None]:
        with self._changed:
            self.rejected.append((method, params, reply))
            self.count_429 += reply.error_code == 429
        if reply is DISCONNECT:
            return 0, None
        return reply.http_status, reply.body()

    def _over_limit(self, params: dict[str, Any]) -> bool:
        """With limits enforced, whether this send would exceed one; if not, it is counted."""
        if not self.enforce_limits:
            return False
        chat_id = str(params.get("chat_id"))
        now = time.monotonic()
        with self._changed:
            kind = "GROUP" if self.chat_types.get(chat_id) == "GROUP" else "PRIVATE"
            limits = [("global", *self.limits["global"]), (chat_id, *self.limits[kind])]
            if self.windows.over(now, limits) is not None:
                return True
            self.windows.count(now, ["global", chat_id])
        return False

    def _m_getMe(self, params: dict[str, Any]) -> Any:
        return {"id": "7a1b2c3d4e5f60718293", "account_name": "bot.Loa", "account_type": "BASIC",
                "can_join_groups": True}

    def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        if self.webhook_url:
            return Reply(400, "Bad Request: webhook is active, call deleteWebhook first")
        try:
            timeout = float(params.get("timeout", 30))
        except (TypeError, ValueError):
            return Reply(400, "Bad Request: timeout must be a number")
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self._events and not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            if self._events:
                return self._events.popleft()
        return Reply(408, "Request Timeout: no update", self.empty_poll_http_status)

    def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        url, secret = params.get("url"), params.get("secret_token")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return Reply(400, "Bad Request: url is invalid")
        if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
            return Reply(400, "Bad Request: secret_token must be 8 to 256 characters")
        with self._changed:
            self.webhook_url, self.webhook_secret = url, secret
            # Events that were waiting for getUpdates now go to the webhook.
            while self._events:
                self._webhook_queue.append((self._events.popleft(), secret))
            self._changed.notify_all()
        return {"url": url, "updated_at": int(time.time() * 1000)}

    def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        with self._changed:
            self.webhook_url = self.webhook_secret = None
        return {"url": "", "updated_at": int(time.time() * 1000)}

    def _m_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        return {"url": self.webhook_url or "", "updated_at": int(time.time() * 1000)}

    def _check_chat(self, params: dict[str, Any]) -> Reply | str:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, str) or not chat_id:
            return Reply(400, "Bad Request: chat_id is required")
        if chat_id in self.blocked:
            return Reply(403, "Forbidden: the user has blocked the bot")
        return chat_id

    def _check_text(self, text: object, name: str) -> Reply | None:
        if not isinstance(text, str) or not text.strip():
            return Reply(400, f"Bad Request: {name} must not be empty")
        if utf16_len(text) > MAX_TEXT:
            return Reply(400, f"Bad Request: {name} is longer than {MAX_TEXT} characters")
        return None

    def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        chat_id = self._check_chat(params)
        if isinstance(chat_id, Reply):
            return chat_id
        bad = self._check_text(params.get("text"), "text")
        if bad:
            return bad
        return self._record(Sent("sendMessage", chat_id, params["text"]))

    def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        chat_id = self._check_chat(params)
        if isinstance(chat_id, Reply):
            return chat_id
        photo, caption = params.get("photo"), params.get("caption", "")
        if not isinstance(photo, str) or not photo.startswith(("http://", "https://")):
            return Reply(400, "Bad Request: photo must be a URL")
        if caption:
            bad = self._check_text(caption, "caption")
            if bad:
                return bad
        data = None
        if self.fetch_photos:
            try:
                with urllib.request.urlopen(photo, timeout=5) as response:
                    data = response.read()
            except (urllib.error.URLError, OSError) as exc:
                return Reply(400, f"Bad Request: cannot download the photo ({exc})")
        return self._record(
            Sent("sendPhoto", chat_id, caption or "", photo=photo, photo_bytes=data)
        )

    def _m_sendChatAction(self, params: dict[str, Any]) -> Any:
        chat_id = self._check_chat(params)
        return chat_id if isinstance(chat_id, Reply) else True

    def _record(self, sent: Sent) -> dict[str, Any]:
        with self._changed:
            self.sent.append(sent)
            self.windows.record(sent.at, sent.chat_id)
            self._changed.notify_all()
        return {"message_id": sent.message_id, "date": int(time.time() * 1000)}

    def _webhook_worker(self) -> None:
        """POST queued events to the webhook one at a time, in order, like Zalo's pusher."""
        while True:
            with self._changed:
                while not self._webhook_queue and not self._stopping:
                    self._changed.wait()
                if self._stopping:
                    return
                event, secret = self._webhook_queue.popleft()
                url = self.webhook_url
            status = _post(url, event, secret) if url else 0
            with self._changed:
                self.webhook_posts.append(WebhookPost(event, secret, status))


def _window(rate: float, per: float) -> tuple[float, int]:
    """A rate as a sliding window: (window seconds, most sends in it). 0.5/s is 1 in any 2 s."""
    per_window = rate * per
    if per_window >= 1:
        return per, int(per_window)
    return per / per_window, 1


def message_event(event_name: str, user_id: str, chat_id: str, chat_type: str, display_name: str,
                  **fields: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "from": {"id": user_id, "display_name": display_name, "is_bot": False},
        "chat": {"id": chat_id, "chat_type": chat_type},
        "message_id": uuid.uuid4().hex[:20],
        "date": int(time.time() * 1000),
    }
    message.update({k: v for k, v in fields.items() if v})
    return {"event_name": event_name, "message": message}


def _post(url: str, event: dict[str, Any], secret: str | None) -> int:
    body = json.dumps({"ok": True, "result": event}).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0


class _Handler(FakeHandler):
    @property
    def api(self) -> FakeZaloApi:
        return self.fake  # type: ignore[no-any-return]

    def do_GET(self) -> None:
        query = urllib.parse.urlsplit(self.path).query
        self._answer({k: v[-1] for k, v in urllib.parse.parse_qs(query).items()})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            params = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            params = None
        if not isinstance(params, dict):
            self._send(
                400,
                {"ok": False, "error_code": 400, "description": "Bad Request: body is not JSON"},
            )
            return
        self._answer(params)

    def _answer(self, params: dict[str, Any]) -> None:
        parts = urllib.parse.urlsplit(self.path).path.split("/")
        if len(parts) == 3 and parts[1] == "_fake":
            self._send(*self.api.control(parts[2], params))
            return
        if len(parts) != 3 or not parts[1].startswith("bot"):
            self._send(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        status, body = self.api.handle(parts[1][3:], parts[2], params)
        if body is None:
            self.close_connection = True
            return
        self._send(status, body)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client went away (e.g. a cancelled long poll)


FakeZaloApi.handler = _Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake Zalo Bot API server on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--enforce-limits", action="store_true")
    args = parser.parse_args(argv)
    fake = FakeZaloApi(args.token, port=args.port, enforce_limits=args.enforce_limits)
    run_standalone(fake, "FAKE_ZALO_READY")


if __name__ == "__main__":
    main()
