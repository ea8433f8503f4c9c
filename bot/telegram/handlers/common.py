"""Helpers every handler uses: the chat's script, sending a Reply, the group-admin rule."""

from __future__ import annotations

import time

from telegram import Chat, Message, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest

from bot.telegram import render
from bot.telegram.context import Context, services
from bot.telegram.render import Reply
from bot.text.normalize import Script, script_for_language

_ADMIN_CACHE_SECONDS = 60.0
_ADMIN_STATUSES = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}


async def prepare(update: Update, context: Context) -> Script:
    """Register the chat on first contact (reactivating it) and return its script."""
    chat = update.effective_chat
    if chat is None:
        user = update.effective_user
        return script_for_language(user.language_code if user else None)
    user = update.effective_user
    settings = await services(context).chats.ensure(chat.id, chat.type, user.language_code if user else None)
    return settings.script or Script.SIMPLIFIED


async def send(update: Update, context: Context, reply: Reply) -> Message | None:
    """Send a reply into the update's chat, in the forum topic it came from (no link previews)."""
    chat = update.effective_chat
    if chat is None:
        return None
    return await context.bot.send_message(
        chat.id,
        reply.text,
        reply_markup=reply.keyboard,
        message_thread_id=thread_of(update),
        disable_web_page_preview=True,
    )


def thread_of(update: Update) -> int | None:
    """The forum topic the update happened in; None for General and chats without topics.

    Without it a reply in a forum lands in General, not where the user wrote. Only topic messages count:
    message_thread_id also marks reply threads in ordinary supergroups (telegram-bot-api Client.cpp:18436-18437)."""
    message = update.effective_message
    if isinstance(message, Message) and message.is_topic_message and message.message_thread_id:
        return message.message_thread_id
    return None


async def edit(update: Update, context: Context, reply: Reply) -> None:
    """Replace the text of the message whose button was pressed; identical content is not an error."""
    query = update.callback_query
    if query is None or query.message is None:
        await send(update, context, reply)
        return
    try:
        await query.edit_message_text(reply.text, reply_markup=reply.keyboard, disable_web_page_preview=True)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


def argument(context: Context) -> str:
    """Everything after the command, as typed (args split on whitespace lose nothing we need)."""
    return " ".join(context.args or [])


def is_group(chat: Chat | None) -> bool:
    """Groups and supergroups (where settings belong to admins)."""
    return chat is not None and chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


async def settings_chat(update: Update, context: Context) -> tuple[Script, int] | None:
    """For commands that change the chat's settings: its script and id, or None once the sender has
    been told that only group administrators may."""
    script = await prepare(update, context)
    chat = update.effective_chat
    if chat is None:
        return None
    if not await may_change_settings(update, context):
        await send(update, context, render.plain(render.admins_only(script), script))
        return None
    return script, chat.id


async def may_change_settings(update: Update, context: Context) -> bool:
    """Anyone in a private chat; only administrators (or the group itself, anonymously) in groups."""
    chat, user = update.effective_chat, update.effective_user
    if not is_group(chat):
        return True
    assert chat is not None
    message = update.effective_message
    if message is not None and message.sender_chat is not None and message.sender_chat.id == chat.id:
        return True  # an anonymous administrator posts as the group itself
    if user is None:
        return False
    cache: dict[tuple[int, int], tuple[float, bool]] = context.bot_data.setdefault("admin_cache", {})
    key = (chat.id, user.id)
    cached = cache.get(key)
    now = time.monotonic()
    if cached and now - cached[0] < _ADMIN_CACHE_SECONDS:
        return cached[1]
    member = await context.bot.get_chat_member(chat.id, user.id)
    allowed = member.status in _ADMIN_STATUSES
    cache[key] = (now, allowed)
    return allowed
