"""Opening databases: pragmas, the SQL functions the schema's triggers call, and migrations.

Every connection (sync for ingest and the CLI, aiosqlite for the bot) goes through here, because the
FTS triggers call `fts_text()`, a Python function that must be registered on each connection.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite

from bot.storage.fts import index_text
from bot.storage.migrations import migrate

BUSY_TIMEOUT_MS = 5000


def _prepare(conn: sqlite3.Connection) -> None:
    conn.create_function("fts_text", 1, index_text, deterministic=True)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")


def connect(path: Path | str) -> sqlite3.Connection:
    """A migrated synchronous connection in autocommit mode (callers open explicit transactions)."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    if str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")
    _prepare(conn)
    migrate(conn)
    return conn


async def open_database(path: Path | str) -> aiosqlite.Connection:
    """A migrated aiosqlite connection for the bot (autocommit; explicit transactions for writes).

    The database is a file (an in-memory one would vanish with the short-lived migrating connection).
    """
    # Migrate on a short-lived sync connection so the async one starts on the current schema.
    connect(path).close()
    conn = await aiosqlite.connect(str(path), isolation_level=None)
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.create_function("fts_text", 1, index_text, deterministic=True)
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await conn.execute("PRAGMA foreign_keys = ON")
    await conn.execute("PRAGMA synchronous = NORMAL")
    conn.row_factory = aiosqlite.Row
    return conn
