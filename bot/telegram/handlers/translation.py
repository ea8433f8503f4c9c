"""Machine translations in chats: the Chinese edited into a /paper card when it arrives, the English-original
button, and the background job that translates ahead of the push."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from telegram import Message, Update
from telegram.error import BadRequest, TelegramError

from bot.catalogue.model import Paper
from bot.model import SubscriptionKind
from bot.telegram import render
from bot.telegram.callbacks import Action, Callback
from bot.telegram.context import Context, services
from bot.telegram.handlers.answer import answer
from bot.telegram.handlers.common import edit
from bot.text.normalize import Script

log = logging.getLogger(__name__)


def will_translate(context: Context, paper: Paper) -> bool:
    """Whether a card of this paper can expect its Chinese soon (English only, a model configured)."""
    translation = services(context).translation
    return (
        translation is not None
        and not paper.abstract_zh
        and paper.machine is None
        and bool(paper.abstract_en)
        and not translation.paused()
    )


def edit_in_later(
    context: Context,
    message: Message | None,
    paper: Paper,
    script: Script,
    *,
    related: Sequence[Paper] = (),
    subscribed: frozenset[str] = frozenset(),
) -> None:
    """After an English card was sent: translate in the background and edit the Chinese into it."""
    if message is None or not will_translate(context, paper):
        return
    translation = services(context).translation
    assert translation is not None
    # The service owns the task (not the Application): shutdown cancels it instead of waiting for the model.
    translation.spawn(_edit_in(context, message, paper, script, related, subscribed))


async def _edit_in(
    context: Context,
    message: Message,
    paper: Paper,
    script: Script,
    related: Sequence[Paper],
    subscribed: frozenset[str],
) -> None:
    svc = services(context)
    translation = svc.translation
    if translation is None:
        return
    try:
        await asyncio.wait_for(asyncio.shield(translation.translate_now(paper.arxiv_id)), svc.settings.translation.wait)
    except TimeoutError:
        pass  # the translation goes on and is stored; this card drops its "translating" note
    except Exception:
        log.exception("translating %s for a card failed", paper.arxiv_id)
    fresh = await svc.catalogue.paper(paper.arxiv_id) or paper
    reply = render.paper_card(fresh, script, related=related, subscribed=subscribed)
    try:
        await context.bot.edit_message_text(
            reply.text,
            chat_id=message.chat_id,
            message_id=message.message_id,
            reply_markup=reply.keyboard,
            disable_web_page_preview=True,
        )
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            log.info("could not edit the card of %s: %s", paper.arxiv_id, exc)
    except TelegramError as exc:
        log.info("could not edit the card of %s: %s", paper.arxiv_id, exc)


async def on_original_button(update: Update, context: Context, data: Callback, script: Script) -> None:
    """🔤 / 🀄: switch a machine-translated card between its English original and the translation."""
    query = update.callback_query
    if query is None:
        return
    svc = services(context)
    lookup = await svc.catalogue.lookup(data.arg)
    if lookup.paper is None:
        await answer(update, context, render.stale_button(script), alert=True)
        return
    if not await answer(update, context):
        return
    chat = update.effective_chat
    subs = await svc.chats.subscriptions(chat.id) if chat is not None else []
    subscribed = frozenset(s.value for s in subs if s.kind is SubscriptionKind.TOPIC)
    via = None
    message = query.message
    if chat is not None and isinstance(message, Message) and "📬" in (message.text or ""):
        via = await svc.chats.pushed_via(chat.id, lookup.paper.arxiv_id)  # a pushed card keeps saying why
    reply = render.paper_card(
        lookup.paper,
        script,
        related=lookup.related,
        subscribed=subscribed,
        via=via,
        original=data.action is Action.ORIGINAL,
    )
    await edit(update, context, reply)


async def translate_tick(context: Context) -> None:
    """Background job: translate the next batch, papers about to be pushed first."""
    translation = services(context).translation
    if translation is None:
        return
    report = await translation.run_once()
    if report.attempted:
        log.info("translation batch: %s", report.summary())
