"""A small async client for the Zalo Bot API (`<ZALO_API_BASE_URL><token>/<method>`).

Our own instead of `python-zalo-bot`, which returns None when Zalo answers `ok: false` and so
loses failures. Every call either returns the envelope's `result` or raises a `ZaloError`:
errors arrive as an HTTP status or as HTTP 200 with `ok: false`, and both are checked.

The URL holds the token, so no URL is ever put into a message or a log line here, and a base
URL that would not make a valid request URL is refused when the client is made: httpx's error
for it would quote the whole URL, token included.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx

from config import ConfigError, check_base_url
from logs import Redactor
from runtime import tls_context

NO_UPDATE = 408  # getUpdates' error code when the long poll ended with no event


class ZaloError(Exception):
    """A failed call. `code` is Zalo's error code (or the HTTP status when the body has none);
    `code` is None when no answer arrived at all (timeout, refused connection)."""

    def __init__(self, method: str, code: int | None, description: str) -> None:
        self.method = method
        self.code = code
        self.description = description
        where = f"{code}" if code is not None else "no answer"
        super().__init__(f"Zalo {method} failed ({where}): {description}")


class ZaloClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        problem = check_base_url(base_url)
        if problem:
            raise ConfigError(f"invalid setting ZALO_API_BASE_URL: {problem}")
        self._base = f"{base_url}{quote(token, safe=':')}/"  # a path segment, whatever the token
        self._redact = Redactor([token])  # its half and URL-encoded forms too
        self._timeout = timeout
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=False,
                                       verify=tls_context())

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, method: str, params: dict[str, Any] | None = None,
                   *, timeout: float | None = None) -> Any:
        """POST `params` as JSON to `method` and return the envelope's `result`."""
        try:
            response = await self._http.post(
                self._base + method, json=params or {}, timeout=timeout or self._timeout
            )
        except httpx.HTTPError as exc:
            raise ZaloError(method, None, self._describe(exc)) from None
        return self._result(method, response)

    def _describe(self, exc: Exception) -> str:
        text = f"{type(exc).__name__}: {exc}".rstrip(": ")
        return self._redact(text)  # httpx may quote the request

    def _result(self, method: str, response: httpx.Response) -> Any:
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            if response.is_error:
                raise ZaloError(
                    method, response.status_code, response.reason_phrase or "HTTP error"
                )
            raise ZaloError(method, 502, "the reply is not a JSON object")
        if response.is_error or body.get("ok") is not True:
            code = body.get("error_code")
            if not isinstance(code, int):
                code = response.status_code if response.is_error else 500
            description = str(body.get("description") or response.reason_phrase or "request failed")
            raise ZaloError(method, code, self._redact(description))
        return body.get("result")

    async def _call_object(self, method: str, params: dict[str, Any] | None = None
                           ) -> dict[str, Any]:
        """`call` for the methods whose result is an object."""
        result: dict[str, Any] = await self.call(method, params)
        return result

    # --- Methods -----------------------------------------------------------------------

    async def get_me(self) -> dict[str, Any]:
        return await self._call_object("getMe")

    async def get_updates(self, timeout: int = 30) -> dict[str, Any] | None:
        """Wait up to `timeout` s for ONE event (there is no offset); None when none arrived."""
        try:
            result = await self.call(
                "getUpdates", {"timeout": str(timeout)}, timeout=timeout + self._timeout
            )
        except ZaloError as exc:
            if exc.code == NO_UPDATE:
                return None
            raise
        return result if isinstance(result, dict) and result else None

    async def set_webhook(self, url: str, secret_token: str) -> dict[str, Any]:
        return await self._call_object("setWebhook", {"url": url, "secret_token": secret_token})

    async def delete_webhook(self) -> dict[str, Any]:
        return await self._call_object("deleteWebhook")

    async def get_webhook_info(self) -> dict[str, Any]:
        return await self._call_object("getWebhookInfo")

    async def send_message(self, chat_id: str, text: str) -> dict[str, Any]:
        return await self._call_object("sendMessage", {"chat_id": chat_id, "text": text})

    async def send_photo(self, chat_id: str, photo_url: str, caption: str = "") -> dict[str, Any]:
        params = {"chat_id": chat_id, "photo": photo_url}
        if caption:
            params["caption"] = caption
        return await self._call_object("sendPhoto", params)

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> None:
        await self.call("sendChatAction", {"chat_id": chat_id, "action": action})
