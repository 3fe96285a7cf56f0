"""The bot token never reaches a log line, whatever logger or level writes it."""

import logging

import pytest

from logs import RedactingFilter, setup_logging

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture
def captured(capfd: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    yield capfd
    logging.getLogger().handlers.clear()


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
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "GET /bot%s/getUpdates", (other,), None)
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
