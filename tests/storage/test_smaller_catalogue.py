"""Migration 16: shorter content hashes and ascending date indexes, every row kept."""

from __future__ import annotations

import hashlib

import pytest

from bot.catalogue.topics import Taxonomy
from bot.config import Settings
from bot.services.ingest import ingest
from bot.storage import papers
from bot.storage.db import connect
from bot.storage.fts import index_text
from bot.storage.migrations import MIGRATIONS, hash_text
from tests.storage import database_at


def test_hashes_are_22_characters_of_the_sha256_prefix() -> None:
    digest = hashlib.sha256(b"paper").digest()
    assert len(hash_text(digest)) == 22
    assert hash_text(digest) == hash_text(digest[:16])  # only the first 16 bytes count


def test_an_old_databases_papers_are_unchanged_on_reingest_after_migrating(
    settings: Settings, taxonomy: Taxonomy, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = settings.database
    old = database_at(path, sorted(v for v in MIGRATIONS if v < 16))
    old.create_function("fts_text", 1, index_text, deterministic=True)
    with monkeypatch.context() as patch:
        # How releases before migration 16 stored a paper's hash: the whole SHA-256 in hex.
        patch.setattr(papers, "hash_text", lambda digest: digest.hex())
        first = ingest(old, [settings.seeds], taxonomy)
    assert first.new == 70
    before = old.execute("SELECT arxiv_id, content_hash FROM papers ORDER BY arxiv_id").fetchall()
    tags = old.execute("SELECT * FROM paper_topics ORDER BY topic, paper_id").fetchall()
    assert {len(h) for _, h in before} == {64}
    old.execute("UPDATE papers SET content_hash = 'h' WHERE arxiv_id = ?", (before[0][0],))  # not a hex digest
    old.close()

    conn = connect(path)
    try:
        assert path.with_name(path.name + "-wal").stat().st_size == 0  # the migrations' WAL given back
        after = conn.execute("SELECT arxiv_id, content_hash FROM papers ORDER BY arxiv_id").fetchall()
        assert [a for a, _ in after] == [a for a, _ in before]  # every paper kept, its tags too
        assert conn.execute("SELECT * FROM paper_topics ORDER BY topic, paper_id").fetchall() == tags
        assert after[0][1] == "h"  # what is not a hex digest is left as it was
        assert after[1:] == [(a, hash_text(bytes.fromhex(h))) for a, h in before[1:]]
        second = ingest(conn, [settings.seeds], taxonomy)
        # Only the paper whose hash was not a digest is rewritten; the others compare equal.
        assert (second.new, second.updated, second.unchanged) == (0, 1, 69)
        third = ingest(conn, [settings.seeds], taxonomy)
        assert (third.new, third.updated, third.unchanged) == (0, 0, 70)
        assert {len(h) for (h,) in conn.execute("SELECT content_hash FROM papers")} == {22}
    finally:
        conn.close()


def test_date_indexes_are_ascending_and_read_backwards(settings: Settings) -> None:
    conn = connect(settings.database)
    try:
        schema = dict(conn.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'index'").fetchall())
        assert "DESC" not in schema["papers_by_date"] and "DESC" not in schema["paper_topics_feed"]
        # The newest-first readers still walk the index instead of sorting the catalogue.
        plan = " ".join(
            row[3]
            for row in conn.execute(
                "EXPLAIN QUERY PLAN SELECT arxiv_id FROM papers ORDER BY published DESC, arxiv_id DESC LIMIT 5"
            )
        )
        assert "papers_by_date" in plan and "TEMP B-TREE" not in plan
        plan = " ".join(
            row[3]
            for row in conn.execute(
                "EXPLAIN QUERY PLAN SELECT p.arxiv_id FROM paper_topics pt JOIN papers p ON p.id = pt.paper_id"
                " WHERE pt.topic = 'A' AND pt.source <> 'catalogue' = 0 ORDER BY pt.published_day DESC LIMIT 5"
            )
        )
        assert "paper_topics_feed" in plan and "TEMP B-TREE" not in plan
    finally:
        conn.close()
