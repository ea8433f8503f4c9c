"""Helpers shared by the push tests: a fake clock, a scripted fake Sender, catalogue and chat builders."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path

from bot.catalogue.model import Paper, TagSource
from bot.model import Subscription, SubscriptionKind
from bot.storage.chats import ChatStore
from bot.storage.db import Database, connect
from bot.storage.papers import CatalogueWriter
from bot.text.normalize import Script


class Clock:
    """A settable clock; its sleep advances it instead of waiting, and records every delay."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)


class Crash(BaseException):
    """Stands for kill -9: not an Exception, so nothing in the push may swallow it."""


class FakeSender:
    """Records deliveries; `errors[chat_id]` are raised (in order) before that chat's next sends succeed."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock
        self.sent_at: list[datetime] = []  # clock time of each delivery, when a clock is given
        self.papers: list[tuple[int, str, str]] = []  # (chat, arXiv ID, subscription key)
        self.notices: list[tuple[int, str, int]] = []  # (chat, subscription key, total)
        self.scripts: list[Script] = []
        self.errors: dict[int, list[BaseException]] = {}
        self.calls = 0
        self.crash_after: int | None = None  # raise Crash on the call after this many deliveries
        self.attempts: list[tuple[int, str]] = []  # (chat, arXiv ID or subscription key) of every call

    def _attempt(self, chat_id: int, script: Script, what: str) -> None:
        self.calls += 1
        self.attempts.append((chat_id, what))
        if self.crash_after is not None and len(self.papers) + len(self.notices) >= self.crash_after:
            raise Crash()
        queue = self.errors.get(chat_id)
        if queue:
            raise queue.pop(0)
        self.scripts.append(script)
        if self.clock is not None:
            self.sent_at.append(self.clock())

    async def send_paper(self, chat_id: int, script: Script, paper: Paper, subscription: Subscription) -> None:
        self._attempt(chat_id, script, paper.arxiv_id)
        self.papers.append((chat_id, paper.arxiv_id, subscription.key))

    async def send_exhausted(self, chat_id: int, script: Script, subscription: Subscription, total: int) -> None:
        self._attempt(chat_id, script, subscription.key)
        self.notices.append((chat_id, subscription.key, total))

    def ids(self, chat_id: int) -> list[str]:
        return [arxiv_id for chat, arxiv_id, _ in self.papers if chat == chat_id]


def paper(arxiv_id: str, day: date, *topics: str, title: str = "A paper") -> Paper:
    return Paper(
        arxiv_id=arxiv_id,
        title_en=title,
        title_zh="",
        abstract_zh="摘要。",
        published=day,
        date_is_exact=True,
        topics=tuple((t, TagSource.CATALOGUE) for t in topics),
    )


def catalogue(path: Path, papers: Sequence[Paper], topics: Sequence[str] = ()) -> None:
    """Ingest papers the way the ingest command writes them (a separate synchronous connection)."""
    conn = connect(path)
    try:
        CatalogueWriter(conn).write(papers, list(topics), {})
    finally:
        conn.close()


def topic(name: str) -> Subscription:
    return Subscription(SubscriptionKind.TOPIC, name)


async def add_chat(
    conn: Database,
    chat_id: int,
    subscriptions: Sequence[Subscription],
    *,
    at: time | None = None,
    tz: str | None = None,
    script: Script = Script.SIMPLIFIED,
) -> None:
    """A chat as the handlers leave it (the test reschedules it through the service)."""
    store = ChatStore(conn)
    await store.ensure(chat_id, "private", script)
    if at is not None and tz is not None:
        await store.set_schedule(chat_id, at, tz, None)
    for subscription in subscriptions:
        await store.subscribe(chat_id, subscription, limit=20)
