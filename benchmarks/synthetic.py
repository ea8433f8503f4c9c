"""A synthetic catalogue built from the seed texts: fresh arXiv IDs, shuffled sentences, real topics.

Shared by the benchmarks so each measures the same kind of data at any size.
"""

from __future__ import annotations

import random
import re
from datetime import date, timedelta
from pathlib import Path

from bot.catalogue.parse import parse_file

ROOT = Path(__file__).resolve().parents[1]
_SENTENCE = re.compile(r"[^。！？]+[。！？]")


def _pools() -> tuple[list[str], list[str], list[str], list[str]]:
    titles: list[str] = []
    zh_titles: list[str] = []
    sentences: list[str] = []
    topics: list[str] = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        for entry in parse_file(path).entries:
            titles.append(entry.title_en)
            if entry.title_zh:
                zh_titles.append(entry.title_zh)
            sentences.extend(_SENTENCE.findall(entry.abstract_zh))
            topics.extend(entry.topics)
    return titles, zh_titles, sentences, sorted(set(topics))


def write_table(folder: Path, papers: int, *, seed: int = 7, per_file: int = 10_000) -> None:
    """Write `papers` rows in the seed table format (traditional script, dated, with topics).

    Rows are spread over files of `per_file` rows, as a growing catalogue would be, each well under
    ingest's per-file size limit.
    """
    rng = random.Random(seed)
    titles, _zh_titles, sentences, topics = _pools()
    start = date(2023, 1, 1)
    folder.mkdir(parents=True, exist_ok=True)
    out = None
    try:
        for i in range(papers):
            if i % per_file == 0:
                if out is not None:
                    out.close()
                out = (folder / f"synthetic_{i // per_file:03d}.md").open("w", encoding="utf-8")
                out.write("| 日期 | 標題 | 摘要 | 主題 |\n|:--|:--|:--|:--|\n")
            assert out is not None
            day = start + timedelta(days=i * 700 // max(papers, 1))
            arxiv_id = f"{day:%y%m}.{10000 + i % 90000:05d}"
            words = rng.choice(titles).split()
            rng.shuffle(words)
            abstract = "".join(rng.sample(sentences, k=min(len(sentences), rng.randint(3, 7))))
            tags = "，".join(rng.sample(topics, k=rng.randint(1, 2)))
            title = " ".join(words).replace("|", "/")
            out.write(
                f"| {day.year}年{day.month}月{day.day}日 | [{title}](https://arxiv.org/abs/{arxiv_id}) "
                f"| {abstract.replace('|', '/')} | {tags} |\n"
            )
    finally:
        if out is not None:
            out.close()


def ids_in(papers: int) -> list[str]:
    """The arXiv IDs write_table produces for `papers` rows (same formula)."""
    start = date(2023, 1, 1)
    result = []
    for i in range(papers):
        day = start + timedelta(days=i * 700 // max(papers, 1))
        result.append(f"{day:%y%m}.{10000 + i % 90000:05d}")
    return result
