"""The living catalogue: run sources, merge what they bring into the papers we hold, fetch one paper.

A run of one source: collect its papers (network, with politeness), merge each with the stored paper
of the same ID (`combine`), tag those without catalogue topics (the taxonomy's rules on titles and both
abstracts, plus the arXiv primary category), and write in chunks through `Database.write`, so the
handlers' and the push's writes interleave between chunks and their reads never wait (WAL).

A source that fails records its error and a retry time (exponential backoff) and changes nothing
else; the other sources still run. A new version of a paper updates it in place and keeps its date,
so the push, which never re-sends an ID and orders by date, never offers it again as new.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import logging
import sqlite3
import sys
import time as timer
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Any

from bot.catalogue.merge import merge
from bot.catalogue.model import Paper, Reject, SeedEntry, TagSource
from bot.catalogue.parse import parse_file
from bot.catalogue.tagger import Method, Tagger
from bot.catalogue.topics import Taxonomy
from bot.config import Settings
from bot.services.ingest import file_hash, seed_files
from bot.services.tagging import TRAIN_LIMIT, settle_topics
from bot.sources import arxiv as arxiv_source
from bot.sources.arxiv import ArxivClient
from bot.sources.config import SourceKind, SourceSpec
from bot.sources.digest import entry_digest, fetch_digest
from bot.sources.hf import fetch_daily
from bot.sources.http import ErrorKind, Fetcher, Politeness, SourceError
from bot.storage import sources as state
from bot.storage import topic_names as names_store
from bot.storage.db import Database
from bot.storage.papers import CatalogueWriter, UpsertCounts, read_papers
from bot.text.arxiv import parse_arxiv_id

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
WRITE_CHUNK = 100  # papers per write transaction: other writers get their turn between chunks
RETRY_BASE = timedelta(minutes=5)
RETRY_MAX = timedelta(hours=6)
SWITCH_INTERVAL = 0.001  # seconds; Python's default is 0.005
FETCH_DEADLINE = 12.0  # seconds a /paper fetch may take before the user is told to try again

# The arXiv primary categories that name one of our topics by themselves.
TAGGER_TTL = 6 * 3600.0  # seconds a trained model tagger serves refreshes before it learns the catalogue anew

CATEGORY_TOPICS = {
    "cs.CV": "視覺模型",
    "cs.CR": "對抗攻擊",
    "cs.MA": "LLM代理",
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def user_agent(settings: Settings) -> str:
    """`paper-digest-bot/0.1 (+contact URL)`: who is asking, and how to reach them."""
    return f"paper-digest-bot/0.1 (+{settings.sources.contact_url})"


def build_fetcher(settings: Settings, politeness: Politeness | None = None) -> Fetcher:
    """The one polite HTTP client of a process (refresh and /paper share it)."""
    return Fetcher(
        politeness or Politeness(settings.sources.arxiv_delay),
        user_agent=user_agent(settings),
        timeout=settings.sources.timeout,
        max_bytes=settings.sources.max_bytes,
    )


@dataclass
class SourceReport:
    """What one run of one source did."""

    name: str
    kind: str
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Reject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> dict[str, Any]:
        """The figures stored as the source's last report."""
        return {
            "fetched": self.fetched,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": len(self.rejected),
            "non_arxiv": sum(1 for r in self.rejected if r.non_arxiv),
            "notes": self.notes,
        }

    def format(self) -> str:
        """Lines of `python -m bot refresh`."""
        head = f"{self.name} ({self.kind}): " + (
            f"FAILED: {self.error}"
            if self.error
            else f"fetched {self.fetched}, new {self.new}, updated {self.updated}, unchanged {self.unchanged},"
            f" rejected {len(self.rejected)}"
        )
        lines = [head + f"  [{self.seconds:.1f} s]"]
        lines += [f"  note: {n}" for n in self.notes]
        non_arxiv = [r for r in self.rejected if r.non_arxiv]
        if non_arxiv:
            lines.append(f"  {len(non_arxiv)} rows are not arXiv papers (blog, GitHub ...):")
        lines += [f"  rejected {r}" for r in self.rejected[:50]]
        if len(self.rejected) > 50:
            lines.append(f"  ... and {len(self.rejected) - 50} more")
        return "\n".join(lines)


@dataclass(frozen=True)
class SourceStatus:
    """One source as `python -m bot sources` and /stats show it."""

    spec: SourceSpec
    state: state.SourceState | None
    next_run: datetime | None
    papers: int

    def format(self) -> str:
        st = self.state
        off = "" if self.spec.enabled else ", off"
        parts = [
            f"{self.spec.name} ({self.spec.kind}{off}) {self.spec.schedule.describe()}",
            f"  last success: {(st.last_success_at if st else None) or 'never'}",
        ]
        if st and st.last_error:
            streak = f" (failing: {st.failures} in a row)" if st.failures else " (recovered since)"
            parts.append(f"  last error: {st.last_error_at} {st.last_error}{streak}")
        parts.append(f"  next run: {self.next_run.isoformat(timespec='minutes') if self.next_run else '-'}")
        parts.append(f"  papers contributed: {self.papers}")
        return "\n".join(parts)


class FetchStatus(StrEnum):
    """How a /paper fetch ended."""

    FOUND = "found"
    UNKNOWN = "unknown"  # arXiv has no such paper (remembered for a day)
    INVALID = "invalid"  # not an arXiv ID, or arXiv says the format is wrong
    UNREACHABLE = "unreachable"  # network trouble, refusal, rate limit, or too slow


@dataclass(frozen=True)
class PaperFetch:
    """The answer to fetching one paper from arXiv."""

    status: FetchStatus
    arxiv_id: str
    paper: Paper | None = None
    detail: str = ""


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
    left to `settle_topics` (the learned model) at the end of the run."""
    if any(source is TagSource.CATALOGUE for _, source in paper.topics):
        return paper
    names = [name for name, _ in taxonomy.rule_tags_of(paper)]
    by_category = CATEGORY_TOPICS.get(paper.categories[0]) if paper.categories else None
    if by_category and taxonomy.get(by_category) is not None and by_category not in names:
        names.append(by_category)
    order = {name: i for i, name in enumerate(taxonomy.names)}
    names.sort(key=lambda n: order.get(n, len(order)))
    return dataclasses.replace(paper, topics=tuple((n, TagSource.RULE) for n in names))


@contextmanager
def gc_paused() -> Iterator[None]:
    """A day's listing makes about a million short-lived objects (XML elements, records, papers), and the
    cyclic collector would stop every thread, the event loop's included, for a tenth of a second at a
    time to rescan the bot's heap. Nothing here makes reference cycles: the collector rests meanwhile,
    reference counting still frees everything. (Same reasoning as the push planner's pause.)"""
    enabled = gc.isenabled()
    gc.disable()
    # The refresh's threads (XML parsing, merging, the writer's FTS folding) hold the GIL for up to the
    # switch interval each time; a shorter one hands it back to the event loop sooner, so handlers
    # stay quick while a refresh runs (a few percent of throughput, measured in benchmarks/refresh.py).
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, SWITCH_INTERVAL))
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        if enabled:
            gc.enable()


def backoff(failures: int) -> timedelta:
    """Wait before retrying a source that failed `failures` times in a row."""
    wait: timedelta = RETRY_BASE * (2 ** max(failures - 1, 0))
    return min(wait, RETRY_MAX)


class RefreshService:
    """Runs sources and fetches single papers; every write goes through the one `Database` writer."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        taxonomy: Taxonomy,
        specs: Sequence[SourceSpec],
        fetcher: Fetcher,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._db = db
        self._settings = settings
        self._taxonomy = taxonomy
        self.specs = list(specs)
        self.fetcher = fetcher
        self.arxiv = ArxivClient(
            fetcher, feed_url=settings.sources.arxiv_feed_url, api_url=settings.sources.arxiv_api_url
        )
        self._clock = clock
        self._running: dict[str, asyncio.Lock] = {}
        self._inflight: dict[str, asyncio.Task[PaperFetch]] = {}
        self._validators: dict[str, dict[str, Any]] = {}  # a digest run's new ETags, recorded with its success
        self._tagger: tuple[float, Tagger] | None = None  # (trained at, tagger) for papers no rule tags

    def spec(self, name: str) -> SourceSpec | None:
        return next((s for s in self.specs if s.name == name), None)

    # -- runs -------------------------------------------------------------------------------------

    async def run(self, names: Sequence[str] = (), *, progress: Progress | None = None) -> list[SourceReport]:
        """Run the named sources (default: every enabled one), one after the other; a report each."""
        chosen = [self.spec(n) for n in names] if names else [s for s in self.specs if s.enabled]
        reports = []
        for spec in chosen:
            if spec is None:
                continue
            reports.append(await self.run_source(spec, progress=progress))
        return reports

    async def run_source(self, spec: SourceSpec, *, progress: Progress | None = None) -> SourceReport:
        """Run one source; its failure is recorded, never raised."""
        say = progress or (lambda _m: None)
        lock = self._running.setdefault(spec.name, asyncio.Lock())
        report = SourceReport(spec.name, str(spec.kind))
        started = timer.monotonic()
        async with lock:  # a retry and a scheduled run of one source never overlap
            say(f"{spec.name}: running ...")
            try:
                with gc_paused():
                    await self._collect(spec, report, say)
            except SourceError as exc:
                report.error = str(exc)
            except Exception as exc:  # a bug in one source must not stop the others
                log.exception("source %s failed", spec.name)
                report.error = f"internal error: {type(exc).__name__}: {exc}"
            report.seconds = timer.monotonic() - started
            await self._record(spec, report, self._validators.pop(spec.name, None))
        say(report.format())
        return report

    async def _collect(self, spec: SourceSpec, report: SourceReport, say: Progress) -> None:
        """Fetch, merge and store one source's papers into `report` (SourceError on failure)."""
        if spec.kind is SourceKind.ARXIV:
            await self._run_arxiv(spec, report, say)
        elif spec.kind is SourceKind.DIGEST:
            self._validators[spec.name] = await self._run_digest(spec, report, say)
        elif spec.kind is SourceKind.HF_DAILY:
            await self._run_hf(spec, report)
        else:
            await self._run_seeds(spec, report, say)

    async def _record(self, spec: SourceSpec, report: SourceReport, validators: dict[str, Any] | None) -> None:
        now = self._clock()
        if report.error is None:
            etag = state_json(validators) if validators is not None else None
            await self._db.write(
                partial(
                    state.record_success,
                    name=spec.name,
                    kind=str(spec.kind),
                    now=now,
                    new=report.new,
                    updated=report.updated,
                    report=report.summary(),
                    etag=etag,
                    keep_validators=validators is None,
                )
            )
            return
        current = (await self._db.read(state.states)).get(spec.name)
        failures = (current.failures if current else 0) + 1
        retry_at = now + backoff(failures)
        log.warning("source %s failed (%d in a row), retry at %s: %s", spec.name, failures, retry_at, report.error)
        await self._db.write(
            partial(
                state.record_failure,
                name=spec.name,
                kind=str(spec.kind),
                now=now,
                error=report.error,
                retry_at=retry_at,
            )
        )

    async def _fresh(self, queries: Iterable[str]) -> set[str]:
        now = self._clock()
        return await self._db.read(partial(state.fresh_queries, queries=list(queries), now=now))

    async def _remember(self, queries: Iterable[str]) -> None:
        await self._db.write(partial(state.remember_queries, queries=list(queries), now=self._clock()))

    async def _run_arxiv(self, spec: SourceSpec, report: SourceReport, say: Progress) -> None:
        url = self.arxiv.listing_url(spec.categories)
        if await self._fresh([url]):
            report.notes.append("listing already fetched in the last day (arXiv asks for no repeated queries)")
            return
        say(f"{spec.name}: GET {url}")
        records = await self.arxiv.listing(spec.categories)
        wanted = set(spec.announce_types)
        kept = [r for r in records if r.announce is None or r.announce in wanted]
        report.fetched = len(kept)
        if len(kept) < len(records):
            report.notes.append(f"{len(records) - len(kept)} entries of other announce types skipped")
        # The listing lacks nothing we need except, rarely, the abstract: ask the API for those.
        missing = [r.arxiv_id for r in kept if not r.abstract]
        details: dict[str, arxiv_source.ArxivRecord] = {}
        for start in range(0, len(missing), arxiv_source.ID_LIST_BATCH):
            batch = missing[start : start + arxiv_source.ID_LIST_BATCH]
            key = self.arxiv.query_key(batch)
            if await self._fresh([key]):
                continue
            say(f"{spec.name}: details of {len(batch)} papers from the API")
            result = await self.arxiv.by_ids(batch)
            details.update({r.arxiv_id: r for r in result.records})
            await self._remember([key])
        papers = []
        for record in kept:
            detail = details.get(record.arxiv_id)
            if detail is not None and not record.abstract:
                record = dataclasses.replace(
                    record, abstract=detail.abstract, categories=detail.categories or record.categories
                )
            papers.append(record.to_paper(spec.name))
        # A replacement updates a paper we hold; one we never had is new to us either way.
        counts = await self.store(papers, progress=say)
        report.new, report.updated, report.unchanged = counts.new, counts.updated, counts.unchanged
        await self._remember([url])

    async def _run_digest(self, spec: SourceSpec, report: SourceReport, say: Progress) -> dict[str, Any]:
        current = (await self._db.read(state.states)).get(spec.name)
        validators = load_json(current.etag if current else None)
        seen = await self._db.read(partial(state.digest_rows, source=spec.name))
        entries: list[SeedEntry] = []
        rows: dict[str, str] = dict(seen)
        errors: list[str] = []
        for url in spec.urls:
            etag, modified = (validators.get(url) or [None, None])[:2]
            say(f"{spec.name}: GET {url}")
            try:
                got = await fetch_digest(self.fetcher, url, etag=etag, last_modified=modified)
            except SourceError as exc:
                errors.append(f"{url}: {exc}")
                continue
            if got.not_modified:
                report.notes.append(f"{url}: not modified")
                continue
            validators[url] = [got.etag, got.last_modified]
            report.rejected += got.rejects
            report.fetched += len(got.entries)
            for entry in got.entries:
                digest = entry_digest(entry)
                if rows.get(entry.arxiv_id) == digest and entry.arxiv_id in seen:
                    report.unchanged += 1
                    continue
                rows[entry.arxiv_id] = digest
                entries.append(entry)
        if errors and len(errors) == len(spec.urls):
            raise SourceError(ErrorKind.REFUSED, "; ".join(errors))
        report.notes += errors
        merged = merge(entries).papers
        canonical, _unknown = self._taxonomy.canonicalize(merged)
        papers = [dataclasses.replace(p, sources=(spec.name,)) for p in canonical]
        counts = await self.store(papers, progress=say)
        report.new, report.updated = counts.new, counts.updated
        report.unchanged += counts.unchanged
        await self._db.write(partial(state.save_digest_rows, source=spec.name, rows=rows))
        return validators

    async def _run_hf(self, spec: SourceSpec, report: SourceReport) -> None:
        day = self._clock().date()
        query = f"{self._settings.sources.hf_api_url}/daily_papers?date={day.isoformat()}"
        if await self._fresh([query]):
            report.notes.append("today's list already fetched")
            return
        items, skipped = await fetch_daily(self.fetcher, self._settings.sources.hf_api_url, day, spec.name)
        report.fetched = len(items)
        if skipped:
            report.notes.append(f"{skipped} items without an arXiv ID or title skipped")
        counts = await self.store([i.paper for i in items])
        report.new, report.updated, report.unchanged = counts.new, counts.updated, counts.unchanged
        await self._db.write(partial(state.set_upvotes, upvotes={i.paper.arxiv_id: i.upvotes for i in items}))
        await self._remember([query])

    async def _run_seeds(self, spec: SourceSpec, report: SourceReport, say: Progress) -> None:
        paths = list(spec.paths) or [self._settings.seeds]
        entries: list[SeedEntry] = []
        for path in seed_files(paths):
            say(f"{spec.name}: reading {path}")
            result = await asyncio.to_thread(parse_file, path)
            entries += result.entries
            report.rejected += result.rejects
        report.fetched = len(entries)
        merged = merge(entries).papers
        canonical, _unknown = self._taxonomy.canonicalize(merged)
        canonical = [dataclasses.replace(p, sources=(spec.name,)) for p in canonical]
        hashes = {str(p): file_hash(p) for p in seed_files(paths)}
        counts = await self.store(canonical, seed_hashes=hashes, progress=say)
        report.new, report.updated, report.unchanged = counts.new, counts.updated, counts.unchanged

    # -- storing ----------------------------------------------------------------------------------

    async def store(
        self, papers: Sequence[Paper], *, seed_hashes: dict[str, str] | None = None, progress: Progress | None = None
    ) -> UpsertCounts:
        """Merge papers into the catalogue, chunk by chunk; counts of new, updated and unchanged papers."""
        new = updated = unchanged = 0
        topics = list(self._taxonomy.names)
        unique = list({p.arxiv_id: p for p in papers}.values())
        for start in range(0, max(len(unique), 1), WRITE_CHUNK):
            chunk = unique[start : start + WRITE_CHUNK]
            if not chunk and not seed_hashes:
                break
            stored = await self._db.read(partial(read_papers, arxiv_ids=[p.arxiv_id for p in chunk]))
            # Merging and tagging are plain Python: off the event loop, so handlers keep answering.
            ready = await asyncio.to_thread(self._prepare, chunk, stored)
            if any(not p.topics for p in ready):
                ready = await asyncio.to_thread(self._model_tagged, ready, await self._trained_tagger())
            last = start + WRITE_CHUNK >= len(unique)
            hashes = seed_hashes if (seed_hashes and last) else {}
            counts = await self._db.write(partial(_upsert, papers=ready, topics=topics, seed_hashes=hashes))
            new, updated, unchanged = new + counts.new, updated + counts.updated, unchanged + counts.unchanged
            if progress and len(unique) > WRITE_CHUNK:
                progress(f"  stored {min(start + WRITE_CHUNK, len(unique))}/{len(unique)}")
            await asyncio.sleep(0)  # let handlers run between chunks
        if (new or updated) and any(s is TagSource.CATALOGUE for p in unique for _, s in p.topics):
            # A digest list brought human topic words: file, adopt or set them aside (as seed ingest does).
            await self._db.write(partial(settle_topics, taxonomy=self._taxonomy))
        return UpsertCounts(new=new, updated=updated, unchanged=unchanged)

    def _prepare(self, chunk: Sequence[Paper], stored: dict[str, Paper]) -> list[Paper]:
        return [tag(combine(stored.get(p.arxiv_id), p), self._taxonomy) for p in chunk]

    @staticmethod
    def _model_tagged(papers: list[Paper], tagger: Tagger) -> list[Paper]:
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

    async def _trained_tagger(self) -> Tagger:
        """The model tagger, trained on the newest catalogue-tagged papers at most every TAGGER_TTL seconds.

        Read on the snapshot connection and trained in a worker thread: never under the writer lock, so a
        handler's write does not wait for scikit-learn (it did, for a second per run, when this ran as
        part of `settle_topics` inside the refresh's write transaction).
        """
        now = timer.monotonic()
        if self._tagger is None or now - self._tagger[0] > TAGGER_TTL:
            training = await self._db.read(
                lambda c: names_store.read(c, names_store.catalogue_tagged_ids(c, TRAIN_LIMIT))
            )
            tagger = await asyncio.to_thread(Tagger.train, self._taxonomy, training, Method(self._taxonomy.tagging))
            self._tagger = (now, tagger)
        return self._tagger[1]

    # -- one paper --------------------------------------------------------------------------------

    def queue_wait(self) -> float:
        """About how long a /paper fetch made now waits for its turn at arXiv."""
        return self.fetcher.politeness.expected_wait(self.arxiv.api_url)

    async def fetch_paper(self, text: str) -> PaperFetch:
        """A paper by ID from arXiv (stored on success). Concurrent asks for one ID share one request."""
        arxiv_id = parse_arxiv_id(text.strip())
        if arxiv_id is None:
            return PaperFetch(FetchStatus.INVALID, text)
        task = self._inflight.get(arxiv_id)
        if task is None:
            task = asyncio.ensure_future(self._fetch(arxiv_id))
            self._inflight[arxiv_id] = task
            task.add_done_callback(lambda _t: self._inflight.pop(arxiv_id, None))
        # Shielded: a caller that stops waiting leaves the request to finish and store the paper.
        return await asyncio.shield(task)

    async def _fetch(self, arxiv_id: str) -> PaperFetch:
        stored = await self._db.read(partial(read_papers, arxiv_ids=[arxiv_id]))
        if arxiv_id in stored:
            return PaperFetch(FetchStatus.FOUND, arxiv_id, stored[arxiv_id])
        now = self._clock()
        if await self._db.read(partial(state.known_unknown, arxiv_id=arxiv_id, now=now)):
            return PaperFetch(FetchStatus.UNKNOWN, arxiv_id, detail="asked within the last day")
        try:
            result = await self.arxiv.by_ids([arxiv_id])
        except SourceError as exc:
            if exc.kind is ErrorKind.CLIENT and exc.status == 400:
                return PaperFetch(FetchStatus.INVALID, arxiv_id, detail=exc.message)
            return PaperFetch(FetchStatus.UNREACHABLE, arxiv_id, detail=str(exc))
        await self._remember([self.arxiv.query_key([arxiv_id])])
        record = next((r for r in result.records if r.arxiv_id == arxiv_id), None)
        if record is None:
            await self._db.write(partial(state.remember_unknown, arxiv_ids=[arxiv_id], now=now))
            return PaperFetch(FetchStatus.UNKNOWN, arxiv_id)
        await self.store([record.to_paper("arxiv")])
        stored = await self._db.read(partial(read_papers, arxiv_ids=[arxiv_id]))
        return PaperFetch(FetchStatus.FOUND, arxiv_id, stored.get(arxiv_id))

    # -- status -----------------------------------------------------------------------------------

    async def status(self) -> list[SourceStatus]:
        """Every configured source with its state, next run and contribution."""
        now = self._clock()
        states = await self._db.read(state.states)
        counts = await self._db.read(state.contributed)
        result = []
        for spec in self.specs:
            st = states.get(spec.name)
            next_run: datetime | None = spec.schedule.next_after(now) if spec.enabled else None
            if spec.enabled and st and st.failures and st.retry_at:
                retry = datetime.fromisoformat(st.retry_at)
                next_run = min(next_run, retry) if next_run else retry
            result.append(SourceStatus(spec, st, next_run, counts.get(spec.name, 0)))
        return result


def _upsert(
    conn: sqlite3.Connection, papers: Sequence[Paper], topics: Sequence[str], seed_hashes: dict[str, str]
) -> UpsertCounts:
    return CatalogueWriter(conn).upsert(papers, topics, seed_hashes)


def state_json(value: dict[str, Any] | None) -> str | None:
    return json.dumps(value, ensure_ascii=False) if value else None


def load_json(value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    try:
        loaded = json.loads(value)
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}
