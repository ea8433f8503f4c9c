"""The refresh worker process: what crosses the process boundary, a write another writer made while the
worker merged, a worker that dies, the bot's writer getting its turn while the worker writes, and the
bot's handlers keeping theirs (the worker's priority, a search that need not write)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from datetime import date
from pathlib import Path
from typing import TypeVar

import pytest

from bot.catalogue.model import Paper, TagSource
from bot.catalogue.topics import Taxonomy
from bot.services import refresh as refresh_module
from bot.services import refresh_worker as worker_module
from bot.services import tagging as tagging_module
from bot.services.ingest import ingest
from bot.services.refresh_worker import WORKER_NICENESS, RefreshWorker, StoreJob, store_all, store_papers, upsert
from bot.sources.arxiv import ArxivRecord
from bot.sources.http import ErrorKind, SourceError
from bot.storage.chats import ChatStore
from bot.storage.db import Database, connect
from bot.storage.papers import PaperStore, read_papers
from tests.conftest import ROOT
from tests.sources.conftest import MakeService
from tests.sources.fakes import FakePaper, FakeSources

T = TypeVar("T")

LISTED = ArxivRecord(
    "2612.00021",
    1,
    "Quantized Attention for Long Contexts",
    "We quantize attention.",
    ("A",),
    ("cs.LG",),
    date(2026, 12, 1),
)


async def test_a_listing_entry_without_abstract_gets_it_from_the_api(
    fake: tuple[FakeSources, str], make_service: MakeService, db: Database
) -> None:
    server, _ = fake
    full = FakePaper("2612.00031", "Sparse Mixture of Experts at Scale", "Routing tokens to experts, sparsely.")
    server.add(full)  # the API knows the abstract ...
    server.listing.append(dataclasses.replace(full, abstract=""))  # ... the day's listing left it out
    service = await make_service()
    (report,) = await service.run(["arxiv"])
    assert report.ok, report.error
    assert (report.fetched, report.new) == (1, 1)
    assert [path for path, _, _ in server.requests] == ["/atom/cs.CL+cs.CV+cs.LG+cs.AI", "/api/query"]
    stored = (await db.read(lambda c: read_papers(c, [full.arxiv_id])))[full.arxiv_id]
    assert stored.abstract_en == full.abstract
    assert report.worker_cpu > 0  # the work happened in the worker process


async def test_a_malformed_listing_fails_the_source_with_the_parsers_reason(
    fake: tuple[FakeSources, str], make_service: MakeService, db: Database
) -> None:
    server, _ = fake
    server.fault, server.fault_times = "malformed", 1
    service = await make_service()
    count = await PaperStore(db).count()
    (report,) = await service.run(["arxiv"])
    # Raised by the parser in the worker process, rebuilt in the bot's with its kind and message.
    assert not report.ok and (report.error or "").startswith("malformed: not well-formed XML")
    assert await PaperStore(db).count() == count


# The same paper as a digest list has it: Chinese, a human topic, no arXiv version.
DIGEST_VIEW = dataclasses.replace(
    LISTED.to_paper("digest"),
    title_zh="長上下文的量化注意力",
    abstract_zh="我們量化注意力。",
    abstract_en="",
    version=0,
    topics=(("量化", TagSource.CATALOGUE),),
)


def then_written(
    read: Callable[[sqlite3.Connection, list[str]], T], other: sqlite3.Connection, paper: Paper, taxonomy: Taxonomy
) -> Callable[[sqlite3.Connection, list[str]], T]:
    """`read`, after which another writer (`other`) stores `paper`: a write landing between a merge's
    read and its write."""

    def patched(c: sqlite3.Connection, arxiv_ids: list[str]) -> T:
        snapshot = read(c, arxiv_ids)
        other.execute("BEGIN IMMEDIATE")
        upsert(other, [paper], list(taxonomy.names), {})
        other.execute("COMMIT")
        return snapshot

    return patched


def test_source_error_crosses_the_process_boundary_with_its_fields() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(SourceError(ErrorKind.CLIENT, "bad id", status=400, retry_after=2.0)))
    assert (error.kind, error.message, error.status, error.retry_after) == (ErrorKind.CLIENT, "bad id", 400, 2.0)
    assert str(error) == "client_error: bad id"


def test_a_paper_another_writer_changed_meanwhile_is_merged_again(
    tmp_path: Path, taxonomy: Taxonomy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A digest run (or a /paper fetch) writes a paper between the worker's read and its write: the
    worker's write must keep that Chinese title, not overwrite the paper with its stale merge."""
    db = tmp_path / "bot.sqlite3"
    conn = connect(db)
    other = connect(db)
    read_then_other_writer = then_written(worker_module._read, other, DIGEST_VIEW, taxonomy)

    monkeypatch.setattr(worker_module, "_read", read_then_other_writer)
    counts = store_all(conn, str(db), taxonomy, [LISTED.to_paper("arxiv")], {})
    monkeypatch.undo()
    stored = read_papers(conn, [LISTED.arxiv_id])[LISTED.arxiv_id]
    assert stored.title_zh == "長上下文的量化注意力" and stored.abstract_zh == "我們量化注意力。"
    assert stored.abstract_en == LISTED.abstract and stored.version == 1
    assert set(stored.sources) == {"digest", "arxiv"}
    assert (counts.new, counts.updated) == (0, 1)  # it existed when the worker wrote
    conn.close()
    other.close()


def test_a_re_merge_inside_the_write_may_train_the_model_there(
    tmp_path: Path, taxonomy: Taxonomy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer stores a newer version no rule tags between the worker's read and its write: the
    re-merge needs the model, trained inside the write transaction (no nested BEGIN)."""
    db = tmp_path / "bot.sqlite3"
    conn = connect(db)
    ingest(conn, [ROOT / "seeds"], taxonomy)  # human-tagged papers for the model to learn from
    other = connect(db)
    newer = dataclasses.replace(
        LISTED.to_paper("arxiv"), title_en="Notes on Things", abstract_en="Nothing to see.", version=2, categories=()
    )
    read_then_other_writer = then_written(worker_module._read, other, newer, taxonomy)

    monkeypatch.setattr(worker_module, "_read", read_then_other_writer)
    counts = store_all(conn, str(db), taxonomy, [LISTED.to_paper("arxiv")], {})  # v1: a rule tags it
    monkeypatch.undo()
    stored = read_papers(conn, [LISTED.arxiv_id])[LISTED.arxiv_id]
    assert (stored.version, stored.title_en) == (2, "Notes on Things")  # the newer version stays
    assert stored.topics and all(source is TagSource.MODEL for _, source in stored.topics)
    assert counts.updated == 1
    conn.close()
    other.close()


def test_papers_a_digest_leaves_without_topics_are_tagged_by_a_model_trained_before_the_lock(
    tmp_path: Path, taxonomy: Taxonomy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settling a digest's topic words tags the papers left without topics; the model for that is trained
    outside the write transaction (seconds, while the bot's writers would wait), not inside it."""
    db = tmp_path / "bot.sqlite3"
    conn = connect(db)
    ingest(conn, [ROOT / "seeds"], taxonomy)
    lone = dataclasses.replace(
        LISTED.to_paper("digest"),
        title_en="Notes on Things",
        abstract_en="",
        topics=(("某個生僻詞", TagSource.CATALOGUE),),
    )
    trainings: list[Taxonomy] = []
    real_train = worker_module.train_tagger

    def watched(c: sqlite3.Connection, t: Taxonomy):  # type: ignore[no-untyped-def]
        trainings.append(t)  # the worker's own training, before it takes the write lock
        return real_train(c, t)

    class NoTraining:
        @staticmethod
        def train(*_: object) -> None:
            raise AssertionError("trained inside the settlement's write transaction")

    monkeypatch.setattr(worker_module, "train_tagger", watched)
    monkeypatch.setattr(tagging_module, "Tagger", NoTraining)
    counts = store_all(conn, str(db), taxonomy, [lone], {})
    monkeypatch.undo()
    stored = read_papers(conn, [LISTED.arxiv_id])[LISTED.arxiv_id]
    assert counts.new == 1 and len(trainings) == 1
    assert stored.topics and all(source is TagSource.MODEL for _, source in stored.topics)
    conn.close()


async def test_a_paper_fetch_keeps_what_the_worker_wrote_meanwhile(
    db: Database, make_service: MakeService, taxonomy: Taxonomy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/paper's fetch merges in the bot's process; if the worker stores the same paper from a digest
    between that merge's read and its write, the digest's Chinese must survive the fetch's write."""
    service = await make_service()
    other = connect(db.path)
    read_then_worker_writes = then_written(worker_module.read_snapshot, other, DIGEST_VIEW, taxonomy)

    monkeypatch.setattr(refresh_module, "read_snapshot", read_then_worker_writes)
    try:
        counts = await service.store([LISTED.to_paper("arxiv")])
    finally:
        monkeypatch.undo()
        other.close()
    stored = await PaperStore(db).get(LISTED.arxiv_id)
    assert stored is not None
    assert stored.title_zh == "長上下文的量化注意力" and stored.abstract_zh == "我們量化注意力。"
    assert stored.abstract_en == LISTED.abstract and set(stored.sources) == {"digest", "arxiv"}
    assert ("量化", TagSource.CATALOGUE) in stored.topics
    assert (counts.new, counts.updated) == (0, 1)


async def test_a_paper_fetch_trains_the_model_outside_the_write_when_a_re_merge_needs_it(
    db: Database, make_service: MakeService, taxonomy: Taxonomy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fetched version is tagged by a rule; a newer one the worker stored meanwhile is not, so the
    write needs the model: it is trained outside the write transaction and the write done again."""
    service = await make_service()
    newer = dataclasses.replace(
        LISTED.to_paper("arxiv"), title_en="Notes on Things", abstract_en="Nothing to see.", version=2
    )
    other = connect(db.path)
    read_then_worker_writes = then_written(worker_module.read_snapshot, other, newer, taxonomy)

    monkeypatch.setattr(refresh_module, "read_snapshot", read_then_worker_writes)
    trainings = 0
    real_train = refresh_module.RefreshService._trained_tagger

    async def counted(self: refresh_module.RefreshService):  # type: ignore[no-untyped-def]
        nonlocal trainings
        trainings += 1
        return await real_train(self)

    monkeypatch.setattr(refresh_module.RefreshService, "_trained_tagger", counted)
    try:
        counts = await service.store([LISTED.to_paper("arxiv")])
    finally:
        monkeypatch.undo()
        other.close()
    stored = await PaperStore(db).get(LISTED.arxiv_id)
    assert stored is not None and (stored.version, stored.title_en) == (2, "Notes on Things")
    assert trainings == 1 and counts.updated == 1
    assert stored.topics and all(source is TagSource.MODEL for _, source in stored.topics)


async def test_a_worker_that_died_is_replaced_at_the_next_call() -> None:
    worker = RefreshWorker()
    try:
        with pytest.raises(BrokenProcessPool):
            await worker.call(os._exit, 3)  # the process ends without an answer (as when killed)
        assert await worker.call(abs, -2) == 2
    finally:
        await worker.close()


async def test_the_worker_process_runs_at_a_lower_priority_than_the_bot(refresh_worker: RefreshWorker) -> None:
    """A refresh is background work: on a busy machine the scheduler gives the handlers the CPU first."""
    assert await refresh_worker.call(os.nice, 0) == min(os.nice(0) + WORKER_NICENESS, 19)  # Linux caps niceness at 19


async def test_a_repeated_search_query_keeps_its_id_without_the_write_lock(tmp_path: Path) -> None:
    """Paging buttons need a query id; a query asked before is read, so a search does not wait for a
    refresh worker's write transaction. A new query still gets a new id once the lock is free."""
    path = tmp_path / "bot.sqlite3"
    db = await Database.open(path)
    chats = ChatStore(db)
    first = await chats.remember_query("量化")
    holder = connect(path)
    holder.execute("BEGIN IMMEDIATE")  # as the worker's write transaction holds it
    try:
        assert await asyncio.wait_for(chats.remember_query("量化"), 1.0) == first
        new = asyncio.ensure_future(chats.remember_query("对齐"))
        await asyncio.sleep(0.05)
        assert not new.done()  # a new query is written, so it waits for the lock
        holder.execute("COMMIT")
        assert await asyncio.wait_for(new, 5.0) not in (first, None)
        assert await chats.query_by_id(first) == "量化"
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()
        await db.close()


def _pid(_: object) -> int:
    """(Worker process.) Its process id."""
    return os.getpid()


async def test_an_idle_worker_process_ends_and_the_next_job_starts_another() -> None:
    """The process holds ~100 MB; a bot that refreshes a few times a day gets it back between runs."""
    worker = RefreshWorker(idle_exit=0.3)
    try:
        assert not worker.alive
        first = await worker.call(_pid, None)
        assert worker.alive and first != os.getpid()
        await asyncio.sleep(0.05)
        assert await worker.call(_pid, None) == first  # a job soon after: the same process
        await asyncio.sleep(1.0)
        assert not worker.alive
        assert await worker.call(_pid, None) != first
    finally:
        await worker.close()
    assert not worker.alive


async def test_the_bots_writer_gets_its_turn_while_another_process_writes(tmp_path: Path) -> None:
    """The worker's transactions hold SQLite's write lock; the bot's writer retries until they end
    instead of failing (its busy timeout would fail it only after seconds)."""
    path = tmp_path / "bot.sqlite3"
    db = await Database.open(path)
    holder = connect(path)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Timer(0.05, lambda: holder.execute("COMMIT"))
    released.start()
    try:
        changed = await db.write(lambda c: c.execute("INSERT INTO topics (name, position) VALUES ('x', 99)").rowcount)
        assert changed == 1
        assert await db.fetchone("SELECT position FROM topics WHERE name = 'x'") is not None
    finally:
        released.join()
        holder.close()
        await db.close()


async def test_a_store_job_runs_in_the_worker_process(
    refresh_worker: RefreshWorker, tmp_path: Path, taxonomy: Taxonomy
) -> None:
    path = tmp_path / "bot.sqlite3"
    connect(path).close()
    job = StoreJob(str(path), taxonomy, (LISTED.to_paper("arxiv"),))
    outcome = await refresh_worker.call(store_papers, job)
    assert (outcome.counts.new, outcome.counts.updated) == (1, 0)
    again = await refresh_worker.call(store_papers, job)
    assert (again.counts.new, again.counts.unchanged) == (0, 1)  # idempotent
    conn = connect(path)
    stored = read_papers(conn, [LISTED.arxiv_id])[LISTED.arxiv_id]
    conn.close()
    assert ("量化", TagSource.RULE) in stored.topics
