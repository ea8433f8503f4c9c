"""Helpers shared by the storage tests."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from bot.storage.migrations import MIGRATIONS


def database_at(path: Path, versions: Iterable[int]) -> sqlite3.Connection:
    """A database as an older release left it: only these migrations applied, in this order, each recorded
    the way `migrate` records it. Autocommit; fts_text() indexes text as it is."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.create_function("fts_text", 1, lambda t: t, deterministic=True)
    conn.execute("CREATE TABLE migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT)")
    for version in versions:
        conn.execute("BEGIN")
        MIGRATIONS[version][1](conn)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("INSERT INTO migrations VALUES (?, ?, '2026-11-01')", (version, MIGRATIONS[version][0]))
        conn.execute("COMMIT")
    return conn
