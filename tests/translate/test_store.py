"""The translations table: recorded outcomes, version invalidation, usage per day, candidates in priority order."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from bot.catalogue.model import MachineTranslation
from bot.storage.db import Database
from bot.storage.papers import PaperStore
from bot.storage.translations import Candidate, Tokens, TranslationStatus, TranslationStore
from tests.translate.helpers import ABSTRACTS, NOW, english, subscribe, write_papers

TEXT = MachineTranslation("稀疏注意力", "我們提出一種方法。", "要點。", "m1")


def cand(arxiv_id: str, version: int = 1) -> Candidate:
    return Candidate(arxiv_id, version, "t", "a", False)


async def test_done_translation_shows_on_the_paper_until_a_new_version(database: Database, db_path: Path) -> None:
    write_papers(db_path, [english("2605.00001")])
    store = TranslationStore(database)
    await store.record(cand("2605.00001"), TranslationStatus.DONE, now=NOW, tokens=Tokens(900, 300), text=TEXT)
    paper = await PaperStore(database).get("2605.00001")
    assert paper is not None and paper.machine == TEXT
    write_papers(db_path, [english("2605.00001", version=2)])
    paper = await PaperStore(database).get("2605.00001")
    assert paper is not None and paper.version == 2 and paper.machine is None
    [again] = await store.candidates(int(NOW.timestamp()), 10)
    assert (again.arxiv_id, again.version) == ("2605.00001", 2)


async def test_failures_accumulate_and_never_overwrite_a_translation(database: Database, db_path: Path) -> None:
    write_papers(db_path, [english("2605.00002")])
    store = TranslationStore(database)
    retry = int((NOW + timedelta(minutes=2)).timestamp())
    await store.record(
        cand("2605.00002"), TranslationStatus.FAILED, now=NOW, tokens=Tokens(), error="timeout", next_attempt_at=retry
    )
    await store.record(
        cand("2605.00002"),
        TranslationStatus.REJECTED,
        now=NOW,
        tokens=Tokens(800, 50),
        error="rejected: chatter",
        next_attempt_at=retry,
    )
    row = await store.get("2605.00002", 1)
    assert row is not None and row.status is TranslationStatus.REJECTED and row.attempts == 2
    assert row.tokens == Tokens(800, 50) and row.next_attempt_at == retry and row.text is None
    # Waiting for its retry: not a candidate now, one after the retry time.
    assert await store.candidates(int(NOW.timestamp()), 10) == []
    assert [c.arxiv_id for c in await store.candidates(retry, 10)] == ["2605.00002"]
    await store.record(cand("2605.00002"), TranslationStatus.DONE, now=NOW, tokens=Tokens(800, 200), text=TEXT)
    await store.record(cand("2605.00002"), TranslationStatus.FAILED, now=NOW, tokens=Tokens(), error="late")
    row = await store.get("2605.00002", 1)
    assert row is not None and row.status is TranslationStatus.DONE and row.text == TEXT
    assert row.attempts == 4 and row.tokens == Tokens(1600, 250)
    usage = await store.usage(NOW.date().isoformat())
    assert (usage.requests, usage.papers, usage.rejected, usage.failed) == (4, 1, 1, 2)
    assert usage.tokens == Tokens(1600, 250)
    assert (await store.costliest(1))[0].tokens.total == 1850


async def test_curated_papers_are_never_candidates(database: Database, db_path: Path) -> None:
    curated = replace(english("2605.00003"), abstract_zh="人工撰寫的摘要。", title_zh="人工標題")
    write_papers(db_path, [curated, english("2605.00004")])
    store = TranslationStore(database)
    assert [c.arxiv_id for c in await store.candidates(int(NOW.timestamp()), 10)] == ["2605.00004"]
    assert await store.source("2605.00003") is None
    assert await store.waiting() == 1


async def test_followed_papers_come_first(database: Database, db_path: Path) -> None:
    papers = [
        english("2605.00010", ABSTRACTS[0]),
        english("2605.00011", ABSTRACTS[1], topics=("量化",)),
        english("2605.00012", ABSTRACTS[2]),
        english("2605.00013", ABSTRACTS[0]),
    ]
    write_papers(db_path, papers, topics=("量化",))
    subscribe(db_path, 1, "topic", "量化")
    subscribe(db_path, 2, "keyword", "episodic memory")
    found = await TranslationStore(database).candidates(int(NOW.timestamp()), 10)
    assert [c.arxiv_id for c in found[:2]] == ["2605.00011", "2605.00012"]
    assert [c.priority for c in found] == [True, True, False, False]
    assert {c.arxiv_id for c in found} == {p.arxiv_id for p in papers}
    assert len(await TranslationStore(database).candidates(int(NOW.timestamp()), 1)) == 1
