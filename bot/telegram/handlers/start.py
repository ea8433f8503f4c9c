"""/start (with deep links to paper cards), /help, unknown commands."""

from __future__ import annotations

from telegram import Update

from bot.telegram import render
from bot.telegram.context import Context, services
from bot.telegram.handlers.common import prepare, send
from bot.telegram.handlers.papers import show_paper, subscribed_topics


async def start(update: Update, context: Context) -> None:
    """/start [payload]: introduction and topic buttons; a payload opens a paper card."""
    script = await prepare(update, context)
    chat = update.effective_chat
    if chat is None:
        return
    if context.args:
        await show_paper(update, context, render.parse_deep_link(context.args[0]), script)
        return
    svc = services(context)
    counts = await svc.catalogue.topics()
    reply = render.start(script, counts, await subscribed_topics(context, chat.id), await svc.catalogue.count())
    await send(update, context, reply)


async def help_command(update: Update, context: Context) -> None:
    """/help: every command with an example."""
    script = await prepare(update, context)
    await send(update, context, render.help_text(script))


async def unknown(update: Update, context: Context) -> None:
    """A command this bot does not know (in private chats only, so groups are not spammed)."""
    chat = update.effective_chat
    if chat is None or chat.type != "private":
        return
    script = await prepare(update, context)
    await send(update, context, render.unknown_command(script))
