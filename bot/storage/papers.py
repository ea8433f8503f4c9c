"""Catalogue tables: writing merged papers (ingest) and reading them (bot, CLI, push planner)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import aiosqlite

from bot.catalogue.model import MachineTranslation, Paper, TagSource
from bot.storage.db import Database
from bot.storage.fts import Match, match_expression

# A paper row carries its tags as JSON, in taxonomy order, so one query reads a whole paper.
_PAPER_COLUMNS = """p.id, p.arxiv_id, p.title_en, p.title_zh, p.abstract_zh, p.published, p.date_is_exact,
    p.abstract_en, p.authors, p.categories, p.version, p.sources, (
    SELECT json_group_array(json_array(tag.topic, tag.source)) FROM (
        SELECT pt.topic, pt.source FROM paper_topics pt LEFT JOIN topics t ON t.name = pt.topic
        WHERE pt.paper_id = p.id ORDER BY coalesce(t.position, 1000000), pt.topic
    ) tag
) AS tags, (
    SELECT json_array(tr.title_zh, tr.abstract_zh, tr.key_point, tr.model) FROM translations tr
    WHERE tr.arxiv_id = p.arxiv_id AND tr.version = p.version AND tr.status = 'done'
) AS machine"""


def content_hash(paper: Paper) -> str:
    """A digest of everything ingest writes for a paper, to tell updated papers from unchanged ones."""
    payload = [
        paper.title_en,
        paper.title_zh,
        paper.abstract_zh,
        paper.published.isoformat(),
        paper.date_is_exact,
        sorted([name, str(source)] for name, source in paper.topics),
    ]
    if paper.abstract_en or paper.authors or paper.categories or paper.version or paper.sources:
        # Only papers with arXiv metadata hash it, so seed-only papers keep the digests they had.
        payload += [paper.abstract_en, list(paper.authors), list(paper.categories), paper.version, list(paper.sources)]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


INSERT_CHUNK = 5000  # papers per INSERT statement during ingest


@dataclass(frozen=True)
class UpsertCounts:
    """What one ingest changed."""

    new: int
    updated: int
    unchanged: int


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class CatalogueWriter:
    """Writes the catalogue on a synchronous connection, all of one ingest in one transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def seed_hashes(self) -> dict[str, str]:
        """Seed file path -> content hash recorded by the last successful ingest."""
        return dict(self._conn.execute("SELECT path, sha256 FROM seed_files").fetchall())

    def write(self, papers: Sequence[Paper], topics: Sequence[str], seed_hashes: dict[str, str]) -> UpsertCounts:
        """Upsert papers, their tags and the topic list atomically. Papers absent here are kept."""
        conn = self._conn
        now = _now()
        conn.execute("BEGIN IMMEDIATE")
        try:
            stored = dict(conn.execute("SELECT arxiv_id, content_hash FROM papers").fetchall())
            new_rows: list[tuple[Any, ...]] = []
            changed_rows: list[tuple[Any, ...]] = []
            tag_rows: list[tuple[str, str, str]] = []
            changed_ids: list[tuple[str]] = []
            unchanged = 0
            for paper in papers:
                digest = content_hash(paper)
                old = stored.get(paper.arxiv_id)
                if old == digest:
                    unchanged += 1
                    continue
                fields = (
                    paper.title_en,
                    paper.title_zh,
                    paper.abstract_zh,
                    paper.published.isoformat(),
                    int(paper.date_is_exact),
                    paper.abstract_en,
                    json.dumps(paper.authors, ensure_ascii=False),
                    json.dumps(paper.categories),
                    paper.version,
                    json.dumps(paper.sources, ensure_ascii=False),
                    digest,
                )
                if old is None:
                    new_rows.append((paper.arxiv_id, *fields, now, now))
                else:
                    changed_rows.append((*fields, now, paper.arxiv_id))
                    changed_ids.append((paper.arxiv_id,))
                tag_rows.extend((name, str(source), paper.arxiv_id) for name, source in paper.topics)
            # Many rows per statement: FTS5 flushes its pending index at every statement boundary
            # inside a transaction, so one INSERT per row (executemany) would write a tiny index
            # segment per paper and triple the cost of a large ingest.
            for start in range(0, len(new_rows), INSERT_CHUNK):
                conn.execute(
                    "INSERT INTO papers (arxiv_id, title_en, title_zh, abstract_zh, published, date_is_exact,"
                    " abstract_en, authors, categories, version, sources, content_hash, added_at, updated_at)"
                    " SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,"
                    " value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10, value ->> 11,"
                    " value ->> 12, value ->> 13 FROM json_each(?)",
                    (json.dumps(new_rows[start : start + INSERT_CHUNK], ensure_ascii=False),),
                )
            conn.executemany(
                "UPDATE papers SET title_en = ?, title_zh = ?, abstract_zh = ?, published = ?,"
                " date_is_exact = ?, abstract_en = ?, authors = ?, categories = ?, version = ?, sources = ?,"
                " content_hash = ?, updated_at = ? WHERE arxiv_id = ?",
                changed_rows,
            )
            conn.executemany(
                "DELETE FROM paper_topics WHERE paper_id = (SELECT id FROM papers WHERE arxiv_id = ?)",
                changed_ids,
            )
            conn.executemany(
                "INSERT OR IGNORE INTO paper_topics (topic, paper_id, source)"
                " SELECT ?, id, ? FROM papers WHERE arxiv_id = ?",
                tag_rows,
            )
            known = {row[0] for row in conn.execute("SELECT name FROM topics")}
            used = {row[0] for row in conn.execute("SELECT DISTINCT topic FROM paper_topics")}
            ordered = list(dict.fromkeys([*topics, *sorted(used - set(topics)), *sorted(known - used - set(topics))]))
            conn.execute("DELETE FROM topics")
            conn.executemany(
                "INSERT INTO topics (name, position) VALUES (?, ?)", [(n, i) for i, n in enumerate(ordered)]
            )
            conn.executemany(
                "INSERT INTO seed_files (path, sha256, ingested_at) VALUES (?, ?, ?)"
                " ON CONFLICT (path) DO UPDATE SET sha256 = excluded.sha256, ingested_at = excluded.ingested_at",
                [(path, digest, now) for path, digest in seed_hashes.items()],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return UpsertCounts(new=len(new_rows), updated=len(changed_rows), unchanged=unchanged)


@dataclass(frozen=True)
class SearchHit:
    """One search result: the paper and whether the match was in its title."""

    paper: Paper
    in_title: bool


@dataclass(frozen=True)
class SearchPage:
    """One page of ranked results; `has_more` says whether a next page exists."""

    hits: list[SearchHit]
    has_more: bool
    broadened: bool = False  # no paper had every word, so these have any of them


@dataclass(frozen=True)
class TopicCount:
    """A topic and how many catalogue papers carry it."""

    name: str
    papers: int


# How many of the newest matches of a query are ranked (see PaperStore._ranked).
RANK_WINDOW = 500


class _ConnectionReads:
    """`Database`'s read methods on a bare aiosqlite connection (the push service's, until it moves to
    `Database`)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        return list(await self._conn.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        async with self._conn.execute(sql, params) as cursor:
            return await cursor.fetchone()


class PaperStore:
    """Read access to the catalogue for the bot, through `Database`'s reader connection."""

    def __init__(self, db: Database | aiosqlite.Connection) -> None:
        self._db = _ConnectionReads(db) if isinstance(db, aiosqlite.Connection) else db

    @staticmethod
    def _papers(rows: Iterable[Any]) -> list[Paper]:
        return [
            Paper(
                arxiv_id=row[1],
                title_en=row[2],
                title_zh=row[3],
                abstract_zh=row[4],
                published=date.fromisoformat(row[5]),
                date_is_exact=bool(row[6]),
                abstract_en=row[7],
                authors=tuple(json.loads(row[8])),
                categories=tuple(json.loads(row[9])),
                version=int(row[10]),
                sources=tuple(json.loads(row[11])),
                topics=tuple((name, TagSource(source)) for name, source in json.loads(row[12])),
                # A machine translation of the stored version (a new arXiv version has none yet).
                machine=MachineTranslation(*json.loads(row[13])) if row[13] else None,
            )
            for row in rows
        ]

    async def get(self, arxiv_id: str) -> Paper | None:
        """The paper with this canonical arXiv ID, if catalogued."""
        rows = await self._db.fetchall(f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE p.arxiv_id = ?", (arxiv_id,))
        papers = self._papers(rows)
        return papers[0] if papers else None

    async def get_many(self, arxiv_ids: Sequence[str]) -> dict[str, Paper]:
        """Papers by ID (missing IDs are absent from the result)."""
        if not arxiv_ids:
            return {}
        marks = ",".join("?" * len(arxiv_ids))
        rows = await self._db.fetchall(
            f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE p.arxiv_id IN ({marks})", list(arxiv_ids)
        )
        return {p.arxiv_id: p for p in self._papers(rows)}

    async def all_papers(self) -> list[Paper]:
        """Every paper (operator tools on small catalogues, e.g. rule evaluation)."""
        return self._papers(await self._db.fetchall(f"SELECT {_PAPER_COLUMNS} FROM papers p ORDER BY p.arxiv_id"))

    async def count(self) -> int:
        """Number of catalogued papers."""
        row = await self._db.fetchone("SELECT count(*) FROM papers")
        return int(row[0]) if row else 0

    async def search(self, query: str, *, offset: int = 0, limit: int = 5, broaden: bool = False) -> SearchPage:
        """Ranked full-text search: title matches first, then by bm25.

        When no paper holds the words as typed, the search loosens step by step (Chinese words as
        character pairs anywhere, then any word) and marks the page `broadened`. Paging buttons
        pass `broaden` back so later pages continue the loosened search.
        """
        seen: set[str] = set()
        for mode in Match:
            expression = match_expression(query, mode)
            if expression is None or expression in seen:
                continue
            seen.add(expression)
            if broaden and mode is Match.PHRASES:
                continue
            page = await self._search(expression, offset, limit)
            if page.hits or offset > 0:
                return SearchPage(page.hits, page.has_more, broadened=mode is not Match.PHRASES)
        return SearchPage(hits=[], has_more=False)

    async def _search(self, expression: str, offset: int, limit: int) -> SearchPage:
        # A very common word (模型) matches most of the catalogue, and ranking every match would make a
        # search cost grow with the catalogue. The inner query walks the index newest-first (rowid
        # order, no sorting) and scores at most RANK_WINDOW matches; the outer one ranks those.
        # bm25 with the abstract weighted 0 is negative exactly when a query word is in the title:
        # those papers come first; then bm25 with title weighted 10, abstract 1.
        rows = await self._db.fetchall(
            f"""
            SELECT {_PAPER_COLUMNS}, m.in_title FROM (
                SELECT * FROM (
                    SELECT rowid, bm25(papers_fts, 1.0, 0.0) < 0 AS in_title, bm25(papers_fts, 10.0, 1.0) AS score
                    FROM papers_fts WHERE papers_fts MATCH ? ORDER BY rowid DESC LIMIT ?
                ) ORDER BY in_title DESC, score, rowid DESC LIMIT ? OFFSET ?
            ) m JOIN papers p ON p.id = m.rowid
            ORDER BY m.in_title DESC, m.score, m.rowid DESC
            """,
            (expression, RANK_WINDOW, limit + 1, offset),
        )
        papers = self._papers(rows[:limit])
        hits = [SearchHit(paper, bool(row[-1])) for paper, row in zip(papers, rows, strict=False)]
        return SearchPage(hits=hits, has_more=len(rows) > limit)

    async def topic_counts(self) -> list[TopicCount]:
        """Every topic in taxonomy order with its paper count (topics without papers included)."""
        rows = await self._db.fetchall(
            "SELECT t.name, count(pt.paper_id) FROM topics t LEFT JOIN paper_topics pt ON pt.topic = t.name"
            " GROUP BY t.name ORDER BY t.position"
        )
        return [TopicCount(name, int(n)) for name, n in rows]

    async def topic_size(self, topic: str) -> int:
        """How many papers carry a topic (the primary key's index answers it)."""
        row = await self._db.fetchone("SELECT count(*) FROM paper_topics WHERE topic = ?", (topic,))
        return int(row[0]) if row else 0

    async def papers_of_topic(self, topic: str, *, offset: int = 0, limit: int = 5) -> list[Paper]:
        """A topic's papers, newest first."""
        rows = await self._db.fetchall(
            f"SELECT {_PAPER_COLUMNS} FROM paper_topics pt JOIN papers p ON p.id = pt.paper_id"
            " WHERE pt.topic = ? ORDER BY p.published DESC, p.arxiv_id DESC LIMIT ? OFFSET ?",
            (topic, limit, offset),
        )
        return self._papers(rows)

    async def related(self, arxiv_id: str, *, limit: int = 3) -> list[Paper]:
        """Papers sharing the most topics with this one, newest first among equals."""
        rows = await self._db.fetchall(
            f"SELECT {_PAPER_COLUMNS} FROM papers p JOIN ("
            "   SELECT other.paper_id, count(*) AS shared FROM paper_topics mine"
            "   JOIN paper_topics other ON other.topic = mine.topic AND other.paper_id != mine.paper_id"
            "   WHERE mine.paper_id = (SELECT id FROM papers WHERE arxiv_id = ?)"
            "   GROUP BY other.paper_id ORDER BY shared DESC LIMIT 200"
            " ) r ON r.paper_id = p.id ORDER BY r.shared DESC, p.published DESC, p.arxiv_id DESC LIMIT ?",
            (arxiv_id, limit),
        )
        return self._papers(rows)

    async def topic_papers_newest_first(self) -> dict[str, list[str]]:
        """Topic -> every arXiv ID carrying it, newest first (the push planner's in-memory view)."""
        result: dict[str, list[str]] = {}
        rows = await self._db.fetchall(
            "SELECT pt.topic, p.arxiv_id FROM paper_topics pt JOIN papers p ON p.id = pt.paper_id"
            " ORDER BY pt.topic, p.published DESC, p.arxiv_id DESC"
        )
        for topic, arxiv_id in rows:
            result.setdefault(topic, []).append(arxiv_id)
        return result

    async def search_ids_newest_first(self, query: str, *, limit: int = 200) -> list[str]:
        """IDs of papers matching every word of `query`, newest first (keyword subscriptions)."""
        expression = match_expression(query)
        if expression is None:
            return []
        rows = await self._db.fetchall(
            "SELECT p.arxiv_id FROM papers_fts f JOIN papers p ON p.id = f.rowid"
            " WHERE papers_fts MATCH ? ORDER BY p.published DESC, p.arxiv_id DESC LIMIT ?",
            (expression, limit),
        )
        return [row[0] for row in rows]
