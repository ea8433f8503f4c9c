"""Catalogue benchmark: ingest speed and memory, database size, search and lookup latency, at two sizes.

    python benchmarks/catalogue.py [--papers 100000] [--repeat 100]
    python benchmarks/catalogue.py --papers 1000000      # several minutes

Measures the catalogue at --papers papers and at a tenth of that, and prints each figure at both sizes
with its growth ratio, so how a cost grows with the catalogue is visible at a glance (1.0x: flat;
10x: linear). For each size: a synthetic catalogue is built from the seed texts and ingested with the
real pipeline (parse, merge, rules, one transaction) in a child process, so the peak RSS printed is the
ingest's own; then the bot's own PaperStore calls are timed through `Database`, against a LIKE scan.
Exits non-zero when it measured nothing (no papers ingested, a query class without results).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic import ROOT, ids_in, write_table
from bot.catalogue.topics import Taxonomy
from bot.services.ingest import ingest
from bot.storage.db import Database, connect
from bot.storage.papers import PaperStore

QUERIES = {
    "two-character Chinese": "量化",
    "common Chinese word": "模型",
    "long Chinese": "大語言模型的上下文長度",
    "English word": "RULER",
    "English phrase": "mixture of experts",
    "mixed": "多模態 agent",
    "arXiv ID": "",  # filled with an ID of the synthetic catalogue
}
SEARCH_P99_TARGET_MS = {100_000: 10.0, 1_000_000: 20.0}
INGEST_TARGET = 5_000  # papers/s
RSS_TARGET_MB = 400
SIZE_TARGET_KB = 2.3
LIKE_TARGET = 100  # search must be this many times faster than the LIKE scan (median over the query set)


@dataclass
class Figures:
    """Everything measured at one size (a row of the final table per attribute)."""

    papers: int
    ingest_s: float = 0.0
    ingest_cpu_s: float = 0.0  # the ingest process's own CPU time: what it costs whatever else runs
    ingest_rss_mb: float = 0.0
    db_bytes: int = 0
    search: dict[str, list[float]] = field(default_factory=dict)  # label -> samples (ms)
    # label -> CPU ms of the same runs (this process: event loop and reader thread). Wall-clock tails on
    # a shared machine are mostly waits for a core; the CPU time is the search's own cost.
    search_cpu: dict[str, list[float]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)  # label -> results on the first page
    like: dict[str, list[float]] = field(default_factory=dict)
    lookups: list[float] = field(default_factory=list)


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (p99 of 200 samples is the second slowest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else 0.0


async def timed(fn: Callable[[], Awaitable[object]], repeat: int, cpu: list[float] | None = None) -> list[float]:
    """Wall-clock ms of each run (and, into `cpu`, the process's CPU ms of each)."""
    samples = []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        await fn()
        samples.append((time.perf_counter() - start) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - start_cpu) * 1000)
    return samples


def _ingest_child(seed: Path, db_path: Path, pipe: Connection) -> None:
    """Ingest in its own process: ru_maxrss is then the ingest's peak alone."""
    conn = connect(db_path)
    start = time.perf_counter()
    report = ingest(conn, [seed], Taxonomy.load(ROOT / "config" / "topics.toml"))
    elapsed = time.perf_counter() - start
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    pipe.send((report.new, elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024))


async def measure(db_path: Path, figures: Figures, repeat: int) -> None:
    db = await Database.open(db_path)
    store = PaperStore(db)
    ids = ids_in(figures.papers)
    queries = dict(QUERIES, **{"arXiv ID": ids[len(ids) // 2]})
    for label, query in queries.items():
        page = await store.search(query, limit=5)
        figures.hits[label] = len(page.hits)
        figures.search_cpu[label] = []
        figures.search[label] = await timed(
            lambda q=query: store.search(q, limit=5),  # type: ignore[misc]
            repeat,
            figures.search_cpu[label],
        )
        figures.like[label] = await timed(lambda q=query: like_scan(db, q), max(3, repeat // 20))  # type: ignore[misc]
    picks = iter(ids[i * 7919 % len(ids)] for i in range(repeat * 5))
    figures.lookups = await timed(lambda: store.get(next(picks)), repeat * 5)
    await db.close()


async def like_scan(db: Database, query: str) -> None:
    pattern = f"%{query}%"
    await db.fetchall(
        "SELECT arxiv_id FROM papers WHERE title_en LIKE ? OR title_zh LIKE ? OR abstract_zh LIKE ?",
        (pattern, pattern, pattern),
    )


def run_size(papers: int, repeat: int) -> Figures:
    figures = Figures(papers)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        seed = work / "seeds"
        start = time.perf_counter()
        write_table(seed, papers)
        size = sum(f.stat().st_size for f in seed.iterdir())
        print(f"\n{papers:,} papers: synthetic seeds {size / 1e6:.1f} MB built in {time.perf_counter() - start:.1f} s")
        db_path = work / "bench.sqlite3"
        receive, send = mp.Pipe(duplex=False)
        child = mp.Process(target=_ingest_child, args=(seed, db_path, send))
        child.start()
        new, figures.ingest_s, figures.ingest_cpu_s, figures.ingest_rss_mb = receive.recv()
        child.join()
        if new != papers:
            print(f"  ingest wrote {new:,} new papers, expected {papers:,}")
            return figures
        figures.db_bytes = db_path.stat().st_size
        print(
            f"  ingest {figures.ingest_s:.1f} s ({papers / figures.ingest_s:,.0f} papers/s; "
            f"{figures.ingest_cpu_s:.1f} CPU s), peak RSS {figures.ingest_rss_mb:.0f} MB, "
            f"database {figures.db_bytes / 1e6:.0f} MB; timing searches ..."
        )
        asyncio.run(measure(db_path, figures, repeat))
        print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work slows every figure)")
    return figures


def report(small: Figures, big: Figures) -> list[str]:
    """Print the table; the targets missed (empty when all are met)."""
    missed: list[str] = []
    rows: list[tuple[str, float, float, str]] = []

    def row(name: str, a: float, b: float, fmt: str = "{:,.2f}") -> None:
        rows.append((name, a, b, fmt))

    def per_s(f: Figures) -> float:
        return f.papers / f.ingest_s if f.ingest_s else 0.0

    row("ingest, papers/s", per_s(small), per_s(big), "{:,.0f}")
    row("ingest, papers per CPU second", small.papers / small.ingest_cpu_s, big.papers / big.ingest_cpu_s, "{:,.0f}")
    row("ingest peak RSS, MB", small.ingest_rss_mb, big.ingest_rss_mb, "{:,.0f}")
    row("database, kB per paper", small.db_bytes / small.papers / 1e3, big.db_bytes / big.papers / 1e3)
    for label in QUERIES:
        row(f"search p50 ms: {label}", pct(small.search[label], 0.5), pct(big.search[label], 0.5))
        row(f"search p99 ms: {label}", pct(small.search[label], 0.99), pct(big.search[label], 0.99))
    every = {f.papers: [s for samples in f.search.values() for s in samples] for f in (small, big)}
    row("search p50 ms, all queries", pct(every[small.papers], 0.5), pct(every[big.papers], 0.5))
    row("search p99 ms, all queries", pct(every[small.papers], 0.99), pct(every[big.papers], 0.99))
    cpu = {f.papers: [s for samples in f.search_cpu.values() for s in samples] for f in (small, big)}
    row("search p99 CPU ms, all queries", pct(cpu[small.papers], 0.99), pct(cpu[big.papers], 0.99))
    costliest = {f.papers: max(f.search_cpu, key=lambda label: pct(f.search_cpu[label], 0.99)) for f in (small, big)}
    row(
        f"search p99 CPU ms, costliest class ({costliest[big.papers]})",
        pct(small.search_cpu[costliest[big.papers]], 0.99),
        pct(big.search_cpu[costliest[big.papers]], 0.99),
    )
    likes = {f.papers: [s for samples in f.like.values() for s in samples] for f in (small, big)}
    row("LIKE scan p50 ms", pct(likes[small.papers], 0.5), pct(likes[big.papers], 0.5))
    speedup = {
        n: statistics.median(likes[n]) / statistics.median(every[n]) if every[n] else 0.0
        for n in (small.papers, big.papers)
    }
    row("search speed-up over LIKE (median)", speedup[small.papers], speedup[big.papers], "{:,.0f}x")
    row("lookup by ID p99 ms", pct(small.lookups, 0.99), pct(big.lookups, 0.99), "{:.3f}")

    width = max(len(r[0]) for r in rows)
    print(f"\n{'figure':<{width}}  {small.papers:>12,}  {big.papers:>12,}  growth")
    for name, a, b, fmt in rows:
        growth = f"{b / a:6.2f}x" if a else "     -"
        print(f"{name:<{width}}  {fmt.format(a):>12}  {fmt.format(b):>12}  {growth}")

    for f in (small, big):
        n = f.papers
        if per_s(f) < INGEST_TARGET:
            missed.append(f"ingest {per_s(f):,.0f} papers/s at {n:,} (target >= {INGEST_TARGET:,})")
        if f.db_bytes / n / 1e3 > SIZE_TARGET_KB:
            missed.append(f"database {f.db_bytes / n / 1e3:.2f} kB per paper at {n:,} (target <= {SIZE_TARGET_KB})")
        target = SEARCH_P99_TARGET_MS.get(n)
        worst = max(pct(s, 0.99) for s in f.search.values())
        if target is not None and worst > target:
            missed.append(f"search p99 {worst:.1f} ms for some query class at {n:,} (target <= {target:.0f})")
        if n >= 100_000 and speedup[n] < LIKE_TARGET:  # a LIKE scan of 10,000 rows is itself quick
            missed.append(f"search only {speedup[n]:.0f}x faster than LIKE at {n:,} (target >= {LIKE_TARGET}x)")
    if big.papers >= 1_000_000 and big.ingest_rss_mb > RSS_TARGET_MB:
        missed.append(f"ingest peak RSS {big.ingest_rss_mb:.0f} MB at {big.papers:,} (target <= {RSS_TARGET_MB})")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200, help="timed runs per query")
    args = parser.parse_args()
    sizes = [max(args.papers // 10, 100), args.papers]
    results = [run_size(n, args.repeat) for n in sizes]
    # A benchmark that measured nothing is an error, not a figure.
    empty = [
        f"{f.papers:,} papers: {problem}"
        for f in results
        for problem in (
            ["no papers ingested"]
            if not f.db_bytes
            else [f"no results for the {label} query" for label, n in f.hits.items() if n == 0]
        )
    ]
    if empty:
        print("\nmeasured nothing:\n  " + "\n  ".join(empty))
        return 1
    missed = report(*results)
    print("\ntargets: " + ("all met" if not missed else "missed:\n  " + "\n  ".join(missed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
