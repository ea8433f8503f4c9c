"""/paper, /search, paper and paging buttons, and inline mode."""

from __future__ import annotations

from uuid import uuid4

from telegram import InlineQueryResultArticle, InputTextMessageContent, Update

from bot.model import SubscriptionKind
from bot.services.catalogue import LookupStatus, clean_query
from bot.telegram import render
from bot.telegram.callbacks import Callback
from bot.telegram.context import Context, services
from bot.telegram.handlers.answer import answer
from bot.telegram.handlers.common import argument, edit, prepare, send
from bot.telegram.handlers.translation import edit_in_later, will_translate
from bot.telegram.sources import fetch_into
from bot.text.normalize import Script, script_for_language, to_script

INLINE_PAGE = 10


async def subscribed_topics(context: Context, chat_id: int) -> frozenset[str]:
    """Names of the topics a chat follows (to label topic buttons)."""
    subs = await services(context).chats.subscriptions(chat_id)
    return frozenset(s.value for s in subs if s.kind is SubscriptionKind.TOPIC)


async def show_paper(update: Update, context: Context, text: str, script: Script) -> None:
    """Answer with the card of the paper `text` names, or explain why not."""
    lookup = await services(context).catalogue.lookup(text)
    chat = update.effective_chat
    found = lookup.paper if lookup.status is LookupStatus.FOUND and chat is not None else None
    subscribed: frozenset[str] = frozenset()
    if found is not None and chat is not None:
        subscribed = await subscribed_topics(context, chat.id)
        reply = render.paper_card(
            found, script, related=lookup.related, subscribed=subscribed, translating=will_translate(context, found)
        )
    elif lookup.status is LookupStatus.NOT_IN_CATALOGUE and lookup.arxiv_id:
        refresh = services(context).refresh
        if refresh is not None:  # fetched from arXiv: "fetching…" now, edited into the card (bot.telegram.sources)
            waiting = await send(update, context, render.fetching(lookup.arxiv_id, refresh.queue_wait(), script))
            await fetch_into(context, waiting, lookup.arxiv_id, script)
            return
        reply = render.not_in_catalogue(lookup.arxiv_id, script)
    else:
        reply = render.paper_usage(script, text)
    message = await send(update, context, reply)
    if found is not None:  # English only: the Chinese is edited in when the model has written it
        edit_in_later(context, message, found, script, related=lookup.related, subscribed=subscribed)


async def paper(update: Update, context: Context) -> None:
    """/paper <arXiv ID or link>: the paper card."""
    script = await prepare(update, context)
    text = argument(context)
    if not text.strip():
        await send(update, context, render.paper_usage(script))
        return
    await show_paper(update, context, text, script)


async def search_reply(
    context: Context, query: str, page: int, script: Script, *, broaden: bool = False
) -> render.Reply:
    """The rendered search page for a query."""
    svc = services(context)
    size = svc.settings.search_page_size
    result = await svc.catalogue.search(query, page=page, page_size=size, broaden=broaden)
    if not result.hits:
        if page > 0:
            # A later page that became empty (catalogue changed): fall back to the first one.
            return await search_reply(context, query, 0, script, broaden=broaden)
        return render.search_empty(result.query, [t.name for t in result.suggestions], script)
    query_id = await svc.chats.remember_query(result.query)
    return render.search_page(
        result.query,
        query_id,
        page,
        result.hits,
        result.has_more,
        script,
        broadened=result.broadened,
        page_size=size,
    )


async def search(update: Update, context: Context) -> None:
    """/search <words>: ranked results, five per page."""
    script = await prepare(update, context)
    query = clean_query(argument(context))
    if not query:
        await send(update, context, render.search_usage(script))
        return
    await send(update, context, await search_reply(context, query, 0, script))


async def on_paper_button(update: Update, context: Context, data: Callback, script: Script) -> None:
    """A button that opens a paper card (sent as a new message, so results stay in place)."""
    if await answer(update, context):
        await show_paper(update, context, data.arg, script)


async def on_search_button(update: Update, context: Context, data: Callback, script: Script) -> None:
    """◀ ▶: edit the results message to another page."""
    callback = update.callback_query
    if callback is None:
        return
    query = await services(context).chats.query_by_id(int(data.arg))
    if query is None:
        await answer(update, context, render.stale_button(script), alert=True)
        return
    if not await answer(update, context):
        return
    await edit(update, context, await search_reply(context, query, data.page, script, broaden=data.flag))


async def inline_query(update: Update, context: Context) -> None:
    """@bot <words>: matching papers whose result posts a paper card."""
    query = update.inline_query
    if query is None:
        return
    script = script_for_language(query.from_user.language_code)
    text = clean_query(query.query)
    svc = services(context)
    page = _inline_page(query.offset)
    if not text or page is None:
        # Nothing typed, or an offset this bot never gave out: an empty last page ends the scrolling.
        await query.answer([], cache_time=5, is_personal=True, next_offset=None)
        return
    result = await svc.catalogue.search(text, page=page, page_size=INLINE_PAGE)
    results = []
    for hit in result.hits:
        reply = render.paper_card(hit.paper, script)
        results.append(
            InlineQueryResultArticle(
                id=uuid4().hex,
                title=render.cut(hit.paper.title_en, 200),
                description=render.cut(
                    to_script(hit.paper.title_zh or render.snippet(hit.paper.abstract_zh, text), script), 200
                ),
                input_message_content=InputTextMessageContent(
                    reply.text, parse_mode="HTML", disable_web_page_preview=True
                ),
            )
        )
    # No more results: next_offset must be None. An empty string goes out as "[]" with python-telegram-bot's
    # Defaults, clients then ask for page "[]", and scrolling repeats page 0 forever.
    # is_personal: the cards follow the sender's script, so Telegram must not serve one user's answer to another.
    next_offset = str(page + 1) if result.has_more else None
    await query.answer(results, cache_time=30, is_personal=True, next_offset=next_offset)


def _inline_page(offset: str) -> int | None:
    """The page an inline query's offset names: 0 for the first request, None for an offset we never sent."""
    if not offset:
        return 0
    return int(offset) if offset.isascii() and offset.isdigit() and len(offset) <= 4 else None
