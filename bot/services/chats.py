"""A chat's own settings and subscriptions: script, delivery time and timezone, topics and keywords."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
from functools import lru_cache
from zoneinfo import available_timezones

from bot.catalogue.topics import Taxonomy
from bot.config import ConfigError, Settings, parse_time
from bot.model import AddResult, ChatSettings, Subscription, SubscriptionKind, chat_kind
from bot.push.service import PushService
from bot.storage.chats import ChatStore
from bot.text.normalize import Script, fold, script_for_language, strip_invisible

# A keyword subscription is a search: keep it short enough to stay meaningful and to fit in buttons.
MAX_KEYWORD_CHARS = 40


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


def find_timezone(text: str) -> str | None:
    """The IANA name for `text`, matched case-insensitively (asia/taipei -> Asia/Taipei)."""
    return _zones().get(text.strip().casefold())


@dataclass(frozen=True)
class Effective:
    """A chat's settings with defaults filled in."""

    chat: ChatSettings
    script: Script
    push_time: time
    timezone: str
    subscriptions: list[Subscription] = field(default_factory=list)


class SubscribeStatus(StrEnum):
    """Outcome of /subscribe or /unsubscribe."""

    ADDED = "added"
    ALREADY = "already"
    LIMIT = "limit"
    REMOVED = "removed"
    NOT_SUBSCRIBED = "not_subscribed"
    UNKNOWN = "unknown"  # no such topic: suggestions and a keyword offer follow
    INVALID = "invalid"  # empty or unusable text


@dataclass(frozen=True)
class SubscribeOutcome:
    """What happened, and what to offer next."""

    status: SubscribeStatus
    subscription: Subscription | None = None
    suggestions: list[str] = field(default_factory=list)
    keyword: str | None = None  # the text to offer as a keyword subscription


class TimeStatus(StrEnum):
    """Outcome of /time."""

    OK = "ok"
    BAD_TIME = "bad_time"
    BAD_TIMEZONE = "bad_timezone"


@dataclass(frozen=True)
class TimeOutcome:
    """The new schedule, or what was wrong with the request."""

    status: TimeStatus
    push_time: time | None = None
    timezone: str | None = None
    next_push_at: int | None = None


class ChatService:
    """Use cases that change or show one chat's settings."""

    def __init__(self, chats: ChatStore, taxonomy: Taxonomy, settings: Settings, push: PushService) -> None:
        self._chats = chats
        self._taxonomy = taxonomy
        self._settings = settings
        self._push = push

    async def ensure(self, chat_id: int, kind: str, language_code: str | None) -> ChatSettings:
        """Register the chat on first contact (script from the user's language) and reactivate it.
        `kind` is Telegram's Chat.type; anything but its four types is a ValueError."""
        chat, reactivated = await self._chats.ensure(chat_id, chat_kind(kind), script_for_language(language_code))
        if reactivated:
            # Pushes stopped when the chat blocked us or vanished; it is back, so schedule it again.
            await self._push.reschedule(chat_id)
            chat = await self._chats.get(chat_id) or chat
        return chat

    async def effective(self, chat_id: int) -> Effective | None:
        """Settings with defaults, and subscriptions."""
        chat = await self._chats.get(chat_id)
        if chat is None:
            return None
        return Effective(
            chat=chat,
            script=chat.script or Script.SIMPLIFIED,
            push_time=chat.push_time or self._settings.default_time,
            timezone=chat.timezone or self._settings.default_timezone,
            subscriptions=await self._chats.subscriptions(chat_id),
        )

    async def script(self, chat_id: int) -> Script:
        """The chat's script (simplified until chosen otherwise)."""
        chat = await self._chats.get(chat_id)
        return chat.script if chat and chat.script else Script.SIMPLIFIED

    async def set_script(self, chat_id: int, script: Script) -> None:
        """Switch the chat between traditional and simplified script."""
        await self._chats.set_script(chat_id, script)

    async def subscribe(self, chat_id: int, text: str) -> SubscribeOutcome:
        """Follow a topic named in either script, any case, or by alias; suggest when unknown."""
        name = " ".join(strip_invisible(text).split())
        if not name:
            return SubscribeOutcome(SubscribeStatus.INVALID)
        topic = self._taxonomy.resolve(name)
        if topic is None:
            keyword = name[:MAX_KEYWORD_CHARS] if fold(name).strip() else None
            suggestions = [t.name for t in self._taxonomy.closest(name, 3)]
            return SubscribeOutcome(SubscribeStatus.UNKNOWN, suggestions=suggestions, keyword=keyword)
        return await self._add(chat_id, Subscription(SubscriptionKind.TOPIC, topic.name))

    async def subscribe_keyword(self, chat_id: int, text: str) -> SubscribeOutcome:
        """Follow free words, matched by search every day."""
        keyword = " ".join(strip_invisible(text).split())[:MAX_KEYWORD_CHARS]
        if not keyword or not fold(keyword).strip():
            return SubscribeOutcome(SubscribeStatus.INVALID)
        return await self._add(chat_id, Subscription(SubscriptionKind.KEYWORD, keyword))

    async def _add(self, chat_id: int, subscription: Subscription) -> SubscribeOutcome:
        result = await self._chats.subscribe(chat_id, subscription, limit=self._settings.max_subscriptions)
        if result is AddResult.ADDED:
            await self._push.reschedule(chat_id)
        status = {
            AddResult.ADDED: SubscribeStatus.ADDED,
            AddResult.ALREADY: SubscribeStatus.ALREADY,
            AddResult.LIMIT: SubscribeStatus.LIMIT,
        }[result]
        return SubscribeOutcome(status, subscription)

    async def unsubscribe(self, chat_id: int, text: str) -> SubscribeOutcome:
        """Stop following a topic (any script, case or alias) or a keyword."""
        name = " ".join(strip_invisible(text).split())
        if not name:
            return SubscribeOutcome(SubscribeStatus.INVALID)
        topic = self._taxonomy.resolve(name)
        current = await self._chats.subscriptions(chat_id)
        candidates = [Subscription(SubscriptionKind.TOPIC, topic.name)] if topic else []
        candidates += [s for s in current if s.kind is SubscriptionKind.KEYWORD and fold(s.value) == fold(name)]
        for subscription in candidates:
            if await self._chats.unsubscribe(chat_id, subscription):
                return SubscribeOutcome(SubscribeStatus.REMOVED, subscription)
        return SubscribeOutcome(
            SubscribeStatus.NOT_SUBSCRIBED, candidates[0] if candidates else None, [s.value for s in current][:3]
        )

    async def remove(self, chat_id: int, subscription: Subscription) -> bool:
        """Remove an exact subscription (from a button)."""
        return await self._chats.unsubscribe(chat_id, subscription)

    async def add(self, chat_id: int, subscription: Subscription) -> SubscribeOutcome:
        """Add an exact subscription (from a button)."""
        return await self._add(chat_id, subscription)

    async def get(self, chat_id: int) -> ChatSettings | None:
        """The chat's stored settings (None: it never talked to the bot)."""
        return await self._chats.get(chat_id)

    async def subscriptions(self, chat_id: int) -> list[Subscription]:
        """What the chat follows, in the order it subscribed."""
        return await self._chats.subscriptions(chat_id)

    async def pushed_via(self, chat_id: int, arxiv_id: str) -> Subscription | None:
        """The subscription that brought this paper to the chat (a pushed card names it)."""
        return await self._chats.pushed_via(chat_id, arxiv_id)

    async def remember_query(self, query: str) -> int:
        """A short id for a search query, so paging and subscribe buttons fit in 64 bytes."""
        return await self._chats.remember_query(query)

    async def query_by_id(self, query_id: int) -> str | None:
        """The search query behind a button, if still known."""
        return await self._chats.query_by_id(query_id)

    async def migrate(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: its settings, subscriptions and history move to the new id."""
        await self._chats.migrate(old_chat_id, new_chat_id)

    async def set_time(self, chat_id: int, text: str) -> TimeOutcome:
        """`HH:MM [Area/City]`: the daily delivery time, and optionally the timezone."""
        parts = strip_invisible(text).replace("：", ":").split()
        if not parts or len(parts) > 2:
            return TimeOutcome(TimeStatus.BAD_TIME)
        try:
            push_time = parse_time(parts[0])
        except ConfigError:
            return TimeOutcome(TimeStatus.BAD_TIME)
        chat = await self._chats.get(chat_id)
        timezone = (chat.timezone if chat else None) or self._settings.default_timezone
        if len(parts) == 2:
            found = find_timezone(parts[1])
            if found is None:
                return TimeOutcome(TimeStatus.BAD_TIMEZONE, push_time)
            timezone = found
        await self._chats.set_schedule(chat_id, push_time, timezone, None)
        next_at = await self._push.reschedule(chat_id)
        return TimeOutcome(TimeStatus.OK, push_time, timezone, next_at)
