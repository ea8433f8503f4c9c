"""/topics, /subscribe, /unsubscribe, /subscriptions, and the topic and keyword buttons."""

from __future__ import annotations

from telegram import Update

from bot.model import Subscription, SubscriptionKind
from bot.services.chats import SubscribeOutcome, SubscribeStatus
from bot.telegram import render
from bot.telegram.callbacks import Action, Callback
from bot.telegram.context import Context, services
from bot.telegram.handlers.answer import answer
from bot.telegram.handlers.common import argument, edit, may_change_settings, prepare, send, settings_chat, thread_of
from bot.telegram.handlers.papers import subscribed_topics
from bot.text.normalize import Script

TOPIC_PREVIEW = 5


async def topics_reply(context: Context, chat_id: int, script: Script) -> render.Reply:
    """The topic list with this chat's toggles."""
    counts = await services(context).catalogue.topics()
    return render.topics_list(counts, await subscribed_topics(context, chat_id), script)


async def topics(update: Update, context: Context) -> None:
    """/topics: every topic with its paper count and a toggle."""
    script = await prepare(update, context)
    chat = update.effective_chat
    if chat is not None:
        await send(update, context, await topics_reply(context, chat.id, script))


async def _outcome_reply(context: Context, chat_id: int, outcome: SubscribeOutcome, script: Script) -> render.Reply:
    svc = services(context)
    if outcome.status is SubscribeStatus.UNKNOWN:
        query_id = await svc.chats.remember_query(outcome.keyword) if outcome.keyword else None
        return render.unknown_topic(outcome.keyword or "", outcome.suggestions, query_id, script)
    if outcome.subscription is None:
        return render.subscribe_usage(script)
    return render.subscribed(outcome.subscription, str(outcome.status), script, limit=svc.settings.max_subscriptions)


async def subscribe(update: Update, context: Context) -> None:
    """/subscribe <topic or words>: follow a topic (any script or case), or offer a keyword."""
    allowed = await settings_chat(update, context)
    if allowed is None:
        return
    script, chat_id = allowed
    text = argument(context)
    if not text.strip():
        await send(update, context, render.subscribe_usage(script))
        await send(update, context, await topics_reply(context, chat_id, script))
        return
    outcome = await services(context).chats.subscribe(chat_id, text)
    if outcome.status in (SubscribeStatus.ADDED, SubscribeStatus.ALREADY):
        await push_here(update, context)
    await send(update, context, await _outcome_reply(context, chat_id, outcome, script))


async def push_here(update: Update, context: Context) -> None:
    """In a forum, the daily push goes to the topic where the chat last subscribed (None: General)."""
    chat, threads = update.effective_chat, services(context).threads
    if chat is not None and chat.is_forum and threads is not None:
        await threads.set(chat.id, thread_of(update))


async def _unsubscribe_menu(context: Context, chat_id: int, script: Script) -> render.Reply:
    svc = services(context)
    subs = await svc.chats.subscriptions(chat_id)
    entries: list[tuple[Subscription, int | None]] = []
    for sub in subs:
        query_id = await svc.chats.remember_query(sub.value) if sub.kind is SubscriptionKind.KEYWORD else None
        entries.append((sub, query_id))
    return render.unsubscribe_menu(entries, script)


async def unsubscribe(update: Update, context: Context) -> None:
    """/unsubscribe [topic or keyword]: stop following; without a name, buttons of current ones."""
    allowed = await settings_chat(update, context)
    if allowed is None:
        return
    script, chat_id = allowed
    text = argument(context)
    if not text.strip():
        await send(update, context, await _unsubscribe_menu(context, chat_id, script))
        return
    outcome = await services(context).chats.unsubscribe(chat_id, text)
    if outcome.status is SubscribeStatus.NOT_SUBSCRIBED and outcome.subscription is None:
        await send(update, context, await _unsubscribe_menu(context, chat_id, script))
        return
    await send(update, context, await _outcome_reply(context, chat_id, outcome, script))


async def subscriptions(update: Update, context: Context) -> None:
    """/subscriptions: what the chat follows, its delivery time and timezone."""
    await prepare(update, context)
    chat = update.effective_chat
    if chat is None:
        return
    effective = await services(context).chats.effective(chat.id)
    if effective is None:
        return
    await send(
        update,
        context,
        render.subscriptions_overview(
            effective.subscriptions,
            effective.push_time,
            effective.timezone,
            effective.chat.next_push_at,
            effective.script,
            active=effective.chat.active,
        ),
    )


async def on_topic_button(update: Update, context: Context, data: Callback, script: Script) -> None:
    """Topic buttons: toggle in a list (edits it), subscribe, unsubscribe, or view a topic.

    The press is answered before anything changes: an expired press (answer refused) changes nothing."""
    svc = services(context)
    chat = update.effective_chat
    if chat is None:
        return
    if data.action is Action.TOPICS:
        if await answer(update, context):
            await send(update, context, await topics_reply(context, chat.id, script))
        return
    topic = svc.catalogue.taxonomy.resolve(data.arg)
    name = topic.name if topic else None
    if name is None and await svc.catalogue.topic_size(data.arg) > 0:
        name = data.arg  # a catalogue topic that config/topics.toml does not list
    if name is None:
        await answer(update, context, render.stale_button(script), alert=True)
        return
    if data.action is Action.TOPIC_VIEW:
        if await answer(update, context):
            await send(update, context, await topic_view_reply(context, chat.id, name, script))
        return
    if not await may_change_settings(update, context):
        await answer(update, context, render.admins_only(script), alert=True)
        return
    subscription = Subscription(SubscriptionKind.TOPIC, name)
    subs = await svc.chats.subscriptions(chat.id)
    followed = subscription in subs
    want = not followed if data.action is Action.TOPIC_TOGGLE else data.action is Action.TOPIC_SUBSCRIBE
    limit = svc.settings.max_subscriptions
    if want and not followed and len(subs) >= limit:
        await answer(update, context, render.subscribed(subscription, "limit", script, limit=limit).text, alert=True)
        return
    done = render.subscribed(subscription, "added" if want else "removed", script)
    if not await answer(update, context, done.text):
        return  # pressed while the bot was down: dropped, nothing changed
    if want and not followed:
        outcome = await svc.chats.add(chat.id, subscription)
        if outcome.status is SubscribeStatus.LIMIT:  # another admin filled the list meanwhile
            await send(update, context, render.subscribed(subscription, "limit", script, limit=limit))
            return
        await push_here(update, context)
    elif not want and followed:
        await svc.chats.remove(chat.id, subscription)
    if data.action is Action.TOPIC_TOGGLE:
        await edit(update, context, await topics_reply(context, chat.id, script))
    elif data.action is Action.TOPIC_UNSUBSCRIBE or want:
        await send(update, context, done)


async def topic_view_reply(context: Context, chat_id: int, name: str, script: Script) -> render.Reply:
    """A topic's newest papers with a subscribe toggle."""
    svc = services(context)
    papers = await svc.catalogue.topic_papers(name, limit=TOPIC_PREVIEW)
    followed = name in await subscribed_topics(context, chat_id)
    return render.topic_view(name, await svc.catalogue.topic_size(name), papers, followed, script)


async def on_keyword_button(update: Update, context: Context, data: Callback, script: Script) -> None:
    """Follow or stop following a keyword offered by an earlier answer."""
    svc = services(context)
    chat, query = update.effective_chat, update.callback_query
    if chat is None or query is None:
        return
    keyword = await svc.chats.query_by_id(int(data.arg))
    if keyword is None:
        await answer(update, context, render.stale_button(script), alert=True)
        return
    if not await may_change_settings(update, context):
        await answer(update, context, render.admins_only(script), alert=True)
        return
    if not await answer(update, context):
        return  # pressed while the bot was down: dropped, nothing changed
    if data.action is Action.KEYWORD_SUBSCRIBE:
        outcome = await svc.chats.subscribe_keyword(chat.id, keyword)
        if outcome.status is SubscribeStatus.ADDED:
            await push_here(update, context)
    else:
        removed = await svc.chats.remove(chat.id, Subscription(SubscriptionKind.KEYWORD, keyword))
        status = SubscribeStatus.REMOVED if removed else SubscribeStatus.NOT_SUBSCRIBED
        outcome = SubscribeOutcome(status, Subscription(SubscriptionKind.KEYWORD, keyword))
    await send(update, context, await _outcome_reply(context, chat.id, outcome, script))
