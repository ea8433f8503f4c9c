"""The push Sender over python-telegram-bot: renders cards and turns Telegram errors into push errors."""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.catalogue.model import Paper
from bot.model import Subscription
from bot.push.errors import ChatMoved, ChatUnavailable, RetryLater, TransientError
from bot.storage.threads import PushThreads
from bot.telegram import render
from bot.text.normalize import Script

log = logging.getLogger(__name__)
_GONE = ("chat not found", "user not found", "chat_write_forbidden", "have no rights to send", "not enough rights")


class TelegramSender:
    """Sends push messages with a python-telegram-bot `Bot`; in forums, into the chat's push topic."""

    def __init__(self, bot: Bot, threads: PushThreads | None = None) -> None:
        self._bot = bot
        self._threads = threads

    async def _send(self, chat_id: int, reply: render.Reply) -> None:
        thread = await self._threads.get(chat_id) if self._threads is not None else None
        try:
            try:
                await self._bot.send_message(chat_id, reply.text, reply_markup=reply.keyboard, message_thread_id=thread)
            except BadRequest as exc:
                if thread is None or "thread not found" not in exc.message.lower() or self._threads is None:
                    raise
                # The topic was deleted (telegram-bot-api: "message thread not found"): General from now on.
                log.info("push topic %s of chat %s is gone; sending to General", thread, chat_id)
                await self._threads.set(chat_id, None)
                await self._bot.send_message(chat_id, reply.text, reply_markup=reply.keyboard)
        except RetryAfter as exc:
            seconds = exc.retry_after
            raise RetryLater(seconds if isinstance(seconds, int | float) else seconds.total_seconds()) from exc
        except ChatMigrated as exc:
            raise ChatMoved(exc.new_chat_id) from exc
        except Forbidden as exc:
            raise ChatUnavailable(exc.message) from exc
        except BadRequest as exc:
            if any(marker in exc.message.lower() for marker in _GONE):
                raise ChatUnavailable(exc.message) from exc
            raise
        except (TimedOut, NetworkError) as exc:
            # NetworkError covers connection failures and 5xx answers from the Bot API.
            raise TransientError(str(exc)) from exc

    async def send_paper(self, chat_id: int, script: Script, paper: Paper, subscription: Subscription) -> None:
        """One pushed paper card, labelled with the subscription that brought it."""
        followed = frozenset({subscription.value})
        await self._send(chat_id, render.paper_card(paper, script, subscribed=followed, via=subscription))

    async def send_exhausted(self, chat_id: int, script: Script, subscription: Subscription, total: int) -> None:
        """The one-time notice that a subscription has nothing new left."""
        await self._send(chat_id, render.exhausted(subscription, total, script))
