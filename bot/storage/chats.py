"""Chat tables: per-chat settings (script, delivery time, timezone, activity) and subscriptions.

The types it reads and writes live in bot.model (re-exported here for older imports)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, time
from functools import partial
from typing import Any

from bot.model import AddResult, ChatKind, ChatSettings, Subscription, SubscriptionKind, chat_kind
from bot.storage.db import Database
from bot.text.normalize import Script

_CHAT_COLUMNS = "chat_id, kind, script, push_time, timezone, active, inactive_reason, next_push_at, last_push_date"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _settings(row: Any) -> ChatSettings:
    script = row[2]
    push_time = row[3]
    return ChatSettings(
        chat_id=int(str(row[0])),
        kind=chat_kind(str(row[1])),
        script=Script(str(script)) if script else None,
        push_time=time.fromisoformat(str(push_time)) if push_time else None,
        timezone=str(row[4]) if row[4] else None,
        active=bool(row[5]),
        inactive_reason=str(row[6]) if row[6] else None,
        next_push_at=int(str(row[7])) if row[7] is not None else None,
        last_push_date=str(row[8]) if row[8] else None,
    )


class ChatStore:
    """Read and write chat settings and subscriptions through `Database`: reads on the reader connection,
    each write (one statement, or a few that must hold together) as one transaction of the writer."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, chat_id: int) -> ChatSettings | None:
        """A chat's settings, or None if it never talked to the bot."""
        row = await self._db.fetchone(f"SELECT {_CHAT_COLUMNS} FROM chats WHERE chat_id = ?", (chat_id,))
        return _settings(row) if row else None

    async def ensure(self, chat_id: int, kind: ChatKind, script: Script) -> tuple[ChatSettings, bool]:
        """The chat's settings, creating the chat (with `script`) on first contact and reactivating it:
        it just wrote to us. The flag says whether it was inactive. A known active chat costs one read."""
        current = await self.get(chat_id)
        if current is not None and current.active and current.kind == kind:
            return current, False

        def upsert(conn: sqlite3.Connection) -> tuple[ChatSettings, bool]:
            before = conn.execute("SELECT active FROM chats WHERE chat_id = ?", (chat_id,)).fetchone()
            now = _now()
            conn.execute(
                "INSERT INTO chats (chat_id, kind, script, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (chat_id) DO UPDATE SET active = 1, inactive_reason = NULL, kind = excluded.kind,"
                " updated_at = excluded.updated_at",
                (chat_id, kind, str(script), now, now),
            )
            row = conn.execute(f"SELECT {_CHAT_COLUMNS} FROM chats WHERE chat_id = ?", (chat_id,)).fetchone()
            return _settings(row), before is not None and not before[0]

        return await self._db.write(upsert)

    async def set_script(self, chat_id: int, script: Script) -> None:
        """Store the chat's chosen script."""
        await self._db.execute(
            "UPDATE chats SET script = ?, updated_at = ? WHERE chat_id = ?", (str(script), _now(), chat_id)
        )

    async def set_schedule(self, chat_id: int, push_time: time, timezone: str, next_push_at: int | None) -> None:
        """Store the delivery time, timezone and the next push instant derived from them."""
        await self._db.execute(
            "UPDATE chats SET push_time = ?, timezone = ?, next_push_at = ?, updated_at = ? WHERE chat_id = ?",
            (push_time.strftime("%H:%M"), timezone, next_push_at, _now(), chat_id),
        )

    async def set_next_push(self, chat_id: int, next_push_at: int | None) -> None:
        """Store when the chat's next daily push is due (None: nothing to push)."""
        await self._db.execute("UPDATE chats SET next_push_at = ? WHERE chat_id = ?", (next_push_at, chat_id))

    async def deactivate(self, chat_id: int, reason: str) -> None:
        """Stop pushing to a chat that blocked, left or vanished (no next push until it writes again)."""
        await self._db.execute(
            "UPDATE chats SET active = 0, inactive_reason = ?, next_push_at = NULL, updated_at = ? WHERE chat_id = ?",
            (reason[:200], _now(), chat_id),
        )

    async def migrate(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move a group's settings, subscriptions and history to its new supergroup id."""
        await self._db.write(partial(_migrate, old_chat_id=old_chat_id, new_chat_id=new_chat_id))

    async def subscriptions(self, chat_id: int) -> list[Subscription]:
        """What the chat follows, in the order it subscribed."""
        rows = await self._db.fetchall(
            "SELECT kind, value FROM subscriptions WHERE chat_id = ? ORDER BY created_at, kind, value", (chat_id,)
        )
        return [Subscription(SubscriptionKind(kind), value) for kind, value in rows]

    async def pushed_via(self, chat_id: int, arxiv_id: str) -> Subscription | None:
        """The subscription that brought this paper to the chat in a daily push or /today, if one did."""
        row = await self._db.fetchone(
            "SELECT subscription FROM deliveries WHERE chat_id = ? AND arxiv_id = ? AND kind = 'paper'",
            (chat_id, arxiv_id),
        )
        return Subscription.from_key(str(row[0])) if row and row[0] else None

    async def subscribe(self, chat_id: int, subscription: Subscription, *, limit: int) -> AddResult:
        """Add a subscription unless the chat has it already or holds `limit` of them."""

        def add(conn: sqlite3.Connection) -> AddResult:
            total, same = conn.execute(
                "SELECT count(*), coalesce(sum(kind = ? AND value = ?), 0) FROM subscriptions WHERE chat_id = ?",
                (str(subscription.kind), subscription.value, chat_id),
            ).fetchone()
            if same:
                return AddResult.ALREADY
            if total >= limit:
                return AddResult.LIMIT
            conn.execute(
                "INSERT INTO subscriptions (chat_id, kind, value, created_at) VALUES (?, ?, ?, ?)",
                (chat_id, str(subscription.kind), subscription.value, _now()),
            )
            return AddResult.ADDED

        return await self._db.write(add)

    async def unsubscribe(self, chat_id: int, subscription: Subscription) -> bool:
        """Remove a subscription (and its exhaustion notice); False if the chat did not have it."""

        def remove(conn: sqlite3.Connection) -> bool:
            removed = conn.execute(
                "DELETE FROM subscriptions WHERE chat_id = ? AND kind = ? AND value = ?",
                (chat_id, str(subscription.kind), subscription.value),
            ).rowcount
            conn.execute("DELETE FROM exhausted WHERE chat_id = ? AND subscription = ?", (chat_id, subscription.key))
            return removed > 0

        return await self._db.write(remove)

    async def remember_query(self, query: str) -> int:
        """A short id for a search query, so paging buttons fit in 64 bytes of callback data."""

        # A query asked before keeps its id: read it without taking the write lock, which a refresh
        # worker may be holding (a search then waits for nothing).
        row = await self._db.fetchone("SELECT id FROM search_queries WHERE query = ?", (query,))
        if row is not None:
            return int(row[0])

        def remember(conn: sqlite3.Connection) -> int:
            conn.execute(
                "INSERT INTO search_queries (query, used_at) VALUES (?, ?) ON CONFLICT (query) DO NOTHING",
                (query, _now()),
            )
            return int(conn.execute("SELECT id FROM search_queries WHERE query = ?", (query,)).fetchone()[0])

        return await self._db.write(remember)

    async def query_by_id(self, query_id: int) -> str | None:
        """The search query behind a paging button, if still known."""
        row = await self._db.fetchone("SELECT query FROM search_queries WHERE id = ?", (query_id,))
        return str(row[0]) if row else None


def _migrate(conn: sqlite3.Connection, old_chat_id: int, new_chat_id: int) -> None:
    """(One write transaction.) ChatStore.migrate."""
    old_exists = conn.execute("SELECT 1 FROM chats WHERE chat_id = ?", (old_chat_id,)).fetchone() is not None
    exists = conn.execute("SELECT 1 FROM chats WHERE chat_id = ?", (new_chat_id,)).fetchone() is not None
    if not old_exists or old_chat_id == new_chat_id:
        return  # already moved (both service messages arrive), or nothing to move
    if not exists:
        # ON UPDATE CASCADE carries subscriptions, deliveries and notices along.
        conn.execute(
            "UPDATE chats SET chat_id = ?, kind = 'supergroup', updated_at = ? WHERE chat_id = ?",
            (new_chat_id, _now(), old_chat_id),
        )
        return
    # The supergroup already wrote to us: merge the old group's data into it.
    for table in ("subscriptions", "exhausted", "deliveries"):
        conn.execute(f"UPDATE OR IGNORE {table} SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id))
    conn.execute(
        "UPDATE chats SET (script, push_time, timezone, next_push_at, last_push_date) ="
        " (SELECT coalesce(n.script, o.script), coalesce(n.push_time, o.push_time),"
        "  coalesce(n.timezone, o.timezone), coalesce(n.next_push_at, o.next_push_at),"
        "  max(coalesce(n.last_push_date, ''), coalesce(o.last_push_date, ''))"
        "  FROM chats n, chats o WHERE n.chat_id = ? AND o.chat_id = ?) WHERE chat_id = ?",
        (new_chat_id, old_chat_id, new_chat_id),
    )
    conn.execute("DELETE FROM chats WHERE chat_id = ?", (old_chat_id,))


__all__ = ["AddResult", "ChatSettings", "ChatStore", "Subscription", "SubscriptionKind"]
