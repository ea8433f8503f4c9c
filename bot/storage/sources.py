"""Source state tables (migration 4): runs, errors, HTTP validators, digest rows, today's queries,
unknown arXiv IDs. Plain functions on a sqlite3 connection, called inside `Database.write`/`read`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

QUERY_TTL = timedelta(days=1)  # arXiv: do not repeat a query within a day
UNKNOWN_TTL = timedelta(days=1)  # an ID arXiv did not know is asked again after a day


@dataclass(frozen=True)
class SourceState:
    """What the bot remembers of one source."""

    name: str
    kind: str
    last_run_at: str | None = None
    last_success_at: str | None = None
    last_error_at: str | None = None
    last_error: str | None = None
    failures: int = 0
    retry_at: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    papers_new: int = 0
    papers_updated: int = 0
    last_report: Mapping[str, Any] | None = None


def _stamp(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


def states(conn: sqlite3.Connection) -> dict[str, SourceState]:
    """Every source's state by name."""
    rows = conn.execute(
        "SELECT name, kind, last_run_at, last_success_at, last_error_at, last_error, failures, retry_at, etag,"
        " last_modified, papers_new, papers_updated, last_report FROM source_state"
    ).fetchall()
    result = {}
    for row in rows:
        values = list(row)
        values[-1] = json.loads(values[-1]) if values[-1] else None
        result[row[0]] = SourceState(*values)
    return result


def record_success(
    conn: sqlite3.Connection,
    name: str,
    kind: str,
    now: datetime,
    *,
    new: int,
    updated: int,
    report: Mapping[str, Any],
    etag: str | None = None,
    last_modified: str | None = None,
    keep_validators: bool = True,
) -> None:
    """A run that succeeded: clears the error streak, adds to the contribution counts."""
    conn.execute(
        "INSERT INTO source_state (name, kind, last_run_at, last_success_at, failures, retry_at, etag, last_modified,"
        " papers_new, papers_updated, last_report) VALUES (?, ?, ?, ?, 0, NULL, ?, ?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, last_run_at = excluded.last_run_at,"
        " last_success_at = excluded.last_success_at, failures = 0, retry_at = NULL,"
        " etag = CASE WHEN ? AND excluded.etag IS NULL THEN source_state.etag ELSE excluded.etag END,"
        " last_modified = CASE WHEN ? AND excluded.last_modified IS NULL THEN source_state.last_modified"
        "   ELSE excluded.last_modified END,"
        " papers_new = source_state.papers_new + excluded.papers_new,"
        " papers_updated = source_state.papers_updated + excluded.papers_updated,"
        " last_report = excluded.last_report",
        (
            name,
            kind,
            _stamp(now),
            _stamp(now),
            etag,
            last_modified,
            new,
            updated,
            json.dumps(report, ensure_ascii=False),
            keep_validators,
            keep_validators,
        ),
    )


def record_failure(
    conn: sqlite3.Connection, name: str, kind: str, now: datetime, error: str, retry_at: datetime
) -> None:
    """A run that failed: the error, one more in the streak, when to retry. Nothing else changes."""
    conn.execute(
        "INSERT INTO source_state (name, kind, last_run_at, last_error_at, last_error, failures, retry_at)"
        " VALUES (?, ?, ?, ?, ?, 1, ?)"
        " ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at,"
        " last_error_at = excluded.last_error_at, last_error = excluded.last_error,"
        " failures = source_state.failures + 1, retry_at = excluded.retry_at",
        (name, kind, _stamp(now), _stamp(now), error[:500], _stamp(retry_at)),
    )


def digest_rows(conn: sqlite3.Connection, source: str) -> dict[str, str]:
    """arXiv ID -> digest of the row a digest list held at its last fetch."""
    return dict(conn.execute("SELECT arxiv_id, digest FROM source_rows WHERE source = ?", (source,)).fetchall())


def save_digest_rows(conn: sqlite3.Connection, source: str, rows: Mapping[str, str]) -> None:
    """Remember the rows a digest list holds now (replacing the previous fetch's)."""
    conn.execute("DELETE FROM source_rows WHERE source = ?", (source,))
    conn.executemany(
        "INSERT INTO source_rows (source, arxiv_id, digest) VALUES (?, ?, ?)",
        [(source, arxiv_id, digest) for arxiv_id, digest in rows.items()],
    )


def fresh_queries(conn: sqlite3.Connection, queries: Iterable[str], now: datetime) -> set[str]:
    """Those of `queries` already made in the last day."""
    since = _stamp(now - QUERY_TTL)
    wanted = list(queries)
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found |= {
            row[0]
            for row in conn.execute(
                f"SELECT query FROM source_queries WHERE fetched_at > ? AND query IN ({marks})", (since, *chunk)
            )
        }
    return found


def remember_queries(conn: sqlite3.Connection, queries: Iterable[str], now: datetime) -> None:
    """Record queries made now; forget those older than a day."""
    conn.execute("DELETE FROM source_queries WHERE fetched_at <= ?", (_stamp(now - QUERY_TTL),))
    conn.executemany(
        "INSERT INTO source_queries (query, fetched_at) VALUES (?, ?)"
        " ON CONFLICT (query) DO UPDATE SET fetched_at = excluded.fetched_at",
        [(q, _stamp(now)) for q in queries],
    )


def known_unknown(conn: sqlite3.Connection, arxiv_id: str, now: datetime) -> bool:
    """True when arXiv said it has no such paper less than a day ago."""
    row = conn.execute(
        "SELECT 1 FROM unknown_ids WHERE arxiv_id = ? AND checked_at > ?", (arxiv_id, _stamp(now - UNKNOWN_TTL))
    ).fetchone()
    return row is not None


def remember_unknown(conn: sqlite3.Connection, arxiv_ids: Sequence[str], now: datetime) -> None:
    """IDs arXiv answered with an empty feed for."""
    conn.execute("DELETE FROM unknown_ids WHERE checked_at <= ?", (_stamp(now - UNKNOWN_TTL),))
    conn.executemany(
        "INSERT INTO unknown_ids (arxiv_id, checked_at) VALUES (?, ?)"
        " ON CONFLICT (arxiv_id) DO UPDATE SET checked_at = excluded.checked_at",
        [(i, _stamp(now)) for i in arxiv_ids],
    )


def set_upvotes(conn: sqlite3.Connection, upvotes: Mapping[str, int]) -> None:
    """Hugging Face upvotes of papers we hold."""
    conn.executemany("UPDATE papers SET hf_upvotes = ? WHERE arxiv_id = ?", [(v, k) for k, v in upvotes.items()])


def contributed(conn: sqlite3.Connection) -> dict[str, int]:
    """Source name -> papers of the catalogue it contributed to."""
    rows = conn.execute("SELECT s.value, count(*) FROM papers p, json_each(p.sources) s GROUP BY s.value").fetchall()
    return {str(name): int(n) for name, n in rows}
