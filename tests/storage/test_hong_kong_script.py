"""Migration 15: `chats.script` accepts Hong Kong traditional ('hant-hk'); the rebuild keeps every row."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.storage.chats import ChatStore
from bot.storage.db import Database, connect
from bot.storage.migrations import MIGRATIONS
from bot.text.normalize import Script
from tests.storage import database_at

NOW = "2026-11-01T00:00:00+00:00"


def _old_database(path: Path) -> None:
    """A database of the release before migration 15, with chats, subscriptions, deliveries and notices."""
    conn = database_at(path, sorted(v for v in MIGRATIONS if v < 15))
    conn.execute(
        "INSERT INTO chats (chat_id, kind, script, push_time, timezone, next_push_at, created_at, updated_at,"
        " push_thread_id) VALUES (1, 'private', 'hans', '08:00', 'Asia/Shanghai', 100, ?, ?, NULL),"
        " (2, 'private', 'hant', '21:30', 'Asia/Taipei', 200, ?, ?, NULL),"
        " (-3, 'group', NULL, NULL, NULL, NULL, ?, ?, 7)",
        (NOW,) * 6,
    )
    conn.execute(
        "INSERT INTO subscriptions VALUES (1, 'topic', '量化', ?), (2, 'keyword', 'moe', ?), (-3, 'topic', '對齊', ?)",
        (NOW,) * 3,
    )
    conn.execute(
        "INSERT INTO deliveries (chat_id, arxiv_id, kind, subscription, via, local_date, state, planned_at)"
        " VALUES (1, '2404.00001', 'paper', 'topic:量化', 'push', '2026-11-01', 'sent', ?),"
        " (2, '2404.00002', 'paper', 'keyword:moe', 'today', '2026-11-01', 'planned', ?)",
        (NOW, NOW),
    )
    conn.execute("INSERT INTO exhausted VALUES (1, 'topic:量化', 3)")
    conn.close()


def _rows(conn: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the chat tables, in a stable order."""
    return {
        table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
        for table in ("chats", "subscriptions", "deliveries", "exhausted")
    }


def test_migration_keeps_every_row_with_foreign_keys_on(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _old_database(path)
    plain = sqlite3.connect(path)
    before = _rows(plain)
    plain.close()

    # connect() is what the bot runs: foreign keys on, where a careless rebuild cascades deletes.
    conn = connect(path)
    try:
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 15
        assert _rows(conn) == before
        assert [len(rows) for rows in before.values()] == [3, 3, 2, 1]
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'chats_due'").fetchone() == ("chats_due",)
        conn.execute("UPDATE chats SET script = 'hant-hk' WHERE chat_id = 2")
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("UPDATE chats SET script = 'latin' WHERE chat_id = 2")
        # The triggers that keep subscription keys on the chat's row still reach the rebuilt table.
        conn.execute("INSERT INTO subscriptions VALUES (2, 'topic', '量化', ?)", (NOW,))
        keys = conn.execute("SELECT subscription_keys FROM chats WHERE chat_id = 2").fetchone()[0]
        assert keys == "keyword:moe\x1ftopic:量化"
        # The references point at the new table: deleting a chat still takes its rows with it.
        conn.execute("DELETE FROM chats WHERE chat_id = 1")
        assert conn.execute("SELECT count(*) FROM subscriptions WHERE chat_id = 1").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM deliveries WHERE chat_id = 1").fetchone() == (0,)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


async def test_a_chat_keeps_the_hong_kong_script(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        chats = ChatStore(db)
        chat, _ = await chats.ensure(5, "private", Script.HONG_KONG)
        assert chat.script is Script.HONG_KONG
        await chats.set_script(5, Script.TRADITIONAL)
        await chats.set_script(5, Script.HONG_KONG)
        stored = await chats.get(5)
        assert stored is not None and stored.script is Script.HONG_KONG
    finally:
        await db.close()
