"""What real Telegram expects of the bot, end to end: every button answered once in plain text, the throttle
counting requests only, inline paging that ends, forum topics, and button presses that expired."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from telegram import Update

from bot.config import Settings
from bot.telegram.local import LocalBot, running_locally
from tests.telegram.conftest import E2E_LIMITS, Chat

GROUP, FORUM = -100700, -100800
ADMIN, MEMBER = 3001, 3002


class Clock:
    """The local Bot API's clock, moved by the test (deadlines of queries and queued updates)."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def timed_bot(settings: Settings, seeded: object, clock: Clock) -> AsyncIterator[LocalBot]:
    async with running_locally(settings, limits=E2E_LIMITS, clock=clock) as local:
        yield local


async def downtime(local: LocalBot) -> None:
    """Stop polling (the bot is down): updates queue up on the server until `back_up`."""
    await local.api.wait_idle()
    assert local.application.updater is not None
    await local.application.updater.stop()


async def back_up(local: LocalBot) -> None:
    assert local.application.updater is not None
    await local.application.updater.start_polling(poll_interval=0.0, timeout=10, allowed_updates=Update.ALL_TYPES)
    await local.settle()  # the queued updates fetched, and handled


# --- callbacks: answered exactly once, in plain text ------------------------------------------------------


async def test_the_topic_list_button_stops_the_spinner(bot: LocalBot, alice: Chat) -> None:
    [menu] = await alice.say("/unsubscribe")
    answer = await alice.press(menu, data="ts_all")  # times out if the query is never answered
    assert "text" not in answer or answer["text"]
    assert "量化" in alice.last.text  # and the topic list came


async def test_callback_answers_are_plain_text(bot: LocalBot, alice: Chat, settings: Settings) -> None:
    # A catalogue topic whose name holds HTML's special characters (topics.toml does not list it).
    with sqlite3.connect(settings.database) as conn:
        conn.execute(
            "INSERT INTO paper_topics (topic, paper_id, source) SELECT 'R&D <AI>', id, 'rule' FROM papers LIMIT 1"
        )
    [topics] = await alice.say("/topics")
    query_id = await bot.api.forge_callback(alice.chat_id, topics.message_id, "ts:R&D <AI>", alice.user_id)
    answer = await bot.api.wait_for_callback_answer(query_id)
    await bot.api.wait_idle()
    assert "R&D <AI>" in answer["text"] and "&amp;" not in answer["text"] and "&lt;" not in answer["text"]
    assert "parse_mode" not in answer


async def test_every_callback_is_answered_exactly_once(bot: LocalBot, alice: Chat) -> None:
    [topics] = await alice.say("/topics")
    for data in ("tt:量化", "tv:量化", "ts_all", "noop", "x:1"):
        await alice.press(topics, data=data) if data.startswith("tt") else await bot.api.wait_for_callback_answer(
            await bot.api.forge_callback(alice.chat_id, topics.message_id, data, alice.user_id)
        )
    await bot.api.wait_idle()
    answers = [e for e in bot.api.journal if e.method == "answerCallbackQuery"]
    ids = [e.params["callback_query_id"] for e in answers]
    assert len(ids) == len(set(ids)) == 5
    # (the bot fixture's zero-errors check also covers queries left unanswered: the server journals them)


# --- throttle ---------------------------------------------------------------------------------------------


async def test_group_chatter_does_not_use_up_the_throttle(bot: LocalBot) -> None:
    # The bot is an admin, so Telegram shows it every message of the group.
    bot.api.add_group(GROUP, "读书会", admins=[ADMIN], members=[MEMBER], supergroup=True, bot_is_admin=True)
    for i in range(bot.settings.commands_per_minute + 5):
        await bot.api.send_text(GROUP, MEMBER, f"今天读了第 {i} 篇论文")
    await bot.api.wait_idle()
    admin = Chat(bot.api, GROUP, ADMIN)
    [reply] = await admin.say("/help")
    assert "/subscribe" in reply.text


# --- inline mode --------------------------------------------------------------------------------------------


async def test_inline_scrolling_ends_and_never_repeats(bot: LocalBot, alice: Chat) -> None:
    answers = await bot.api.inline_scroll(alice.user_id, "model")  # LookupError if it never ends
    assert len(answers) >= 2, "the catalogue has more than one page of matches for 'model'"
    ids = [r["id"] for a in answers for r in a["results"]]
    titles = [r["title"] for a in answers for r in a["results"]]
    assert len(titles) == len(set(titles)) and len(ids) == len(set(ids))
    assert not answers[-1].get("next_offset")
    # The cards follow the sender's script: Telegram must not serve one user's cached answer to another.
    assert all(a.get("is_personal") is True for a in answers)


async def test_inline_offset_the_bot_never_gave_ends_the_list(bot: LocalBot, alice: Chat) -> None:
    query_id = await bot.api.inline_query(alice.user_id, "model", offset="[]")
    answer = await bot.api.wait_for_inline_answer(query_id)
    assert answer["results"] == [] and not answer.get("next_offset")


# --- forums -------------------------------------------------------------------------------------------------


async def test_forum_replies_go_to_the_topic_they_came_from(bot: LocalBot) -> None:
    bot.api.add_group(FORUM, "论文组", admins=[ADMIN], members=[MEMBER], forum=True)
    papers = bot.api.add_topic(FORUM, "论文")
    await bot.api.send_text(FORUM, ADMIN, "/paper 2404.07965", thread=papers)
    [card] = await bot.api.wait_for_messages(FORUM, 1)
    assert card.message_thread_id == papers
    await bot.api.send_text(FORUM, MEMBER, "/help")  # in General
    _, help_reply = await bot.api.wait_for_messages(FORUM, 2)
    assert help_reply.message_thread_id is None
    # A button pressed in the topic answers into the topic too.
    query_id = await bot.api.press_button(
        FORUM, card.message_id, text=None, data=card.buttons()[0]["callback_data"], user_id=MEMBER
    )
    await bot.api.wait_for_callback_answer(query_id)
    await bot.api.wait_idle()
    assert all(m.message_thread_id == papers for m in bot.api.messages(FORUM)[2:])


# --- after downtime ---------------------------------------------------------------------------------------


async def test_expired_button_press_is_dropped_quietly(timed_bot: LocalBot, clock: Clock) -> None:
    api = timed_bot.api
    alice = Chat(api, api.add_private_chat(1101, "Alice"), 1101)
    [topics] = await alice.say("/topics")
    await downtime(timed_bot)
    await api.press_button(alice.chat_id, topics.message_id, data="tt:量化", user_id=alice.user_id)
    clock.now += 60  # delivered after the restart (Telegram keeps presses 150 s), past the answer deadline
    await back_up(timed_bot)
    sent = api.messages(alice.chat_id)
    assert len(sent) == 1 and sent[0].edited == 0, "no apology, no edit"
    errors = api.errors()
    assert [(e.method, e.description) for e in errors] == [
        ("answerCallbackQuery", "Bad Request: query is too old and response timeout expired or query ID is invalid")
    ]
    [overview] = await alice.say("/subscriptions")
    assert "（无）" in overview.text  # nothing changed


async def test_late_commands_are_answered(timed_bot: LocalBot, clock: Clock) -> None:
    api = timed_bot.api
    alice = Chat(api, api.add_private_chat(1102, "Alice"), 1102)
    await downtime(timed_bot)
    await api.send_text(alice.chat_id, alice.user_id, "/paper 2404.07965")
    clock.now += 3600
    await back_up(timed_bot)
    [card] = api.messages(alice.chat_id)
    assert "Rho-1" in card.text
    assert api.errors() == []


async def test_a_forums_daily_push_goes_to_the_topic_where_it_subscribed(bot: LocalBot) -> None:
    bot.api.add_group(FORUM, "论文组", admins=[ADMIN], members=[MEMBER], forum=True)
    papers = bot.api.add_topic(FORUM, "每日论文")
    await bot.api.send_text(FORUM, ADMIN, "/subscribe 量化", thread=papers)
    [confirmed] = await bot.api.wait_for_messages(FORUM, 1)
    assert confirmed.message_thread_id == papers
    svc = bot.application.bot_data["services"]
    push = svc.push

    async def push_time() -> datetime:
        chat = await svc.chats.get(FORUM)
        return datetime.fromtimestamp(chat.next_push_at, UTC)

    report = await push.tick(await push_time())
    await bot.api.wait_idle()
    pushed = bot.api.messages(FORUM)[1:]
    assert pushed and all(m.message_thread_id == papers for m in pushed), report
    # An admin deletes the topic: the next push goes to General instead of failing every day.
    bot.api.delete_topic(FORUM, papers)
    before = len(bot.api.messages(FORUM))
    await push.tick(await push_time())
    await bot.api.wait_idle()
    later = bot.api.messages(FORUM)[before:]
    assert later and all(m.message_thread_id is None for m in later)
    assert [e.description for e in bot.api.take_errors()] == ["Bad Request: message thread not found"]


async def test_late_inline_queries_are_dropped_without_fuss(timed_bot: LocalBot, clock: Clock) -> None:
    api = timed_bot.api
    await downtime(timed_bot)
    gone = await api.inline_query(1103, "model")  # Telegram keeps an inline query 30 s
    clock.now += 31
    late = await api.inline_query(1103, "quantization")
    clock.now += 20  # delivered, but past the answer deadline by the time the bot is back
    await back_up(timed_bot)
    assert gone not in api.inline_answers and late not in api.inline_answers
    # The one refused answer is the only trace: no crash, no apology anywhere.
    assert [(e.method, e.error_code) for e in api.take_errors()] == [("answerInlineQuery", 400)]
    assert all(not api.messages(chat) for chat in (1103,))
