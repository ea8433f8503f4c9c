"""The search index knows which folding built it, and rebuilds itself when the folding changes.

papers_fts is contentless: it keeps only tokens, and its triggers remove a paper's old entry by
folding the old text again. If the folding changed since the entry was written (an OpenCC upgrade with
new dictionary entries, a new Python with new Unicode tables, a change to index_text), the tokens
removed are not the tokens stored: the index silently keeps stale tokens and search goes wrong. So the
database records the folding of its index (`search_index`, migration 6): the OpenCC version, the
Unicode version of NFKC and casefold, and bot.storage.fts.FOLDING_VERSION. Every opening of the
database (bot.storage.db.connect: the bot, the CLI, ingest) compares it with the running code's and,
when they differ, rebuilds the whole index from the papers in one transaction, reporting progress,
before anything is served. A crash mid-rebuild rolls back to the old index and the old record, so the
next start rebuilds again.
"""

from __future__ import annotations

import logging
import sqlite3
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

from bot.storage.fts import FOLDING_VERSION

log = logging.getLogger(__name__)

# What the papers_fts triggers index (bot.storage.migrations, migration 14) with `new.` dropped; a test
# checks that the insert trigger still indexes exactly these. machine_title and machine_abstract are the
# paper's machine translation, copied onto the row by triggers on `translations`.
TITLE_TEXT = "arxiv_id || ' ' || title_en || ' ' || title_zh || ' ' || machine_title"
ABSTRACT_TEXT = "abstract_zh || ' ' || abstract_en || ' ' || machine_abstract"
CHUNK = 5000  # papers per INSERT while rebuilding (and per progress report)

Progress = Callable[[int, int], None]  # (papers indexed so far, papers in all)


@lru_cache(maxsize=1)
def folding() -> str:
    """The running code's folding, as recorded in `search_index`."""
    try:
        opencc = version("opencc")
    except PackageNotFoundError:  # pragma: no cover - installed from source without metadata
        opencc = "unknown"
    return f"index_text {FOLDING_VERSION}; OpenCC {opencc}; Unicode {unicodedata.unidata_version}"


def recorded(conn: sqlite3.Connection) -> str | None:
    """The folding that built this database's index (None: not recorded yet)."""
    row = conn.execute("SELECT folding FROM search_index WHERE id = 1").fetchone()
    return str(row[0]) if row else None


def _log_progress(done: int, total: int) -> None:
    log.info("search index: %d/%d papers re-indexed", done, total)


def ensure_index(conn: sqlite3.Connection, progress: Progress | None = None) -> bool:
    """Rebuild the FTS index if the recorded folding is not the running one; whether it did.

    `conn` is in autocommit mode with fts_text() registered (bot.storage.db.connect).
    """
    current = folding()
    if recorded(conn) == current:
        return False
    conn.execute("BEGIN IMMEDIATE")
    try:
        was = recorded(conn)  # another process may have rebuilt it meanwhile
        if was == current:
            conn.execute("COMMIT")
            return False
        papers = int(conn.execute("SELECT count(*) FROM papers").fetchone()[0])
        if papers:  # a new, empty database just records the folding
            log.warning("search index was built with %r, the code folds with %r: rebuilding it", was, current)
        total = rebuild(conn, progress or _log_progress)
        conn.execute(
            "INSERT INTO search_index (id, folding, papers, rebuilt_at) VALUES (1, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET folding = excluded.folding, papers = excluded.papers,"
            " rebuilt_at = excluded.rebuilt_at",
            (current, total, datetime.now(UTC).isoformat(timespec="seconds")),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return True


def rebuild(conn: sqlite3.Connection, progress: Progress) -> int:
    """(Inside a write transaction.) Drop every index entry and index every paper again; how many."""
    total = int(conn.execute("SELECT count(*) FROM papers").fetchone()[0])
    # 'delete-all' is the one way to empty a contentless table without knowing what it holds.
    conn.execute("INSERT INTO papers_fts (papers_fts) VALUES ('delete-all')")
    done, last = 0, -1
    while done < total:
        ids = conn.execute("SELECT id FROM papers WHERE id > ? ORDER BY id LIMIT ?", (last, CHUNK)).fetchall()
        if not ids:
            break
        conn.execute(
            "INSERT INTO papers_fts (rowid, title, abstract)"
            f" SELECT id, fts_text({TITLE_TEXT}), fts_text({ABSTRACT_TEXT}) FROM papers WHERE id BETWEEN ? AND ?",
            (ids[0][0], ids[-1][0]),
        )
        done += len(ids)
        last = ids[-1][0]
        progress(done, total)
    if total == 0:
        progress(0, 0)
    # Merge the freshly written segments so the first searches do not pay for it.
    conn.execute("INSERT INTO papers_fts (papers_fts) VALUES ('optimize')")
    return done
