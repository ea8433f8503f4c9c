"""Three writers on one Database at once: a push fan-out, a batch write (the coming catalogue refresh)
and 100 handler calls. Every result must be right, and no writer's statement may land inside another
writer's transaction (checked on a trace of every statement the writer connection ran)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.catalogue.topics import Taxonomy
from bot.config import PushSettings, Settings
from bot.push.service import PushService
from bot.services.chats import ChatService, SubscribeOutcome, SubscribeStatus, TimeOutcome, TimeStatus
from bot.storage.chats import ChatStore
from bot.storage.db import Database
from bot.text.normalize import Script
from tests.push import Clock, FakeSender, add_chat, catalogue, paper, topic

START = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)  # 08:00 in Asia/Shanghai, the default push time
PUSHED = range(1, 41)  # chats due at START
HANDLED = range(1001, 1026)  # chats that talk to the bot meanwhile: 4 calls each
BATCH = 3000  # rows of the batch write


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = await Database.open(settings.database)
    yield database
    await database.close()


def transactions(trace: list[str]) -> list[list[str]]:
    """The traced statements cut into write transactions; fails on a statement outside one, or a BEGIN
    inside one (the connection is in autocommit mode: every write must be inside BEGIN ... END)."""
    found: list[list[str]] = []
    current: list[str] | None = None
    for statement in trace:
        word = statement.split(None, 1)[0].upper()
        if word == "BEGIN":
            assert current is None, f"BEGIN inside an open transaction: {current}"
            current = []
        elif word in {"COMMIT", "ROLLBACK"}:
            assert current is not None
            found.append([*current, word])
            current = None
        else:
            assert current is not None, f"a statement outside any transaction: {statement}"
            current.append(statement)
    assert current is None
    return found


async def test_fanout_batch_write_and_100_handler_calls_at_once(
    db: Database, settings: Settings, taxonomy: Taxonomy
) -> None:
    catalogue(
        settings.database,
        [paper(f"2404.{i:05d}", date(2024, 4, 1) + timedelta(days=i % 28), "量化", "多模態LLM") for i in range(1, 11)],
    )
    clock = Clock(START - timedelta(hours=1))
    sender = FakeSender()
    pace = PushSettings(global_rate=0, per_chat_interval=0, concurrency=8, max_attempts=4)
    push = PushService(db, settings.with_overrides(push=pace), sender, clock=clock, sleep=clock.sleep)
    chats = ChatService(ChatStore(db), taxonomy, settings, push)
    for chat_id in PUSHED:
        await add_chat(db, chat_id, [topic("量化"), topic("多模態LLM")])
        await push.reschedule(chat_id, START - timedelta(hours=1))
    for chat_id in HANDLED:
        await chats.ensure(chat_id, "private", "zh-hant")
    # Something for the unsubscribe below to remove (not through the service: 1001 is not due).
    await ChatStore(db).subscribe(1001, topic("量化"), limit=20)

    trace: list[str] = []
    await db.write(lambda conn: conn.set_trace_callback(trace.append))
    clock.now = START

    def batch(conn: sqlite3.Connection, tag: str, fail: bool) -> int:
        conn.executemany(
            "INSERT INTO search_queries (query, used_at) VALUES (?, ?)",
            ((f"{tag}-{i}", "2024-05-01T00:00:00+00:00") for i in range(BATCH)),
        )
        if fail:
            raise RuntimeError("the refresh job failed half-way")
        return BATCH

    async def failing_batch() -> None:
        with pytest.raises(RuntimeError):
            await db.write(lambda conn: batch(conn, "lost", fail=True))

    @dataclass
    class Handled:
        subscribed: SubscribeOutcome
        timed: TimeOutcome
        query_id: int
        removed: SubscribeOutcome | None

    async def handler_calls(chat_id: int) -> Handled:
        # What a user does in a few seconds: subscribe, set a time, switch script, page a search.
        subscribed = await chats.subscribe(chat_id, "多模態LLM")
        timed = await chats.set_time(chat_id, "21:30 Europe/Berlin")
        await chats.set_script(chat_id, Script.SIMPLIFIED)
        query_id = await chats.remember_query(f"query of {chat_id}")
        removed = await chats.unsubscribe(chat_id, "量化") if chat_id == 1001 else None
        return Handled(subscribed, timed, query_id, removed)

    report, written, _, handled = await asyncio.gather(
        push.tick(),
        db.write(lambda conn: batch(conn, "kept", fail=False)),
        failing_batch(),
        asyncio.gather(*(handler_calls(chat_id) for chat_id in HANDLED)),
    )
    await db.write(lambda conn: conn.set_trace_callback(None))
    # Tracing was switched on and off inside transactions: drop the first COMMIT and the last BEGIN.
    assert (trace[0], trace[-1].split()[0]) == ("COMMIT", "BEGIN")
    trace = trace[1:-1]

    # The fan-out: every due chat got its two newest papers, once each, all recorded as sent.
    assert (report.chats_due, report.sent, report.failed) == (len(PUSHED), 2 * len(PUSHED), 0)
    assert Counter(chat for chat, _, _ in sender.papers) == {chat_id: 2 for chat_id in PUSHED}
    assert len(set(sender.papers)) == len(sender.papers)
    states = await db.fetchall("SELECT state, count(*) FROM deliveries GROUP BY state")
    assert {state: n for state, n in states} == {"sent": 2 * len(PUSHED)}
    finished = await db.fetchall("SELECT count(*) FROM chats WHERE last_push_date = '2024-05-01'")
    assert finished[0][0] == len(PUSHED)

    # The batch: all of the good one, nothing of the failed one.
    assert written == BATCH
    kept = await db.fetchall("SELECT count(*) FROM search_queries WHERE query LIKE 'kept-%'")
    lost = await db.fetchall("SELECT count(*) FROM search_queries WHERE query LIKE 'lost-%'")
    assert (kept[0][0], lost[0][0]) == (BATCH, 0)

    # The handlers: each call's answer, and the stored state it describes (none lost to the rollback).
    for chat_id, done in zip(HANDLED, handled, strict=True):
        assert done.subscribed.status is SubscribeStatus.ADDED
        assert done.timed.status is TimeStatus.OK and done.timed.push_time == time(21, 30)
        effective = await chats.effective(chat_id)
        assert effective is not None
        assert (effective.script, effective.timezone, effective.push_time) == (
            Script.SIMPLIFIED,
            "Europe/Berlin",
            time(21, 30),
        )
        assert [s.value for s in effective.subscriptions] == ["多模態LLM"]
        assert effective.chat.next_push_at == int(datetime(2024, 5, 1, 19, 30, tzinfo=UTC).timestamp())
        assert await chats.query_by_id(done.query_id) == f"query of {chat_id}"
    assert handled[0].removed is not None and handled[0].removed.status is SubscribeStatus.REMOVED

    # No interleaving: each transaction holds one writer's statements only.
    txs = transactions(trace)
    batches = [tx for tx in txs if any("search_queries" in s and "-0'" in s for s in tx)]
    assert len(batches) == 2
    for tx in batches:
        assert all("INSERT INTO search_queries" in s for s in tx[:-1]), "another writer cut into the batch"
        assert len(tx) == BATCH + 1
    assert sorted(tx[-1] for tx in batches) == ["COMMIT", "ROLLBACK"]
    handler_marks = ("INTO subscriptions", "FROM subscriptions WHERE chat_id = ? AND", "SET push_time", "SET script")
    for tx in txs:
        by_push = any("deliveries" in s for s in tx)
        by_handler = any(mark in s for s in tx for mark in handler_marks)
        assert not (by_push and by_handler), f"a handler's statement inside the push's transaction: {tx}"
    assert sum(any("INTO subscriptions" in s for s in tx) for tx in txs) == len(HANDLED)
    assert sum(any("INTO search_queries" in s for s in tx) for tx in txs) == len(HANDLED) + 2


async def test_every_read_sees_the_writes_committed_before_it_even_among_concurrent_reads(db: Database) -> None:
    """A reader connection shared by many coroutines must not pin an old snapshot: a statement left
    open between two awaits (execute, then fetchone) would hold a read transaction for everyone."""
    await db.execute("CREATE TABLE box (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)")
    await db.execute("INSERT INTO box (id, value) SELECT value, 0 FROM json_each(?)", (json.dumps(list(range(1, 51))),))

    async def bump(box: int) -> list[tuple[int, int]]:
        seen = []
        for value in range(1, 30):
            await db.execute("UPDATE box SET value = ? WHERE id = ?", (value, box))
            row = await db.fetchone("SELECT value FROM box WHERE id = ?", (box,))
            rows = await db.fetchall("SELECT value FROM box WHERE id = ?", (box,))
            assert row is not None
            seen.append((value, row[0]))
            seen.append((value, rows[0][0]))
        return seen

    for seen in await asyncio.gather(*(bump(box) for box in range(1, 51))):
        assert [written for written, _ in seen] == [read for _, read in seen]
