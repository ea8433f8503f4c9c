"""Translation benchmark: N English-only papers through the fake OpenAI-compatible model at the configured
concurrency, while a user keeps sending /paper and /search to the bot in the same process.

    python benchmarks/translate.py [--papers 1000] [--latency 0.05] [--commands 400]

The real Application long-polls the local Bot API (same process, same event loop as the translation).
The fake model (tests/translate/fake_llm.py) runs in a child process, as a model server would, and
answers each request after --latency seconds; the bot's own work per paper (prompt, HTTP through the
openai client, parsing, validation, OpenCC, one write transaction) is what is measured on top of it.
Printed: papers/s against the ideal concurrency / latency, tokens counted (the bot's ledger against
what the server reported), and the /paper and /search handler p99 while translating against idle
(the ratio). Exits non-zero when it measured nothing (no paper translated, no command timed).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bot import pct, timed
from benchmarks.synthetic import ROOT
from bot.catalogue.model import Paper
from bot.catalogue.topics import Taxonomy
from bot.config import TranslationSettings, load_settings
from bot.localapi import RateLimits
from bot.services.ingest import ingest
from bot.storage.db import connect
from bot.storage.papers import CatalogueWriter
from bot.telegram.context import services
from bot.telegram.local import running_locally
from tests.translate.fake_llm import FakeModel

# Sentences of the kind arXiv abstracts are made of (written for this benchmark), shuffled per paper.
SENTENCES = (
    "Large language models achieve strong results on many reasoning benchmarks but remain costly to serve.",
    "We propose a simple method that reduces the memory footprint of the KV cache by 4x without retraining.",
    "Our approach combines retrieval-augmented generation with a lightweight verifier trained on 12k examples.",
    "Experiments on six multimodal tasks show consistent gains over strong baselines.",
    "We further analyse failure cases and find that most errors come from ambiguous instructions.",
    "The method is compatible with LoRA fine-tuning and adds less than 2% latency.",
    "We release code, data and checkpoints to support future research.",
    "Agents built on our framework complete 31% more long-horizon web tasks than prior work.",
    "A theoretical analysis explains why the proposed objective improves alignment with human preferences.",
    "We introduce a benchmark of 3,400 questions that require multi-step mathematical reasoning.",
    "Quantization to 4 bits preserves accuracy when outlier channels are handled separately.",
    "Ablations confirm that each component contributes to the final performance.",
    "Mixture of experts layers are routed by a learned gate that balances the load across devices.",
    "Human evaluation shows that our summaries are preferred in 68% of comparisons.",
    "Chain-of-thought prompting helps smaller models only when the intermediate steps are verified.",
    "We study in-context learning as implicit Bayesian inference over latent tasks.",
)
SEARCHES = ["量化", "大語言模型", "mixture of experts", "多模態 agent", "对齐"]


def english_papers(count: int, seed: int = 11) -> list[Paper]:
    rng = random.Random(seed)
    papers = []
    for i in range(count):
        sentences = rng.sample(SENTENCES, rng.randint(5, 8))
        papers.append(
            Paper(
                arxiv_id=f"2606.{10000 + i:05d}",
                title_en=f"Efficient and Faithful Reasoning for Language Models, Part {i}",
                title_zh="",
                abstract_zh="",
                published=date(2026, 6, 1 + i % 28),
                date_is_exact=True,
                abstract_en=" ".join(sentences),
                version=1,
                sources=("arxiv",),
            )
        )
    return papers


async def timed_commands(api: Any, chat: int, texts: list[str], until: Callable[[], bool] | None = None) -> int:
    """Send commands one after another (all of them, or until `until()` holds); how many were sent."""
    sent = 0
    for text in texts:
        if until is not None and until():
            break
        count = len(api.messages(chat))
        await api.send_text(chat, 777, text)
        await api.wait_for_messages(chat, count + 1, timeout=60)
        sent += 1
    return sent


def time_handlers(application: Any) -> dict[str, list[float]]:
    """Wrap the /paper and /search handlers so each call's duration (ms) lands in the returned lists."""
    handler_ms: dict[str, list[float]] = {"paper": [], "search": []}
    for handler in application.handlers[0]:
        names = getattr(handler, "commands", None)
        if names and {"paper", "search"} & set(names):
            handler.callback = timed(handler_ms, next(iter(names)), handler.callback)
    return handler_ms


def command_texts(count: int) -> list[str]:
    """`count` commands alternating /paper of a seed paper and /search of a benchmark query."""
    rng = random.Random(5)
    seeded = ["2404.07965", "2404.14047", "2404.07839", "2404.14219"]
    return [f"/paper {rng.choice(seeded)}" if i % 2 == 0 else f"/search {rng.choice(SEARCHES)}" for i in range(count)]


async def idle_handler_ms(api: Any, chat: int, handler_ms: dict[str, list[float]], texts: list[str]) -> list[float]:
    """Handler times (ms) of `texts` sent to an idle bot after a 10-command warm-up; the lists are left empty."""
    await timed_commands(api, chat, texts[:10])  # warm-up
    for values in handler_ms.values():
        values.clear()
    await timed_commands(api, chat, texts)
    idle = handler_ms["paper"] + handler_ms["search"]
    for values in handler_ms.values():
        values.clear()
    return idle


def serve_model(conn: Connection, latency: float) -> None:
    """Child process: the fake model on its own core, until told to stop; then its token counts."""

    async def serve() -> None:
        async with FakeModel(latency=latency) as fake:
            conn.send(fake.base_url)
            await asyncio.to_thread(conn.recv)  # the stop message
            conn.send((fake.prompt_tokens, fake.completion_tokens))

    asyncio.run(serve())


async def drive(db: Path, papers: int, latency: float, commands: int) -> int:
    base = load_settings(ROOT / "config" / "bot.toml", {})
    ours, theirs = mp.get_context("spawn").Pipe()
    child = mp.get_context("spawn").Process(target=serve_model, args=(theirs, latency), daemon=True)
    child.start()
    model_url = ours.recv()
    try:
        config = TranslationSettings(
            url=model_url,
            model="fake-translator",
            concurrency=base.translation.concurrency,
            timeout=30.0,
            daily_tokens=10**9,
            daily_papers=10**7,
            interval=10**6,  # the benchmark drives the backfill itself
            batch=base.translation.batch,
        )
        settings = base.with_overrides(
            database=db,
            seeds=ROOT / "seeds",
            topics=ROOT / "config" / "topics.toml",
            commands_per_minute=100_000,
            translation=config,
        )
        async with running_locally(settings, limits=RateLimits(enabled=False), keep_journal=False) as local:
            handler_ms = time_handlers(local.application)
            api = local.api
            chat = api.add_private_chat(777, "Bench")
            texts = command_texts(commands * 20)
            idle = await idle_handler_ms(api, chat, handler_ms, texts[:commands])

            translation = services(local.application).translation  # type: ignore[arg-type]
            assert translation is not None
            start = time.perf_counter()
            job = asyncio.create_task(translation.backfill(papers))
            busy_sent = await timed_commands(api, chat, texts[commands:], until=job.done)
            report = await job
            elapsed = time.perf_counter() - start
            busy = handler_ms["paper"] + handler_ms["search"]
            usage = await translation.store.usage(datetime.now(UTC).date().isoformat())
            await api.wait_idle()
            errors = api.errors()
    finally:
        ours.send("stop")
        prompt_tokens, completion_tokens = ours.recv() if ours.poll(10) else (0, 0)
        child.join(5)

    ideal = config.concurrency / latency if latency else float("inf")
    print(
        f"{report.translated} of {papers} papers translated in {elapsed:.1f} s at concurrency {config.concurrency}"
        f" (model latency {latency * 1000:.0f} ms): {report.translated / elapsed:.1f} papers/s"
        f" (ideal {ideal:.1f}/s, {100 * report.translated / elapsed / ideal:.0f}% of it);"
        f" {report.rejected} rejected, {report.failed} failed"
    )
    print(
        f"tokens counted: {usage.tokens.total:,} ({usage.tokens.prompt:,} prompt + {usage.tokens.completion:,}"
        f" completion), {usage.tokens.total / max(report.translated, 1):,.0f} per paper;"
        f" the server reported {prompt_tokens + completion_tokens:,}"
    )
    print(
        f"handler p99 idle {pct(idle, 0.99):6.2f} ms (p50 {pct(idle, 0.5):5.2f}, {len(idle)} commands)"
        f" | during translation {pct(busy, 0.99):6.2f} ms (p50 {pct(busy, 0.5):5.2f}, {busy_sent} commands)"
        f" | ratio {pct(busy, 0.99) / max(pct(idle, 0.99), 1e-9):.2f}x   (Telegram errors: {len(errors)})"
    )
    if report.translated == 0 or not idle or not busy or usage.tokens.total == 0:
        print("measured nothing: no paper translated or no command timed", file=sys.stderr)
        return 1
    if usage.tokens.total != prompt_tokens + completion_tokens:
        print("the token ledger disagrees with the server", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--papers", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the fake model takes per request")
    parser.add_argument("--commands", type=int, default=400, help="commands timed while idle")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bot.sqlite3"
        conn = connect(db)
        ingest(conn, [ROOT / "seeds"], Taxonomy.load(ROOT / "config" / "topics.toml"))
        CatalogueWriter(conn).write(english_papers(args.papers), [], {})
        conn.close()
        return asyncio.run(drive(db, args.papers, args.latency, args.commands))


if __name__ == "__main__":
    sys.exit(main())
