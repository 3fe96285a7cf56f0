"""The bot token never reaches a log line, whatever logger or level writes it."""

import json
import logging

import pytest

from logs import RedactingFilter, setup_logging

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture
def captured(capfd: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    yield capfd
    logging.getLogger().handlers.clear()
    logging.getLogger("loa.crash").handlers.clear()


def test_token_in_a_url_is_redacted_at_debug(captured) -> None:  # type: ignore[no-untyped-def]
    setup_logging("DEBUG", [TOKEN])  # inside the test, so the handler writes to captured stderr
    logging.getLogger("httpx").warning(
        "HTTP Request: POST %s \"HTTP/1.1 200 OK\"", f"https://api.telegram.org/bot{TOKEN}/getMe"
    )
    logging.getLogger("telegram.ext").debug("token is %s", TOKEN)
    err = captured.readouterr().err
    assert TOKEN not in err
    assert "bot<redacted>/getMe" in err
    assert "token is <redacted>" in err


def test_unknown_token_shapes_are_redacted_too() -> None:
    other = "987654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "GET /bot%s/getUpdates", (other,), None
    )
    RedactingFilter([]).filter(record)
    assert other not in record.getMessage()


def test_traceback_text_is_redacted(captured) -> None:  # type: ignore[no-untyped-def]
    setup_logging("DEBUG", [TOKEN])
    try:
        raise RuntimeError(f"failed calling https://api.telegram.org/bot{TOKEN}/sendMessage")
    except RuntimeError:
        logging.getLogger("loa").exception("send failed")
    err = captured.readouterr().err
    assert TOKEN not in err and "send failed" in err


def test_every_form_of_every_secret_is_redacted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from urllib.parse import quote, quote_plus

    from logs import Redactor
    from tests.conftest import make_settings

    zalo, password, hook = "31415:zalo+Sec/ret=Va%l&x", "p@ss:w/rd+S%", "hook+sec/ret=1"
    settings = make_settings(f"postgresql://loa:{quote(password, safe='')}@127.0.0.1/loa",
                             telegram_bot_token=TOKEN, zalo_bot_token=zalo,
                             zalo_webhook_secret=hook)
    redact = Redactor(settings.secrets())
    half = TOKEN.partition(":")[2]
    for leak in (
        TOKEN,
        half,
        f"Invalid port: '{half}'",
        quote(zalo, safe=":"),
        quote(zalo, safe=""),
        quote(zalo, safe="").lower(),
        quote_plus(zalo),
        zalo.partition(":")[2],
        password,
        quote(password, safe=""),
        quote_plus(password),
        hook,
        quote(hook),
        json.dumps(zalo),
    ):
        clean = redact(f"before {leak} after")
        assert clean.startswith("before ") and clean.endswith(" after") and "<redacted>" in clean
        for secret in (TOKEN, half, zalo, password, hook):
            assert secret not in clean


def test_short_values_are_not_treated_as_secrets() -> None:
    from logs import Redactor

    assert Redactor(["ab", "x:y"])("a b ab x:y") == "a b ab x:y"  # too short to hide usefully


def test_a_crash_traceback_goes_to_the_log_file_only(captured, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from logs import log_crash

    log_file = tmp_path / "loa.log"
    setup_logging("INFO", [TOKEN], str(log_file))
    try:
        raise RuntimeError(f"port {TOKEN.partition(':')[2]!r}")
    except RuntimeError as exc:
        assert log_crash(exc)
    logging.getLogger("loa").info("an ordinary line")
    err, logged = captured.readouterr().err, log_file.read_text()
    assert "Traceback" not in err and "an ordinary line" in err
    assert "Traceback" in logged and "an ordinary line" in logged
    assert TOKEN.partition(":")[2] not in logged


def test_json_lines_parse_carry_the_context_and_no_token(captured, tmp_path) -> None:  # type: ignore[no-untyped-def]
    log_file = tmp_path / "loa.log"
    setup_logging("DEBUG", [TOKEN], str(log_file), "json")
    log = logging.getLogger("loa.test")
    log.info("new item #%d from %s", 7, "Báo An Giang", extra={"source_id": 3, "item_id": 7})
    log.warning("reply to %s failed", f"https://api.telegram.org/bot{TOKEN}/sendMessage",
                extra={"chat": "telegram:42"})
    log.info("a value in extra", extra={"chat": f"token {TOKEN}"})
    try:
        raise RuntimeError(f"port {TOKEN.partition(':')[2]!r}")
    except RuntimeError:
        log.exception("crashed")
    err, logged = captured.readouterr().err, log_file.read_text(encoding="utf-8")
    for text in (err, logged):
        lines = [json.loads(line) for line in text.splitlines()]
        assert len(lines) == 4
        assert TOKEN.partition(":")[2] not in text
        first = lines[0]
        assert first["event"] == "new item #7 from Báo An Giang"
        assert (first["level"], first["logger"], first["source_id"], first["item_id"]) == (
            "INFO", "loa.test", 3, 7)
        assert first["time"][-6] in "+-" and first["time"][-3] == ":"  # carries the zone
        assert lines[1]["chat"] == "telegram:42" and "bot<redacted>/" in lines[1]["event"]
        assert "Traceback" in lines[3]["exception"]


def test_text_lines_carry_the_zone(captured) -> None:  # type: ignore[no-untyped-def]
    import re

    setup_logging("INFO", [TOKEN])
    logging.getLogger("loa.test").info("hello")
    line = captured.readouterr().err.strip()
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d INFO loa.test: hello$",
                    line), line
