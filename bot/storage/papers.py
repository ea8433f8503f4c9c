"""Catalogue tables: writing merged papers (ingest) and reading them (bot, CLI, push planner)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from bot.catalogue.model import MachineTranslation, Paper, TagSource
from bot.model import SearchHit, SearchPage, TopicCount
from bot.storage.db import Database
from bot.storage.fts import Densities, Match, newest_matches, parse_query, ranked_matches
from bot.storage.migrations import TAG_DAY, hash_text

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


# One encoder for every call: json.dumps(..., ensure_ascii=False) builds a new JSONEncoder each time,
# which costs about as much as encoding a paper's short lists (ingest encodes five per paper).
_to_json = json.JSONEncoder(ensure_ascii=False).encode


def content_hash(paper: Paper) -> str:
    """A digest of everything ingest writes for a paper, to tell updated papers from unchanged ones
    (22 characters: `hash_text`)."""
    payload = [
        paper.title_en,
        paper.title_zh,
        paper.abstract_zh,
        paper.published.isoformat(),
        paper.date_is_exact,
        sorted([name, str(source)] for name, source in paper.topics),
    ]
    if paper.topic_confidence:
        payload.append([round(c, 2) for c in paper.topic_confidence])
    if paper.abstract_en or paper.authors or paper.categories or paper.version or paper.sources:
        # Only papers with arXiv metadata hash it, so seed-only papers keep the digests they had.
        payload += [paper.abstract_en, list(paper.authors), list(paper.categories), paper.version, list(paper.sources)]
    return hash_text(hashlib.sha256(_to_json(payload).encode()).digest())


WRITE_BATCH = 5000  # papers per batch (and per INSERT statement) of a write


@dataclass(frozen=True)
class UpsertCounts:
    """What one ingest changed."""

    new: int
    updated: int
    unchanged: int


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# The FTS index is rewritten as one segment (FTS5 'optimize') after a run that changed at least this
# share of the catalogue: a bulk load then leaves an index as fast to query as it can be (about
# twice as fast as the ~10 segments automerge leaves at 1M papers), for about 20 s at 1M papers;
# small daily runs leave merging to FTS5's automerge.
OPTIMIZE_SHARE = 0.5


class WriteRun:
    """One all-or-nothing catalogue write, fed in batches (see `CatalogueWriter.run`).

    Memory does not grow with the run: each batch looks up only its own papers, and what the run has
    written so far (for the counts, and for a paper written twice) lives in a temporary table.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._now = _now()
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS catalogue_run (arxiv_id TEXT PRIMARY KEY, old_hash TEXT, tag INTEGER)"
            " WITHOUT ROWID"
        )
        conn.execute("DELETE FROM temp.catalogue_run")

    def written(self, arxiv_ids: Iterable[str]) -> dict[str, int]:
        """Of these IDs, those this run already wrote -> the `tag` of their first write."""
        rows = self._conn.execute(
            "SELECT arxiv_id, tag FROM temp.catalogue_run WHERE arxiv_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(arxiv_ids)),),
        )
        return {arxiv_id: int(tag) for arxiv_id, tag in rows}

    def add(self, papers: Sequence[Paper], *, tag: int = 0) -> None:
        """Upsert a batch of papers and their tags. A paper written earlier in the run is replaced."""
        conn = self._conn
        if not papers:
            return
        stored: dict[str, str] = dict(
            conn.execute(
                "SELECT arxiv_id, content_hash FROM papers WHERE arxiv_id IN (SELECT value FROM json_each(?))",
                (json.dumps([p.arxiv_id for p in papers]),),
            ).fetchall()
        )
        # The hash before the run, recorded at a paper's first write, decides new/updated/unchanged.
        conn.execute(
            "INSERT OR IGNORE INTO temp.catalogue_run (arxiv_id, old_hash, tag)"
            " SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?)",
            (json.dumps([(p.arxiv_id, stored.get(p.arxiv_id), tag) for p in papers]),),
        )
        new_rows: list[tuple[Any, ...]] = []
        changed_rows: list[tuple[Any, ...]] = []
        tag_rows: list[tuple[str, str, str, float]] = []
        changed_ids: list[tuple[str]] = []
        for paper in papers:
            digest = content_hash(paper)
            old = stored.get(paper.arxiv_id)
            if old == digest:
                continue
            fields = (
                paper.title_en,
                paper.title_zh,
                paper.abstract_zh,
                paper.published.isoformat(),
                int(paper.date_is_exact),
                paper.abstract_en,
                _to_json(paper.authors),
                json.dumps(paper.categories),
                paper.version,
                _to_json(paper.sources),
                digest,
            )
            if old is None:
                new_rows.append((paper.arxiv_id, *fields, self._now, self._now))
            else:
                changed_rows.append((*fields, self._now, paper.arxiv_id))
                changed_ids.append((paper.arxiv_id,))
            tag_rows.extend(
                (name, str(source), paper.arxiv_id, paper.confidence(i))
                for i, (name, source) in enumerate(paper.topics)
            )
        # Many rows per statement: FTS5 flushes its pending index at every statement boundary
        # inside a transaction, so one INSERT per row (executemany) would write a tiny index
        # segment per paper and triple the cost of a large ingest.
        if new_rows:
            conn.execute(
                "INSERT INTO papers (arxiv_id, title_en, title_zh, abstract_zh, published, date_is_exact,"
                " abstract_en, authors, categories, version, sources, content_hash, added_at, updated_at)"
                " SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,"
                " value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10, value ->> 11,"
                " value ->> 12, value ->> 13 FROM json_each(?)",
                (_to_json(new_rows),),
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
        conn.execute(
            "INSERT OR IGNORE INTO paper_topics (topic, paper_id, source, confidence, published_day)"
            f" SELECT value ->> 0, p.id, value ->> 1, value ->> 3, {TAG_DAY}"
            " FROM json_each(?) JOIN papers p ON p.arxiv_id = value ->> 2",
            (_to_json(tag_rows),),
        )

    def finish(self, topics: Sequence[str], seed_hashes: dict[str, str]) -> UpsertCounts:
        """Write the topic list and the seed files' hashes; what the whole run changed."""
        conn = self._conn
        known = {row[0] for row in conn.execute("SELECT name FROM topics")}
        used = {row[0] for row in conn.execute("SELECT DISTINCT topic FROM paper_topics")}
        ordered = list(dict.fromkeys([*topics, *sorted(used - set(topics)), *sorted(known - used - set(topics))]))
        conn.execute("DELETE FROM topics")
        conn.executemany("INSERT INTO topics (name, position) VALUES (?, ?)", [(n, i) for i, n in enumerate(ordered)])
        conn.executemany(
            "INSERT INTO seed_files (path, sha256, ingested_at) VALUES (?, ?, ?)"
            " ON CONFLICT (path) DO UPDATE SET sha256 = excluded.sha256, ingested_at = excluded.ingested_at",
            [(path, digest, self._now) for path, digest in seed_hashes.items()],
        )
        new, unchanged, total = conn.execute(
            "SELECT count(*) FILTER (WHERE r.old_hash IS NULL), count(*) FILTER (WHERE r.old_hash = p.content_hash),"
            " count(*) FROM temp.catalogue_run r JOIN papers p ON p.arxiv_id = r.arxiv_id"
        ).fetchone()
        conn.execute("DROP TABLE temp.catalogue_run")
        changed = int(total) - int(unchanged)
        if changed and changed >= OPTIMIZE_SHARE * int(conn.execute("SELECT max(id) FROM papers").fetchone()[0]):
            conn.execute("INSERT INTO papers_fts (papers_fts) VALUES ('optimize')")
        return UpsertCounts(new=int(new), updated=changed - int(new), unchanged=int(unchanged))


class CatalogueWriter:
    """Writes the catalogue on a synchronous connection: on its own, or inside a transaction the
    caller already holds (`Database.write(fn)`), all of one run or nothing."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def seed_hashes(self) -> dict[str, str]:
        """Seed file path -> content hash recorded by the last successful ingest."""
        return dict(self._conn.execute("SELECT path, sha256 FROM seed_files").fetchall())

    @contextmanager
    def run(self) -> Iterator[WriteRun]:
        """One all-or-nothing run: its own BEGIN IMMEDIATE ... COMMIT, or a savepoint inside the
        caller's transaction. An exception undoes every batch of the run."""
        conn = self._conn
        nested = conn.in_transaction
        conn.execute("SAVEPOINT catalogue_run" if nested else "BEGIN IMMEDIATE")
        try:
            yield WriteRun(conn)
        except BaseException:
            if nested:
                conn.execute("ROLLBACK TO catalogue_run")
                conn.execute("RELEASE catalogue_run")
            else:
                conn.execute("ROLLBACK")
            raise
        if nested:
            conn.execute("RELEASE catalogue_run")
        else:
            conn.execute("COMMIT")
            # FTS5 merges segments as the transaction commits: give the pages they freed back to the
            # file system (a no-op unless the database was created with auto_vacuum = INCREMENTAL).
            conn.executescript("PRAGMA incremental_vacuum;")  # execute() would free one page only

    def write(self, papers: Sequence[Paper], topics: Sequence[str], seed_hashes: dict[str, str]) -> UpsertCounts:
        """Upsert papers, their tags and the topic list atomically. Papers absent here are kept."""
        with self.run() as run:
            for start in range(0, len(papers), WRITE_BATCH):
                run.add(papers[start : start + WRITE_BATCH])
            counts = run.finish(topics, seed_hashes)
        return counts

    # Callers already inside a transaction (the refresh job's `Database.write`) read better this way.
    upsert = write


def read_papers(conn: sqlite3.Connection, arxiv_ids: Sequence[str]) -> dict[str, Paper]:
    """(Synchronous, for `Database.read`/`write`.) Papers by canonical ID; missing IDs are absent."""
    rows = conn.execute(
        f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE p.arxiv_id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(arxiv_ids)),),
    ).fetchall()
    return {p.arxiv_id: p for p in _to_papers(rows)}


def _to_papers(rows: Iterable[Any]) -> list[Paper]:
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


def _search(
    conn: sqlite3.Connection, densities: Densities, *, query: str, offset: int, limit: int, broaden: bool
) -> SearchPage:
    """(Reader thread, one snapshot.) PaperStore.search."""
    seen: set[str] = set()
    for mode in Match:
        parsed = parse_query(query, mode)
        if parsed is None or parsed.expression in seen:
            continue
        seen.add(parsed.expression)
        if broaden and mode is Match.PHRASES:
            continue
        ranked = ranked_matches(conn, parsed, densities)
        if ranked or offset > 0:
            page = ranked[offset : offset + limit]
            marks = ",".join("?" * len(page))
            rows = conn.execute(
                f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE p.id IN ({marks})", [m.rowid for m in page]
            ).fetchall()
            papers = dict(zip([row[0] for row in rows], _to_papers(rows), strict=True))
            hits = [SearchHit(papers[m.rowid], m.in_title) for m in page if m.rowid in papers]
            return SearchPage(hits, len(ranked) > offset + limit, broadened=mode is not Match.PHRASES)
    return SearchPage(hits=[], has_more=False)


def _keyword_ids(conn: sqlite3.Connection, densities: Densities, *, query: str, limit: int) -> list[str]:
    """(Reader thread.) PaperStore.search_ids_newest_first."""
    parsed = parse_query(query)
    if parsed is None:
        return []
    ids, _density = newest_matches(conn, parsed, densities, want=2 * limit)
    rows = conn.execute(
        "SELECT arxiv_id FROM papers WHERE id IN (SELECT value FROM json_each(?))"
        " ORDER BY published DESC, arxiv_id DESC LIMIT ?",
        (json.dumps(ids), limit),
    )
    return [arxiv_id for (arxiv_id,) in rows]


class PaperStore:
    """Read access to the catalogue for the bot, through `Database`'s reader connection."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._densities = Densities()

    async def get(self, arxiv_id: str) -> Paper | None:
        """The paper with this canonical arXiv ID, if catalogued."""
        rows = await self._db.fetchall(f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE p.arxiv_id = ?", (arxiv_id,))
        papers = _to_papers(rows)
        return papers[0] if papers else None

    async def get_many(self, arxiv_ids: Sequence[str]) -> dict[str, Paper]:
        """Papers by ID (missing IDs are absent from the result)."""
        if not arxiv_ids:
            return {}
        marks = ",".join("?" * len(arxiv_ids))
        rows = await self._db.fetchall(
            f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE p.arxiv_id IN ({marks})", list(arxiv_ids)
        )
        return {p.arxiv_id: p for p in _to_papers(rows)}

    async def all_papers(self) -> list[Paper]:
        """Every paper (operator tools on small catalogues, e.g. rule evaluation)."""
        return _to_papers(await self._db.fetchall(f"SELECT {_PAPER_COLUMNS} FROM papers p ORDER BY p.arxiv_id"))

    async def count(self) -> int:
        """Number of catalogued papers."""
        row = await self._db.fetchone("SELECT count(*) FROM papers")
        return int(row[0]) if row else 0

    async def search(self, query: str, *, offset: int = 0, limit: int = 5, broaden: bool = False) -> SearchPage:
        """Ranked full-text search: title matches first, then by weight of the words matched, then newest.

        When no paper holds the words as typed, the search loosens step by step (Chinese words as
        character pairs anywhere, then any word) and marks the page `broadened`. Paging buttons
        pass `broaden` back so later pages continue the loosened search. Only the newest
        RANK_WINDOW matches are ranked (see bot.storage.fts), so the cost does not grow with the catalogue.
        """
        return await self._db.read(
            partial(_search, densities=self._densities, query=query, offset=offset, limit=limit, broaden=broaden)
        )

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
        return _to_papers(rows)

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
        return _to_papers(rows)

    async def search_ids_newest_first(self, query: str, *, limit: int = 200) -> list[str]:
        """IDs of papers matching every word of `query`, newest first (keyword subscriptions).

        The newest matches by rowid (within the search's scan budget) are sorted by date, so the cost
        does not grow with the catalogue however common the keyword.
        """
        return await self._db.read(partial(_keyword_ids, densities=self._densities, query=query, limit=limit))
