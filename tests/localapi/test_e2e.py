"""A real python-telegram-bot Application polling LocalBotApi, driven the way users drive a bot.

Proves the server is good enough for end-to-end tests: start-up (getMe, deleteWebhook), long polling,
handlers answering, a job pushing on its own, and a clean shutdown with nothing in errors().
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
)

from bot.localapi import LocalBotApi, RateLimits
from tests.localapi import polling

TOKEN = "424242:E2E-token"
ALICE = 42

PAGES = ["<b>第 1 篇</b> Attention &amp; more", "<b>第 2 篇</b> <i>Scaling</i> laws"]


def page_keyboard(page: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("◀", callback_data=f"page:{page - 1}"),
                InlineKeyboardButton("▶", callback_data=f"page:{page + 1}"),
            ]
        ]
    )


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    await context.bot.send_message(
        update.effective_chat.id, PAGES[0], parse_mode=ParseMode.HTML, reply_markup=page_keyboard(0)
    )


async def page(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    number = int(query.data.split(":")[1])
    if not 0 <= number < len(PAGES):
        await query.answer("没有更多了", show_alert=True)
        return
    await query.answer(f"第 {number + 1} 篇")
    await query.edit_message_text(PAGES[number], parse_mode=ParseMode.HTML, reply_markup=page_keyboard(number))


async def inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.inline_query is not None
    await update.inline_query.answer(
        [
            InlineQueryResultArticle(
                id="p1",
                title="Attention",
                input_message_content=InputTextMessageContent(PAGES[0], parse_mode=ParseMode.HTML),
            ),
        ],
        cache_time=0,
    )


async def push(context: ContextTypes.DEFAULT_TYPE) -> None:
    await context.bot.send_message(ALICE, "⏰ 今日推送")


@pytest.fixture
async def api() -> AsyncIterator[LocalBotApi]:
    server = LocalBotApi(TOKEN, limits=RateLimits(per_chat_burst=10))
    await server.start()
    server.add_private_chat(ALICE, "Alice")
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def app(api: LocalBotApi) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    application = (
        ApplicationBuilder().token(TOKEN).base_url(f"{api.root}/bot").base_file_url(f"{api.root}/file/bot").build()
    )
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(page, pattern=r"^page:"))
    application.add_handler(InlineQueryHandler(inline))
    async with polling(application):
        yield application


async def test_conversation_with_buttons(api: LocalBotApi, app: Application) -> None:  # type: ignore[type-arg]
    await api.send_text(ALICE, ALICE, "/start")
    [first] = await api.wait_for_messages(ALICE, 1)
    assert first.text == "第 1 篇 Attention & more"
    assert [b["text"] for b in first.buttons()] == ["◀", "▶"]

    query_id = await api.press_button(ALICE, first.message_id, text="▶")
    answer = await api.wait_for_callback_answer(query_id)
    assert answer["text"] == "第 2 篇"
    await api.wait_idle()
    edited = api.last_message(ALICE)
    assert (edited.message_id, edited.text, edited.edited) == (first.message_id, "第 2 篇 Scaling laws", 1)

    query_id = await api.press_button(ALICE, first.message_id, text="▶")  # past the end
    assert (await api.wait_for_callback_answer(query_id))["show_alert"] is True
    await api.wait_idle()
    assert len(api.messages(ALICE)) == 1 and api.errors() == []


async def test_inline_mode_round_trip(api: LocalBotApi, app: Application) -> None:  # type: ignore[type-arg]
    query_id = await api.inline_query(ALICE, "attention")
    answer = await api.wait_for_inline_answer(query_id)
    assert [r["id"] for r in answer["results"]] == ["p1"]
    message = await api.choose_inline_result(ALICE, query_id, "p1", chat_id=ALICE)
    assert message["via_bot"]["id"] == 424242 and message["text"] == "第 1 篇 Attention & more"
    await api.wait_idle()
    assert api.errors() == []


async def test_job_push_and_clean_shutdown(api: LocalBotApi, app: Application) -> None:  # type: ignore[type-arg]
    assert app.job_queue is not None
    app.job_queue.run_once(push, when=0.05)
    [pushed] = await api.wait_for_messages(ALICE, 1)
    assert pushed.text == "⏰ 今日推送"
    methods = {entry.method for entry in api.journal}
    assert {"getMe", "deleteWebhook", "sendMessage"} <= methods  # the long poll is journaled when it returns


async def test_restart_and_shutdown_leave_no_errors() -> None:
    """Stopping the updater abandons a long poll; polling again must not be answered (or journaled) as a 409."""
    async with LocalBotApi(TOKEN) as server:
        application = ApplicationBuilder().token(TOKEN).base_url(f"{server.root}/bot").build()
        await application.initialize()
        await application.start()
        assert application.updater is not None
        for _ in range(2):
            await application.updater.start_polling(poll_interval=0, timeout=5)
            await asyncio.sleep(0.1)  # the long poll is pending now
            await application.updater.stop()
        await application.stop()
        await application.shutdown()
        assert server.errors() == []
        assert server.journal[-1].method == "getUpdates" and server.journal[-1].params.get("timeout") == 0


async def test_wait_for_messages_timeout_explains(api: LocalBotApi) -> None:
    with pytest.raises(TimeoutError, match=r"expected >= 1 bot messages[\s\S]*updates not yet fetched by the bot: 1"):
        await api.send_text(ALICE, ALICE, "/start")
        await api.wait_for_messages(ALICE, 1, timeout=0.1)
