"""End-to-end fixtures: the real Application polling the local Bot API, with the seeds ingested."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.localapi import LocalBotApi, RateLimits, SentMessage
from bot.telegram.local import LocalBot, running_locally

# Test chats send several commands a second; real users do not. Per-chat limits are raised here and
# exercised at Telegram's values in the push tests.
E2E_LIMITS = RateLimits(per_chat_per_second=20.0, per_chat_burst=20, per_group_per_minute=200)


@pytest.fixture
async def bot(settings: Settings, seeded: Path) -> AsyncIterator[LocalBot]:
    async with running_locally(settings, limits=E2E_LIMITS) as local:
        yield local
        await local.api.wait_idle()
        assert local.api.errors() == [], "the bot made requests Telegram would reject"


class Chat:
    """A user in a chat, talking to the bot and reading its replies."""

    def __init__(self, api: LocalBotApi, chat_id: int, user_id: int) -> None:
        self.api, self.chat_id, self.user_id = api, chat_id, user_id

    async def say(self, text: str, replies: int = 1) -> list[SentMessage]:
        """Send text and return the bot's new messages (at least `replies` of them)."""
        before = len(self.api.messages(self.chat_id))
        await self.api.send_text(self.chat_id, self.user_id, text)
        await self.api.wait_for_messages(self.chat_id, before + replies)
        await self.api.wait_idle()
        return self.api.messages(self.chat_id)[before:]

    async def press(self, message: SentMessage, *, text: str | None = None, data: str | None = None) -> dict[str, Any]:
        """Press a button of a bot message; returns the answerCallbackQuery parameters."""
        query_id = await self.api.press_button(
            self.chat_id, message.message_id, text=text, data=data, user_id=self.user_id
        )
        answer = await self.api.wait_for_callback_answer(query_id)
        await self.api.wait_idle()
        return answer

    @property
    def last(self) -> SentMessage:
        return self.api.last_message(self.chat_id)


def button_data(message: SentMessage) -> list[str]:
    return [b["callback_data"] for b in message.buttons() if "callback_data" in b]


@pytest.fixture
def alice(bot: LocalBot) -> Chat:
    """A private chat with a simplified-script user."""
    return Chat(bot.api, bot.api.add_private_chat(1001, "Alice", language_code="zh-hans"), 1001)


@pytest.fixture
def bob(bot: LocalBot) -> Chat:
    """A private chat with a traditional-script user (zh-hant client)."""
    return Chat(bot.api, bot.api.add_private_chat(1002, "Bob", language_code="zh-hant"), 1002)
