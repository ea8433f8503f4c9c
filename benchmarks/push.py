"""Push benchmark: planning a minute where every chat is due, raw send speed, and a paced fan-out.

    python benchmarks/push.py [--papers 100000] [--chats 100000] [--repeat 3] [--send-chats 5000]
                              [--paced-chats 3000] [--plan-only] [--history-days 0]

1. planning, at --papers/10 and at --papers papers (each printed with the growth ratio): --chats chats
   with 3 topic subscriptions each, spread over six timezones and all due in the run's own minute
   (their push time is that minute on their own clock, so any hour works). Timed apart: deciding
   (PushService.plan_due with log_rows=False: read the due chats, pick each chat's papers; all a tick
   does before its fan-out sends) and logging the decided rows as 'planned' (which a fan-out does chunk
   by chunk as it reaches the chats). Baseline: SQLite inserting the same rows with INSERT ... SELECT.
2. sending, rate limits off: a fan-out of --send-chats chats (3 papers each) through python-telegram-bot
   to the local Bot API running in another process (so the server does not share the bot's core).
3. sending at Telegram's pace: --paced-chats chats, one paper each, the bot's global rate at its default
   (25/s) and the server enforcing Telegram's limits (30/s overall, 1/s per chat): counts 429s and
   duplicates as the server saw them.
With --history-days N, planning at --papers papers is also timed with N past push days in the log
(each chat already sent the N newest papers of each of its topics), against the same without history.
The catalogue is ingested in a child process, so the peak RSS printed is the push's own. The run exits
non-zero when it measured nothing: a chat not planned, a message not sent or sent twice.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import shutil
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram import Bot
from telegram.request import HTTPXRequest

from benchmarks.synthetic import ROOT, write_table
from bot.catalogue.topics import Taxonomy
from bot.config import PushSettings, Settings, load_settings
from bot.localapi import LocalBotApi, RateLimits
from bot.push.service import PushService
from bot.services.ingest import ingest
from bot.storage.db import Database, connect
from bot.telegram.sender import TelegramSender
from bot.terminal import NoSender

TOKEN = "123456789:BENCH-local-token-not-a-secret-000000"
FIRST_CHAT = 1_000_000


def build_catalogue(folder: Path, papers: int) -> None:
    write_table(folder / "seeds", papers)
    conn = connect(folder / "base.sqlite3")
    ingest(conn, [folder / "seeds"], Taxonomy.load(ROOT / "config" / "topics.toml"))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


# Chats spread over timezones on both sides of UTC (and a half-hour one), as a real audience would be.
ZONES = ("Asia/Shanghai", "Asia/Taipei", "Asia/Hong_Kong", "Asia/Kolkata", "Europe/Berlin", "America/New_York")


def add_chats(db: Path, chats: int, now: datetime) -> None:
    """Benchmark fixture: chats with three topic subscriptions each, all due at `now` whatever the hour.

    Each chat's push time is `now` read on its own timezone's clock, so today's local push instant is
    exactly `now` in every zone: due, and not "a missed earlier day" (which the planner only reschedules).
    """
    now = now.replace(second=0, microsecond=0)
    local = {tz: now.astimezone(ZoneInfo(tz)).strftime("%H:%M") for tz in ZONES}
    stamp = now.isoformat()
    conn = sqlite3.connect(db)
    topics = [row[0] for row in conn.execute("SELECT name FROM topics ORDER BY position")]
    with conn:
        conn.executemany(
            "INSERT INTO chats (chat_id, kind, script, push_time, timezone, next_push_at, created_at, updated_at)"
            " VALUES (?, 'private', ?, ?, ?, ?, ?, ?)",
            (
                (FIRST_CHAT + i, "hant" if i % 2 else "hans", local[tz], tz, int(now.timestamp()), stamp, stamp)
                for i in range(chats)
                for tz in (ZONES[i % len(ZONES)],)
            ),
        )
        conn.executemany(
            "INSERT INTO subscriptions (chat_id, kind, value, created_at) VALUES (?, 'topic', ?, ?)",
            ((FIRST_CHAT + i, topics[(i + k * 7) % len(topics)], stamp) for i in range(chats) for k in range(3)),
        )
    conn.close()


def add_history(db: Path, days: int, now: datetime) -> int:
    """Benchmark fixture: `days` past push days of every chat, as the log holds them after that many
    days: each chat has been sent the `days` newest papers of each of its topics (so today's pick lies
    below them in every list), dated before the days a push may resume. Returns the rows logged."""
    stamp = now.isoformat()
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "WITH ranked AS (SELECT pt.topic, p.arxiv_id, row_number() OVER (PARTITION BY pt.topic"
            "  ORDER BY pt.source <> 'catalogue', pt.published_day DESC, p.arxiv_id DESC) AS r"
            "  FROM paper_topics pt JOIN papers p ON p.id = pt.paper_id)"
            " INSERT OR IGNORE INTO deliveries (chat_id, arxiv_id, kind, subscription, via, local_date, state,"
            "  planned_at, sent_at)"
            " SELECT s.chat_id, ranked.arxiv_id, 'paper', 'topic:' || s.value, 'push',"
            "  date(?, '-' || (r + 3) || ' days'), 'sent', ?, ?"
            " FROM subscriptions s JOIN ranked ON ranked.topic = s.value AND ranked.r <= ?"
            " ORDER BY r DESC, s.chat_id",  # logged day by day, oldest first, as the pushes wrote them
            (now.date().isoformat(), stamp, stamp, days),
        )
    rows = int(conn.execute("SELECT count(*) FROM deliveries").fetchone()[0])
    conn.close()
    return rows


def serve(port: int, chats: int, limits: RateLimits, pipe: Connection) -> None:
    """The local Bot API in its own process; reports what it saw when asked."""

    async def main() -> None:
        api = LocalBotApi(TOKEN, port=port, limits=limits, keep_journal=False)
        await api.start()
        for i in range(chats):
            api.add_private_chat(FIRST_CHAT + i, "Reader")
        pipe.send("ready")
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        seen: set[tuple[int, str]] = set()
        total = duplicates = 0
        for i in range(chats):
            for message in api.messages(FIRST_CHAT + i):
                total += 1
                key = (message.chat_id, message.text)
                duplicates += key in seen
                seen.add(key)
        errors = api.errors()
        pipe.send(
            {
                "messages": total,
                "duplicates": duplicates,
                "429": sum(1 for e in errors if e.error_code == 429),
                "errors": len(errors),
            }
        )
        await api.stop()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def fan_out(db: Path, settings: Settings, port: int) -> tuple[float, dict[str, int]]:
    request = HTTPXRequest(connection_pool_size=settings.push.concurrency + 8)
    bot = Bot(TOKEN, base_url=f"http://127.0.0.1:{port}/bot", request=request)
    await bot.initialize()
    conn = await Database.open(db)
    try:
        # The real clock: the dispatcher paces sends by it.
        service = PushService(conn, settings, TelegramSender(bot))
        start = time.perf_counter()
        report = await service.tick()
        elapsed = time.perf_counter() - start
    finally:
        await conn.close()
        await bot.shutdown()
    return elapsed, {"sent": report.sent, "failed": report.failed, "chats": report.chats_sent}


FAILURES: list[str] = []


def expect(condition: bool, what: str) -> None:
    """A benchmark that measured nothing (0 chats planned, messages missing) must not print a figure as if
    it had: record the failure, print it, and exit non-zero at the end."""
    if not condition:
        FAILURES.append(what)
        print(f"  FAILED: {what}")


def run_sends(base: Path, work: Path, chats: int, settings: Settings, limits: RateLimits, label: str) -> None:
    db = work / f"sends-{chats}-{settings.push.global_rate}.sqlite3"
    shutil.copy(base, db)
    add_chats(db, chats, datetime.now(UTC))
    port = free_port()
    parent, child = mp.Pipe()
    server = mp.Process(target=serve, args=(port, chats, limits, child))
    server.start()
    parent.recv()
    elapsed, report = asyncio.run(fan_out(db, settings, port))
    parent.send("report")
    seen = parent.recv()
    server.join()
    rate = report["sent"] / elapsed if elapsed else 0.0
    print(
        f"  {label}: {report['chats']:,} chats, {report['sent']:,} messages in {elapsed:.1f} s = {rate:,.0f}/s;"
        f" server saw {seen['messages']:,} messages, {seen['duplicates']} duplicates,"
        f" {seen['429']} x 429, {seen['errors']} errors; bot failures {report['failed']}"
    )
    expected = chats * settings.papers_per_push
    expect(report["chats"] == chats, f"{label}: {report['chats']:,} of {chats:,} chats sent to")
    expect(report["sent"] == expected, f"{label}: {report['sent']:,} of {expected:,} messages sent")
    expect(seen["messages"] == expected and not seen["duplicates"], f"{label}: the server saw {seen}")


@dataclass(frozen=True)
class Planning:
    """One PushService.plan_due, timed in its two phases."""

    wall: float  # deciding every due chat: what a tick does before its fan-out can send
    cpu: float  # process CPU seconds (all threads) of the same
    chats: int
    decided: int  # messages decided
    log_wall: float  # logging every decided row as 'planned' (a fan-out does it chunk by chunk)
    log_cpu: float
    logged: int  # rows in the delivery log afterwards


async def plan_all(db: Path, settings: Settings, now: datetime) -> Planning:
    """Time PushService.plan_due deciding, then the logging of its rows, and count both."""
    conn = await Database.open(db)
    try:
        service = PushService(conn, settings, NoSender())
        start, cpu = time.perf_counter(), time.process_time()
        plans = await service.plan_due(now, log_rows=False)
        elapsed, used = time.perf_counter() - start, time.process_time() - cpu
        decided = sum(plan.new for plan in plans)
        start, cpu = time.perf_counter(), time.process_time()
        for plan in plans:
            if plan.pending is not None:
                await plan.pending()
        log_wall, log_cpu = time.perf_counter() - start, time.process_time() - cpu
        logged = sum(len(plan.rows) for plan in plans)
        return Planning(elapsed, used, len(plans), decided, log_wall, log_cpu, logged)
    finally:
        await conn.close()


def insert_floor(db: Path) -> float:
    """Baseline: seconds SQLite alone takes to insert the rows just planned into a table with the same
    columns, indexes and foreign key (INSERT ... SELECT: no Python, no decisions, one transaction)."""
    conn = connect(db)
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(deliveries)")]
        schema = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'deliveries'").fetchone()[0]
        conn.execute(schema.replace("CREATE TABLE deliveries", "CREATE TABLE floor", 1))
        for (sql,) in conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deliveries'"):
            if sql:
                conn.execute(
                    sql.replace("INDEX deliveries_", "INDEX floor_", 1).replace("ON deliveries", "ON floor", 1)
                )
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"INSERT INTO floor ({', '.join(columns)}) SELECT {', '.join(columns)} FROM deliveries")
        conn.execute("COMMIT")
        return time.perf_counter() - start
    finally:
        conn.close()


def plan_runs(base: Path, work: Path, chats: int, settings: Settings, repeat: int, history: int = 0) -> list[Planning]:
    """Plan `repeat` times, each on a fresh copy of the catalogue with `chats` chats due now (and `history`
    past push days of each); check each run decided and logged every chat's three messages."""
    runs = []
    for _ in range(repeat):
        db = work / "plan.sqlite3"
        for stale in work.glob("plan.sqlite3*"):
            stale.unlink()
        shutil.copy(base, db)
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        add_chats(db, chats, now)
        if history:
            logged = add_history(db, history, now)
            expect(logged >= chats * history, f"history: {logged:,} rows logged for {chats:,} chats x {history} days")
        run = asyncio.run(plan_all(db, settings.with_overrides(database=db), now))
        expect(0 < run.chats == chats, f"planning: {run.chats:,} of {chats:,} due chats planned")
        expect(run.decided == 3 * chats, f"planning: {run.decided:,} of {3 * chats:,} messages decided")
        expect(run.logged == run.decided, f"planning: {run.logged:,} of {run.decided:,} decided messages logged")
        runs.append(run)
    return runs


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--chats", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="planning runs per catalogue size (median shown)")
    parser.add_argument("--send-chats", type=int, default=5_000)
    parser.add_argument("--paced-chats", type=int, default=3_000)
    parser.add_argument("--plan-only", action="store_true", help="skip the two sending measurements")
    parser.add_argument(
        "--history-days", type=int, default=0, help="also plan with this many past push days in the log (largest size)"
    )
    args = parser.parse_args()
    base_settings = load_settings(ROOT / "config" / "bot.toml", {})
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    sizes = (args.papers // 10, args.papers)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results: dict[int, list[Planning]] = {}
        base = work
        for papers in sizes:
            start = time.perf_counter()
            folder = work / f"catalogue-{papers}"
            child = mp.Process(target=build_catalogue, args=(folder, papers))
            child.start()
            child.join()
            base = folder / "base.sqlite3"
            print(f"catalogue: {papers:,} papers ({time.perf_counter() - start:.0f} s to build, in a child process)")
            settings = base_settings.with_overrides(papers_per_push=3)
            results[papers] = plan_runs(base, work, args.chats, settings, args.repeat)
        floor = insert_floor(work / "plan.sqlite3")

        small, large = (results[size] for size in sizes)
        print(
            f"planning: {args.chats:,} due chats x 3 subscriptions, {large[-1].decided:,} messages decided;"
            f" median of {args.repeat} runs (target <= 1 s at any catalogue size):"
        )
        print(f"  {'papers in the catalogue':<46} {sizes[0]:>10,} {sizes[1]:>10,}  growth")
        figures: list[tuple[str, Callable[[Planning], float]]] = [
            ("deciding, wall s (before the fan-out sends)", lambda r: r.wall),
            ("deciding, CPU s (all threads)", lambda r: r.cpu),
            ("logging the rows, wall s (during the fan-out)", lambda r: r.log_wall),
            ("logging the rows, CPU s", lambda r: r.log_cpu),
        ]
        for label, figure in figures:
            a, b = median([figure(r) for r in small]), median([figure(r) for r in large])
            print(f"  {label:<46} {a:>10.2f} {b:>10.2f}  {b / a:.2f}x")
        log_wall = median([r.log_wall for r in large])
        print(
            f"  SQLite alone inserts those rows (INSERT ... SELECT) in {floor:.2f} s:"
            f" logging = {log_wall / floor:.1f}x the bare insert"
        )
        if args.history_days:
            aged = plan_runs(base, work, args.chats, settings, args.repeat, args.history_days)
            fresh = large
            print(
                f"  with {args.history_days} days of history ({3 * args.history_days:,} logged papers a chat),"
                f" {sizes[1]:,} papers:"
            )
            for label, figure in figures[:2]:
                a, b = median([figure(r) for r in fresh]), median([figure(r) for r in aged])
                print(f"  {label:<46} {a:>10.2f} {b:>10.2f}  {b / a:.2f}x the same without history")
        print(f"  peak RSS so far: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (target <= 300)")

        if not args.plan_only:
            print("sending:")
            unlimited = base_settings.with_overrides(
                papers_per_push=3, push=PushSettings(global_rate=0, per_chat_interval=0, concurrency=8, max_attempts=4)
            )
            run_sends(base, work, args.send_chats, unlimited, RateLimits(enabled=False), "rate limits off")
            paced = base_settings.with_overrides(papers_per_push=1)
            run_sends(base, work, args.paced_chats, paced, RateLimits(), "Telegram's limits, 25/s")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if FAILURES:
        sys.exit(f"measured nothing or the wrong thing: {'; '.join(FAILURES)}")


if __name__ == "__main__":
    main()
