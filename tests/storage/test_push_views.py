"""Migration 11: what the push planner reads is kept ready by triggers (subscription keys, tag dates)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from bot.model import Subscription, SubscriptionKind
from bot.storage.chats import ChatStore
from bot.storage.db import Database, connect
from bot.storage.deliveries import SEPARATOR, DeliverySession, TopicList, merge_feeds
from bot.storage.migrations import MIGRATIONS, migrate
from bot.text.normalize import Script
from tests.push import catalogue, paper
from tests.storage import database_at


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    connection = await Database.open(tmp_path / "bot.sqlite3")
    yield connection
    await connection.close()


async def keys_of(db: Database, chat_id: int) -> str | None:
    row = await db.fetchone("SELECT subscription_keys FROM chats WHERE chat_id = ?", (chat_id,))
    assert row is not None
    return None if row[0] is None else str(row[0])


async def test_subscription_keys_follow_subscribe_unsubscribe_and_a_group_migration(db: Database) -> None:
    chats = ChatStore(db)
    await chats.ensure(1, "group", Script.SIMPLIFIED)
    assert await keys_of(db, 1) is None
    for sub in (
        Subscription(SubscriptionKind.TOPIC, "量化"),
        Subscription(SubscriptionKind.KEYWORD, "moe"),
        Subscription(SubscriptionKind.TOPIC, "LLM"),
    ):
        await chats.subscribe(1, sub, limit=20)
    assert await keys_of(db, 1) == SEPARATOR.join(["keyword:moe", "topic:LLM", "topic:量化"])  # key order
    await chats.unsubscribe(1, Subscription(SubscriptionKind.KEYWORD, "moe"))
    assert await keys_of(db, 1) == SEPARATOR.join(["topic:LLM", "topic:量化"])

    await chats.ensure(-100, "supergroup", Script.SIMPLIFIED)  # the supergroup wrote first: a merge
    await chats.subscribe(-100, Subscription(SubscriptionKind.TOPIC, "RAG"), limit=20)
    await chats.migrate(1, -100)
    assert await keys_of(db, -100) == SEPARATOR.join(["topic:LLM", "topic:RAG", "topic:量化"])

    await chats.ensure(2, "group", Script.SIMPLIFIED)
    await chats.subscribe(2, Subscription(SubscriptionKind.TOPIC, "RAG"), limit=20)
    await chats.migrate(2, -200)  # a plain move: the row is renamed, its keys go along
    assert await keys_of(db, -200) == "topic:RAG"


def test_topic_lists_are_ordered_by_tag_dates_that_follow_the_papers(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    catalogue(
        path,
        [
            paper("2401.00001", date(2024, 1, 1), "A"),
            paper("2401.00002", date(2024, 1, 2), "A"),
            paper("2401.00003", date(2024, 1, 2), "A"),
        ],
    )
    conn = connect(path)
    try:
        session = DeliverySession(conn)
        # Same day: the higher arXiv ID first.
        assert session.topic_lists(["A"], depth=10, lead_days=30) == {
            "topic:A": TopicList(["2401.00003", "2401.00002", "2401.00001"], truncated=False)
        }
        assert session.topic_lists(["A"], depth=2, lead_days=30) == {
            "topic:A": TopicList(["2401.00003", "2401.00002"], truncated=True)
        }
        with conn:
            conn.execute("UPDATE papers SET published = '2024-02-01' WHERE arxiv_id = '2401.00001'")
            # A writer that does not supply the day: the trigger fills it in.
            conn.execute(
                "INSERT INTO paper_topics (topic, paper_id, source, confidence)"
                " SELECT 'A', id, 'rule', 0.5 FROM papers WHERE arxiv_id = '2401.00002'"
                " ON CONFLICT DO NOTHING"
            )
            conn.execute(
                "INSERT INTO paper_topics (topic, paper_id, source, confidence)"
                " SELECT 'B', id, 'rule', 0.5 FROM papers WHERE arxiv_id = '2401.00002'"
            )
        assert session.topic_lists(["A", "B"], depth=10, lead_days=30) == {
            "topic:A": TopicList(["2401.00001", "2401.00003", "2401.00002"], truncated=False),
            "topic:B": TopicList(["2401.00002"], truncated=False),
        }
        days = dict(
            conn.execute("SELECT topic || p.arxiv_id, published_day FROM paper_topics JOIN papers p ON p.id = paper_id")
        )
        assert days["B2401.00002"] == days["A2401.00002"] == date(2024, 1, 2).toordinal() + 1721424
    finally:
        conn.close()


def test_a_database_before_migration_11_gets_keys_and_days_filled(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = database_at(path, sorted(v for v in MIGRATIONS if v < 11))
    now = "2026-11-01T00:00:00+00:00"
    conn.execute(
        "INSERT INTO papers (arxiv_id, title_en, abstract_zh, published, date_is_exact, content_hash, added_at,"
        " updated_at) VALUES ('2404.00001', 'Old', '旧摘要。', '2024-04-01', 1, 'h', ?, ?)",
        (now, now),
    )
    conn.execute("INSERT INTO paper_topics (topic, paper_id, source) VALUES ('量化', 1, 'catalogue')")
    conn.execute("INSERT INTO chats (chat_id, created_at, updated_at) VALUES (1, ?, ?), (2, ?, ?)", (now,) * 4)
    conn.execute("INSERT INTO subscriptions VALUES (1, 'topic', '量化', ?), (1, 'keyword', 'moe', ?)", (now, now))
    conn.close()

    migrated = sqlite3.connect(path, isolation_level=None)
    migrated.create_function("fts_text", 1, lambda t: t, deterministic=True)
    assert migrate(migrated) == max(MIGRATIONS)
    assert migrated.execute("SELECT chat_id, subscription_keys FROM chats ORDER BY chat_id").fetchall() == [
        (1, f"keyword:moe{SEPARATOR}topic:量化"),
        (2, None),
    ]
    assert migrated.execute("SELECT published_day FROM paper_topics").fetchall() == [
        (2460401,)
    ]  # julianday(2024-04-01) = 2460401.5
    migrated.close()


def test_a_curated_paper_leads_machine_tagged_ones_by_lead_days_in_push_order() -> None:
    curated = [(100.0, "c1"), (60.0, "c2")]
    tagged = [(120.0, "t1"), (95.0, "t2"), (80.0, "t3")]
    # Effective days: c1 130, t1 120, t2 95, c2 90, t3 80.
    assert merge_feeds(curated, tagged, depth=10, lead_days=30) == TopicList(["c1", "t1", "t2", "c2", "t3"], False)
    # Without a lead: plain newest first.
    assert merge_feeds(curated, tagged, depth=10, lead_days=0).ids == ["t1", "c1", "t2", "t3", "c2"]


def test_a_merged_list_stops_where_a_cut_feed_runs_out() -> None:
    # The curated feed was cut at depth 2: a third curated paper may come before t1, so the list ends.
    assert merge_feeds([(100.0, "c1"), (99.0, "c2")], [(50.0, "t1")], depth=2, lead_days=30) == TopicList(
        ["c1", "c2"], True
    )
    # The machine-tagged feed was cut: c1 (day 10 + 30) may be preceded by more of them.
    assert merge_feeds([(10.0, "c1")], [(100.0, "t1"), (90.0, "t2")], depth=2, lead_days=30) == TopicList(
        ["t1", "t2"], True
    )
    # Both complete: everything, and the list is the topic's whole count.
    assert merge_feeds([(10.0, "c1")], [(100.0, "t1")], depth=2, lead_days=30) == TopicList(["t1", "c1"], False)
    assert merge_feeds([], [], depth=2, lead_days=30) == TopicList([], False)
