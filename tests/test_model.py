"""Domain types: chat kinds are Telegram's four chat types and nothing else."""

import pytest

from bot.model import CHAT_KINDS, chat_kind


def test_chat_kinds_are_telegrams_chat_types() -> None:
    # Bot API, Chat.type: "Type of the chat, can be either “private”, “group”, “supergroup” or “channel”".
    assert {"private", "group", "supergroup", "channel"} == CHAT_KINDS
    assert [chat_kind(k) for k in ("private", "group", "supergroup", "channel")] == [
        "private",
        "group",
        "supergroup",
        "channel",
    ]


@pytest.mark.parametrize("value", ["sender", "Private", "", "private "])
def test_anything_else_is_refused(value: str) -> None:
    # "sender" is an inline query's chat_type, never a Chat.type.
    with pytest.raises(ValueError, match="not a Telegram chat type"):
        chat_kind(value)
