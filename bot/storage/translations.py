"""Machine translations and model usage (migration 5): what was translated, what waits for a retry,
and how many tokens each paper and each day cost.

Every write goes through `Database.write`, one transaction per outcome: the translation row and the
day's usage change together.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.catalogue.model import MachineTranslation
from bot.storage.db import Database
from bot.storage.fts import match_expression


class TranslationStatus(StrEnum):
    """Where a paper version's translation stands."""

    DONE = "done"  # validated; shown on cards
    FAILED = "failed"  # the model could not be reached or answered with an error: retried later
    REJECTED = "rejected"  # the model answered, the output failed validation: retried later


@dataclass(frozen=True)
class Tokens:
    """Tokens one request (or many) used."""

    prompt: int = 0
    completion: int = 0

    @property
    def total(self) -> int:
        return self.prompt + self.completion


@dataclass(frozen=True)
class Candidate:
    """A paper version that needs Chinese: only English, no valid translation, not waiting for a retry."""

    arxiv_id: str
    version: int
    title_en: str
    abstract_en: str
    priority: bool  # matches an active chat's topic or keyword: it may be pushed soon


@dataclass(frozen=True)
class TranslationRecord:
    """One row of `translations`."""

    arxiv_id: str
    version: int
    status: TranslationStatus
    text: MachineTranslation | None
    attempts: int
    next_attempt_at: int | None
    last_error: str | None
    tokens: Tokens


@dataclass(frozen=True)
class DayUsage:
    """The model's use on one UTC day."""

    day: str
    requests: int = 0
    tokens: Tokens = Tokens()
    papers: int = 0  # translations accepted
    rejected: int = 0
    failed: int = 0


@dataclass(frozen=True)
class PaperCost:
    """Tokens spent on one paper version (every attempt)."""

    arxiv_id: str
    version: int
    status: TranslationStatus
    attempts: int
    tokens: Tokens


# English-only papers: no curated Chinese abstract, an English one to translate.
_NEEDS = "p.abstract_zh = '' AND p.abstract_en != ''"
_OPEN = "(t.arxiv_id IS NULL OR (t.status != 'done' AND coalesce(t.next_attempt_at, 0) <= :now))"


def _candidates(conn: sqlite3.Connection, now: int, limit: int, exclude: frozenset[str]) -> list[Candidate]:
    """(Snapshot thread.) Priority papers first (topic tags, then keyword matches), then the newest others."""
    base = (
        "SELECT p.id, p.arxiv_id, p.version, p.title_en, p.abstract_en FROM papers p"
        " LEFT JOIN translations t ON t.arxiv_id = p.arxiv_id AND t.version = p.version"
        f" WHERE {_NEEDS} AND {_OPEN}"
    )
    chosen: dict[str, Candidate] = {}

    def add(rows: Sequence[sqlite3.Row], priority: bool) -> None:
        for row in rows:
            if len(chosen) >= limit:
                return
            if row[1] in exclude or row[1] in chosen:
                continue
            chosen[row[1]] = Candidate(row[1], int(row[2]), row[3], row[4], priority)

    want = limit + len(exclude)
    add(
        conn.execute(
            base + " AND EXISTS (SELECT 1 FROM paper_topics pt JOIN subscriptions s ON s.kind = 'topic'"
            " AND s.value = pt.topic JOIN chats c ON c.chat_id = s.chat_id AND c.active = 1"
            " WHERE pt.paper_id = p.id) ORDER BY p.published DESC, p.arxiv_id DESC LIMIT :want",
            {"now": now, "want": want},
        ).fetchall(),
        True,
    )
    keywords = [
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT s.value FROM subscriptions s JOIN chats c ON c.chat_id = s.chat_id"
            " WHERE s.kind = 'keyword' AND c.active = 1"
        )
    ]
    for keyword in keywords:
        expression = match_expression(keyword)
        if expression is None or len(chosen) >= limit:
            continue
        add(
            conn.execute(
                base + " AND p.id IN (SELECT rowid FROM papers_fts WHERE papers_fts MATCH :match)"
                " ORDER BY p.published DESC, p.arxiv_id DESC LIMIT :want",
                {"now": now, "want": want, "match": expression},
            ).fetchall(),
            True,
        )
    if len(chosen) < limit:
        add(
            conn.execute(
                base + " ORDER BY p.published DESC, p.arxiv_id DESC LIMIT :want",
                {"now": now, "want": want + len(chosen)},
            ).fetchall(),
            False,
        )
    return list(chosen.values())


class TranslationStore:
    """Reads and writes `translations` and `translation_usage` through the bot's `Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def candidates(self, now: int, limit: int, *, exclude: frozenset[str] = frozenset()) -> list[Candidate]:
        """Up to `limit` paper versions to translate, priority first (consistent snapshot)."""
        return await self._db.read(lambda conn: _candidates(conn, now, limit, exclude))

    async def waiting(self) -> int:
        """English-only paper versions without a valid translation (including those waiting for a retry)."""
        row = await self._db.fetchone(
            "SELECT count(*) FROM papers p LEFT JOIN translations t"
            " ON t.arxiv_id = p.arxiv_id AND t.version = p.version"
            f" WHERE {_NEEDS} AND (t.arxiv_id IS NULL OR t.status != 'done')"
        )
        return int(row[0]) if row else 0

    async def source(self, arxiv_id: str) -> Candidate | None:
        """The paper as a candidate if it needs a translation now (whatever its retry time)."""
        row = await self._db.fetchone(
            "SELECT p.arxiv_id, p.version, p.title_en, p.abstract_en FROM papers p"
            " LEFT JOIN translations t ON t.arxiv_id = p.arxiv_id AND t.version = p.version AND t.status = 'done'"
            f" WHERE p.arxiv_id = ? AND {_NEEDS} AND t.arxiv_id IS NULL",
            (arxiv_id,),
        )
        return Candidate(row[0], int(row[1]), row[2], row[3], True) if row else None

    async def get(self, arxiv_id: str, version: int) -> TranslationRecord | None:
        """The row of one paper version, if any attempt was made."""
        row = await self._db.fetchone(
            "SELECT arxiv_id, version, status, title_zh, abstract_zh, key_point, model, attempts,"
            " next_attempt_at, last_error, prompt_tokens, completion_tokens FROM translations"
            " WHERE arxiv_id = ? AND version = ?",
            (arxiv_id, version),
        )
        if row is None:
            return None
        status = TranslationStatus(row[2])
        text = MachineTranslation(row[3], row[4], row[5], row[6]) if status is TranslationStatus.DONE else None
        return TranslationRecord(
            row[0], int(row[1]), status, text, int(row[7]), row[8], row[9], Tokens(int(row[10]), int(row[11]))
        )

    async def record(
        self,
        candidate: Candidate,
        status: TranslationStatus,
        *,
        now: datetime,
        tokens: Tokens,
        text: MachineTranslation | None = None,
        error: str | None = None,
        next_attempt_at: int | None = None,
        prompt_version: int = 0,
        requested: bool = True,
    ) -> None:
        """One attempt's outcome and its tokens, with the day's usage, in one transaction.

        A failure never overwrites a valid translation (a late duplicate attempt); a paper that was
        deleted meanwhile records only the usage.
        """
        stamp = now.isoformat(timespec="seconds")
        day = now.date().isoformat()
        done = status is TranslationStatus.DONE
        t = text or MachineTranslation("", "")

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO translations (arxiv_id, version, status, title_zh, abstract_zh, key_point, model,"
                " prompt_version, attempts, next_attempt_at, last_error, prompt_tokens, completion_tokens,"
                " created_at, updated_at, translated_at)"
                " SELECT :id, :version, :status, :title, :abstract, :key, :model, :pv, :n, :next, :error,"
                " :pt, :ct, :now, :now, :tat FROM papers WHERE arxiv_id = :id"
                " ON CONFLICT (arxiv_id, version) DO UPDATE SET"
                " status = CASE WHEN translations.status = 'done' AND excluded.status != 'done'"
                "   THEN translations.status ELSE excluded.status END,"
                " title_zh = CASE WHEN excluded.status = 'done' THEN excluded.title_zh ELSE translations.title_zh END,"
                " abstract_zh = CASE WHEN excluded.status = 'done' THEN excluded.abstract_zh"
                "   ELSE translations.abstract_zh END,"
                " key_point = CASE WHEN excluded.status = 'done' THEN excluded.key_point"
                "   ELSE translations.key_point END,"
                " model = CASE WHEN excluded.status = 'done' THEN excluded.model ELSE translations.model END,"
                " prompt_version = CASE WHEN excluded.status = 'done' THEN excluded.prompt_version"
                "   ELSE translations.prompt_version END,"
                " translated_at = coalesce(excluded.translated_at, translations.translated_at),"
                " attempts = translations.attempts + excluded.attempts,"
                " next_attempt_at = CASE WHEN translations.status = 'done' OR excluded.status = 'done' THEN NULL"
                "   ELSE excluded.next_attempt_at END,"
                " last_error = excluded.last_error,"
                " prompt_tokens = translations.prompt_tokens + excluded.prompt_tokens,"
                " completion_tokens = translations.completion_tokens + excluded.completion_tokens,"
                " updated_at = excluded.updated_at",
                {
                    "id": candidate.arxiv_id,
                    "version": candidate.version,
                    "status": str(status),
                    "title": t.title_zh if done else "",
                    "abstract": t.abstract_zh if done else "",
                    "key": t.key_point if done else "",
                    "model": t.model if done else "",
                    "pv": prompt_version,
                    "n": 1 if requested else 0,
                    "next": None if done else next_attempt_at,
                    "error": None if done else error,
                    "pt": tokens.prompt,
                    "ct": tokens.completion,
                    "now": stamp,
                    "tat": stamp if done else None,
                },
            )
            conn.execute(
                "INSERT INTO translation_usage (day, requests, prompt_tokens, completion_tokens, papers, rejected,"
                " failed) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (day) DO UPDATE SET"
                " requests = requests + excluded.requests,"
                " prompt_tokens = prompt_tokens + excluded.prompt_tokens,"
                " completion_tokens = completion_tokens + excluded.completion_tokens,"
                " papers = papers + excluded.papers, rejected = rejected + excluded.rejected,"
                " failed = failed + excluded.failed",
                (
                    day,
                    1 if requested else 0,
                    tokens.prompt,
                    tokens.completion,
                    int(done),
                    int(status is TranslationStatus.REJECTED),
                    int(status is TranslationStatus.FAILED),
                ),
            )

        await self._db.write(write)

    async def usage(self, day: str) -> DayUsage:
        """One UTC day's usage (zeros when nothing was asked)."""
        rows = await self.usage_days(day, day)
        return rows[0] if rows else DayUsage(day)

    async def usage_days(self, first: str, last: str) -> list[DayUsage]:
        """Usage for the days in [first, last], newest first (days without requests are absent)."""
        rows = await self._db.fetchall(
            "SELECT day, requests, prompt_tokens, completion_tokens, papers, rejected, failed"
            " FROM translation_usage WHERE day BETWEEN ? AND ? ORDER BY day DESC",
            (first, last),
        )
        return [DayUsage(r[0], int(r[1]), Tokens(int(r[2]), int(r[3])), int(r[4]), int(r[5]), int(r[6])) for r in rows]

    async def status_counts(self) -> dict[TranslationStatus, int]:
        """Rows per status (every version ever attempted)."""
        rows = await self._db.fetchall("SELECT status, count(*) FROM translations GROUP BY status")
        return {TranslationStatus(r[0]): int(r[1]) for r in rows}

    async def costliest(self, limit: int = 5) -> list[PaperCost]:
        """The paper versions that used the most tokens."""
        rows = await self._db.fetchall(
            "SELECT arxiv_id, version, status, attempts, prompt_tokens, completion_tokens FROM translations"
            " ORDER BY prompt_tokens + completion_tokens DESC, arxiv_id LIMIT ?",
            (limit,),
        )
        return [
            PaperCost(r[0], int(r[1]), TranslationStatus(r[2]), int(r[3]), Tokens(int(r[4]), int(r[5]))) for r in rows
        ]

    async def average_tokens(self) -> float:
        """Mean tokens per translated paper version (every attempt counted), 0 when none."""
        row = await self._db.fetchone(
            "SELECT avg(prompt_tokens + completion_tokens) FROM translations WHERE status = 'done'"
        )
        return float(row[0]) if row and row[0] is not None else 0.0
