"""Catalogue benchmark: ingest speed, database size, search and lookup latency against a LIKE scan.

    python benchmarks/catalogue.py [--papers 100000]

Builds a synthetic catalogue from the seed texts, ingests it with the real pipeline (parse, merge,
rules, one transaction), then times the bot's own PaperStore calls over aiosqlite.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic import ROOT, ids_in, write_table
from bot.catalogue.topics import Taxonomy
from bot.services.ingest import ingest
from bot.storage.db import Database, connect
from bot.storage.papers import PaperStore

QUERIES = {
    "two-character Chinese": "量化",
    "long Chinese": "大語言模型的上下文長度",
    "English word": "RULER",
    "English phrase": "mixture of experts",
    "mixed": "多模態 agent",
    "arXiv ID": "",  # filled with an ID of the synthetic catalogue
}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(fn, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


async def measure(db_path: Path, ids: list[str], repeat: int) -> None:
    db = await Database.open(db_path)
    store = PaperStore(db)
    queries = dict(QUERIES, **{"arXiv ID": ids[len(ids) // 2]})
    print("\nsearch (first page of 5, title hits first, bm25), ms:")
    fts_all: list[float] = []
    like_all: list[float] = []
    for label, query in queries.items():
        samples = await timed(lambda q=query: store.search(q, limit=5), repeat)
        fts_all += samples
        like = await timed(lambda q=query: like_scan(db, q), max(3, repeat // 10))
        like_all += like
        print(
            f"  {label:<22} {query!r:<28} p50 {pct(samples, .5):7.2f}  p99 {pct(samples, .99):7.2f}"
            f"   LIKE p50 {pct(like, .5):8.2f}  ratio {pct(like, .5) / pct(samples, .5):6.1f}x"
        )
    print(f"  all queries: p50 {pct(fts_all, .5):.2f} ms, p99 {pct(fts_all, .99):.2f} ms")
    print(
        f"  LIKE '%q%' baseline: p50 {pct(like_all, .5):.2f} ms -> search is "
        f"{statistics.median(like_all) / statistics.median(fts_all):.0f}x faster (median over the query set)"
    )
    rng = random.Random(1)
    picks = [rng.choice(ids) for _ in range(repeat * 5)]
    it = iter(picks)
    lookups = await timed(lambda: store.get(next(it)), len(picks))
    print(f"\nlookup by ID: p50 {pct(lookups, .5):.3f} ms, p99 {pct(lookups, .99):.3f} ms ({len(picks)} lookups)")
    await db.close()


async def like_scan(db: Database, query: str) -> None:
    pattern = f"%{query}%"
    await db.fetchall(
        "SELECT arxiv_id FROM papers WHERE title_en LIKE ? OR title_zh LIKE ? OR abstract_zh LIKE ?",
        (pattern, pattern, pattern),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=100, help="timed runs per query")
    args = parser.parse_args()
    taxonomy = Taxonomy.load(ROOT / "config" / "topics.toml")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        seed = work / "seeds"
        start = time.perf_counter()
        write_table(seed, args.papers)
        size = sum(f.stat().st_size for f in seed.iterdir())
        print(f"papers: {args.papers:,} (synthetic seeds {size / 1e6:.1f} MB in {len(list(seed.iterdir()))} files,"
              f" built in {time.perf_counter() - start:.1f} s)")
        db_path = work / "bench.sqlite3"
        conn = connect(db_path)
        start = time.perf_counter()
        report = ingest(conn, [seed], taxonomy)
        elapsed = time.perf_counter() - start
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        assert report.new == args.papers, report.format()
        print(f"ingest: {elapsed:.2f} s -> {args.papers / elapsed:,.0f} papers/s "
              f"(parse, merge, rules, FTS index, one transaction)")
        print(f"database size: {db_path.stat().st_size / 1e6:.1f} MB")
        asyncio.run(measure(db_path, ids_in(args.papers), args.repeat))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS: {rss:.0f} MB")


if __name__ == "__main__":
    main()
