"""A local, strict Telegram Bot API server for end-to-end tests and the terminal console.

Public surface: LocalBotApi (server + simulated users/chats + observation helpers), RateLimits, SentMessage,
JournalEntry, ApiError, and run_console (bot.localapi.console).
"""

from bot.localapi.console import run_console
from bot.localapi.server import LocalBotApi
from bot.localapi.state import ApiError, JournalEntry, RateLimits, SentMessage

__all__ = ["ApiError", "JournalEntry", "LocalBotApi", "RateLimits", "SentMessage", "run_console"]
