"""The simulated Telegram world of the local Bot API: records for chats and messages, the journal, rate limits.

Nothing here speaks HTTP; server.py drives these records.  ApiError is how every layer reports a Telegram error
(HTTP status, exact description, optional response parameters).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


class ApiError(Exception):
    """A Telegram error response: {"ok": false, "error_code": code, "description": ..., "parameters": ...}."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def bad_request(description: str, parameters: JSON | None = None) -> ApiError:
    return ApiError(400, f"Bad Request: {description}", parameters)


@dataclass(slots=True)
class SentMessage:
    """A message authored by the bot (sent, or posted via the bot in inline mode), with edits applied."""

    chat_id: int
    message_id: int
    text: str  # plain text after entity parsing, as a client shows it
    html: str  # the `text` parameter exactly as the bot sent it (HTML when parse_mode=HTML)
    entities: list[JSON]
    reply_markup: JSON | None
    date: int
    parse_mode: str | None = None
    edited: int = 0  # how many successful edits (text or markup)
    edit_date: int | None = None
    via_bot: bool = False  # posted by a user through an inline query result
    sender_id: int = 0  # the bot, or the user who chose the inline result
    inline_message_id: str | None = None
    reply_to_message_id: int | None = None
    message_thread_id: int | None = None  # the forum topic it was posted in (None: General or not a forum)
    link_preview_disabled: bool = False  # what link_preview_options / disable_web_page_preview asked for

    def buttons(self) -> list[JSON]:
        """The inline keyboard buttons in reading order (empty for no or non-inline markup)."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [button for row in rows for button in row]


@dataclass(slots=True)
class JournalEntry:
    """One request the bot made: what it asked for and what Telegram answered."""

    method: str
    params: JSON
    ok: bool
    error_code: int | None
    description: str | None
    time: float


@dataclass(slots=True)
class ChatRecord:
    """A chat the simulated world knows; `messages` holds bot messages by id, in sending order."""

    id: int
    type: str  # private | group | supergroup
    title: str | None = None
    user_id: int | None = None  # the other party of a private chat
    admins: list[int] = field(default_factory=list)
    members: set[int] = field(default_factory=set)
    bot_member: bool = True  # False for chats only seen through inline mode: the bot cannot post there
    bot_is_admin: bool = False
    blocked: bool = False  # private: the user blocked the bot; group: the bot was kicked
    deactivated: bool = False
    deleted: bool = False
    migrated_to: int | None = None
    next_message_id: int = 1
    messages: dict[int, SentMessage] = field(default_factory=dict)
    user_messages: dict[int, JSON] = field(default_factory=dict)
    menu_button: JSON | None = None
    forum: bool = False  # a supergroup with topics enabled
    topics: dict[int, str] = field(default_factory=dict)  # forum topic thread id -> name

    def take_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    @property
    def is_group(self) -> bool:
        return self.type in ("group", "supergroup")


@dataclass
class RateLimits:
    """Flood limits, modelled as token buckets on the injected clock (see RateLimiter).

    per_chat_per_second/per_chat_burst: private chats, ~1 message/s with a burst of 3 (Telegram: "avoid more
    than one message per second in a particular chat", short bursts tolerated).  per_group_per_minute: a
    bucket of that capacity refilled at that rate per 60 s, which is exactly what python-telegram-bot's
    AIORateLimiter (aiolimiter) paces, so a bot using it is never refused.  global_per_second: likewise 30/s
    with a full-second burst; allow_paid_broadcast raises it to paid_broadcast_per_second.
    """

    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    per_group_per_minute: int = 20
    global_per_second: float = 30.0
    paid_broadcast_per_second: float = 1000.0
    enabled: bool = True


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float

    def wait(self, now: float, rate: float, capacity: float) -> float:
        """Refill, then return how long until one token is available (0 if one is there now)."""
        self.tokens = min(capacity, self.tokens + (now - self.stamp) * rate)
        self.stamp = now
        # The epsilon absorbs float error from large clock values (1000.0 + 1/30 - 1000.0 != 1/30).
        return 0.0 if self.tokens >= 1.0 - 1e-9 else (1.0 - self.tokens) / rate


class RateLimiter:
    """Decides 429s for sends; edits and other methods are not counted (Telegram's documented limits are
    about sending messages).  A refused send consumes nothing, but the chat stays refused until retry_after
    has passed, as Telegram's flood wait does."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._chats: dict[int, _Bucket] = {}
        self._global: _Bucket | None = None
        self._paid: _Bucket | None = None
        self._blocked_until: dict[int, float] = {}

    def check(self, chat_id: int, *, group: bool, paid: bool = False) -> None:
        """Consume one send for chat_id or raise the 429 ApiError."""
        limits = self.limits
        if not limits.enabled:
            return
        now = self._clock()
        blocked = self._blocked_until.get(chat_id)
        if blocked is not None:
            if now < blocked:
                raise self._too_many(blocked - now)
            del self._blocked_until[chat_id]
        if group:
            rate, capacity = limits.per_group_per_minute / 60.0, float(limits.per_group_per_minute)
        else:
            rate, capacity = limits.per_chat_per_second, float(limits.per_chat_burst)
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = _Bucket(capacity, now)
        if paid:
            g_rate = limits.paid_broadcast_per_second
            overall = self._paid = self._paid or _Bucket(g_rate, now)
        else:
            g_rate = limits.global_per_second
            overall = self._global = self._global or _Bucket(g_rate, now)
        chat_wait = chat.wait(now, rate, capacity)
        global_wait = overall.wait(now, g_rate, g_rate)
        if chat_wait > 0:
            retry = max(1, math.ceil(max(chat_wait, global_wait)))
            self._blocked_until[chat_id] = now + retry
            raise self._too_many(retry)
        if global_wait > 0:
            raise self._too_many(global_wait)
        chat.tokens -= 1.0
        overall.tokens -= 1.0

    @staticmethod
    def _too_many(wait: float) -> ApiError:
        retry = max(1, math.ceil(wait - 1e-9))
        return ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
