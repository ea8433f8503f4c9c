"""Running against real Telegram: long polling, or a webhook when BOT_WEBHOOK_URL is set.

Only two answers from Telegram stop the bot, each with one line saying what to do: 401 (the token is wrong or
revoked) and 409 (another instance is polling with the same token). Everything else is logged and retried.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from telegram import Update
from telegram.error import Conflict, InvalidToken
from telegram.ext import Application

from bot.config import Settings
from bot.telegram.app import build_application
from bot.telegram.handlers.errors import STOPPED_BY_CONFLICT

log = logging.getLogger(__name__)

UNAUTHORIZED = "Telegram refused the bot token (401 Unauthorized): check TELEGRAM_BOT_TOKEN with @BotFather."
CONFLICT = (
    "Telegram says another instance is already running with this token (409 Conflict): "
    "stop the other one, then start this one again."
)


def webhook_path_and_secret(token: str) -> tuple[str, str]:
    """URL path and secret derived from the token without revealing it (base64url characters, as
    telegram-bot-api/Client.cpp:16022 requires of secret_token; 32 <= 256 bytes, Client.cpp:16019)."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    return digest[:24], digest[24:56]


def run_bot(settings: Settings) -> int:
    """Serve until SIGINT or SIGTERM (python-telegram-bot stops gracefully on both); the exit status."""
    application = build_application(settings)
    refused = None
    # Our own loop (python-telegram-bot runs on the current one) so it can be closed after a refusal too.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        _serve(application, settings)
    except InvalidToken:
        refused = UNAUTHORIZED
    except Conflict:
        refused = CONFLICT
    finally:
        # After a refused getMe python-telegram-bot skips its shutdown: close the connection pool here.
        loop.run_until_complete(application.bot.shutdown())
        loop.close()
        asyncio.set_event_loop(None)
    if refused is None and application.bot_data.get(STOPPED_BY_CONFLICT):
        refused = CONFLICT  # the error handler saw getUpdates answered 409 and stopped the application
    if refused is not None:
        log.error(refused)
        return 1
    return 0


def _serve(application: Application, settings: Settings) -> None:  # type: ignore[type-arg]
    if settings.webhook_url:
        # The token never appears in a URL, a log line or the webhook registration.
        path, secret = webhook_path_and_secret(settings.token)
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=path,
            webhook_url=f"{settings.webhook_url.rstrip('/')}/{path}",
            secret_token=secret,
            allowed_updates=Update.ALL_TYPES,
            close_loop=False,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES, close_loop=False)
