"""Answering a callback query: exactly once, in plain text, and an expired query is no error.

Telegram shows a spinner on the pressed button until the bot answers (answerCallbackQuery), and accepts one
answer per query, within a deadline. Every button handler answers through `answer`, and `buttons.on_button`
answers whatever a route left unanswered, so the spinner always stops and no query is answered twice.

An answer refused with "query is too old" means the press waited too long: the bot was down (Telegram keeps
button presses queued about 150 s, telegram-bot-api/Client.cpp:17155-17158) or slow. Handlers answer before they
change anything, and drop such a press quietly: no state change, no message, no apology. The user sees that
nothing happened and presses again.
"""

from __future__ import annotations

import html
import logging
import re

from telegram import Update
from telegram.error import BadRequest

from bot.telegram import render
from bot.telegram.context import Context

log = logging.getLogger(__name__)

MAX_ANSWER = 200  # characters Telegram shows in a callback answer (toast or alert)
_ANSWERED = "answered-callback-queries"  # bot_data key: ids answered during their update's handling
_TAG = re.compile(r"<[^>]*>")


def plain(text: str) -> str:
    """A callback answer from rendered HTML: answers have no parse mode, so tags and entities would show."""
    return render.cut(html.unescape(_TAG.sub("", text)), MAX_ANSWER)


def is_expired(error: BaseException | None) -> bool:
    """Telegram's answer to a callback (or inline) query answered too late or twice."""
    return isinstance(error, BadRequest) and "query is too old" in error.message.lower()


def _answered(context: Context) -> set[str]:
    found: set[str] = context.bot_data.setdefault(_ANSWERED, set())
    return found


def answered(update: Update, context: Context) -> bool:
    """Whether this update's callback query was answered already."""
    query = update.callback_query
    return query is not None and query.id in _answered(context)


async def answer(update: Update, context: Context, text: str | None = None, *, alert: bool = False) -> bool:
    """Answer the update's callback query once (later calls do nothing); False when Telegram says it expired."""
    query = update.callback_query
    if query is None or query.id in _answered(context):
        return query is not None
    _answered(context).add(query.id)
    try:
        await query.answer(plain(text) if text else None, show_alert=alert)
    except BadRequest as exc:
        if not is_expired(exc):
            raise
        log.info("dropped an expired button press (%s)", query.data)
        return False
    return True


def forget(update: Update, context: Context) -> None:
    """Release the bookkeeping once the update is handled."""
    query = update.callback_query
    if query is not None:
        _answered(context).discard(query.id)
