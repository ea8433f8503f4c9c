"""The terminal console (bot.localapi.console) against a real python-telegram-bot Application."""

from __future__ import annotations

import asyncio
import io
import os
import threading
from collections.abc import AsyncIterator

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.localapi import LocalBotApi, RateLimits, run_console
from bot.localapi.console import render_text
from tests.localapi import polling

TOKEN = "777:CONSOLE-token"
ALICE = 42


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    await context.bot.send_message(
        update.effective_chat.id,
        '<b>今日论文</b> <a href="https://arxiv.org/abs/2401.00001">arXiv</a>',
        parse_mode=ParseMode.HTML,
        reply_markup=InlineKeyboardMarkup(
            [
                [InlineKeyboardButton("▶", callback_data="play"), InlineKeyboardButton("量化", callback_data="quant")],
                [InlineKeyboardButton("arXiv", url="https://arxiv.org/abs/2401.00001")],
            ]
        ),
    )


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("开始播放")
    markup = query.message.reply_markup if isinstance(query.message, Message) else None
    await query.edit_message_text(f"正在播放 {query.data}", reply_markup=markup)


@pytest.fixture
async def api() -> AsyncIterator[LocalBotApi]:
    async with LocalBotApi(TOKEN, limits=RateLimits(enabled=False)) as server:
        yield server


@pytest.fixture
async def app(api: LocalBotApi) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    application = ApplicationBuilder().token(TOKEN).base_url(f"{api.root}/bot").build()
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(pressed))
    async with polling(application):
        yield application


async def test_console_conversation(api: LocalBotApi, app: Application) -> None:  # type: ignore[type-arg]
    stdin = io.StringIO("/start\n1\n3\n9\n\n/quit\nnever sent\n")
    stdout = io.StringIO()
    await asyncio.wait_for(run_console(api, chat_id=ALICE, user_id=ALICE, stdin=stdin, stdout=stdout), 10)
    out = stdout.getvalue()
    assert "本地 Telegram 控制台" in out and "/quit or Ctrl-D exits" in out
    assert "› /start" in out
    assert "今日论文 arXiv <https://arxiv.org/abs/2401.00001>" in out
    assert "[1] ▶  [2] 量化\n   [3] arXiv ↗" in out
    assert "💬 开始播放" in out
    assert "(已编辑 edited)\n正在播放 play" in out
    assert "🔗 https://arxiv.org/abs/2401.00001" in out
    assert "no button 9" in out
    assert out.rstrip().endswith("再见 · bye")
    assert "\x1b[" not in out  # no ANSI codes when stdout is not a terminal
    assert "never sent" not in out
    assert [m["text"] for m in api.user_messages(ALICE)] == ["/start"]
    assert api.errors() == []
    assert api.on_message is None  # the hook is handed back


async def test_console_prints_pushes_while_the_user_is_idle(api: LocalBotApi, app: Application) -> None:  # type: ignore[type-arg]
    read_fd, write_fd = os.pipe()
    stdin = os.fdopen(read_fd, "r", encoding="utf-8")
    writer = os.fdopen(write_fd, "w", encoding="utf-8")
    stdout = io.StringIO()
    console = asyncio.create_task(run_console(api, chat_id=ALICE, user_id=ALICE, stdin=stdin, stdout=stdout))
    try:
        await asyncio.sleep(0.1)
        await app.bot.send_message(ALICE, "⏰ <b>定时推送</b>", parse_mode=ParseMode.HTML)
        await asyncio.sleep(0.05)
        assert "⏰ 定时推送" in stdout.getvalue()  # printed while the console waits for input
        writer.write("/quit\n")
        writer.flush()
        await asyncio.wait_for(console, 5)
    finally:
        writer.close()
        # Let the reader thread see end of input before its pipe is closed under it.
        for thread in threading.enumerate():
            if thread.name == "console-stdin":
                await asyncio.to_thread(thread.join, 5)
        stdin.close()


async def test_console_without_a_bot_says_so(api: LocalBotApi) -> None:
    stdout = io.StringIO()
    await run_console(
        api, chat_id=ALICE, user_id=ALICE, stdin=io.StringIO("hello\n1\n"), stdout=stdout, idle_timeout=0.2
    )
    out = stdout.getvalue()
    assert "the bot is not responding" in out
    assert "no buttons to press" in out


def test_render_text_styles_and_links() -> None:
    entities = [
        {"type": "bold", "offset": 3, "length": 2},  # 😀 is two UTF-16 units
        {"type": "text_link", "offset": 6, "length": 5, "url": "https://arxiv.org"},
    ]
    assert render_text("😀 量化 arXiv", entities, ansi=False) == "😀 量化 arXiv <https://arxiv.org>"
    assert render_text("😀 量化 arXiv", entities, ansi=True) == "😀 \x1b[1m量化\x1b[22m arXiv <https://arxiv.org>"
