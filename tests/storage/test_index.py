"""The search index records the folding that built it and is rebuilt when the running code folds otherwise."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from bot.storage.db import Database, connect
from bot.storage.fts import match_expression
from bot.storage.index import ABSTRACT_TEXT, TITLE_TEXT, ensure_index, folding, recorded


def matches(conn: sqlite3.Connection, query: str) -> list[str]:
    """English titles of the papers the index returns for `query` (every word, in either script)."""
    return [
        title
        for (title,) in conn.execute(
            "SELECT p.title_en FROM papers_fts f JOIN papers p ON p.id = f.rowid WHERE papers_fts MATCH ?",
            (match_expression(query),),
        )
    ]


def test_a_new_database_records_the_running_folding(tmp_path: Path) -> None:
    with closing(connect(tmp_path / "bot.sqlite3")) as conn:
        assert recorded(conn) == folding()
        assert "OpenCC" in folding() and "Unicode" in folding()
        assert ensure_index(conn) is False  # nothing to do the second time


async def test_a_changed_folding_rebuilds_the_index_at_start_up_and_search_works(seeded: Path) -> None:
    with closing(sqlite3.connect(seeded)) as raw:
        before = {q: len(matches(raw, q)) for q in ("量化", "多模態", "多模态", "LLM")}
        assert all(before.values())
        # Another OpenCC built this index (recorded), and its tokens are not ours: here, gone entirely.
        raw.execute("UPDATE search_index SET folding = 'index_text 0; OpenCC 1.1.9; Unicode 14.0.0'")
        raw.execute("INSERT INTO papers_fts (papers_fts) VALUES ('delete-all')")
        raw.commit()
        assert matches(raw, "量化") == []

    db = await Database.open(seeded)  # what the bot and the CLI do at start-up
    try:
        rows = await db.read(lambda c: c.execute("SELECT folding, papers FROM search_index").fetchone())
        papers = await db.fetchone("SELECT count(*) FROM papers")
        assert papers is not None and tuple(rows) == (folding(), papers[0])
        found = await db.read(lambda c: {q: matches(c, q) for q in before})
    finally:
        await db.close()
    assert {q: len(titles) for q, titles in found.items()} == before
    assert found["多模態"] == found["多模态"]  # either script


def test_rebuild_reports_progress_and_keeps_every_paper(seeded: Path) -> None:
    with closing(connect(seeded)) as conn:
        conn.execute("UPDATE search_index SET folding = 'something else'")
        reports: list[tuple[int, int]] = []
        assert ensure_index(conn, lambda done, total: reports.append((done, total))) is True
        total = conn.execute("SELECT count(*) FROM papers").fetchone()[0]
        assert reports and reports[-1] == (total, total)
        assert [done for done, _ in reports] == sorted(done for done, _ in reports)
        # The index holds exactly one entry per paper again (the contentless table's own row count).
        assert conn.execute("SELECT count(*) FROM papers_fts").fetchone()[0] == total
        assert recorded(conn) == folding()


def test_the_rebuild_indexes_what_the_triggers_index(tmp_path: Path) -> None:
    with closing(connect(tmp_path / "bot.sqlite3")) as conn:
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'papers_fts_insert'").fetchone()
    trigger = " ".join(sql.replace("new.", "").split())
    assert f"fts_text({TITLE_TEXT})" in trigger and f"fts_text({ABSTRACT_TEXT})" in trigger
