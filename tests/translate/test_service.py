"""The translation service against the fake model: batches, priorities, failures and retries, the budget,
and the API key kept out of logs, errors and the database."""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from bot.logs import RedactTokens
from bot.storage.db import Database
from bot.storage.papers import PaperStore
from bot.storage.translations import TranslationStatus
from bot.translate.service import TranslationService
from tests.translate.fake_llm import FakeModel, Mode
from tests.translate.helpers import ABSTRACTS, INJECTED, Clock, english, make_service, subscribe, write_papers


async def test_a_batch_translates_followed_papers_first(
    service: TranslationService, fake: FakeModel, database: Database, db_path: Path
) -> None:
    write_papers(
        db_path,
        [english(f"2605.0002{i}", ABSTRACTS[i % 3], topics=("量化",) if i == 3 else ()) for i in range(5)],
        topics=("量化",),
    )
    subscribe(db_path, 7, "topic", "量化")
    report = await service.run_once(limit=1)
    assert report.papers == ["2605.00023"] and report.translated == 1
    report = await service.run_once()
    assert report.translated == 4 and report.failed == report.rejected == 0
    paper = await PaperStore(database).get("2605.00021")
    assert paper is not None and paper.machine is not None and paper.machine.model == "fake-translator"
    usage = await service.store.usage("2026-05-04")
    assert usage.papers == 5 and usage.tokens.prompt == fake.prompt_tokens
    assert usage.tokens.completion == fake.completion_tokens
    assert (await service.run_once()).attempted == 0


FAILURES = [
    (Mode.RATE_LIMITED, TranslationStatus.FAILED),
    (Mode.SERVER_ERROR, TranslationStatus.FAILED),
    (Mode.HANG, TranslationStatus.FAILED),
    (Mode.NOT_A_COMPLETION, TranslationStatus.FAILED),
    (Mode.TRUNCATED, TranslationStatus.FAILED),
    (Mode.NOT_JSON, TranslationStatus.REJECTED),
    (Mode.ENGLISH, TranslationStatus.REJECTED),
    (Mode.JAPANESE, TranslationStatus.REJECTED),
    (Mode.ECHO_RULES, TranslationStatus.REJECTED),
    (Mode.OBEY_INJECTION, TranslationStatus.REJECTED),
]


@pytest.mark.parametrize(("mode", "status"), FAILURES)
async def test_every_failure_keeps_the_english_and_retries_later(
    database: Database, fake: FakeModel, clock: Clock, db_path: Path, mode: Mode, status: TranslationStatus
) -> None:
    write_papers(db_path, [english("2605.00030", INJECTED)])
    service = make_service(database, fake, clock, timeout=0.2 if mode is Mode.HANG else 5.0)
    fake.then(mode)
    report = await service.run_once()
    assert report.attempted == 1 and report.translated == 0
    row = await service.store.get("2605.00030", 1)
    assert row is not None and row.status is status and row.last_error
    paper = await PaperStore(database).get("2605.00030")
    assert paper is not None and paper.machine is None  # the card keeps its English
    assert row.next_attempt_at is not None and row.next_attempt_at > clock.now.timestamp()
    # Not retried before its time, retried after it (and after any 429 pause).
    clock.mono += 10
    assert (await service.run_once()).attempted == 0
    clock.now += timedelta(seconds=row.next_attempt_at - clock.now.timestamp() + 1)
    report = await service.run_once()
    assert report.translated == 1
    paper = await PaperStore(database).get("2605.00030")
    assert paper is not None and paper.machine is not None
    await service.close()


async def test_backoff_grows_with_attempts(
    database: Database, fake: FakeModel, clock: Clock, db_path: Path, service: TranslationService
) -> None:
    write_papers(db_path, [english("2605.00031")])
    fake.default = Mode.SERVER_ERROR
    delays = []
    for _ in range(4):
        report = await service.run_once()
        assert report.failed == 1
        row = await service.store.get("2605.00031", 1)
        assert row is not None and row.next_attempt_at is not None
        delays.append(row.next_attempt_at - clock.now.timestamp())
        clock.now += timedelta(seconds=delays[-1])
    assert delays == sorted(delays) and delays[-1] >= 4 * delays[0]


async def test_a_429_pauses_all_requests_for_its_retry_after(
    service: TranslationService, fake: FakeModel, clock: Clock, db_path: Path
) -> None:
    write_papers(db_path, [english(f"2605.0004{i}", ABSTRACTS[i % 3]) for i in range(6)])
    fake.retry_after = "30"
    fake.then(Mode.RATE_LIMITED)
    first = await service.run_once()
    assert first.failed == 1 and first.stopped == "rate limited"
    sent = len(fake.requests)
    assert (await service.run_once()).stopped == "rate limited" and len(fake.requests) == sent
    assert await service.translate_now("2605.00045") is None and len(fake.requests) == sent
    clock.mono += 31
    assert (await service.run_once()).translated >= 1


async def test_budget_keeps_a_reserve_for_followed_papers(
    database: Database, fake: FakeModel, clock: Clock, db_path: Path
) -> None:
    papers = [english(f"2605.0005{i}", ABSTRACTS[i % 3], topics=("量化",) if i < 2 else ()) for i in range(6)]
    write_papers(db_path, papers, topics=("量化",))
    subscribe(db_path, 8, "topic", "量化")
    service = make_service(database, fake, clock, daily_papers=4, push_reserve=0.5, concurrency=1)
    report = await service.run_once()
    # Two followed papers, then others only up to half the budget (4 * 0.5 = 2 papers in all).
    assert report.translated == 2 and report.stopped == "budget"
    subscribe(db_path, 9, "keyword", "episodic memory")  # 2605.00052 and 2605.00055 use that abstract
    report = await service.run_once()
    assert report.translated == 2 and set(report.papers) == {"2605.00052", "2605.00055"}
    assert (await service.run_once()).stopped == "budget"
    # A new UTC day resets the budget.
    clock.now += timedelta(days=1)
    assert (await service.run_once()).translated == 2
    await service.close()


async def test_translate_now_joins_a_running_translation(
    service: TranslationService, fake: FakeModel, db_path: Path
) -> None:
    write_papers(db_path, [english("2605.00060")])
    fake.then(Mode.SLOW)
    first, second = await asyncio.gather(service.translate_now("2605.00060"), service.translate_now("2605.00060"))
    assert first is not None and first == second and len(fake.requests) == 1
    assert await service.translate_now("2605.00060") is None  # already translated: nothing to do


async def test_the_api_key_never_reaches_logs_errors_or_the_database(
    database: Database, fake: FakeModel, clock: Clock, db_path: Path
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        write_papers(db_path, [english("2605.00070"), english("2605.00071")])
        service = make_service(database, fake, clock)
        fake.then(Mode.ECHO_KEY, Mode.ECHO_KEY)
        report = await service.run_once()
        assert report.failed == 2
        # A wrong key: the server's 401 names nothing, but our error text must not either.
        wrong = make_service(database, fake, clock, api_key="sk-another-secret-key-987654")
        clock.now += timedelta(days=2)
        fake.api_key = "sk-server-expects-this-one"
        await wrong.run_once()
        logging.getLogger("bot.test").error("config dump %s", wrong.settings)
        await service.close()
        await wrong.close()
    finally:
        root.removeHandler(handler)
    assert "Bearer" in fake.headers[0]["Authorization"]  # the key was really sent
    text = stream.getvalue()
    assert "translation of 2605.00070 failed" in text
    rows = await database.fetchall("SELECT last_error FROM translations")
    errors = " ".join(str(r[0]) for r in rows)
    for secret in ("sk-test-SECRET-never-print-123456", "sk-another-secret-key-987654"):
        assert secret not in text and secret not in errors
        for file in db_path.parent.glob("bot.sqlite3*"):
            assert secret.encode() not in file.read_bytes()
