"""What a Sender raises when Telegram refuses a message; the dispatcher decides what each one means.

The Telegram wiring (bot.telegram) maps python-telegram-bot's exceptions onto these, so the push
package never depends on the HTTP client.
"""

from __future__ import annotations


class PushError(Exception):
    """Base class of the answers a Sender may report instead of delivering."""


class RetryLater(PushError):
    """429 Too Many Requests: try the same message again after `seconds` (not a failure).

    `all_chats` says the limit is the bot's, not this chat's: every send pauses, not only this chat's.
    """

    def __init__(self, seconds: float, *, all_chats: bool = False) -> None:
        super().__init__(f"retry after {seconds:g}s")
        self.seconds = max(0.0, float(seconds))
        self.all_chats = all_chats


class ChatUnavailable(PushError):
    """403 blocked / deactivated / kicked, or 400 chat not found: stop pushing until the chat writes again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChatMoved(PushError):
    """The group became a supergroup with a new id: move its data and send there."""

    def __init__(self, new_chat_id: int) -> None:
        super().__init__(f"chat moved to {new_chat_id}")
        self.new_chat_id = new_chat_id


class TransientError(PushError):
    """Network trouble or a 5xx: retry with backoff, up to PushSettings.max_attempts."""
