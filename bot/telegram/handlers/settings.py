"""/time and /lang, and the script buttons."""

from __future__ import annotations

from telegram import Update

from bot.services.chats import TimeStatus
from bot.telegram import render
from bot.telegram.callbacks import Callback
from bot.telegram.context import Context, services
from bot.telegram.handlers.answer import answer
from bot.telegram.handlers.common import argument, edit, may_change_settings, prepare, send
from bot.text.normalize import Script, fold

# What /lang accepts for each script, folded (simplified, lower case).
_SCRIPT_WORDS = {
    Script.TRADITIONAL: {"繁", "繁体", "繁体中文", "正体", "hant", "zh-hant", "tw", "zh-tw", "traditional", "台湾"},
    Script.HONG_KONG: {"港", "香港", "繁体（香港）", "繁体(香港)", "港繁", "hk", "zh-hk", "hant-hk", "hong kong"},
    Script.SIMPLIFIED: {"简", "简体", "简体中文", "hans", "zh-hans", "cn", "simplified"},
}


async def set_time(update: Update, context: Context) -> None:
    """/time HH:MM [Area/City]: when the daily push arrives."""
    script = await prepare(update, context)
    chat = update.effective_chat
    if chat is None:
        return
    svc = services(context)
    text = argument(context)
    effective = await svc.chats.effective(chat.id)
    current = (effective.push_time, effective.timezone) if effective else None
    if not text.strip():
        await send(update, context, render.time_error("usage", "", current, script))
        return
    if not await may_change_settings(update, context):
        await send(update, context, render.plain(render.admins_only(script), script))
        return
    outcome = await svc.chats.set_time(chat.id, text)
    if outcome.status is TimeStatus.OK and outcome.push_time and outcome.timezone:
        await send(update, context, render.time_set(outcome.push_time, outcome.timezone, outcome.next_push_at, script))
        return
    parts = text.split()
    given = parts[1] if outcome.status is TimeStatus.BAD_TIMEZONE and len(parts) > 1 else text
    await send(update, context, render.time_error(str(outcome.status), given, current, script))


async def lang(update: Update, context: Context) -> None:
    """/lang [繁|港|简]: switch the chat between traditional (Taiwan or Hong Kong) and simplified script."""
    script = await prepare(update, context)
    chat = update.effective_chat
    if chat is None:
        return
    word = fold(argument(context)).strip()
    chosen = next((s for s, words in _SCRIPT_WORDS.items() if word in words), None)
    if chosen is None:
        await send(update, context, render.lang_menu(script))
        return
    if not await may_change_settings(update, context):
        await send(update, context, render.plain(render.admins_only(script), script))
        return
    await services(context).chats.set_script(chat.id, chosen)
    await send(update, context, render.lang_set(chosen))


async def on_lang_button(update: Update, context: Context, data: Callback, script: Script) -> None:
    """繁體 / 繁體（香港）/ 简体 buttons."""
    chat, query = update.effective_chat, update.callback_query
    if chat is None or query is None:
        return
    if not await may_change_settings(update, context):
        await answer(update, context, render.admins_only(script), alert=True)
        return
    if not await answer(update, context):
        return  # pressed while the bot was down: dropped, nothing changed
    chosen = Script(data.arg)
    await services(context).chats.set_script(chat.id, chosen)
    await edit(update, context, render.lang_set(chosen))
