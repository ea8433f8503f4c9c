"""The bot's own domain types, shared by storage, services, the push and the Telegram layer.

Storage reads and writes them, services decide with them, handlers render them; none of them knows SQL
or Telegram. (Catalogue types, such as Paper, live in bot.catalogue.model.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from enum import StrEnum
from typing import Literal, get_args

from bot.catalogue.model import Paper
from bot.text.normalize import Script

# What Telegram calls the chat (Chat.type); 'channel' never talks to the bot's commands.
ChatKind = Literal["private", "group", "supergroup", "channel"]
CHAT_KINDS: frozenset[str] = frozenset(get_args(ChatKind))


def chat_kind(value: str) -> ChatKind:
    """A chat type as Telegram names it (Chat.type, or a stored row); ValueError for anything else."""
    if value not in CHAT_KINDS:
        raise ValueError(f"not a Telegram chat type: {value!r}")
    return value  # type: ignore[return-value]  # checked against the Literal's values just above


class SubscriptionKind(StrEnum):
    """A topic of the taxonomy, or free words matched by search."""

    TOPIC = "topic"
    KEYWORD = "keyword"


@dataclass(frozen=True)
class Subscription:
    """One thing a chat follows."""

    kind: SubscriptionKind
    value: str  # canonical topic name, or the keyword as the user typed it (trimmed)

    @property
    def key(self) -> str:
        """Stable text form used in the delivery log ("topic:量化", "keyword:RAG")."""
        return f"{self.kind}:{self.value}"

    @classmethod
    def from_key(cls, key: str) -> Subscription:
        kind, _, value = key.partition(":")
        return cls(SubscriptionKind(kind), value)


@dataclass(frozen=True)
class ChatSettings:
    """A chat's stored settings; None means "not chosen, use the default"."""

    chat_id: int
    kind: ChatKind
    script: Script | None
    push_time: time | None
    timezone: str | None
    active: bool
    inactive_reason: str | None
    next_push_at: int | None  # Unix seconds of the next daily push
    last_push_date: str | None  # local ISO date of the last completed daily push


class AddResult(StrEnum):
    """Outcome of adding a subscription."""

    ADDED = "added"
    ALREADY = "already"
    LIMIT = "limit"


class DeliveryState(StrEnum):
    """A delivery log row's state: planned -> sending -> sent | failed; 'sending' found after a restart
    becomes 'unknown' (maybe delivered, never re-sent); a 429 puts a row back to 'planned'."""

    PLANNED = "planned"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"


class DeliveryKind(StrEnum):
    """A paper card, or the one-time notice that a subscription has nothing new."""

    PAPER = "paper"
    NOTICE = "notice"


class Via(StrEnum):
    """What planned a delivery: the daily push, or /today."""

    PUSH = "push"
    TODAY = "today"


class PushMode(StrEnum):
    """Why a chat is being planned: it looked due, /today, or only to send rows an earlier run left."""

    PUSH = "push"
    TODAY = "today"
    RESUME = "resume"


@dataclass(frozen=True)
class SearchHit:
    """One search result: the paper and whether the match was in its title."""

    paper: Paper
    in_title: bool


@dataclass(frozen=True)
class SearchPage:
    """One page of ranked results; `has_more` says whether a next page exists."""

    hits: list[SearchHit]
    has_more: bool
    broadened: bool = False  # no paper had every word, so these have any of them


@dataclass(frozen=True)
class TopicCount:
    """A topic and how many catalogue papers carry it."""

    name: str
    papers: int
