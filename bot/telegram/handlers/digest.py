"""/today: the chat's digest right now, through the same delivery log as the daily push."""

from __future__ import annotations

from telegram import Update

from bot.telegram import render
from bot.telegram.context import Context, services
from bot.telegram.handlers.common import prepare, send


async def today(update: Update, context: Context) -> None:
    """/today: send the chat's digest now; the daily push will not repeat these papers."""
    script = await prepare(update, context)
    chat = update.effective_chat
    if chat is None:
        return
    svc = services(context)
    subs = await svc.chats.subscriptions(chat.id)
    if not subs:
        await send(update, context, render.today_empty(script, has_subscriptions=False))
        return
    result = await svc.push.today(chat.id)
    if result.busy:
        await send(update, context, render.today_busy(script))
    elif result.sent == 0 and not result.notified:
        # Nothing new, and any "all read" notice was given before: still answer the command.
        await send(update, context, render.today_empty(script, has_subscriptions=True))
