"""The delivery log's storage: consecutive plan ids, recovery, guarded updates, transaction isolation."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import AsyncIterator
from datetime import date, time, timedelta
from pathlib import Path

import pytest

from bot.model import DeliveryState
from bot.storage.chats import ChatStore
from bot.storage.db import Database
from bot.storage.deliveries import DeliverySession, DeliveryStore, Final, NewRow, PlannedRow, RowGroup
from bot.text.normalize import Script


@pytest.fixture
async def conn(tmp_path: Path) -> AsyncIterator[Database]:
    connection = await Database.open(tmp_path / "bot.sqlite3")
    chats = ChatStore(connection)
    for chat_id in (1, 2):
        await chats.ensure(chat_id, "private", Script.SIMPLIFIED)
    yield connection
    await connection.close()


async def plan(store: DeliveryStore) -> int:
    papers: list[NewRow] = [(1, "2401.00001", "topic:A", 0), (2, "2401.00001", "topic:A", 0)]
    notices: list[NewRow] = [(1, None, "topic:B", 7)]
    groups: list[RowGroup] = [
        ("push", "2024-05-01", "paper", papers),
        ("push", "2024-05-01", "notice", notices),
    ]
    return await store.run(lambda s: s.insert(groups, "2024-05-01T00:00:00+00:00"))


async def rows(conn: Database) -> list[tuple[object, ...]]:
    return [
        tuple(row)
        for row in await conn.fetchall("SELECT id, chat_id, arxiv_id, kind, subscription, state FROM deliveries")
    ]


async def test_planned_rows_get_consecutive_ids_in_group_order(conn: Database) -> None:
    store = DeliveryStore(conn)
    first = await plan(store)
    assert await rows(conn) == [
        (first, 1, "2401.00001", "paper", "topic:A", "planned"),
        (first + 1, 2, "2401.00001", "paper", "topic:A", "planned"),
        (first + 2, 1, None, "notice", "topic:B", "planned"),
    ]


async def test_a_chat_can_never_hold_the_same_paper_twice(conn: Database) -> None:
    store = DeliveryStore(conn)
    await plan(store)
    with pytest.raises(sqlite3.IntegrityError):
        await plan(store)
    assert len(await rows(conn)) == 3  # the failed plan left nothing behind


async def test_recover_turns_sending_into_unknown_and_leaves_the_rest(conn: Database) -> None:
    store = DeliveryStore(conn)
    first = await plan(store)
    await store.run(lambda s: s.mark_sending([first, first + 1]))
    await store.run(lambda s: s.finals([Final(first, DeliveryState.SENT, 1, None, "2024-05-01T00:00:01+00:00")]))
    assert await store.recover() == 1
    assert [row[-1] for row in await rows(conn)] == ["sent", "unknown", "planned"]
    assert await store.open_chat_ids() == [1]


async def test_history_open_rows_and_notices(conn: Database) -> None:
    store = DeliveryStore(conn)
    first = await plan(store)
    await store.run(lambda s: s.set_exhausted([(1, "topic:B", 7)]))

    def read(
        session: DeliverySession,
    ) -> tuple[
        tuple[dict[int, set[str]], set[tuple[int, str]]], dict[int, list[PlannedRow]], dict[int, dict[str, int]]
    ]:
        return session.history([1, 2], "2024-04-30"), session.open_rows([1]), session.exhausted([1, 2])

    (seen, pushed), open_rows, noticed = await store.read(read)
    assert seen == {1: {"2401.00001"}, 2: {"2401.00001"}}
    assert pushed == {(1, "2024-05-01"), (2, "2024-05-01")}
    assert [(r.id, r.arxiv_id, r.subscription, r.total) for r in open_rows[1]] == [
        (first, "2401.00001", "topic:A", 0),
        (first + 2, None, "topic:B", 7),
    ]
    assert noticed == {1: {"topic:B": 7}}


async def test_history_finds_every_recent_push_day_whatever_order_rows_were_logged_in(conn: Database) -> None:
    """Recent push days come from table rows at or above a floor id; rows logged before older-dated
    ones (a chat ahead of UTC, a clock set far ahead) must count, rows of another kind, via or of a
    date before `since` must not."""
    since = "2024-05-10"
    rng = random.Random(11)
    logged: list[tuple[int, str | None, str, str, str, str]] = [
        (1, "2405.90001", "paper", "push", "2030-01-01", "sent"),  # logged first, dated far ahead
        (2, "2405.90002", "paper", "push", "2024-05-13", "sent"),  # ahead of since, logged early
    ]
    for n in range(300):
        day = (date(2024, 5, 3) + timedelta(days=n * 9 // 300)).isoformat()  # older dates first, up to since + 1
        kind = rng.choice(["paper", "paper", "notice"])
        arxiv_id = f"2405.{n:05d}" if kind == "paper" else None
        state = rng.choice(list(DeliveryState))
        logged.append((rng.choice([1, 2]), arxiv_id, kind, rng.choice(["push", "today"]), day, state))

    def insert(c: sqlite3.Connection) -> None:
        c.executemany(
            "INSERT INTO deliveries (chat_id, arxiv_id, kind, via, local_date, state, planned_at)"
            " VALUES (?, ?, ?, ?, ?, ?, '2024-05-01T00:00:00+00:00')",
            logged,
        )

    await conn.write(insert)
    seen, pushed = await DeliveryStore(conn).read(lambda s: s.history([1, 2], since))
    recent = {
        (chat, day) for chat, _, kind, via, day, _ in logged if kind == "paper" and via == "push" and day >= since
    }
    assert {(1, "2030-01-01"), (2, "2024-05-13"), (1, "2024-05-11")} <= recent  # the cases are there
    assert pushed == recent
    assert seen == {chat: {a for c, a, kind, *_ in logged if c == chat and kind == "paper" and a} for chat in (1, 2)}


async def test_day_is_finished_only_when_no_row_is_in_flight(conn: Database) -> None:
    store = DeliveryStore(conn)
    first = await plan(store)
    await store.run(lambda s: s.finish_days([("2024-05-01", 123, 1), ("2024-05-01", 456, 2)]))
    chats = await store.read(lambda s: s.chats([1, 2]))
    assert (chats[1].last_push_date, chats[2].last_push_date) == (None, None)  # both still have planned rows
    await store.run(lambda s: s.finals([Final(first + 1, DeliveryState.SENT, 1, None, None)]))
    await store.run(lambda s: s.finish_days([("2024-05-01", 456, 2)]))
    chat = (await store.read(lambda s: s.chats([2])))[2]
    assert (chat.last_push_date, chat.next_push_at) == ("2024-05-01", 456)


async def test_schedule_update_yields_to_a_concurrent_settings_change(conn: Database) -> None:
    store = DeliveryStore(conn)
    await ChatStore(conn).set_schedule(1, time(9, 0), "Asia/Tokyo", 100)
    # Planned from a stale view (no push time yet): not applied; from the current one: applied.
    await store.run(lambda s: s.set_schedule([(999, None, 1, 100, None, None)]))
    assert (await store.read(lambda s: s.chats([1])))[1].next_push_at == 100
    await store.run(lambda s: s.set_schedule([(999, "2024-05-01", 1, 100, "09:00", "Asia/Tokyo")]))
    chat = (await store.read(lambda s: s.chats([1])))[1]
    assert (chat.next_push_at, chat.last_push_date) == (999, "2024-05-01")


async def test_run_waits_for_a_transaction_another_writer_holds_open(conn: Database) -> None:
    store = DeliveryStore(conn)
    with pytest.raises(RuntimeError):
        async with conn.transaction() as tx:  # e.g. a handler's transaction, between two of its awaits
            await tx.execute("UPDATE chats SET kind = 'group' WHERE chat_id = 2")
            task = asyncio.ensure_future(store.run(lambda s: s.set_exhausted([(1, "topic:A", 3)])))
            await asyncio.sleep(0.05)
            assert not task.done()  # it did not join (and commit) the open transaction
            raise RuntimeError("the handler fails")
    await task
    assert await store.read(lambda s: s.exhausted([1])) == {1: {"topic:A": 3}}
    chat = await ChatStore(conn).get(2)
    assert chat is not None and chat.kind == "private"  # the other transaction's rollback stood


async def test_snapshot_reads_do_not_wait_for_an_open_write(conn: Database) -> None:
    store = DeliveryStore(conn)
    await plan(store)
    async with conn.transaction() as tx:
        await tx.execute("UPDATE deliveries SET state = 'sending'")
        # Read while the write is open: it answers at once, from the last committed state.
        open_rows = await asyncio.wait_for(store.read(lambda s: s.open_rows([1, 2])), 1.0)
        assert sorted(open_rows) == [1, 2]
    assert await store.open_chat_ids() == []
