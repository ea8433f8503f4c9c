"""Chat tables: per-chat settings (script, delivery time, timezone, activity) and subscriptions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from enum import StrEnum

import aiosqlite

from bot.text.normalize import Script


class SubscriptionKind(StrEnum):
    """A topic of the taxonomy, or free words matched by search."""

    TOPIC = "topic"
    KEYWORD = "keyword"


@dataclass(frozen=True)
class Subscription:
    """One thing a chat follows."""

    kind: SubscriptionKind
    value: str  # canonical topic name, or the keyword as the user typed it (trimmed)

    @property
    def key(self) -> str:
        """Stable text form used in the delivery log ("topic:量化", "keyword:RAG")."""
        return f"{self.kind}:{self.value}"

    @classmethod
    def from_key(cls, key: str) -> Subscription:
        kind, _, value = key.partition(":")
        return cls(SubscriptionKind(kind), value)


@dataclass(frozen=True)
class ChatSettings:
    """A chat's stored settings; None means "not chosen, use the default"."""

    chat_id: int
    kind: str
    script: Script | None
    push_time: time | None
    timezone: str | None
    active: bool
    inactive_reason: str | None
    next_push_at: int | None  # Unix seconds of the next daily push
    last_push_date: str | None  # local ISO date of the last completed daily push


class AddResult(StrEnum):
    """Outcome of adding a subscription."""

    ADDED = "added"
    ALREADY = "already"
    LIMIT = "limit"


_CHAT_COLUMNS = "chat_id, kind, script, push_time, timezone, active, inactive_reason, next_push_at, last_push_date"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _settings(row: aiosqlite.Row | tuple[object, ...]) -> ChatSettings:
    script = row[2]
    push_time = row[3]
    return ChatSettings(
        chat_id=int(str(row[0])),
        kind=str(row[1]),
        script=Script(str(script)) if script else None,
        push_time=time.fromisoformat(str(push_time)) if push_time else None,
        timezone=str(row[4]) if row[4] else None,
        active=bool(row[5]),
        inactive_reason=str(row[6]) if row[6] else None,
        next_push_at=int(str(row[7])) if row[7] is not None else None,
        last_push_date=str(row[8]) if row[8] else None,
    )


class ChatStore:
    """Read and write chat settings and subscriptions (aiosqlite)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def get(self, chat_id: int) -> ChatSettings | None:
        """A chat's settings, or None if it never talked to the bot."""
        async with self._conn.execute(f"SELECT {_CHAT_COLUMNS} FROM chats WHERE chat_id = ?", (chat_id,)) as cur:
            row = await cur.fetchone()
        return _settings(row) if row else None

    async def ensure(self, chat_id: int, kind: str, script: Script) -> tuple[ChatSettings, bool]:
        """The chat's settings, creating the chat (with `script`) on first contact and reactivating it:
        it just wrote to us. The flag says whether it was inactive. A known active chat costs one read."""
        current = await self.get(chat_id)
        if current is not None and current.active and current.kind == kind:
            return current, False
        now = _now()
        await self._conn.execute(
            "INSERT INTO chats (chat_id, kind, script, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (chat_id) DO UPDATE SET active = 1, inactive_reason = NULL, kind = excluded.kind,"
            " updated_at = excluded.updated_at",
            (chat_id, kind, str(script), now, now),
        )
        settings = await self.get(chat_id)
        assert settings is not None
        return settings, current is not None and not current.active

    async def set_script(self, chat_id: int, script: Script) -> None:
        """Store the chat's chosen script."""
        await self._conn.execute(
            "UPDATE chats SET script = ?, updated_at = ? WHERE chat_id = ?", (str(script), _now(), chat_id)
        )

    async def set_schedule(self, chat_id: int, push_time: time, timezone: str, next_push_at: int | None) -> None:
        """Store the delivery time, timezone and the next push instant derived from them."""
        await self._conn.execute(
            "UPDATE chats SET push_time = ?, timezone = ?, next_push_at = ?, updated_at = ? WHERE chat_id = ?",
            (push_time.strftime("%H:%M"), timezone, next_push_at, _now(), chat_id),
        )

    async def set_next_push(self, chat_id: int, next_push_at: int | None) -> None:
        """Store when the chat's next daily push is due (None: nothing to push)."""
        await self._conn.execute("UPDATE chats SET next_push_at = ? WHERE chat_id = ?", (next_push_at, chat_id))

    async def deactivate(self, chat_id: int, reason: str) -> None:
        """Stop pushing to a chat that blocked, left or vanished."""
        await self._conn.execute(
            "UPDATE chats SET active = 0, inactive_reason = ?, updated_at = ? WHERE chat_id = ?",
            (reason[:200], _now(), chat_id),
        )

    async def migrate(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move a group's settings, subscriptions and history to its new supergroup id."""
        conn = self._conn
        await conn.execute("BEGIN IMMEDIATE")
        try:
            async with conn.execute("SELECT 1 FROM chats WHERE chat_id = ?", (old_chat_id,)) as cur:
                old_exists = await cur.fetchone() is not None
            async with conn.execute("SELECT 1 FROM chats WHERE chat_id = ?", (new_chat_id,)) as cur:
                exists = await cur.fetchone() is not None
            if not old_exists or old_chat_id == new_chat_id:
                pass  # already moved (both service messages arrive), or nothing to move
            elif not exists:
                # ON UPDATE CASCADE carries subscriptions, deliveries and notices along.
                await conn.execute(
                    "UPDATE chats SET chat_id = ?, kind = 'supergroup', updated_at = ? WHERE chat_id = ?",
                    (new_chat_id, _now(), old_chat_id),
                )
            else:
                # The supergroup already wrote to us: merge the old group's data into it.
                for table in ("subscriptions", "exhausted", "deliveries"):
                    await conn.execute(
                        f"UPDATE OR IGNORE {table} SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id)
                    )
                await conn.execute(
                    "UPDATE chats SET (script, push_time, timezone, next_push_at, last_push_date) ="
                    " (SELECT coalesce(n.script, o.script), coalesce(n.push_time, o.push_time),"
                    "  coalesce(n.timezone, o.timezone), coalesce(n.next_push_at, o.next_push_at),"
                    "  max(coalesce(n.last_push_date, ''), coalesce(o.last_push_date, ''))"
                    "  FROM chats n, chats o WHERE n.chat_id = ? AND o.chat_id = ?) WHERE chat_id = ?",
                    (new_chat_id, old_chat_id, new_chat_id),
                )
                await conn.execute("DELETE FROM chats WHERE chat_id = ?", (old_chat_id,))
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise

    async def subscriptions(self, chat_id: int) -> list[Subscription]:
        """What the chat follows, in the order it subscribed."""
        async with self._conn.execute(
            "SELECT kind, value FROM subscriptions WHERE chat_id = ? ORDER BY created_at, kind, value", (chat_id,)
        ) as cur:
            return [Subscription(SubscriptionKind(kind), value) async for kind, value in cur]

    async def subscribe(self, chat_id: int, subscription: Subscription, *, limit: int) -> AddResult:
        """Add a subscription unless the chat has it already or holds `limit` of them."""
        conn = self._conn
        await conn.execute("BEGIN IMMEDIATE")
        try:
            async with conn.execute(
                "SELECT count(*), sum(kind = ? AND value = ?) FROM subscriptions WHERE chat_id = ?",
                (str(subscription.kind), subscription.value, chat_id),
            ) as cur:
                row = await cur.fetchone()
            total, same = (int(row[0]), int(row[1] or 0)) if row else (0, 0)
            if same:
                result = AddResult.ALREADY
            elif total >= limit:
                result = AddResult.LIMIT
            else:
                await conn.execute(
                    "INSERT INTO subscriptions (chat_id, kind, value, created_at) VALUES (?, ?, ?, ?)",
                    (chat_id, str(subscription.kind), subscription.value, _now()),
                )
                result = AddResult.ADDED
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        return result

    async def unsubscribe(self, chat_id: int, subscription: Subscription) -> bool:
        """Remove a subscription; False if the chat did not have it."""
        cur = await self._conn.execute(
            "DELETE FROM subscriptions WHERE chat_id = ? AND kind = ? AND value = ?",
            (chat_id, str(subscription.kind), subscription.value),
        )
        await self._conn.execute(
            "DELETE FROM exhausted WHERE chat_id = ? AND subscription = ?", (chat_id, subscription.key)
        )
        return cur.rowcount > 0

    async def remember_query(self, query: str) -> int:
        """A short id for a search query, so paging buttons fit in 64 bytes of callback data."""
        await self._conn.execute(
            "INSERT INTO search_queries (query, used_at) VALUES (?, ?)"
            " ON CONFLICT (query) DO UPDATE SET used_at = excluded.used_at",
            (query, _now()),
        )
        async with self._conn.execute("SELECT id FROM search_queries WHERE query = ?", (query,)) as cur:
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def query_by_id(self, query_id: int) -> str | None:
        """The search query behind a paging button, if still known."""
        async with self._conn.execute("SELECT query FROM search_queries WHERE id = ?", (query_id,)) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row else None
