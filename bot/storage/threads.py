"""Which forum topic a chat's daily push goes to (chats.push_thread_id, migration 9)."""

from __future__ import annotations

from bot.storage.db import Database


class PushThreads:
    """The push topic of forum chats: set where /subscribe was sent, read by the Telegram sender."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, chat_id: int) -> int | None:
        """The topic's message_thread_id, or None for General (and chats that are not forums)."""
        row = await self._db.fetchone("SELECT push_thread_id FROM chats WHERE chat_id = ?", (chat_id,))
        return int(row[0]) if row is not None and row[0] is not None else None

    async def set(self, chat_id: int, thread_id: int | None) -> None:
        """Send this chat's push to that topic from now on (None: General)."""
        await self._db.execute("UPDATE chats SET push_thread_id = ? WHERE chat_id = ?", (thread_id, chat_id))
