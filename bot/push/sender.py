"""The one boundary between the push machinery and Telegram: two coroutines that render and send.

Implementations raise the exceptions of bot.push.errors for Telegram's refusals; any other exception
counts as a failed message (logged, not retried).
"""

from __future__ import annotations

from typing import Protocol

from bot.catalogue.model import Paper
from bot.model import Subscription
from bot.text.normalize import Script


class Sender(Protocol):
    """Sends push messages to one chat each."""

    async def send_paper(self, chat_id: int, script: Script, paper: Paper, subscription: Subscription) -> None:
        """One paper card, labelled with the subscription that brought it."""
        ...

    async def send_exhausted(self, chat_id: int, script: Script, subscription: Subscription, total: int) -> None:
        """The one-time notice: all `total` papers of this subscription are read; more come as the catalogue grows."""
        ...
