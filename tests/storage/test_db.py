"""The Database object: one writer at a time, readers that see only committed data, rollback on error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage.db import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.sqlite3")
    await database.execute("CREATE TABLE log (writer TEXT, step INTEGER)")
    yield database
    await database.close()


async def test_writers_never_interleave(db: Database) -> None:
    async def writer(name: str) -> None:
        async with db.transaction() as tx:
            for step in range(5):
                await tx.execute("INSERT INTO log VALUES (?, ?)", (name, step))
                await asyncio.sleep(0)  # give every other writer the chance to cut in

    def bulk(conn: object) -> None:
        for step in range(5):
            conn.execute("INSERT INTO log VALUES ('bulk', ?)", (step,))  # type: ignore[attr-defined]

    await asyncio.gather(*(writer(f"w{i}") for i in range(10)), db.write(bulk))
    rows = await db.fetchall("SELECT writer FROM log ORDER BY rowid")
    names = [row[0] for row in rows]
    assert len(names) == 55
    # Each writer's five rows are contiguous: no transaction saw another's statements inside it.
    runs = [names[i : i + 5] for i in range(0, 55, 5)]
    assert all(len(set(run)) == 1 for run in runs)
    assert sorted(run[0] for run in runs) == sorted([*(f"w{i}" for i in range(10)), "bulk"])


async def test_failed_transaction_leaves_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO log VALUES ('lost', 1)")
            raise RuntimeError("boom")
    assert await db.fetchall("SELECT * FROM log") == []
    # The writer is usable again afterwards.
    assert await db.execute("INSERT INTO log VALUES ('kept', 1)") == 1


async def test_readers_see_only_committed_rows_and_do_not_wait(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO log VALUES ('open', 1)")
        # A read during an open write transaction answers at once, without the uncommitted row.
        assert await asyncio.wait_for(db.fetchall("SELECT * FROM log"), 1.0) == []
        assert len(await tx.fetchall("SELECT * FROM log")) == 1
        assert await db.read(lambda c: c.execute("SELECT count(*) FROM log").fetchone()[0]) == 0
    assert (await db.fetchone("SELECT count(*) FROM log"))[0] == 1  # type: ignore[index]
