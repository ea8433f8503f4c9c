"""Logging set-up: a filter that redacts bot tokens and model API keys from every record; quiet HTTP loggers."""

from __future__ import annotations

import logging
import re

# `bot<id>:<secret>` in URLs, and a bare `<id>:<secret>` token anywhere else.
_TOKEN = re.compile(r"(bot)?\d{5,}:[A-Za-z0-9_-]{20,}")


# Secrets of any shape (a model API key), registered by the code that receives them.
_SECRETS: set[str] = set()
MIN_SECRET = 6  # shorter strings would redact ordinary words


def add_secret(value: str) -> None:
    """Redact this exact string from every log record and error text from now on."""
    if len(value) >= MIN_SECRET:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """`text` with every bot token and registered secret replaced."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "<redacted>")
    return _TOKEN.sub(lambda m: (m.group(1) or "") + "<redacted>", text)


class RedactTokens(logging.Filter):
    """Rewrites a record's message (and exception text) with tokens removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks repeat request URLs: format them now, redacted, instead of at emit time.
            formatted = redact(logging.Formatter().formatException(record.exc_info))
            record.msg, record.args = f"{cleaned}\n{formatted}", None
            record.exc_info, record.exc_text = None, None
        return True


def setup_logging(level: int = logging.INFO) -> None:
    """Root logging to stderr with token redaction; httpx and apscheduler turned down."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_libraries()


def quiet_libraries() -> None:
    """Turn down chatty library loggers; httpx logs every request URL, token included, at INFO."""
    for name in ("httpx", "httpcore", "httpx2", "openai", "apscheduler", "aiohttp.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
