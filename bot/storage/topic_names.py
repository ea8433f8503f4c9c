"""Topic names from catalogue lists that are not a topic's own (table `topic_names`, migration 7), and
the tag rows that settling them adds or removes. Synchronous: called inside an ingest's transaction or
through `Database.write`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.catalogue.model import Paper
from bot.storage.migrations import TAG_DAY
from bot.storage.papers import read_papers

__all__ = [
    "NameRow",
    "adopted_names",
    "catalogue_tagged_ids",
    "drop_tags",
    "insert_tags",
    "load_names",
    "restore_tags",
    "save_names",
    "unfiled_tags",
    "untagged_ids",
]


@dataclass(frozen=True, slots=True)
class NameRow:
    """One recorded name: how it was filed and the papers that carry it."""

    name: str
    status: str  # bot.catalogue.names.NameStatus value (variant, doubtful, new, adopted)
    topic: str | None
    score: float
    papers: tuple[str, ...]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def unfiled_tags(conn: sqlite3.Connection, known: Iterable[str]) -> dict[str, list[str]]:
    """Catalogue tags whose name is no known topic: name -> arXiv IDs carrying it."""
    rows = conn.execute(
        "SELECT pt.topic, p.arxiv_id FROM paper_topics pt JOIN papers p ON p.id = pt.paper_id"
        " WHERE pt.source = 'catalogue' AND pt.topic NOT IN (SELECT value FROM json_each(?))"
        " ORDER BY pt.topic, p.arxiv_id",
        (json.dumps(sorted(known), ensure_ascii=False),),
    ).fetchall()
    found: dict[str, list[str]] = {}
    for name, arxiv_id in rows:
        found.setdefault(name, []).append(arxiv_id)
    return found


def load_names(conn: sqlite3.Connection, statuses: Sequence[str] = ()) -> dict[str, NameRow]:
    """Recorded names (all, or those with the given statuses)."""
    rows = conn.execute("SELECT name, status, topic, score, papers FROM topic_names ORDER BY name").fetchall()
    return {
        name: NameRow(name, status, topic, float(score), tuple(json.loads(papers)))
        for name, status, topic, score, papers in rows
        if not statuses or status in statuses
    }


def adopted_names(conn: sqlite3.Connection) -> list[str]:
    """Names adopted as topics of their own, in the order they were first recorded."""
    return [
        row[0]
        for row in conn.execute("SELECT name FROM topic_names WHERE status = 'adopted' ORDER BY updated_at, name")
    ]


def save_names(conn: sqlite3.Connection, rows: Iterable[NameRow]) -> None:
    """Insert or replace recorded names."""
    now = _now()
    conn.executemany(
        "INSERT INTO topic_names (name, status, topic, score, papers, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET status = excluded.status, topic = excluded.topic,"
        " score = excluded.score, papers = excluded.papers, updated_at = excluded.updated_at",
        [(r.name, r.status, r.topic, r.score, json.dumps(list(r.papers)), now) for r in rows],
    )


def drop_tags(conn: sqlite3.Connection, names: Sequence[str]) -> None:
    """Remove these names from every paper and from the topic list (they are kept in topic_names)."""
    marks = json.dumps(list(names), ensure_ascii=False)
    conn.execute("DELETE FROM paper_topics WHERE topic IN (SELECT value FROM json_each(?))", (marks,))
    conn.execute("DELETE FROM topics WHERE name IN (SELECT value FROM json_each(?))", (marks,))


def restore_tags(conn: sqlite3.Connection, name: str, arxiv_ids: Sequence[str]) -> None:
    """Tag these papers with an adopted name (as the catalogue wrote it) and list it as a topic."""
    conn.execute(
        "INSERT OR IGNORE INTO paper_topics (topic, paper_id, source, published_day)"
        f" SELECT ?, p.id, 'catalogue', {TAG_DAY} FROM papers p WHERE p.arxiv_id IN (SELECT value FROM json_each(?))",
        (name, json.dumps(list(arxiv_ids))),
    )
    conn.execute(
        "INSERT OR IGNORE INTO topics (name, position) SELECT ?, coalesce(max(position), -1) + 1 FROM topics", (name,)
    )


def untagged_ids(conn: sqlite3.Connection) -> list[str]:
    """arXiv IDs of papers without any tag."""
    return [
        row[0]
        for row in conn.execute(
            "SELECT arxiv_id FROM papers p WHERE NOT EXISTS (SELECT 1 FROM paper_topics pt WHERE pt.paper_id = p.id)"
            " ORDER BY arxiv_id"
        )
    ]


def catalogue_tagged_ids(conn: sqlite3.Connection, limit: int) -> list[str]:
    """arXiv IDs of the newest `limit` papers people tagged (the model's training set)."""
    return [
        row[0]
        for row in conn.execute(
            "SELECT p.arxiv_id FROM papers p WHERE EXISTS (SELECT 1 FROM paper_topics pt"
            " WHERE pt.paper_id = p.id AND pt.source = 'catalogue') ORDER BY p.published DESC, p.arxiv_id DESC LIMIT ?",
            (limit,),
        )
    ]


def read(conn: sqlite3.Connection, arxiv_ids: Sequence[str]) -> list[Paper]:
    """Papers by ID, in the order given (missing ones left out)."""
    found = read_papers(conn, arxiv_ids)
    return [found[i] for i in arxiv_ids if i in found]


def insert_tags(conn: sqlite3.Connection, rows: Iterable[tuple[str, str, str, float]]) -> int:
    """Add (arxiv_id, topic, source, confidence) tags; returns how many rows were given."""
    batch = list(rows)
    conn.execute(
        "INSERT OR IGNORE INTO paper_topics (topic, paper_id, source, confidence, published_day)"
        f" SELECT value ->> 1, p.id, value ->> 2, value ->> 3, {TAG_DAY}"
        " FROM json_each(?) JOIN papers p ON p.arxiv_id = value ->> 0",
        (json.dumps(batch, ensure_ascii=False),),
    )
    return len(batch)
