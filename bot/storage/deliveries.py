"""The delivery log (`deliveries`) and topic-exhaustion notices (`exhausted`): the push's source of truth.

A row is one message to one chat: a paper (`kind='paper'`, unique per (chat, arXiv ID), so no chat
ever gets a paper twice) or an exhaustion notice. Its state moves planned -> sending -> sent | failed;
rows found in 'sending' after a restart become 'unknown' (maybe delivered, never re-sent).

Multi-statement work goes through `DeliveryStore.run` (writes: `Database.write`) and `DeliveryStore.read`
(snapshots: `Database.read`), which execute a synchronous function in one transaction on a database
thread: no other writer's statement can land inside the transaction, and hundreds of thousands of rows
never cross the thread boundary one chunk of 64 at a time.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from functools import partial
from typing import Any, NamedTuple, TypeVar

from bot.model import DeliveryState
from bot.storage.db import Database

T = TypeVar("T")


class ChatRow(NamedTuple):
    """What planning needs of a chat: settings (None: not chosen, use the default) and subscriptions."""

    chat_id: int
    script: str | None
    push_time: str | None
    timezone: str | None
    last_push_date: str | None
    active: int  # 1 or 0
    next_push_at: int | None
    keys: str | None  # subscription keys ("topic:NAME", "keyword:WORDS") joined by U+001F, None if none

    def subscriptions(self) -> list[str]:
        """Subscription keys in key order (stable; the planner rotates over it)."""
        return self.keys.split(SEPARATOR) if self.keys else []


class PlannedRow(NamedTuple):
    """One planned message: a paper (`arxiv_id`) or, when `arxiv_id` is None, an exhaustion notice."""

    id: int
    arxiv_id: str | None
    subscription: str  # Subscription.key
    total: int  # notices: the subscription's paper count when it ran out


# A row to plan: (chat_id, arxiv_id or None for a notice, subscription key, notice's paper count).
NewRow = tuple[int, str | None, str, int]
# Rows that share (via, local_date, kind), inserted group after group: (via, local_date, kind, rows).
RowGroup = tuple[str, str, str, list[NewRow]]
# Rows per INSERT statement: 3 bound values each, under SQLite's 32,766-variable limit. One multi-row
# VALUES statement per 8,000 rows costs 15% less than parsing a JSON array in SQL (json_each) and
# much less than executemany, and the event loop no longer encodes JSON.
_INSERT_ROWS = 8000
_VALUES = [f"(?{5 + 3 * i}, ?{6 + 3 * i}, ?{7 + 3 * i}, ?1, ?2, ?3, 'planned', ?4)" for i in range(_INSERT_ROWS)]


class Final(NamedTuple):
    """The outcome of one row."""

    id: int
    state: DeliveryState  # SENT, FAILED, or PLANNED again after a 429
    attempts: int
    error: str | None
    at: str | None


# U+001F: a control character str.split() treats as whitespace, so neither topic names nor
# (whitespace-normalized) keywords can contain it.
SEPARATOR = "\x1f"
# subscription_keys is kept by triggers (migration 11) in key order.
_CHAT_COLUMNS = (
    "c.chat_id, c.script, c.push_time, c.timezone, c.last_push_date, c.active, c.next_push_at, c.subscription_keys"
)
_NO_ROW = 2**63 - 1  # above every row id: no row is recent
_DUE = "c.active = 1 AND c.next_push_at IS NOT NULL AND c.next_push_at <= ?"


def _ids(chat_ids: Iterable[int]) -> str:
    return json.dumps(list(chat_ids))


class TopicList(NamedTuple):
    """A topic's arXiv IDs in push order; `truncated`: more papers follow (the list is no paper count)."""

    ids: list[str]
    truncated: bool


def merge_feeds(
    curated: Sequence[tuple[float, str]], tagged: Sequence[tuple[float, str]], depth: int, lead_days: int
) -> TopicList:
    """Two feeds of (day, arXiv ID), each newest first and cut at `depth` when it had more, merged in
    push order (a curated paper `lead_days` newer). The merge stops where a cut feed runs out: what
    follows in the topic is unknown there."""
    ids: list[str] = []
    i = j = 0
    while True:
        if (i == len(curated) and len(curated) >= depth) or (j == len(tagged) and len(tagged) >= depth):
            return TopicList(ids, True)
        if i == len(curated) and j == len(tagged):
            return TopicList(ids, False)
        take_curated = j == len(tagged) or (
            i < len(curated) and (curated[i][0] + lead_days, curated[i][1]) >= (tagged[j][0], tagged[j][1])
        )
        if take_curated:
            ids.append(curated[i][1])
            i += 1
        else:
            ids.append(tagged[j][1])
            j += 1


class DeliverySession:
    """Synchronous statements for use inside `DeliveryStore.run` (one open transaction)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        cursor = self._db.cursor()
        cursor.row_factory = None  # plain tuples: cheaper than Row for hundreds of thousands of rows
        return cursor.execute(sql, params).fetchall()

    def history(self, chat_ids: Iterable[int], since: str) -> tuple[dict[int, set[str]], set[tuple[int, str]]]:
        """Papers each chat has in the log (any state), and the (chat, local date) pairs from `since` on
        that already have push papers planned (a push day to resume, never to plan again).

        One concatenated string per chat (arXiv IDs contain no spaces): 3-4x cheaper than a Python row
        per paper, which matters as the log grows by each chat's papers every day."""
        seen: dict[int, set[str]] = {}
        pushed: set[tuple[int, str]] = set()
        # The scan walks the index deliveries_once (chat_id, arxiv_id, and the rowid): only rows from
        # `_recent_floor` on are looked up in the table for their via and local date (SQLite seeks
        # the table row when the CASE first needs a column the index lacks). Reading via and
        # local_date of every row cost 2.35x as much, growing with each chat's history.
        for chat_id, arxiv_ids, days in self._rows(
            "SELECT chat_id, group_concat(arxiv_id, ' '),"
            " group_concat(DISTINCT CASE WHEN id >= ? AND via = 'push' AND local_date >= ? THEN local_date END)"
            " FROM deliveries WHERE kind = 'paper' AND chat_id IN (SELECT value FROM json_each(?)) GROUP BY chat_id",
            (self._recent_floor(since), since, _ids(chat_ids)),
        ):
            seen[chat_id] = set(arxiv_ids.split(" "))
            if days:
                pushed.update((chat_id, day) for day in days.split(","))
        return seen, pushed

    def _recent_floor(self, since: str) -> int:
        """A row id no row dated `since` or later is below: the smallest id of each (local date, state)
        from `since` to four days on (a local date is at most a day ahead of UTC's, and `since` is two
        days back), one seek each in deliveries_by_day, and of any row dated later still."""
        first = date.fromisoformat(since)
        days = [(first + timedelta(days=k)).isoformat() for k in range(5)]
        floors = [
            self._rows("SELECT min(id) FROM deliveries WHERE local_date = ? AND state = ?", (day, str(state)))[0][0]
            for day in days
            for state in DeliveryState
        ]
        # INDEXED BY: left to itself SQLite answers min(id) by walking the table in id order until a row
        # matches, all of it when none does (the usual case: 130 ms at 900,000 rows).
        later = "SELECT min(id) FROM deliveries INDEXED BY deliveries_by_day WHERE local_date > ?"
        floors.append(self._rows(later, (days[-1],))[0][0])
        return min((f for f in floors if f is not None), default=_NO_ROW)

    def topic_lists(self, topics: Iterable[str], depth: int, lead_days: int) -> dict[str, TopicList]:
        """Subscription key "topic:NAME" -> the topic's arXiv IDs in push order, at least `depth` of them
        when it has that many: newest first, a paper the catalogue itself tagged counting as `lead_days`
        newer than one a rule or the model tagged (the push prefers human tags, but not to the point of
        sending last year's curated papers while new ones arrive every day).

        Two walks of the index paper_topics_feed (migration 11) per topic, catalogue tags and the others,
        `depth` each, merged: the cost is `depth` per topic whatever the size of the catalogue.
        """
        query = (
            "SELECT coalesce(pt.published_day, 0), p.arxiv_id FROM paper_topics pt JOIN papers p ON p.id = pt.paper_id"
            " WHERE pt.topic = ? AND pt.source <> 'catalogue' = ?"
            " ORDER BY pt.published_day DESC, p.arxiv_id DESC LIMIT ?"
        )
        lists = {}
        for topic in topics:
            curated = self._rows(query, (topic, 0, depth))
            tagged = self._rows(query, (topic, 1, depth))
            lists[f"topic:{topic}"] = merge_feeds(curated, tagged, depth, lead_days)
        return lists

    def exhausted(self, chat_ids: Iterable[int]) -> dict[int, dict[str, int]]:
        """Chat -> subscription key -> paper count when the chat was told the subscription ran out."""
        result: dict[int, dict[str, int]] = {}
        for chat_id, key, papers in self._rows(
            "SELECT chat_id, subscription, papers FROM exhausted WHERE chat_id IN (SELECT value FROM json_each(?))",
            (_ids(chat_ids),),
        ):
            result.setdefault(chat_id, {})[key] = papers
        return result

    def open_rows(self, chat_ids: Iterable[int]) -> dict[int, list[PlannedRow]]:
        """Rows still 'planned' (left by a crash or an aborted fan-out), oldest first."""
        result: dict[int, list[PlannedRow]] = {}
        for row_id, chat_id, arxiv_id, key, total in self._rows(
            "SELECT d.id, d.chat_id, d.arxiv_id, d.subscription, coalesce(e.papers, 0) FROM deliveries d"
            " LEFT JOIN exhausted e ON e.chat_id = d.chat_id AND e.subscription = d.subscription"
            # The IN term lets SQLite use the partial index deliveries_open (its WHERE must be implied).
            " WHERE d.state IN ('planned', 'sending') AND d.state = 'planned'"
            " AND d.chat_id IN (SELECT value FROM json_each(?)) ORDER BY d.chat_id, d.id",
            (_ids(chat_ids),),
        ):
            result.setdefault(chat_id, []).append(PlannedRow(row_id, arxiv_id, key, total))
        return result

    def insert(self, groups: Sequence[RowGroup], planned_at: str) -> int:
        """Insert rows as 'planned', group after group; the first id (the others follow consecutively)."""
        rows = [row for group in groups for row in group[3]]
        if not rows:
            return 0
        before = self._rows("SELECT coalesce(max(id), 0) FROM deliveries")[0][0]
        for via, local_date, kind, group in groups:
            for start in range(0, len(group), _INSERT_ROWS):
                part = group[start : start + _INSERT_ROWS]
                # ?1-?4 are shared by every row; rows go in VALUES order, which is rowid order.
                values = ",".join(_VALUES[: len(part)])
                self._db.execute(
                    "INSERT INTO deliveries (chat_id, arxiv_id, subscription, kind, via, local_date, state, planned_at)"
                    f" VALUES {values}",
                    [kind, via, local_date, planned_at, *(v for row in part for v in row[:3])],
                )
        # In one write transaction new rowids are max(id)+1, +2, ... in insertion order: if the maximum
        # grew by exactly the number of rows, they are before+1 .. before+n.
        if self._rows("SELECT max(id) FROM deliveries")[0][0] != before + len(rows):  # pragma: no cover
            raise RuntimeError("planned rows did not get consecutive ids")
        return int(before) + 1

    def set_exhausted(self, rows: Sequence[tuple[int, str, int]]) -> None:
        """Record (chat, subscription key, paper count) notices."""
        if rows:
            self._db.executemany(
                "INSERT INTO exhausted (chat_id, subscription, papers) VALUES (?, ?, ?)"
                " ON CONFLICT (chat_id, subscription) DO UPDATE SET papers = excluded.papers",
                rows,
            )

    def clear_exhausted(self, rows: Sequence[tuple[int, str]]) -> None:
        """Forget notices of subscriptions that have new papers again (the next run-out is told again)."""
        if rows:
            self._db.executemany("DELETE FROM exhausted WHERE chat_id = ? AND subscription = ?", rows)

    def set_schedule(
        self, rows: Sequence[tuple[int | None, str | None, int, int | None, str | None, str | None]]
    ) -> None:
        """(next_push_at, last_push_date or None to keep it, chat_id, and the chat's next_push_at, push_time
        and timezone as planned from): a chat whose schedule changed since (/time) keeps the new one."""
        if rows:
            self._db.executemany(
                "UPDATE chats SET next_push_at = ?1, last_push_date = coalesce(?2, last_push_date)"
                " WHERE chat_id = ?3 AND next_push_at IS ?4 AND push_time IS ?5 AND timezone IS ?6",
                rows,
            )

    def mark_sending(self, ids: Iterable[int]) -> None:
        self._db.executemany("UPDATE deliveries SET state = 'sending' WHERE id = ?", ((i,) for i in ids))

    def finals(self, rows: Iterable[Final]) -> None:
        self._db.executemany(
            "UPDATE deliveries SET state = ?, attempts = ?, error = ?, sent_at = ? WHERE id = ?",
            ((f.state, f.attempts, f.error, f.at, f.id) for f in rows),
        )

    def due_chats(self, now_ts: int) -> list[ChatRow]:
        """Active chats whose next push instant has come, in id order, with their settings and subscriptions."""
        rows = self._rows(f"SELECT {_CHAT_COLUMNS} FROM chats c WHERE {_DUE} ORDER BY c.chat_id", (now_ts,))
        return list(map(ChatRow._make, rows))

    def chats(self, chat_ids: Iterable[int]) -> dict[int, ChatRow]:
        """The chats' current rows (those that still exist)."""
        rows = self._rows(
            f"SELECT {_CHAT_COLUMNS} FROM chats c WHERE c.chat_id IN (SELECT value FROM json_each(?))",
            (_ids(chat_ids),),
        )
        return {row.chat_id: row for row in map(ChatRow._make, rows)}

    def finish_days(self, rows: Iterable[tuple[str, int | None, int]]) -> None:
        """(local date pushed, next_push_at, chat_id): the day is done unless rows are still in flight."""
        self._db.executemany(
            "UPDATE chats SET last_push_date = max(coalesce(last_push_date, ''), ?1), next_push_at = ?2"
            " WHERE chat_id = ?3 AND NOT EXISTS (SELECT 1 FROM deliveries"
            "  WHERE chat_id = ?3 AND state IN ('planned', 'sending'))",
            rows,
        )


class DeliveryStore:
    """The delivery log through `Database`: `run` and `read` for multi-statement work, small queries on the
    reader connection."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def run(self, fn: Callable[[DeliverySession], T]) -> T:
        """Run `fn` in one write transaction on the writer's thread (writers one at a time)."""
        return await self._db.write(lambda conn: fn(DeliverySession(conn)))

    async def read(self, fn: Callable[[DeliverySession], T]) -> T:
        """Run `fn` in one read transaction (a consistent snapshot) on the snapshot thread."""
        return await self._db.read(lambda conn: fn(DeliverySession(conn)))

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self._db.fetchall(sql, params)

    async def recover(self) -> int:
        """Rows left 'sending' by a previous process become 'unknown'; how many."""
        return await self._db.execute("UPDATE deliveries SET state = 'unknown' WHERE state = 'sending'")

    async def due_chats(self, now_ts: int) -> list[ChatRow]:
        """DeliverySession.due_chats on the snapshot thread (100,000 rows as plain tuples on a database
        thread: several times faster than through the reader)."""
        return await self.read(partial(DeliverySession.due_chats, now_ts=now_ts))

    async def open_chat_ids(self) -> list[int]:
        """Chats with rows still 'planned'."""
        rows = await self._all(
            "SELECT DISTINCT chat_id FROM deliveries WHERE state IN ('planned', 'sending') AND state = 'planned'"
        )
        return [row[0] for row in rows]

    async def chat(self, chat_id: int) -> ChatRow | None:
        """One chat's row."""
        rows = await self._all(f"SELECT {_CHAT_COLUMNS} FROM chats c WHERE c.chat_id = ?", (chat_id,))
        return ChatRow._make(rows[0]) if rows else None

    async def existing(self, ids: Sequence[int], chat_id: int) -> set[int]:
        """Which of these rows still exist and belong to `chat_id` (after a group migration)."""
        rows = await self._all(
            "SELECT id FROM deliveries WHERE chat_id = ? AND id IN (SELECT value FROM json_each(?))",
            (chat_id, _ids(ids)),
        )
        return {r[0] for r in rows}

    async def counts_by_state(self, local_date: str) -> dict[str, int]:
        """Messages planned for `local_date`, by state."""
        rows = await self._all(
            "SELECT state, count(*) FROM deliveries WHERE local_date = ? GROUP BY state", (local_date,)
        )
        return {state: int(n) for state, n in rows}

    async def pending(self) -> int:
        """Messages planned or in flight, any day."""
        rows = await self._all("SELECT count(*) FROM deliveries WHERE state IN ('planned', 'sending')")
        return int(rows[0][0])

    async def chat_counts(self) -> tuple[int, int]:
        """(all chats, active chats)."""
        rows = await self._all("SELECT count(*), coalesce(sum(active), 0) FROM chats")
        return int(rows[0][0]), int(rows[0][1])

    async def topic_subscribers(self) -> dict[str, int]:
        """Topic -> active chats subscribed, most followed first."""
        rows = await self._all(
            "SELECT s.value, count(*) AS n FROM subscriptions s JOIN chats c ON c.chat_id = s.chat_id"
            " WHERE c.active = 1 AND s.kind = 'topic' GROUP BY s.value ORDER BY n DESC, s.value"
        )
        return {value: int(n) for value, n in rows}

    async def next_due(self) -> int | None:
        """The earliest next push instant among active chats."""
        rows = await self._all(
            "SELECT min(next_push_at) FROM chats c WHERE c.active = 1 AND c.next_push_at IS NOT NULL"
        )
        return int(rows[0][0]) if rows and rows[0][0] is not None else None
