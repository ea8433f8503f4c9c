"""The refresh's CPU-heavy half, run in a worker process: parse a listing, merge with the stored papers,
tag, and write them through the worker's own SQLite connection.

Why a process and not threads: the bot's handlers run on one event loop, and every thread of the bot's
process shares its GIL. With the listing's XML parsing, merging, tagging (rules, scikit-learn) and the
FTS folding function (a Python function the triggers call for each written paper) on threads of the
bot, a handler's p99 was 2.8-5.5x its idle p99 while a refresh ran (benchmarks/refresh.py, README).
A process has its own interpreter and GIL; the bot only awaits a future meanwhile. The process runs
at a lower priority (nice 10): on two cores shared with the bot, its local work and anything else on the
machine, the handlers' p50 doubled during a refresh while the worker competed as an equal.

Writing from the worker keeps the folding out of the bot too, and SQLite itself keeps the writes
apart: WAL lets the bot's readers read on; SQLite's write lock, with a busy timeout, serialises the
worker's transactions with the bot's own writer. Each transaction holds WRITE_CHUNK papers (a few
milliseconds), so a handler's write waits little; merging and tagging happen outside it. A paper
another writer changed between the chunk's read and its write (a /paper fetch, a digest run) is merged
again inside the transaction from what is stored then, so no write of theirs is lost.

The bot side is `RefreshWorker`: it starts the process on first use (spawn: a fresh interpreter, none
of the bot's threads, sockets or event loop copied into it), keeps it while runs follow each other, ends
it after IDLE_EXIT seconds without a job, and replaces it when it died. Jobs are plain picklable
dataclasses; results are small counts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import multiprocessing
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from bot.catalogue.model import Paper, TagSource
from bot.catalogue.tagger import Method, Tagger
from bot.catalogue.topics import Taxonomy
from bot.services.tagging import TRAIN_LIMIT, settle_topics
from bot.sources.arxiv import ArxivRecord, parse_listing
from bot.storage import topic_names as names_store
from bot.storage.db import connect
from bot.storage.papers import CatalogueWriter, UpsertCounts, read_papers

# Papers per write transaction: about 2 ms of the worker holding SQLite's write lock at 100,000 papers
# (60 us a paper, mostly FTS5 indexing), so a handler's write waits that long at most; 100 a chunk held
# it 6-15 ms, and the total CPU of a 2,000-paper run is the same within 5%.
WRITE_CHUNK = 25
# The worker waits for the bot's writer (a push's delivery log, a handler's write) rather than failing
# the run; the bot's own connections keep their short timeout (bot.storage.db.BUSY_TIMEOUT_MS).
WORKER_BUSY_TIMEOUT_MS = 60_000
WORKER_NICENESS = 10
TAGGER_TTL = 6 * 3600.0  # seconds a trained model tagger serves refreshes before it learns the catalogue anew
# Seconds an idle worker process lives. It holds ~100 MB (scikit-learn, the model, SQLite's cache) that
# a bot refreshing a few times a day should not keep; a run's calls (listing, then the API's details
# after the politeness delays) come seconds apart, and training the model anew costs a few seconds of
# background CPU (15-18 s at TRAIN_LIMIT papers on a loaded 2-core machine) once per run.
IDLE_EXIT = 600.0

# The arXiv primary categories that name one of our topics by themselves.
CATEGORY_TOPICS = {
    "cs.CV": "視覺模型",
    "cs.CR": "對抗攻擊",
    "cs.MA": "LLM代理",
}

J = TypeVar("J")
R = TypeVar("R")


# -- merging and tagging (pure; also used in the bot for a single /paper fetch) ----------------------


def combine(old: Paper | None, new: Paper) -> Paper:
    """A stored paper updated by a source's view of it; nothing known is lost.

    Chinese text comes from digest lists, English metadata from arXiv (the newer version wins); the
    date stays the one first stored (a new version is not a new paper) unless only the month was known.
    """
    if old is None:
        return new
    newer = new.version >= old.version and (new.version > 0 or not old.version)
    catalogue_tags = [t for t in (*old.topics, *new.topics) if t[1] is TagSource.CATALOGUE]
    published, exact = old.published, old.date_is_exact
    if not exact and new.date_is_exact:
        published, exact = new.published, True
    return dataclasses.replace(
        old,
        title_en=(new.title_en if newer and new.version else old.title_en) or new.title_en,
        title_zh=new.title_zh or old.title_zh,
        abstract_zh=new.abstract_zh or old.abstract_zh,
        published=published,
        date_is_exact=exact,
        abstract_en=(new.abstract_en if newer else old.abstract_en) or old.abstract_en or new.abstract_en,
        authors=(new.authors if newer else old.authors) or old.authors or new.authors,
        categories=(new.categories if newer else old.categories) or old.categories or new.categories,
        version=max(old.version, new.version),
        sources=tuple(dict.fromkeys((*old.sources, *new.sources))),
        topics=tuple(dict.fromkeys(catalogue_tags)) or old.topics,
    )


def tag(paper: Paper, taxonomy: Taxonomy) -> Paper:
    """Topics for a paper without catalogue tags: the taxonomy's ranked rules over its titles, both
    abstracts and categories, plus the topic its primary arXiv category names. Papers no rule tags are
    left to the learned model (`model_tagged`)."""
    if any(source is TagSource.CATALOGUE for _, source in paper.topics):
        return paper
    names = [name for name, _ in taxonomy.rule_tags_of(paper)]
    by_category = CATEGORY_TOPICS.get(paper.categories[0]) if paper.categories else None
    if by_category and taxonomy.get(by_category) is not None and by_category not in names:
        names.append(by_category)
    order = {name: i for i, name in enumerate(taxonomy.names)}
    names.sort(key=lambda n: order.get(n, len(order)))
    return dataclasses.replace(paper, topics=tuple((n, TagSource.RULE) for n in names))


def model_tagged(papers: Sequence[Paper], tagger: Tagger) -> list[Paper]:
    """Papers no rule tagged get the learned model's topics, so every paper reaches some subscriber."""
    bare = [i for i, p in enumerate(papers) if not p.topics]
    result = list(papers)
    for i, tags in zip(bare, tagger.tag_many([papers[i] for i in bare]), strict=True):
        result[i] = dataclasses.replace(
            papers[i],
            topics=tuple((t.topic, t.source) for t in tags),
            topic_confidence=tuple(t.confidence for t in tags),
        )
    return result


def train_tagger(conn: sqlite3.Connection, taxonomy: Taxonomy) -> Tagger:
    """A model tagger learning from the newest catalogue-tagged papers (`conn` inside a read transaction)."""
    training = names_store.read(conn, names_store.catalogue_tagged_ids(conn, TRAIN_LIMIT))
    return Tagger.train(taxonomy, training, Method(taxonomy.tagging))


def prepare(
    chunk: Sequence[Paper], stored: Mapping[str, Paper], taxonomy: Taxonomy, tagger: Callable[[], Tagger]
) -> list[Paper]:
    """Each paper merged with its stored self and tagged; `tagger()` is asked only if a rule tags none."""
    ready = [tag(combine(stored.get(p.arxiv_id), p), taxonomy) for p in chunk]
    if any(not p.topics for p in ready):
        ready = model_tagged(ready, tagger())
    return ready


def upsert(
    conn: sqlite3.Connection, papers: Sequence[Paper], topics: Sequence[str], seed_hashes: dict[str, str]
) -> UpsertCounts:
    """Write prepared papers inside the caller's transaction."""
    return CatalogueWriter(conn).upsert(papers, topics, seed_hashes)


# -- the worker process's side ----------------------------------------------------------------------


@dataclass(frozen=True)
class StoreJob:
    """Papers a source brought, to merge into the catalogue at `database`."""

    database: str
    taxonomy: Taxonomy
    papers: tuple[Paper, ...]
    seed_hashes: dict[str, str] = field(default_factory=dict)  # written with the last chunk (seed files)


@dataclass(frozen=True)
class ListingJob:
    """A day's arXiv listing feed as fetched, to parse and store as the papers of `source`.

    `details`: the API's records of the entries the listing gave without an abstract; None on the first
    call, which stores nothing when such entries exist and names them instead (see `ListingOutcome`).
    """

    database: str
    taxonomy: Taxonomy
    source: str
    body: bytes
    announce_types: tuple[str, ...]
    details: dict[str, ArxivRecord] | None = None


@dataclass(frozen=True)
class StoreOutcome:
    """What a store did, and the worker's CPU seconds for it (the bot's CPU is not spent on it)."""

    counts: UpsertCounts
    cpu_seconds: float


@dataclass(frozen=True)
class ListingOutcome:
    """A listing's entries kept, those of other announce types, and either the IDs whose abstract the
    API must supply (nothing stored yet) or what was stored."""

    fetched: int
    skipped: int
    missing: tuple[str, ...] = ()
    stored: StoreOutcome | None = None


_taggers: dict[tuple[str, tuple[str, ...], str], tuple[float, Tagger]] = {}


class ModelNeeded(Exception):
    """A write transaction's re-merge needs the model tagger, which is not trained: train it outside
    the write lock (seconds at TRAIN_LIMIT papers, while every other writer would wait), then write again."""


def kept_only(tagger: Tagger | None) -> Callable[[], Tagger]:
    """For use under the write lock: the trained tagger, or ModelNeeded."""

    def get() -> Tagger:
        if tagger is None:
            raise ModelNeeded
        return tagger

    return get


class _TaggerCache:
    """The worker's model tagger for one catalogue, trained on first need, then kept for TAGGER_TTL."""

    def __init__(self, conn: sqlite3.Connection, database: str, taxonomy: Taxonomy) -> None:
        self._conn, self._taxonomy = conn, taxonomy
        self._key = (database, taxonomy.names, taxonomy.tagging)

    def kept(self) -> Tagger | None:
        """The trained tagger, if one is fresh."""
        kept = _taggers.get(self._key)
        return kept[1] if kept is not None and time.monotonic() - kept[0] <= TAGGER_TTL else None

    def __call__(self) -> Tagger:
        """The tagger, trained now if none is fresh (outside any transaction)."""
        tagger = self.kept()
        if tagger is None:
            self._conn.execute("BEGIN")  # one snapshot for the two reads of the training set
            try:
                tagger = train_tagger(self._conn, self._taxonomy)
            finally:
                self._conn.execute("COMMIT")
            _taggers[self._key] = (time.monotonic(), tagger)
        return tagger


def _open(database: str) -> sqlite3.Connection:
    conn = connect(Path(database))  # the file is migrated already: this registers fts_text and pragmas
    conn.execute(f"PRAGMA busy_timeout = {WORKER_BUSY_TIMEOUT_MS}")
    return conn


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction (SQLite's write lock; waits up to WORKER_BUSY_TIMEOUT_MS for the bot's)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _write_chunk(
    conn: sqlite3.Connection,
    chunk: Sequence[Paper],
    hashes: Mapping[str, str],
    ready: list[Paper],
    taxonomy: Taxonomy,
    tagger: _TaggerCache,
    seed_hashes: dict[str, str],
) -> UpsertCounts:
    """One short write transaction of `write_merged` (again after training the model, if it needed it)."""
    try:
        with _immediate(conn):
            return write_merged(conn, chunk, hashes, ready, taxonomy, kept_only(tagger.kept()), seed_hashes)
    except ModelNeeded:
        trained = tagger()
    with _immediate(conn):
        return write_merged(conn, chunk, hashes, ready, taxonomy, kept_only(trained), seed_hashes)


def write_merged(
    conn: sqlite3.Connection,
    papers: Sequence[Paper],
    hashes: Mapping[str, str],
    ready: list[Paper],
    taxonomy: Taxonomy,
    tagger: Callable[[], Tagger],
    seed_hashes: dict[str, str],
) -> UpsertCounts:
    """(Inside the caller's write transaction.) Write `ready`, the `papers` merged with what a snapshot
    held (`hashes`, from `read_snapshot`). Papers another writer changed since (their stored hash differs,
    or they appeared) are merged again from what is stored now, so no write of theirs is lost."""
    now = _hashes(conn, [p.arxiv_id for p in papers])
    moved = [i for i, p in enumerate(papers) if now.get(p.arxiv_id) != hashes.get(p.arxiv_id)]
    if moved:
        fresh = read_papers(conn, [papers[i].arxiv_id for i in moved])
        for i, paper in zip(moved, prepare([papers[i] for i in moved], fresh, taxonomy, tagger), strict=True):
            ready[i] = paper
    return upsert(conn, ready, list(taxonomy.names), seed_hashes)


def _hashes(conn: sqlite3.Connection, arxiv_ids: Sequence[str]) -> dict[str, str]:
    """Stored content hashes of these papers (absent ones are missing)."""
    rows = conn.execute(
        "SELECT arxiv_id, content_hash FROM papers WHERE arxiv_id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(arxiv_ids)),),
    )
    return dict(rows.fetchall())


def read_snapshot(conn: sqlite3.Connection, arxiv_ids: Sequence[str]) -> tuple[dict[str, str], dict[str, Paper]]:
    """(Inside the caller's read transaction.) Stored hashes and papers of these IDs."""
    return _hashes(conn, arxiv_ids), read_papers(conn, arxiv_ids)


def _read(conn: sqlite3.Connection, arxiv_ids: Sequence[str]) -> tuple[dict[str, str], dict[str, Paper]]:
    """Stored hashes and papers from one snapshot, read without the write lock."""
    conn.execute("BEGIN")
    try:
        return read_snapshot(conn, arxiv_ids)
    finally:
        conn.execute("COMMIT")


def store_all(
    conn: sqlite3.Connection,
    database: str,
    taxonomy: Taxonomy,
    papers: Sequence[Paper],
    seed_hashes: dict[str, str],
) -> UpsertCounts:
    """Merge papers into the catalogue, WRITE_CHUNK at a time, each chunk in its own transaction (as the
    bot's own writes did: a failure keeps the chunks already written, and a rerun finds them unchanged).
    Seed hashes are written with the last chunk, so a seed run that failed midway is redone in full."""
    new = updated = unchanged = 0
    tagger = _TaggerCache(conn, database, taxonomy)
    unique = list({p.arxiv_id: p for p in papers}.values())
    for start in range(0, max(len(unique), 1), WRITE_CHUNK):
        chunk = unique[start : start + WRITE_CHUNK]
        if not chunk and not seed_hashes:
            break
        hashes, stored = _read(conn, [p.arxiv_id for p in chunk])
        ready = prepare(chunk, stored, taxonomy, tagger)
        last = start + WRITE_CHUNK >= len(unique)
        counts = _write_chunk(conn, chunk, hashes, ready, taxonomy, tagger, seed_hashes if last else {})
        new, updated, unchanged = new + counts.new, updated + counts.updated, unchanged + counts.unchanged
    if (new or updated) and any(s is TagSource.CATALOGUE for p in unique for _, s in p.topics):
        # A digest list brought human topic words: file, adopt or set them aside (as seed ingest does).
        # Papers it leaves without topics (untagged already, or tagged only with words it sets aside) get
        # the model's: trained here, before the write lock, since training takes seconds and the bot's
        # writers give up on the lock after BUSY_TIMEOUT_MS.
        unsettled = names_store.untagged_ids(conn) or names_store.unfiled_tags(conn, taxonomy.names)
        trained = tagger() if unsettled else None
        with _immediate(conn):
            settle_topics(conn, taxonomy, tagger=trained)
    return UpsertCounts(new=new, updated=updated, unchanged=unchanged)


def store_papers(job: StoreJob) -> StoreOutcome:
    """(Worker process.) Merge, tag and write a source's papers."""
    started = time.process_time()
    conn = _open(job.database)
    try:
        counts = store_all(conn, job.database, job.taxonomy, job.papers, job.seed_hashes)
    finally:
        conn.close()
    return StoreOutcome(counts, time.process_time() - started)


def store_listing(job: ListingJob) -> ListingOutcome:
    """(Worker process.) Parse a listing, keep the wanted announce types and store them; or, when entries
    lack an abstract and no details came with the job, name them and store nothing."""
    started = time.process_time()
    records = parse_listing(job.body)
    wanted = set(job.announce_types)
    kept = [r for r in records if r.announce is None or r.announce in wanted]
    skipped = len(records) - len(kept)
    missing = tuple(r.arxiv_id for r in kept if not r.abstract)
    if missing and job.details is None:
        return ListingOutcome(len(kept), skipped, missing=missing)
    details = job.details or {}
    papers = []
    for record in kept:
        detail = details.get(record.arxiv_id)
        if detail is not None and not record.abstract:
            record = dataclasses.replace(
                record, abstract=detail.abstract, categories=detail.categories or record.categories
            )
        papers.append(record.to_paper(job.source))
    conn = _open(job.database)
    try:
        counts = store_all(conn, job.database, job.taxonomy, papers, {})
    finally:
        conn.close()
    return ListingOutcome(len(kept), skipped, stored=StoreOutcome(counts, time.process_time() - started))


def _ready() -> None:
    """(Worker process.) Nothing: importing this module was the work."""


def _background() -> None:
    """(Worker process, at its start.) Yield the CPU to the bot: a refresh is background work, and
    on a machine with fewer free cores than busy processes the handlers must win."""
    os.nice(WORKER_NICENESS)


# -- the bot's side ---------------------------------------------------------------------------------


class RefreshWorker:
    """The bot's handle on the worker process: one process, one job at a time, started on first use and
    ended after `idle_exit` seconds without a job."""

    def __init__(self, idle_exit: float = IDLE_EXIT) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._idle_exit = idle_exit
        self._jobs = 0  # calls in flight
        self._retire: asyncio.TimerHandle | None = None

    @property
    def alive(self) -> bool:
        """Whether a worker process is running (or starting)."""
        return self._pool is not None

    def _started(self) -> ProcessPoolExecutor:
        if self._retire is not None:
            self._retire.cancel()
            self._retire = None
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_background
            )
        return self._pool

    def _idle(self) -> None:
        """Arm the idle timer: the process ends unless another job comes first."""
        if not self._jobs and self._pool is not None and self._retire is None:
            self._retire = asyncio.get_running_loop().call_later(self._idle_exit, self._end)

    def _end(self) -> None:
        pool, self._pool, self._retire = self._pool, None, None
        if pool is not None:
            pool.shutdown(wait=False)

    def start(self) -> None:
        """Start the process now, without waiting (a run calls this before its download, so the
        interpreter's start and imports, about a second on a busy machine, overlap the network)."""
        self._started().submit(_ready)
        self._idle()  # a download that fails leaves no job for it

    async def call(self, fn: Callable[[J], R], job: J) -> R:
        """Run `fn(job)` in the worker process. A worker that died (BrokenProcessPool, raised) is replaced
        by a new one at the next call."""
        pool = self._started()
        self._jobs += 1
        try:
            return await asyncio.wrap_future(pool.submit(fn, job))
        except BrokenProcessPool:
            if self._pool is pool:
                self._pool = None
            pool.shutdown(wait=False)
            raise
        finally:
            self._jobs -= 1
            self._idle()

    async def close(self) -> None:
        """End the worker process (after the job it is running, if any)."""
        if self._retire is not None:
            self._retire.cancel()
            self._retire = None
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
