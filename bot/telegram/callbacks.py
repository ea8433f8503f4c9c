"""Inline-button payloads: encoded within Telegram's 64-byte limit and validated when they come back.

A payload is `<action>:<argument>[:<argument>]`. Anything that does not decode to a known action
with well-formed arguments (stale buttons from an older version, forged data) decodes to None, and
the handler answers politely without acting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.text.arxiv import parse_arxiv_id
from bot.text.normalize import Script

MAX_BYTES = 64


class Action(StrEnum):
    """What a button does."""

    PAPER = "p"  # open a paper card: p:<arxiv id>
    SEARCH = "s"  # a search page: s:<query id>:<page>[:b] (b = broadened)
    TOPIC_TOGGLE = "tt"  # subscribe or unsubscribe a topic from a list: tt:<topic>
    TOPIC_SUBSCRIBE = "ts"  # subscribe a topic: ts:<topic>
    TOPIC_UNSUBSCRIBE = "tu"  # unsubscribe a topic: tu:<topic>
    TOPIC_VIEW = "tv"  # a topic's newest papers: tv:<topic>
    KEYWORD_SUBSCRIBE = "ks"  # follow a keyword: ks:<query id>
    KEYWORD_UNSUBSCRIBE = "ku"  # stop following a keyword: ku:<query id>
    LANG = "l"  # l:hans / l:hant / l:hant-hk (Script values)
    TOPICS = "ts_all"  # show the topic list
    NOOP = "noop"  # a label button (page counter)
    ORIGINAL = "en"  # show a machine-translated card's English original: en:<arxiv id>
    TRANSLATED = "zh"  # back to the machine translation: zh:<arxiv id>


@dataclass(frozen=True)
class Callback:
    """A decoded button payload."""

    action: Action
    arg: str = ""
    page: int = 0
    flag: bool = False


_INT = re.compile(r"^\d{1,9}$")
_SCRIPT_VALUES = frozenset(script.value for script in Script)


def encode(action: Action, arg: str = "", page: int | None = None, flag: bool = False) -> str:
    """The payload for a button; ValueError if it would exceed 64 bytes (the caller picks another form)."""
    parts = [str(action)]
    if arg or page is not None:
        parts.append(arg)
    if page is not None:
        parts.append(str(page))
    if flag:
        parts.append("b")
    data = ":".join(parts)
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes")
    return data


def fits(action: Action, arg: str) -> bool:
    """Whether a button with this argument fits in callback data."""
    return len(f"{action}:{arg}".encode()) <= MAX_BYTES


def decode(data: str | None) -> Callback | None:
    """The button payload, or None when it is not one this bot makes."""
    if not data or len(data.encode()) > MAX_BYTES:
        return None
    head, _, rest = data.partition(":")
    try:
        action = Action(head)
    except ValueError:
        return None
    if action in (Action.NOOP, Action.TOPICS):
        return Callback(action) if not rest else None
    if action in (Action.PAPER, Action.ORIGINAL, Action.TRANSLATED):
        arxiv_id = parse_arxiv_id(rest)
        return Callback(action, arxiv_id) if arxiv_id and arxiv_id == rest else None
    if action is Action.SEARCH:
        parts = rest.split(":")
        if len(parts) not in (2, 3) or not _INT.match(parts[0]) or not _INT.match(parts[1]):
            return None
        if len(parts) == 3 and parts[2] != "b":
            return None
        return Callback(action, parts[0], int(parts[1]), len(parts) == 3)
    if action in (Action.KEYWORD_SUBSCRIBE, Action.KEYWORD_UNSUBSCRIBE):
        return Callback(action, rest) if _INT.match(rest) else None
    if action is Action.LANG:
        return Callback(action, rest) if rest in _SCRIPT_VALUES else None
    # Topic actions: the handler checks the name against the taxonomy.
    return Callback(action, rest) if rest and ":" not in rest else None
