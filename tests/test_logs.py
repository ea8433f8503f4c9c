import logging

from bot.logs import RedactTokens, redact

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_redact_removes_tokens_in_urls_and_bare() -> None:
    text = f"POST https://api.telegram.org/bot{TOKEN}/getMe and {TOKEN}"
    cleaned = redact(text)
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in cleaned
    assert "https://api.telegram.org/bot<redacted>/getMe" in cleaned


def test_filter_redacts_messages_args_and_tracebacks() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", (TOKEN,), None)
    try:
        raise RuntimeError(f"url bot{TOKEN}/x")
    except RuntimeError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    RedactTokens().filter(record)
    rendered = logging.Formatter().format(record)
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in rendered
    assert "RuntimeError" in rendered
