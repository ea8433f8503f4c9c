"""The living catalogue: run sources, merge what they bring into the papers we hold, fetch one paper.

A run of one source: collect its papers (network, with politeness, in the bot's process), then hand
them to the refresh worker process (bot.services.refresh_worker), which parses an arXiv listing there,
merges each paper with the stored paper of the same ID (`combine`), tags those without catalogue topics
(the taxonomy's rules on titles and both abstracts, plus the arXiv primary category; the learned model
for papers no rule tags) and writes them in short transactions through its own SQLite connection. The
bot's process only awaits the worker, so handlers keep their latency (their GIL is not shared with that
work); their reads never wait (WAL) and their writes wait one short transaction at most.

A source that fails records its error and a retry time (exponential backoff) and changes nothing
else; the other sources still run. A new version of a paper updates it in place and keeps its date,
so the push, which never re-sends an ID and orders by date, never offers it again as new.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sqlite3
import time as timer
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Any

from bot.catalogue.merge import merge
from bot.catalogue.model import Paper, Reject, SeedEntry
from bot.catalogue.parse import parse_file
from bot.catalogue.tagger import Method, Tagger
from bot.catalogue.topics import Taxonomy
from bot.config import Settings
from bot.services.ingest import file_hash, seed_files
from bot.services.refresh_worker import (
    TAGGER_TTL,
    ListingJob,
    ModelNeeded,
    RefreshWorker,
    StoreJob,
    StoreOutcome,
    combine,
    kept_only,
    model_tagged,
    read_snapshot,
    store_listing,
    store_papers,
    tag,
    write_merged,
)
from bot.services.tagging import TRAIN_LIMIT
from bot.sources import arxiv as arxiv_source
from bot.sources.arxiv import ArxivClient
from bot.sources.config import SourceKind, SourceSpec
from bot.sources.digest import entry_digest, fetch_digest
from bot.sources.hf import fetch_daily
from bot.sources.http import ErrorKind, Fetcher, Politeness, SourceError
from bot.storage import sources as state
from bot.storage import topic_names as names_store
from bot.storage.db import Database
from bot.storage.papers import UpsertCounts, read_papers
from bot.text.arxiv import parse_arxiv_id

__all__ = ["FETCH_DEADLINE", "FetchStatus", "RefreshService", "SourceReport", "backoff", "build_fetcher", "combine"]

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
RETRY_BASE = timedelta(minutes=5)
RETRY_MAX = timedelta(hours=6)
FETCH_DEADLINE = 12.0  # seconds a /paper fetch may take before the user is told to try again


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
    worker_cpu: float = 0.0  # CPU seconds the worker process spent on this run (not the bot's)

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
    due: bool = False  # next_run has come: the running bot starts it within a minute

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
        when = self.next_run.isoformat(timespec="minutes") if self.next_run else "-"
        parts.append(f"  next run: {'due now (within a minute of the bot running)' if self.due else when}")
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
        worker: RefreshWorker | None = None,
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
        self._tagger: tuple[float, Tagger] | None = None  # (trained at, tagger) for a /paper fetch no rule tags
        # The process that parses, merges, tags and writes source runs; given when shared (tests).
        self.worker = worker or RefreshWorker()
        self._owns_worker = worker is None

    async def close(self) -> None:
        """Close the HTTP client and end the worker process."""
        await self.fetcher.close()
        if self._owns_worker:
            await self.worker.close()

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
        self.worker.start()  # the process starts while the listing downloads
        job = ListingJob(
            database=str(self._db.path),
            taxonomy=self._taxonomy,
            source=spec.name,
            body=await self.arxiv.listing_body(spec.categories),
            announce_types=tuple(str(t) for t in spec.announce_types),
        )
        say(f"{spec.name}: parsing and storing in the refresh worker ...")
        outcome = await self.worker.call(store_listing, job)
        if outcome.missing:
            # The listing lacks nothing we need except, rarely, the abstract: ask the API for those.
            job = dataclasses.replace(job, details=await self._details(spec, outcome.missing, say))
            outcome = await self.worker.call(store_listing, job)
        report.fetched = outcome.fetched
        if outcome.skipped:
            report.notes.append(f"{outcome.skipped} entries of other announce types skipped")
        assert outcome.stored is not None  # details were given, so the worker stored the listing
        # A replacement updates a paper we hold; one we never had is new to us either way.
        self._count(report, outcome.stored)
        await self._remember([url])

    async def _details(
        self, spec: SourceSpec, missing: Sequence[str], say: Progress
    ) -> dict[str, arxiv_source.ArxivRecord]:
        """The API's records of listing entries without an abstract (batches asked today are skipped)."""
        details: dict[str, arxiv_source.ArxivRecord] = {}
        for start in range(0, len(missing), arxiv_source.ID_LIST_BATCH):
            batch = list(missing[start : start + arxiv_source.ID_LIST_BATCH])
            key = self.arxiv.query_key(batch)
            if await self._fresh([key]):
                continue
            say(f"{spec.name}: details of {len(batch)} papers from the API")
            result = await self.arxiv.by_ids(batch)
            details.update({r.arxiv_id: r for r in result.records})
            await self._remember([key])
        return details

    @staticmethod
    def _count(report: SourceReport, outcome: StoreOutcome) -> None:
        report.new += outcome.counts.new
        report.updated += outcome.counts.updated
        report.unchanged += outcome.counts.unchanged
        report.worker_cpu += outcome.cpu_seconds

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
        self._count(report, await self._store_run(papers, say=say))
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
        self._count(report, await self._store_run([i.paper for i in items]))
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
        self._count(report, await self._store_run(canonical, seed_hashes=hashes, say=say))

    # -- storing ----------------------------------------------------------------------------------

    async def _store_run(
        self, papers: Sequence[Paper], *, seed_hashes: dict[str, str] | None = None, say: Progress | None = None
    ) -> StoreOutcome:
        """A source run's papers merged, tagged and written by the worker process."""
        if say and papers:
            say(f"  storing {len(papers)} papers in the refresh worker ...")
        job = StoreJob(str(self._db.path), self._taxonomy, tuple(papers), dict(seed_hashes or {}))
        return await self.worker.call(store_papers, job)

    async def store(self, papers: Sequence[Paper]) -> UpsertCounts:
        """A few papers (a /paper fetch) merged, tagged and written in the bot's process, in one
        transaction: too little work to hand to the worker, and a user is waiting (the worker may be
        busy with a whole listing)."""
        unique = list({p.arxiv_id: p for p in papers}.values())
        hashes, stored = await self._db.read(partial(read_snapshot, arxiv_ids=[p.arxiv_id for p in unique]))
        ready = [tag(combine(stored.get(p.arxiv_id), p), self._taxonomy) for p in unique]
        trained = await self._trained_tagger() if any(not p.topics for p in ready) else None
        if trained is not None:
            ready = model_tagged(ready, trained)

        def write(tagger: Tagger | None) -> Callable[[sqlite3.Connection], UpsertCounts]:
            return partial(
                write_merged,
                papers=unique,
                hashes=hashes,
                ready=list(ready),
                taxonomy=self._taxonomy,
                tagger=kept_only(tagger),
                seed_hashes={},
            )

        try:
            return await self._db.write(write(trained))
        except ModelNeeded:  # a paper the worker changed meanwhile needs the model after all
            return await self._db.write(write(await self._trained_tagger()))

    async def _trained_tagger(self) -> Tagger:
        """The model tagger, trained on the newest catalogue-tagged papers at most every TAGGER_TTL seconds.

        Read on the snapshot connection and trained in a worker thread: never under the writer lock, so a
        handler's write does not wait for scikit-learn.
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
            next_run = _next_run(spec, st, now)
            due = next_run is not None and next_run <= now
            result.append(SourceStatus(spec, st, next_run, counts.get(spec.name, 0), due=due))
        return result

    async def next_runs(self) -> dict[str, datetime | None]:
        """Source name -> its next run (None when off): what the scheduler needs, without `status`'s
        count of every source's papers (a scan of the whole catalogue)."""
        now = self._clock()
        states = await self._db.read(state.states)
        return {spec.name: _next_run(spec, states.get(spec.name), now) for spec in self.specs}


def _next_run(spec: SourceSpec, st: state.SourceState | None, now: datetime) -> datetime | None:
    """When a source runs next: its schedule after its last run, or its retry if that comes first."""
    if not spec.enabled:
        return None
    last = datetime.fromisoformat(st.last_run_at) if st and st.last_run_at else None
    next_run = spec.schedule.next_after(now, last)
    if st and st.failures and st.retry_at:
        next_run = min(next_run, datetime.fromisoformat(st.retry_at))
    return next_run


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
