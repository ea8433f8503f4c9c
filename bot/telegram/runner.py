"""Running against real Telegram: long polling, or a webhook when BOT_WEBHOOK_URL is set."""

from __future__ import annotations

import hashlib

from telegram import Update

from bot.config import Settings
from bot.telegram.app import build_application


def run_bot(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM (python-telegram-bot stops gracefully on both)."""
    application = build_application(settings)
    if settings.webhook_url:
        # The URL path and secret derive from the token without revealing it: the token never
        # appears in a URL, a log line or the webhook registration.
        digest = hashlib.sha256(settings.token.encode()).hexdigest()
        path, secret = digest[:24], digest[24:56]
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=path,
            webhook_url=f"{settings.webhook_url.rstrip('/')}/{path}",
            secret_token=secret,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES)
