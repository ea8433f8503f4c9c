"""PushService end to end on a real SQLite file, with a fake Sender and a fake clock."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import closing
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from bot.catalogue.model import Paper
from bot.config import PushSettings, Settings
from bot.model import Subscription, SubscriptionKind
from bot.push.errors import ChatMoved, ChatUnavailable, RetryLater, TransientError
from bot.push.service import FanoutReport, PushService
from bot.storage.chats import ChatStore
from bot.storage.db import Database
from bot.text.normalize import Script
from tests.push import Clock, Crash, FakeSender, add_chat, catalogue, paper, topic

START = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)  # 08:00 in Asia/Shanghai, the default timezone
DAY = timedelta(days=1)


def papers_of(name: str, count: int, prefix: str) -> list[Paper]:
    """`count` papers of one topic, newest last: {prefix}.00001 is the oldest."""
    return [paper(f"{prefix}.{i:05d}", date(2024, 1, 1) + timedelta(days=i), name) for i in range(1, count + 1)]


@pytest.fixture
def clock() -> Clock:
    return Clock(START - timedelta(hours=1))


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


@pytest.fixture
async def conn(settings: Settings) -> AsyncIterator[Database]:
    connection = await Database.open(settings.database)
    yield connection
    await connection.close()


@pytest.fixture
def service(conn: Database, settings: Settings, sender: FakeSender, clock: Clock) -> PushService:
    return PushService(conn, settings, sender, clock=clock, sleep=clock.sleep)


async def tick_at(service: PushService, clock: Clock, when: datetime) -> FanoutReport:
    clock.now = when
    return await service.tick()


async def subscribe(
    service: PushService, conn: Database, chat_id: int, subs: Sequence[Subscription], **kw: object
) -> int | None:
    await add_chat(conn, chat_id, subs, **kw)  # type: ignore[arg-type]
    return await service.reschedule(chat_id)


async def states(conn: Database) -> Counter[str]:
    return Counter(row[0] for row in await conn.fetchall("SELECT state FROM deliveries"))


def no_duplicates(*senders: FakeSender) -> None:
    pairs = [(chat, arxiv_id) for s in senders for chat, arxiv_id, _ in s.papers]
    assert len(pairs) == len(set(pairs))


async def test_each_chat_is_pushed_at_its_own_local_time(
    service: PushService, conn: Database, settings: Settings, sender: FakeSender, clock: Clock
) -> None:
    catalogue(settings.database, papers_of("A", 10, "2401"))
    assert await subscribe(service, conn, 1, [topic("A")]) == int(START.timestamp())  # default 08:00 Shanghai
    ny = await subscribe(service, conn, 2, [topic("A")], at=time(8, 0), tz="America/New_York")
    berlin = await subscribe(service, conn, 3, [topic("A")], at=time(21, 30), tz="Europe/Berlin")
    assert ny == int(datetime(2024, 5, 1, 12, 0, tzinfo=UTC).timestamp())  # EDT
    assert berlin == int(datetime(2024, 5, 1, 19, 30, tzinfo=UTC).timestamp())  # CEST

    pushed: list[tuple[str, list[int]]] = []
    noon = START + timedelta(hours=12)
    for when in [START - timedelta(minutes=1), START, noon - timedelta(minutes=1), noon, noon + timedelta(hours=7.5)]:
        before = len(sender.papers)
        await tick_at(service, clock, when)
        pushed.append((when.strftime("%d %H:%M"), [chat for chat, _, _ in sender.papers[before:]]))
    assert pushed == [
        ("30 23:59", []),
        ("01 00:00", [1]),
        ("01 11:59", []),
        ("01 12:00", [2]),
        ("01 19:30", [3]),
    ]
    await tick_at(service, clock, START + DAY)
    assert sender.ids(1) == ["2401.00010", "2401.00009"]  # newest first, never repeated
    chat = await ChatStore(conn).get(1)
    assert chat is not None and chat.last_push_date == "2024-05-02"


@pytest.mark.parametrize(
    ("start", "at", "expected"),
    [
        (datetime(2024, 3, 8, 12, tzinfo=UTC), time(2, 30), ["09 07:30", "10 07:30", "11 06:30", "12 06:30"]),
        (datetime(2024, 11, 1, 12, tzinfo=UTC), time(1, 30), ["02 05:30", "03 05:30", "04 06:30", "05 06:30"]),
    ],
)
async def test_dst_in_new_york_neither_skips_nor_doubles_a_day(
    service: PushService,
    conn: Database,
    settings: Settings,
    sender: FakeSender,
    clock: Clock,
    start: datetime,
    at: time,
    expected: list[str],
) -> None:
    catalogue(settings.database, papers_of("A", 10, "2401"))
    clock.now = start
    await subscribe(service, conn, 1, [topic("A")], at=at, tz="America/New_York")
    pushes = []
    when = start
    while when < start + 4 * DAY:  # a tick every 30 minutes, through the transition
        if (await tick_at(service, clock, when)).sent:
            pushes.append(when.strftime("%d %H:%M"))
        when += timedelta(minutes=30)
    assert pushes == expected
    assert len(sender.papers) == 4


async def test_downtime_catches_up_once_for_today_and_never_piles_up(
    service: PushService, conn: Database, settings: Settings, sender: FakeSender, clock: Clock
) -> None:
    catalogue(settings.database, papers_of("A", 10, "2401"))
    await subscribe(service, conn, 1, [topic("A")])  # due 05-01 08:00 local
    # Down for two days; back at 05-03 11:00 local, after today's time: one push now, not three.
    report = await tick_at(service, clock, START + 2 * DAY + timedelta(hours=3))
    assert report.sent == 1 and len(sender.papers) == 1
    chat = await ChatStore(conn).get(1)
    assert chat is not None and chat.last_push_date == "2024-05-03"
    assert chat.next_push_at == int((START + 3 * DAY).timestamp())
    assert (await tick_at(service, clock, START + 2 * DAY + timedelta(hours=3, minutes=1))).sent == 0
    # Down again over 05-04 08:00; back at 05-05 04:00 local, before today's time: wait for 08:00.
    assert (await tick_at(service, clock, START + 4 * DAY - timedelta(hours=4))).sent == 0
    chat = await ChatStore(conn).get(1)
    assert chat is not None and chat.next_push_at == int((START + 4 * DAY).timestamp())
    assert (await tick_at(service, clock, START + 4 * DAY)).sent == 1
    assert len(sender.papers) == 2


async def test_today_and_the_push_never_send_the_same_paper(
    service: PushService, conn: Database, settings: Settings, sender: FakeSender, clock: Clock
) -> None:
    catalogue(settings.database, papers_of("A", 6, "2401") + papers_of("B", 6, "2402"))
    await subscribe(service, conn, 1, [topic("A"), topic("B")])
    result = await service.today(1)  # 07:00 local, before the push
    assert result.sent == 2 and result.subscriptions == 2 and result.exhausted == ()
    assert set(sender.ids(1)) == {"2401.00006", "2402.00006"}
    for day in range(2):
        await tick_at(service, clock, START + day * DAY)
        await service.today(1)
    assert len(sender.papers) == 10
    no_duplicates(sender)
    assert {tuple(row) for row in await conn.fetchall("SELECT via, count(*) FROM deliveries GROUP BY via")} == {
        ("push", 4),
        ("today", 6),
    }


async def test_a_paper_in_two_subscribed_topics_is_sent_once(
    service: PushService, conn: Database, settings: Settings, sender: FakeSender, clock: Clock
) -> None:
    both = paper("2405.00001", date(2024, 4, 30), "A", "B")
    catalogue(settings.database, [*papers_of("A", 2, "2401"), *papers_of("B", 2, "2402"), both])
    await subscribe(service, conn, 1, [topic("A"), topic("B")])
    await tick_at(service, clock, START)
    assert sorted(sender.ids(1)) == ["2402.00002", "2405.00001"]  # the shared paper once, then B's next
    assert {key for _, arxiv_id, key in sender.papers if arxiv_id == "2405.00001"} == {"topic:A"}


async def test_papers_per_push_caps_each_push_and_subscriptions_take_turns(
    conn: Database, settings: Settings, sender: FakeSender, clock: Clock
) -> None:
    service = PushService(conn, settings.with_overrides(papers_per_push=2), sender, clock=clock, sleep=clock.sleep)
    catalogue(settings.database, papers_of("A", 5, "2401") + papers_of("B", 5, "2402") + papers_of("C", 5, "2403"))
    await subscribe(service, conn, 1, [topic("A"), topic("B"), topic("C")])
    for day in range(3):
        before = len(sender.papers)
        await tick_at(service, clock, START + day * DAY)
        assert len(sender.papers) - before == 2
    assert Counter(key for _, _, key in sender.papers) == {"topic:A": 2, "topic:B": 2, "topic:C": 2}
    assert (await service.today(1)).sent == 2


async def test_exhausted_topic_is_told_once_and_resumes_when_papers_arrive(
    service: PushService, conn: Database, settings: Settings, sender: FakeSender, clock: Clock
) -> None:
    two = papers_of("A", 2, "2401")
    catalogue(settings.database, two)
    await subscribe(service, conn, 1, [topic("A")], script=Script.TRADITIONAL)
    for day in range(4):
        await tick_at(service, clock, START + day * DAY)
    assert sender.ids(1) == ["2401.00002", "2401.00001"]
    assert sender.notices == [(1, "topic:A", 2)]  # day 3 told, day 4 silent
    assert sender.scripts[-1] is Script.TRADITIONAL
    result = await service.today(1)
    assert (result.sent, result.exhausted, result.notified) == (0, (topic("A"),), ())

    catalogue(settings.database, [*two, paper("2405.00001", date(2024, 5, 1), "A")])  # ingest grows the topic
    await tick_at(service, clock, START + 4 * DAY)
    assert sender.ids(1)[-1] == "2405.00001"
    await tick_at(service, clock, START + 5 * DAY)
    assert sender.notices == [(1, "topic:A", 2), (1, "topic:A", 3)]  # a new run-out is a new notice
    no_duplicates(sender)


async def test_chats_without_subscriptions_or_inactive_get_nothing(
    service: PushService, conn: Database, settings: Settings, sender: FakeSender, clock: Clock
) -> None:
    catalogue(settings.database, papers_of("A", 3, "2401"))
    assert await subscribe(service, conn, 1, []) is None
    await subscribe(service, conn, 2, [topic("A")])
    await ChatStore(conn).deactivate(2, "blocked")
    assert await service.reschedule(2) is None  # inactive: no schedule until it writes again
    await ChatStore(conn).set_next_push(2, int(START.timestamp()))  # even if a stale one remained
    await subscribe(service, conn, 3, [topic("A")])
    await ChatStore(conn).unsubscribe(3, topic("A"))  # unsubscribed after being scheduled
    assert (await tick_at(service, clock, START)).sent == 0
    assert sender.calls == 0
    chat = await ChatStore(conn).get(3)
    assert chat is not None and chat.next_push_at is None


async def test_blocked_chat_is_deactivated_and_resumes_once_it_writes_again(
    service: PushService, conn: Database, settings: Settings, sender: FakeSender, clock: Clock
) -> None:
    catalogue(settings.database, papers_of("A", 5, "2401") + papers_of("B", 5, "2402"))
    await subscribe(service, conn, 1, [topic("A"), topic("B")])
    await subscribe(service, conn, 2, [topic("A")])
    sender.errors[1] = [ChatUnavailable("Forbidden: bot was blocked by the user")]
    report = await tick_at(service, clock, START)
    assert (report.deactivated, report.failed, report.sent) == (1, 2, 1)  # the other chat is unaffected
    chat = await ChatStore(conn).get(1)
    assert chat is not None and not chat.active and chat.next_push_at is None
    calls = sender.calls
    await tick_at(service, clock, START + DAY)
    assert sender.calls == calls + 1  # only chat 2
    assert sender.ids(1) == []

    clock.now = START + DAY + timedelta(hours=2)
    await ChatStore(conn).ensure(1, "private", Script.SIMPLIFIED)  # the user unblocked and wrote /start
    assert await service.reschedule(1) == int((START + 2 * DAY).timestamp())
    await tick_at(service, clock, START + 2 * DAY)
    assert len(sender.ids(1)) == 2
    no_duplicates(sender)
    # Blocked while answering /today: deactivated and unscheduled all the same.
    sender.errors[2] = [ChatUnavailable("Forbidden: user is deactivated")]
    assert (await service.today(2)).failed == 1
    chat = await ChatStore(conn).get(2)
    assert chat is not None and not chat.active and chat.next_push_at is None


async def test_group_migration_moves_the_chat_and_delivers_to_the_new_id(
    service: PushService, conn: Database, settings: Settings, sender: FakeSender, clock: Clock
) -> None:
    catalogue(settings.database, papers_of("A", 5, "2401"))
    await subscribe(service, conn, -100, [topic("A")], at=time(9, 0), tz="Asia/Shanghai")
    sender.errors[-100] = [ChatMoved(-1001)]
    report = await tick_at(service, clock, START + timedelta(hours=1))
    assert report.moved == 1 and sender.papers == [(-1001, "2401.00005", "topic:A")]
    store = ChatStore(conn)
    assert await store.get(-100) is None
    moved = await store.get(-1001)
    assert moved is not None and moved.push_time == time(9, 0) and moved.last_push_date == "2024-05-01"
    assert await store.subscriptions(-1001) == [topic("A")]
    await tick_at(service, clock, START + DAY + timedelta(hours=1))
    assert sender.ids(-1001) == ["2401.00005", "2401.00004"]
    assert (await states(conn)) == {"sent": 2}


async def test_429_waits_retry_after_then_sends_once(
    service: PushService, conn: Database, settings: Settings, sender: FakeSender, clock: Clock
) -> None:
    catalogue(settings.database, papers_of("A", 5, "2401"))
    await subscribe(service, conn, 1, [topic("A")])
    sender.errors[1] = [RetryLater(7)]
    report = await tick_at(service, clock, START)
    assert (report.sent, report.retried, report.failed) == (1, 1, 0)
    assert 7 in clock.sleeps
    assert sender.papers == [(1, "2401.00005", "topic:A")]
    assert list(map(tuple, await conn.fetchall("SELECT state, attempts FROM deliveries"))) == [("sent", 1)]


@pytest.mark.parametrize("all_chats", [True, False])
async def test_a_global_429_pauses_every_chat(
    conn: Database, settings: Settings, clock: Clock, all_chats: bool
) -> None:
    sender = FakeSender(clock)
    push = PushSettings(global_rate=0, per_chat_interval=0, concurrency=1, max_attempts=4)
    service = PushService(conn, settings.with_overrides(push=push), sender, clock=clock, sleep=clock.sleep)
    catalogue(settings.database, papers_of("A", 5, "2401"))
    for chat_id in (1, 2, 3):
        await subscribe(service, conn, chat_id, [topic("A")])
    # Said outright, or inferred: two different chats told to wait within a second.
    sender.errors[1] = [RetryLater(5, all_chats=True)] if all_chats else [RetryLater(5)]
    sender.errors[2] = [] if all_chats else [RetryLater(5)]
    await tick_at(service, clock, START)
    assert len(sender.papers) == 3
    assert min(sender.sent_at) >= START + timedelta(seconds=5)


async def test_messages_to_one_chat_are_paced(conn: Database, settings: Settings, clock: Clock) -> None:
    sender = FakeSender(clock)
    push = PushSettings(global_rate=0, per_chat_interval=1.5, concurrency=4, max_attempts=4)
    service = PushService(conn, settings.with_overrides(push=push), sender, clock=clock, sleep=clock.sleep)
    catalogue(settings.database, papers_of("A", 5, "2401") + papers_of("B", 5, "2402") + papers_of("C", 5, "2403"))
    await subscribe(service, conn, 1, [topic("A"), topic("B"), topic("C")])
    await tick_at(service, clock, START)
    assert [(t - START).total_seconds() for t in sender.sent_at] == [0, 1.5, 3.0]


async def test_a_rate_limited_or_failing_chat_does_not_hold_up_the_others(
    conn: Database, settings: Settings, sender: FakeSender, clock: Clock
) -> None:
    # Even with a single sender: the chats that wait (429, backoff) go back in the queue, the others go on.
    # (More senders would make the order depend on thread timing: the fake clock's waits take no time.)
    push = PushSettings(global_rate=0, per_chat_interval=0, concurrency=1)
    service = PushService(conn, settings.with_overrides(push=push), sender, clock=clock, sleep=clock.sleep)
    catalogue(settings.database, papers_of("A", 5, "2401"))
    for chat_id in (1, 2, 3):
        await subscribe(service, conn, chat_id, [topic("A")])
    sender.errors[1] = [RetryLater(30)]
    sender.errors[2] = [TransientError("502 Bad Gateway")]
    await tick_at(service, clock, START)
    assert [chat for chat, _, _ in sender.papers] == [3, 2, 1]


async def test_transient_errors_back_off_exponentially_then_succeed(
    conn: Database, settings: Settings, sender: FakeSender, clock: Clock
) -> None:
    push = PushSettings(global_rate=0, per_chat_interval=0, concurrency=4, max_attempts=4)
    service = PushService(conn, settings.with_overrides(push=push), sender, clock=clock, sleep=clock.sleep)
    catalogue(settings.database, papers_of("A", 5, "2401"))
    await subscribe(service, conn, 1, [topic("A")])
    sender.errors[1] = [TransientError("timed out"), TransientError("502"), TransientError("reset")]
    report = await tick_at(service, clock, START)
    assert (report.sent, report.retried, report.failed) == (1, 3, 0)
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert sender.papers == [(1, "2401.00005", "topic:A")]
    assert list(map(tuple, await conn.fetchall("SELECT state, attempts FROM deliveries"))) == [("sent", 4)]


async def test_after_max_attempts_the_paper_fails_and_the_chat_moves_on(
    service: PushService, conn: Database, settings: Settings, sender: FakeSender, clock: Clock
) -> None:
    catalogue(settings.database, papers_of("A", 5, "2401"))
    await subscribe(service, conn, 1, [topic("A")])
    sender.errors[1] = [TransientError("503")] * settings.push.max_attempts
    report = await tick_at(service, clock, START)
    assert (report.sent, report.failed) == (0, 1)
    assert list(map(tuple, await conn.fetchall("SELECT state, attempts FROM deliveries"))) == [
        ("failed", settings.push.max_attempts)
    ]
    chat = await ChatStore(conn).get(1)
    assert chat is not None and chat.last_push_date == "2024-05-01"  # the day is done nevertheless
    # The failed paper is not re-sent; the next day brings the next one, the chat is not stuck.
    await tick_at(service, clock, START + DAY)
    assert sender.ids(1) == ["2401.00004"]


async def test_crash_mid_fanout_then_restart_sends_the_rest_without_duplicates(
    conn: Database, settings: Settings, clock: Clock
) -> None:
    catalogue(settings.database, papers_of("A", 5, "2401") + papers_of("B", 5, "2402"))
    first = FakeSender()
    first.crash_after = 3
    # One send at a time, so exactly one message is in flight when the process dies.
    settings = settings.with_overrides(push=PushSettings(global_rate=25, per_chat_interval=1, concurrency=1))
    service = PushService(conn, settings, first, clock=clock, sleep=clock.sleep)
    for chat_id in (1, 2, 3, 4):
        await subscribe(service, conn, chat_id, [topic("A"), topic("B")])
    clock.now = START
    with pytest.raises(Crash):
        await service.tick()
    assert len(first.papers) == 3 and first.calls == 4  # the 4th message was in flight
    in_flight = first.attempts[-1]

    # A new process on the same file.
    second = FakeSender()
    query = "SELECT chat_id, arxiv_id FROM deliveries WHERE state = 'sending'"
    with closing(sqlite3.connect(settings.database)) as raw:
        assert raw.execute(query).fetchall() == [in_flight]  # what the crash left
    conn2 = await Database.open(settings.database)
    try:
        restarted = PushService(conn2, settings, second, clock=clock, sleep=clock.sleep)
        await restarted.recover()
        await restarted.tick()
        await restarted.tick()
        no_duplicates(first, second)
        assert len(first.papers) + len(second.papers) == 7  # 4 chats x 2 papers, minus the in-flight one
        assert await states(conn2) == {"sent": 7, "unknown": 1}
        assert [
            tuple(row)
            for row in await conn2.fetchall("SELECT chat_id, arxiv_id FROM deliveries WHERE state = 'unknown'")
        ] == [in_flight]
        assert in_flight not in [(chat, arxiv_id) for chat, arxiv_id, _ in second.papers]
        for chat_id in (1, 2, 3, 4):
            chat = await ChatStore(conn2).get(chat_id)
            assert chat is not None and chat.last_push_date == "2024-05-01"
            assert chat.next_push_at == int((START + DAY).timestamp())
        # The unknown paper is never offered again: the next day brings older ones only.
        await tick_at(restarted, clock, START + DAY)
        no_duplicates(first, second)
    finally:
        await conn2.close()


async def test_overlapping_ticks_send_each_message_once(
    service: PushService, conn: Database, settings: Settings, sender: FakeSender, clock: Clock
) -> None:
    catalogue(settings.database, papers_of("A", 5, "2401") + papers_of("B", 5, "2402"))
    for chat_id in range(1, 21):
        await subscribe(service, conn, chat_id, [topic("A"), topic("B")])
    clock.now = START
    first, second, today = await asyncio.gather(service.tick(), service.tick(), service.today(7))
    assert today.sent == 2
    assert first.chats_sent + second.chats_sent in (19, 20)  # 19 if /today held chat 7: it stays due
    await service.tick()
    assert len(sender.papers) == 42
    no_duplicates(sender)
    assert sorted(
        map(tuple, await conn.fetchall("SELECT via, count(DISTINCT chat_id), count(*) FROM deliveries GROUP BY via"))
    ) == [("push", 20, 40), ("today", 1, 2)]


async def test_a_chat_in_flight_is_skipped_by_the_next_tick_and_waited_for_by_today(
    conn: Database, settings: Settings, clock: Clock
) -> None:
    gate, hanging = asyncio.Event(), asyncio.Event()

    class Slow(FakeSender):
        async def send_paper(self, chat_id: int, script: Script, paper: Paper, subscription: Subscription) -> None:
            if chat_id == 1:
                hanging.set()
                await gate.wait()  # a slow answer from Telegram
            await super().send_paper(chat_id, script, paper, subscription)

    sender = Slow()
    service = PushService(conn, settings, sender, clock=clock, sleep=clock.sleep)
    catalogue(settings.database, papers_of("A", 5, "2401"))
    await subscribe(service, conn, 1, [topic("A")])
    clock.now = START
    first = asyncio.ensure_future(service.tick())
    await hanging.wait()
    second = await service.tick()
    assert (second.chats_due, second.chats_busy, second.sent) == (1, 1, 0)  # chat 1 is still being served
    today = asyncio.ensure_future(service.today(1))
    await asyncio.sleep(0.05)
    assert not today.done()  # /today waits for the push to chat 1 to finish
    gate.set()
    assert (await first).sent == 1
    assert (await today).sent == 1
    assert sender.ids(1) == ["2401.00005", "2401.00004"]


async def test_today_gives_up_on_a_push_that_takes_too_long(
    conn: Database, settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.push.service.TODAY_WAIT", 0.05)
    gate, hanging = asyncio.Event(), asyncio.Event()

    class Slow(FakeSender):
        async def send_paper(self, chat_id: int, script: Script, paper: Paper, subscription: Subscription) -> None:
            hanging.set()
            await gate.wait()
            await super().send_paper(chat_id, script, paper, subscription)

    sender = Slow()
    service = PushService(conn, settings, sender, clock=clock, sleep=clock.sleep)
    catalogue(settings.database, papers_of("A", 5, "2401"))
    await subscribe(service, conn, 1, [topic("A")])
    clock.now = START
    push = asyncio.ensure_future(service.tick())
    await hanging.wait()
    result = await service.today(1)
    assert result.busy and result.sent == 0
    gate.set()
    assert (await push).sent == 1
    assert sender.ids(1) == ["2401.00005"]


async def test_plan_due_plans_durably_and_the_next_tick_sends_exactly_that(
    service: PushService, conn: Database, settings: Settings, sender: FakeSender, clock: Clock
) -> None:
    catalogue(settings.database, papers_of("A", 5, "2401"))
    await subscribe(service, conn, 1, [topic("A")])
    plans = await service.plan_due(START)
    assert [(p.chat_id, [r.arxiv_id for r in p.rows]) for p in plans] == [(1, ["2401.00005"])]
    assert await states(conn) == {"planned": 1}
    await tick_at(service, clock, START + timedelta(seconds=30))
    assert sender.papers == [(1, "2401.00005", "topic:A")]  # the planned row, not a second plan
    assert await states(conn) == {"sent": 1}


async def test_keyword_subscription_pushes_search_matches(
    service: PushService, conn: Database, settings: Settings, sender: FakeSender, clock: Clock
) -> None:
    catalogue(
        settings.database,
        [
            paper("2401.00001", date(2024, 1, 1), "A", title="Retrieval augmented generation at scale"),
            paper("2401.00002", date(2024, 1, 2), "A", title="Something else entirely"),
        ],
    )
    await subscribe(service, conn, 1, [Subscription(SubscriptionKind.KEYWORD, "retrieval")])
    await tick_at(service, clock, START)
    assert sender.papers == [(1, "2401.00001", "keyword:retrieval")]


async def test_global_rate_spaces_sends(conn: Database, settings: Settings, sender: FakeSender, clock: Clock) -> None:
    push = PushSettings(global_rate=4, per_chat_interval=0, concurrency=8, max_attempts=4)
    service = PushService(conn, settings.with_overrides(push=push), sender, clock=clock, sleep=clock.sleep)
    catalogue(settings.database, papers_of("A", 5, "2401"))
    for chat_id in range(1, 9):
        await subscribe(service, conn, chat_id, [topic("A")])
    await tick_at(service, clock, START)
    assert len(sender.papers) == 8
    assert sum(clock.sleeps) == pytest.approx(7 / 4)


async def test_stats_and_the_fanout_log_line(
    service: PushService,
    conn: Database,
    settings: Settings,
    sender: FakeSender,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    catalogue(settings.database, papers_of("A", 5, "2401") + papers_of("B", 5, "2402"))
    await subscribe(service, conn, 1, [topic("A"), topic("B")])
    await subscribe(service, conn, 2, [topic("A")])
    sender.errors[2] = [ChatUnavailable("chat not found")]
    with caplog.at_level(logging.INFO, logger="bot.push.service"):
        await tick_at(service, clock, START)
    record = next(r for r in caplog.records if r.getMessage().startswith("push fanout"))
    assert "chats_due=2" in record.getMessage() and "sent=2" in record.getMessage()
    assert record.push_fanout["failed"] == 1  # type: ignore[attr-defined]
    stats = await service.stats()
    assert (stats.chats_total, stats.chats_active) == (2, 1)
    assert stats.subscribers == {"A": 1, "B": 1}
    assert (stats.date, stats.sent_today, stats.failed_today, stats.pending) == ("2024-05-01", 2, 1, 0)
    assert stats.next_due_at == int((START + DAY).timestamp())


async def test_reschedule_follows_time_and_timezone_changes(
    service: PushService, conn: Database, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    catalogue(settings.database, papers_of("A", 3, "2401"))
    await subscribe(service, conn, 1, [topic("A")])
    await ChatStore(conn).set_schedule(1, time(20, 15), "Europe/London", None)
    assert await service.reschedule(1) == int(datetime(2024, 4, 30, 19, 15, tzinfo=UTC).timestamp()) + 86400
    assert await service.reschedule(404) is None
