"""What keeps planning cheap at 100,000 chats stays correct: rows logged chunk by chunk as the fan-out
reaches them, and topic lists read only as deep as the chats' history."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.config import PushSettings, Settings
from bot.push import planner
from bot.push import service as push_service
from bot.push.service import PushService
from bot.storage.db import Database
from tests.push import Clock, Crash, FakeSender, add_chat, catalogue, paper, topic

START = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)  # 08:00 in Asia/Shanghai, the default timezone
DAY = timedelta(days=1)


def logged_chats(path: object) -> set[int]:
    with closing(sqlite3.connect(str(path))) as raw:
        return {row[0] for row in raw.execute("SELECT DISTINCT chat_id FROM deliveries")}


async def test_rows_are_logged_chunk_by_chunk_and_unlogged_chats_stay_due_through_a_crash(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(push_service, "PLAN_CHUNK", 2)
    catalogue(
        settings.database,
        [paper(f"240{m}.{i:05d}", date(2024, m, i), "AB"[m - 1]) for m in (1, 2) for i in range(1, 4)],
    )
    settings = settings.with_overrides(
        papers_per_push=2, push=PushSettings(global_rate=0, per_chat_interval=0, concurrency=1, max_attempts=3)
    )
    clock = Clock(START - timedelta(hours=1))
    conn = await Database.open(settings.database)
    try:
        first = FakeSender()
        first.crash_after = 0  # dies on the first message, chat 1's first paper: it is in flight
        service = PushService(conn, settings, first, clock=clock, sleep=clock.sleep)
        for chat_id in range(1, 9):
            await add_chat(conn, chat_id, [topic("A"), topic("B")])
            await service.reschedule(chat_id)
        clock.now = START
        with pytest.raises(Crash):
            await service.tick()
        # Chunk 1 (chats 1-2) was logged before its first send, chunk 2 ahead of need; chunks 3-4 never.
        assert logged_chats(settings.database) == {1, 2, 3, 4}
        with closing(sqlite3.connect(settings.database)) as raw:
            due = {
                row[0] for row in raw.execute("SELECT chat_id FROM chats WHERE next_push_at <= ?", (START.timestamp(),))
            }
        assert due == set(range(1, 9))  # no chat's day was recorded: all still due
    finally:
        await conn.close()

    conn = await Database.open(settings.database)
    try:
        second = FakeSender()
        restarted = PushService(conn, settings, second, clock=clock, sleep=clock.sleep)
        await restarted.recover()
        report = await restarted.tick()
        assert report.chats_due == 8
        sent = first.papers + second.papers
        assert len(sent) == len({(chat, arxiv_id) for chat, arxiv_id, _ in sent})  # never twice
        per_chat = {chat: [a for c, a, _ in sent if c == chat] for chat in range(1, 9)}
        # Chat 1's first paper was in flight at the crash ('unknown', never re-sent); the rest go out once.
        assert per_chat[1] == ["2402.00003"]
        assert all(per_chat[chat] == ["2401.00003", "2402.00003"] for chat in range(2, 9))
        await restarted.tick()
        assert len(second.papers) == 15  # nothing left for a later tick
    finally:
        await conn.close()


async def test_a_chat_that_had_more_papers_than_a_list_holds_still_gets_the_next_one(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(planner, "MIN_DEPTH", 2)  # lists start two deep; they deepen with the history
    catalogue(settings.database, [paper(f"2401.{i:05d}", date(2024, 1, i), "A") for i in range(1, 7)])
    settings = settings.with_overrides(papers_per_push=1)
    clock = Clock(START - timedelta(hours=1))
    conn = await Database.open(settings.database)
    try:
        sender = FakeSender()
        service = PushService(conn, settings, sender, clock=clock, sleep=clock.sleep)
        await add_chat(conn, 1, [topic("A")])
        await service.reschedule(1)
        for day in range(8):
            clock.now = START + day * DAY
            await service.tick()
        assert sender.ids(1) == [f"2401.{i:05d}" for i in range(6, 0, -1)]  # all six, newest first
        assert sender.notices == [(1, "topic:A", 6)]  # told once, with the topic's true size
    finally:
        await conn.close()
