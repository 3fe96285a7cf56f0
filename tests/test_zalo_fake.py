"""The fake Zalo Bot API itself: its own quota, its report, and its standalone control API."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from channels.zalo_client import ZaloClient, ZaloError
from tests.fakes.zalo_api import FakeZaloApi


async def test_enforced_limits_answer_429_and_are_reported() -> None:
    with FakeZaloApi(enforce_limits=True, global_per_second=3, private_per_second=0.5,
                     group_per_minute=2) as fake:
        fake.push_text("u9", "hi", chat_id="g1", chat_type="GROUP")
        client = ZaloClient(fake.base_url, fake.token, timeout=5)
        try:
            await client.send_message("u1", "một")
            with pytest.raises(ZaloError, match="429"):
                await client.send_message("u1", "hai")  # private: 1 in any 2 s
            await client.send_message("g1", "một")
            await client.send_message("g1", "hai")
            with pytest.raises(ZaloError, match="429"):
                await client.send_message("g1", "ba")  # the group's 2 per minute
            with pytest.raises(ZaloError, match="429"):
                await client.send_message("u2", "ba")  # the global 3 per second
        finally:
            await client.aclose()
        report = fake.limit_report()
        assert report["messages"] == 3 and report["count_429"] == 3
        assert report["max_global_per_second"] == 3
        assert report["max_group_per_minute"] == 2 and report["max_private_per_2s"] == 1


@pytest.mark.slow
def test_standalone_fake_is_driven_over_http() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.zalo_api"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("FAKE_ZALO_READY port=")
        base = f"http://127.0.0.1:{line.strip().split('=')[1]}"

        def post(path: str, body: dict) -> dict:
            request = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.loads(response.read())

        post("/_fake/push_text", {"user_id": "u1", "text": "/start"})
        token = "1234567890:zalo-fake-token-abcdefghijklmnop"
        event = post(f"/bot{token}/getUpdates", {"timeout": 1})
        assert event["result"]["message"]["text"] == "/start"
        post(f"/bot{token}/sendMessage", {"chat_id": "u1", "text": "Chào bạn"})
        with urllib.request.urlopen(base + "/_fake/state", timeout=5) as response:
            state = json.loads(response.read())
        assert [m["text"] for m in state["sent"]] == ["Chào bạn"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
