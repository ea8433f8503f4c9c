"""kill -9 in the middle of a real fan-out, then a restart: no chat gets a duplicate, none is skipped."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from telegram import Bot

from bot.config import PushSettings, Settings
from bot.localapi import LocalBotApi, RateLimits
from bot.push.service import PushService
from bot.storage.db import Database
from bot.telegram.local import LOCAL_TOKEN
from bot.telegram.sender import TelegramSender
from bot.terminal import NoSender
from tests.conftest import ROOT
from tests.push import add_chat, topic

CHATS = range(5001, 5021)
TOPICS = ["多模態LLM", "上下文長度", "新架構"]


async def test_kill_9_mid_fanout_then_restart(settings: Settings, seeded: Path) -> None:
    conn = await Database.open(seeded)
    service = PushService(conn, settings.with_overrides(papers_per_push=3), NoSender())
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for chat_id in CHATS:
        # Scheduled just before today's 00:00 UTC, which has passed: every chat is due now.
        await add_chat(conn, chat_id, [topic(t) for t in TOPICS], at=time(0, 0), tz="UTC")
        await service.reschedule(chat_id, midnight - timedelta(seconds=1))
    api = LocalBotApi(LOCAL_TOKEN, limits=RateLimits(enabled=False))
    enough = asyncio.Event()
    api.on_message = lambda *_: enough.set() if _delivered(api) >= 25 else None
    await api.start()
    for chat_id in CHATS:
        api.add_private_chat(chat_id, "Reader")
    try:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.push.fanout_child",
            str(seeded),
            api.root.rsplit(":", 1)[1],
            cwd=ROOT,
            env={**os.environ, "PTB_TIMEDELTA": "true"},
        )
        async with asyncio.timeout(30):
            await enough.wait()  # the child has delivered 25 messages
        child.send_signal(signal.SIGKILL)
        assert await child.wait() == -signal.SIGKILL
        killed_at = _delivered(api)
        assert killed_at < len(CHATS) * 3, "the fan-out finished before the kill: nothing was tested"

        bot = Bot(LOCAL_TOKEN, base_url=f"{api.root}/bot")
        await bot.initialize()
        restarted = PushService(
            conn,
            settings.with_overrides(
                papers_per_push=3, push=PushSettings(global_rate=0, per_chat_interval=0, concurrency=4)
            ),
            TelegramSender(bot),
        )
        await restarted.recover()
        report = await restarted.tick()
        await bot.shutdown()
        assert report.sent > 0
    finally:
        await api.stop()

    today = datetime.now(UTC).date().isoformat()
    rows = await conn.fetchall(
        "SELECT chat_id, state, count(*) FROM deliveries WHERE kind = 'paper' GROUP BY chat_id, state"
    )
    unknown = Counter({chat: n for chat, state, n in rows if state == "unknown"})
    assert set(state for _, state, _ in rows) <= {"sent", "unknown"}
    assert sum(unknown.values()) <= 4  # at most the messages in flight at the kill
    for chat_id in CHATS:
        texts = [m.text for m in api.messages(chat_id)]
        assert len(texts) == len(set(texts)), f"chat {chat_id} got a paper twice"
        assert len(texts) >= 3 - unknown[chat_id], f"chat {chat_id} was skipped"
        assert all("来自订阅" in t for t in texts)
        row = await conn.fetchone("SELECT last_push_date FROM chats WHERE chat_id = ?", (chat_id,))
        assert row is not None and row[0] == today
    await conn.close()


def _delivered(api: LocalBotApi) -> int:
    return sum(len(api.messages(chat_id)) for chat_id in CHATS)
