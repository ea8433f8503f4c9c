"""One entry point for inline buttons: decode and validate the payload, then route by action."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update

from bot.telegram import callbacks, render
from bot.telegram.callbacks import Action, Callback
from bot.telegram.context import Context
from bot.telegram.handlers.answer import answer, forget
from bot.telegram.handlers.common import prepare
from bot.telegram.handlers.papers import on_paper_button, on_search_button
from bot.telegram.handlers.settings import on_lang_button
from bot.telegram.handlers.subscriptions import on_keyword_button, on_topic_button
from bot.telegram.handlers.translation import on_original_button
from bot.text.normalize import Script

Route = Callable[[Update, Context, Callback, Script], Awaitable[None]]

# Each route answers the callback query itself (an alert, a confirmation or an empty answer) before it changes
# anything; on_button answers whatever a route left unanswered.
_ROUTES: dict[Action, Route] = {
    Action.PAPER: on_paper_button,
    Action.SEARCH: on_search_button,
    Action.TOPIC_TOGGLE: on_topic_button,
    Action.TOPIC_SUBSCRIBE: on_topic_button,
    Action.TOPIC_UNSUBSCRIBE: on_topic_button,
    Action.TOPIC_VIEW: on_topic_button,
    Action.TOPICS: on_topic_button,
    Action.KEYWORD_SUBSCRIBE: on_keyword_button,
    Action.KEYWORD_UNSUBSCRIBE: on_keyword_button,
    Action.ORIGINAL: on_original_button,
    Action.TRANSLATED: on_original_button,
    Action.LANG: on_lang_button,
}


async def on_button(update: Update, context: Context) -> None:
    """Any inline button press."""
    query = update.callback_query
    if query is None:
        return
    script = await prepare(update, context)
    data = callbacks.decode(query.data)
    if data is None or data.action is Action.NOOP or query.message is None:
        # Stale, forged or foreign: say so and touch nothing.
        await answer(update, context, render.stale_button(script) if data is None else None)
    else:
        await _ROUTES[data.action](update, context, data, script)
        # Whatever a route left unanswered is answered now: the client's spinner must stop.
        await answer(update, context)
    # (When a route raises, errors.on_error answers if nobody did, and forgets.)
    forget(update, context)
