"""Last-resort error handling: log without the token, apologise to the user, keep serving."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Conflict, Forbidden, NetworkError, TelegramError

from bot.telegram import render
from bot.telegram.context import Context, services
from bot.telegram.handlers.answer import answer, answered, forget, is_expired
from bot.telegram.handlers.common import send
from bot.text.normalize import Script

log = logging.getLogger(__name__)
STOPPED_BY_CONFLICT = "stopped-by-conflict"  # bot_data flag: runner.py turns it into a one-line exit


async def on_error(update: object, context: Context) -> None:
    """Log the exception (the redacting log filter strips tokens) and tell the user, in their script."""
    error = context.error
    if update is None and isinstance(error, Conflict):
        # getUpdates answered 409: another instance polls with this token. Retrying would only make the
        # two instances steal each other's updates, so stop (runner.py explains in one line).
        context.bot_data[STOPPED_BY_CONFLICT] = True
        context.application.stop_running()
        return
    if update is None and isinstance(error, NetworkError):
        log.warning("polling failed, retrying: %s: %s", type(error).__name__, error)
        return
    if is_expired(error):
        # A query answered after Telegram's deadline (the bot was down or slow): nothing to apologise for.
        log.info("expired query: %s", error)
        return
    log.error("handler failed: %s: %s", type(error).__name__, error, exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None or isinstance(error, Forbidden):
        return
    try:
        await _apologise(update, context)
    finally:
        forget(update, context)


async def _apologise(update: Update, context: Context) -> None:
    chat = update.effective_chat
    assert chat is not None
    script = Script.SIMPLIFIED
    try:
        script = await services(context).chats.script(chat.id)
    except Exception:  # the database may be what failed; the apology must still go out
        log.warning("could not read the chat's script for the apology")
    apology = render.apology(script)
    try:
        unanswered = update.callback_query is not None and not answered(update, context)
        if unanswered and not await answer(update, context, apology.text):
            return  # an expired button press: never an apology for it
        await send(update, context, apology)
    except TelegramError as exc:
        log.warning("could not send the apology: %s", exc)
