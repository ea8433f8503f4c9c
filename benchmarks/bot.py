"""Bot benchmark: /paper and /search answered end to end through the local Bot API at N papers.

    python benchmarks/bot.py [--papers 100000] [--commands 200]

The real Application long-polls the local Bot API over loopback HTTP (same process, same event loop).
End to end = from the user's message entering the server to the bot's reply being accepted by it;
handler = the command callback alone (parse, service, render, sendMessage round trip included).
Exits non-zero when a command went unanswered, a /paper reply is not that paper, or Telegram refused a call.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic import ROOT, ids_in, write_table
from bot.catalogue.topics import Taxonomy
from bot.config import load_settings
from bot.localapi import RateLimits
from bot.services.ingest import ingest
from bot.storage.db import connect
from bot.telegram.local import running_locally

SEARCHES = ["量化", "大語言模型", "RULER", "mixture of experts", "多模態 agent", "对齐", "模型"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(store: dict[str, list[float]], name: str, fn: Callable[..., Awaitable[None]]) -> Callable[..., Any]:
    async def wrapper(update: Any, context: Any) -> None:
        start = time.perf_counter()
        try:
            await fn(update, context)
        finally:
            store[name].append((time.perf_counter() - start) * 1000)

    return wrapper


async def drive(db: Path, seeds: Path, papers: int, commands: int) -> None:
    settings = load_settings(ROOT / "config" / "bot.toml", {}).with_overrides(
        database=db, seeds=seeds, topics=ROOT / "config" / "topics.toml", commands_per_minute=100_000
    )
    handler_ms: dict[str, list[float]] = defaultdict(list)
    limits = RateLimits(enabled=False)
    async with running_locally(settings, limits=limits, keep_journal=False) as local:
        for handler in local.application.handlers[0]:
            commands_of = getattr(handler, "commands", None)
            if commands_of and {"paper", "search"} & set(commands_of):
                name = next(iter(commands_of))
                handler.callback = timed(handler_ms, name, handler.callback)
        api = local.api
        chat = api.add_private_chat(777, "Bench")
        rng = random.Random(3)
        ids = ids_in(papers)
        texts = [
            f"/paper {rng.choice(ids)}" if i % 2 == 0 else f"/search {rng.choice(SEARCHES)}" for i in range(commands)
        ]
        for text in texts[:10]:  # warm-up: connections, caches
            count = len(api.messages(chat))
            await api.send_text(chat, 777, text)
            await api.wait_for_messages(chat, count + 1, timeout=30)
        handler_ms.clear()
        end_to_end: dict[str, list[float]] = defaultdict(list)
        missed: list[str] = []  # /paper answers that are not the paper's card
        for text in texts:
            count = len(api.messages(chat))
            start = time.perf_counter()
            await api.send_text(chat, 777, text)
            replies = await api.wait_for_messages(chat, count + 1, timeout=30)
            end_to_end[text.split()[0][1:]].append((time.perf_counter() - start) * 1000)
            if text.startswith("/paper") and text.split()[1] not in replies[count].text:
                missed.append(text)
        await api.wait_idle()
        errors = api.errors()
    print(f"{commands} sequential commands at {papers:,} papers (Telegram errors: {len(errors)})")
    # A run that answered nothing, or answered "not found", measured nothing: say so and fail.
    answered = len(end_to_end["paper"]) + len(end_to_end["search"])
    if errors or missed or answered != commands:
        sys.exit(
            f"measured nothing or the wrong thing: {answered}/{commands} commands answered, {len(errors)} Telegram"
            f" errors, {len(missed)} /paper replies without the paper (e.g. {missed[:1]})"
        )
    for name in ("paper", "search"):
        e2e, alone = end_to_end[name], handler_ms[name]
        print(
            f"  /{name:<7} end to end p50 {pct(e2e, 0.5):6.2f} ms  p99 {pct(e2e, 0.99):6.2f} ms"
            f"   handler p50 {pct(alone, 0.5):6.2f} ms  p99 {pct(alone, 0.99):6.2f} ms"
        )
    every = end_to_end["paper"] + end_to_end["search"]
    print(f"  all      end to end p50 {pct(every, 0.5):6.2f} ms  p99 {pct(every, 0.99):6.2f} ms (target p99 <= 50 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--commands", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        seeds, db = Path(tmp) / "seeds", Path(tmp) / "bot.sqlite3"
        write_table(seeds, args.papers)
        conn = connect(db)
        start = time.perf_counter()
        ingest(conn, [seeds], Taxonomy.load(ROOT / "config" / "topics.toml"))
        conn.close()
        print(f"catalogue of {args.papers:,} papers ingested in {time.perf_counter() - start:.1f} s")
        asyncio.run(drive(db, seeds, args.papers, args.commands))
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
