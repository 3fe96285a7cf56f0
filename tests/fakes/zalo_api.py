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

It runs in its own threads, so a bot under test can run in the test's event loop or in another
process. Use `with FakeZaloApi() as fake:` and point ZALO_API_BASE_URL at `fake.base_url`.
"""

from __future__ import annotations

import collections
import functools
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from tests.waiting import wait_for
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


class FakeZaloApi:
    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        fetch_photos: bool = True,
        empty_poll_http_status: int = 200,
        quota_per_second: float | None = None,
    ) -> None:
        self.token = token
        self.fetch_photos = fetch_photos
        self.empty_poll_http_status = empty_poll_http_status  # 200 (ok:false) or 408
        self.quota_per_second = quota_per_second  # a real quota: 429 beyond it, per 1 s window
        self.sent: list[Sent] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.rejected: list[tuple[str, dict[str, Any], Reply]] = []  # every error answered
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.webhook_posts: list[WebhookPost] = []
        self.blocked: set[str] = set()
        self._events: collections.deque[dict[str, Any]] = collections.deque()
        self._scripts: dict[str, collections.deque[Reply]] = collections.defaultdict(collections.deque)
        self._window: collections.deque[float] = collections.deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._webhook_queue: collections.deque[tuple[dict[str, Any], str | None]] = collections.deque()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # --- Life cycle ------------------------------------------------------------------------

    def start(self) -> Self:
        fake = self

        class Handler(_Handler):
            api = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        serve = functools.partial(self._server.serve_forever, poll_interval=0.05)
        for target in (serve, self._webhook_worker):
            thread = threading.Thread(target=target, daemon=True, name="fake-zalo")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """The value for ZALO_API_BASE_URL: the token is appended to it."""
        return f"http://127.0.0.1:{self.port}/bot"

    def settings(self) -> dict[str, Any]:
        """Settings overrides that point a bot at this fake."""
        return {"zalo_bot_token": self.token, "zalo_api_base_url": self.base_url}

    # --- Test controls -----------------------------------------------------------------------

    def push_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """Queue an event for getUpdates, or POST it to the webhook when one is set."""
        with self._cond:
            if self.webhook_url:
                self._webhook_queue.append((event, self.webhook_secret))
            else:
                self._events.append(event)
            self._cond.notify_all()
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
        with self._cond:
            self._scripts[method].extend(replies)

    def quota_storm(self, count: int, method: str = "sendMessage", http: bool = False) -> None:
        self.script(method, *([QUOTA_HTTP if http else QUOTA] * count))

    def block(self, chat_id: str) -> None:
        """The user blocked the bot: sends to them fail with 403."""
        self.blocked.add(chat_id)

    def scripted_left(self, method: str) -> int:
        with self._cond:
            return len(self._scripts[method])

    def messages_for(self, chat_id: str) -> list[Sent]:
        with self._cond:
            return [m for m in self.sent if m.chat_id == chat_id]

    def texts_for(self, chat_id: str) -> list[str]:
        return [m.text for m in self.messages_for(chat_id)]

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        with self._cond:
            return [params for name, params in self.calls if name == method]

    def pending_events(self) -> int:
        with self._cond:
            return len(self._events)

    async def wait_for_messages(self, chat_id: str, count: int = 1,
                                timeout: float = 10.0) -> list[Sent]:
        """Wait until `chat_id` has received at least `count` messages, and return them all."""
        await wait_for(lambda: len(self.messages_for(chat_id)) >= count, timeout)
        return self.messages_for(chat_id)

    async def wait_for_text(self, chat_id: str, needle: str, timeout: float = 10.0) -> Sent:
        """Wait for a message to `chat_id` containing `needle`, and return it."""

        def found() -> Sent | None:
            return next((m for m in self.messages_for(chat_id) if needle in m.text), None)

        return await wait_for(found, timeout)

    async def wait_for_webhook_posts(self, count: int, timeout: float = 10.0) -> list[WebhookPost]:
        await wait_for(lambda: len(self.webhook_posts) >= count, timeout)
        return list(self.webhook_posts)

    def post_to_webhook(self, event: dict[str, Any], secret: str | None) -> None:
        """POST `event` to the webhook with this secret (None: no header), as an attacker might."""
        with self._cond:
            self._webhook_queue.append((event, secret))
            self._cond.notify_all()

    # --- Behaviour ---------------------------------------------------------------------------

    def handle(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        """Answer one call: (HTTP status, body); a body of None closes the connection."""
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized: invalid token"}
        with self._cond:
            self.calls.append((method, params))
            scripted = self._scripts[method].popleft() if self._scripts[method] else None
        if scripted is PASS:
            scripted = None
        if scripted is None and method in ("sendMessage", "sendPhoto") and self._over_quota():
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

    def _fail(self, method: str, params: dict[str, Any], reply: Reply) -> tuple[int, dict[str, Any] | None]:
        with self._cond:
            self.rejected.append((method, params, reply))
        if reply is DISCONNECT:
            return 0, None
        return reply.http_status, reply.body()

    def _over_quota(self) -> bool:
        if not self.quota_per_second:
            return False
        now = time.monotonic()
        with self._cond:
            while self._window and now - self._window[0] >= 1.0:
                self._window.popleft()
            if len(self._window) >= self.quota_per_second:
                return True
            self._window.append(now)
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
        with self._cond:
            while not self._events and not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            if self._events:
                return self._events.popleft()
        return Reply(408, "Request Timeout: no update", self.empty_poll_http_status)

    def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        url, secret = params.get("url"), params.get("secret_token")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return Reply(400, "Bad Request: url is invalid")
        if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
            return Reply(400, "Bad Request: secret_token must be 8 to 256 characters")
        with self._cond:
            self.webhook_url, self.webhook_secret = url, secret
            # Events that were waiting for getUpdates now go to the webhook.
            while self._events:
                self._webhook_queue.append((self._events.popleft(), secret))
            self._cond.notify_all()
        return {"url": url, "updated_at": int(time.time() * 1000)}

    def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        with self._cond:
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
        return self._record(Sent("sendPhoto", chat_id, caption or "", photo=photo, photo_bytes=data))

    def _m_sendChatAction(self, params: dict[str, Any]) -> Any:
        chat_id = self._check_chat(params)
        return chat_id if isinstance(chat_id, Reply) else True

    def _record(self, sent: Sent) -> dict[str, Any]:
        with self._cond:
            self.sent.append(sent)
        return {"message_id": sent.message_id, "date": int(time.time() * 1000)}

    def _webhook_worker(self) -> None:
        """POST queued events to the webhook one at a time, in order, like Zalo's pusher."""
        while True:
            with self._cond:
                while not self._webhook_queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                event, secret = self._webhook_queue.popleft()
                url = self.webhook_url
            status = _post(url, event, secret) if url else 0
            with self._cond:
                self.webhook_posts.append(WebhookPost(event, secret, status))


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


class _Handler(BaseHTTPRequestHandler):
    api: FakeZaloApi
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the test output stays clean

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
            self._send(400, {"ok": False, "error_code": 400, "description": "Bad Request: body is not JSON"})
            return
        self._answer(params)

    def _answer(self, params: dict[str, Any]) -> None:
        parts = urllib.parse.urlsplit(self.path).path.split("/")
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
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
