"""Merging entries into papers: duplicate rules, order independence, and the real seeds."""

from __future__ import annotations

import itertools
import random
from datetime import date
from pathlib import Path

import pytest

from bot.catalogue.merge import looks_truncated, merge
from bot.catalogue.model import SeedEntry, TagSource
from bot.catalogue.parse import parse_file

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def entry(
    arxiv_id: str = "2404.07839",
    *,
    source: str = "a.txt",
    line: int = 1,
    title_en: str = "Title",
    title_zh: str = "",
    abstract: str = "完整的摘要。",
    published: date | None = None,
    topics: tuple[str, ...] = (),
) -> SeedEntry:
    return SeedEntry(source, line, arxiv_id, title_en, title_zh, abstract, published, topics)


def seed_entries() -> list[SeedEntry]:
    return [e for path in sorted(SEEDS.glob("*.txt")) for e in parse_file(path).entries]


def test_single_entry_without_date_gets_the_id_month() -> None:
    result = merge([entry("2402.06619", topics=("量化",))])
    assert result.duplicates_merged == 0
    (paper,) = result.papers
    assert (paper.published, paper.date_is_exact) == (date(2024, 2, 1), False)
    assert paper.topics == (("量化", TagSource.CATALOGUE),)


def test_dated_entry_is_exact_and_papers_are_sorted() -> None:
    result = merge([entry("2404.19296", published=date(2024, 4, 30)), entry("2402.06619"), entry("2404.00399")])
    assert [p.arxiv_id for p in result.papers] == ["2402.06619", "2404.00399", "2404.19296"]
    assert (result.papers[2].published, result.papers[2].date_is_exact) == (date(2024, 4, 30), True)


def test_duplicates_combine_every_field() -> None:
    undated = entry(source="003.txt", line=71, title_zh="中文标题", abstract="较长的完整摘要，信息更多。")
    dated = entry(source="002.txt", line=32, published=date(2024, 4, 11), topics=("新架構",), abstract="短摘要。")
    dated_later = entry(source="009.txt", line=5, published=date(2024, 5, 2), topics=("新架構", "基礎LLM"))
    result = merge([undated, dated, dated_later])
    assert result.duplicates_merged == 2
    (paper,) = result.papers
    assert paper.title_zh == "中文标题"
    assert paper.abstract_zh == "较长的完整摘要，信息更多。"
    assert (paper.published, paper.date_is_exact) == (date(2024, 4, 11), True)
    assert paper.topics == (("新架構", TagSource.CATALOGUE), ("基礎LLM", TagSource.CATALOGUE))


def test_topic_union_ignores_script_differences() -> None:
    a = entry(source="a.txt", topics=("多模態LLM",))
    b = entry(source="b.txt", topics=("多模态llm", "量化"))
    (paper,) = merge([b, a]).papers
    assert paper.topic_names == ("多模態LLM", "量化")


@pytest.mark.parametrize(
    "truncated",
    [
        "这是一个被截断的摘要，后面还有",  # no closing punctuation
        "这是一个被截断的摘要，后面还有...",
        "这是一个被截断的摘要，后面还有…",
    ],
)
def test_complete_abstract_beats_a_longer_truncated_one(truncated: str) -> None:
    complete = "短而完整。"
    for order in itertools.permutations([entry(abstract=truncated + "很长很长的内容"), entry(abstract=complete)]):
        assert merge(order).papers[0].abstract_zh == complete


def test_an_abstract_that_is_a_prefix_of_another_counts_as_truncated() -> None:
    full = "第一句。第二句。"
    prefix_in_other_script = "第一句。"
    result = merge([entry(abstract=prefix_in_other_script), entry(abstract=full)])
    assert result.papers[0].abstract_zh == full


def test_ties_are_broken_deterministically() -> None:
    a = entry(source="a.txt", title_en="Title B", title_zh="标题乙", abstract="摘要乙。")
    b = entry(source="b.txt", title_en="Title A", title_zh="标题甲", abstract="摘要甲。")
    papers = {merge(order).papers[0] for order in itertools.permutations([a, b])}
    assert len(papers) == 1
    paper = papers.pop()
    # Equal lengths: the smallest in code-point order (乙 U+4E59 sorts before 甲 U+7532).
    assert (paper.title_en, paper.title_zh, paper.abstract_zh) == ("Title A", "标题乙", "摘要乙。")


def test_longer_title_wins_and_empty_chinese_title_loses() -> None:
    a = entry(title_en="RULER", title_zh="")
    b = entry(title_en="RULER: What's the Real Context Size?", title_zh="RULER：实际上下文大小")
    paper = merge([a, b]).papers[0]
    assert paper.title_en == "RULER: What's the Real Context Size?"
    assert paper.title_zh == "RULER：实际上下文大小"


def test_looks_truncated() -> None:
    assert not looks_truncated("完整的句子。")
    assert not looks_truncated("A complete sentence.")
    assert not looks_truncated("他说：“结束了。”")
    assert not looks_truncated("（见附录。）")
    assert looks_truncated("仍与 Gemma-2")
    assert looks_truncated("未完待续……")
    assert looks_truncated("to be continued...")
    assert looks_truncated("")


def test_real_seeds_give_70_papers() -> None:
    entries = seed_entries()
    assert len(entries) == 77
    result = merge(entries)
    assert len(result.papers) == 70
    assert result.duplicates_merged == 7
    assert len({p.arxiv_id for p in result.papers}) == 70


def test_real_truncated_recurrentgemma_abstract_loses() -> None:
    entries = [e for e in seed_entries() if e.arxiv_id == "2404.07839"]
    by_source = {e.source: e for e in entries}
    truncated = by_source["003_a9a4838e097c53b9.txt"].abstract_zh
    complete = by_source["002_0d8f5bdce59820b0.txt"].abstract_zh
    assert truncated.endswith("仍与 Gemma-2")
    assert looks_truncated(truncated)
    assert not looks_truncated(complete)
    # The truncated copy is the longer one: length alone would pick it.
    assert len(truncated) > len(complete)
    (paper,) = merge(entries).papers
    assert paper.abstract_zh == complete
    assert paper.abstract_zh.endswith("達到了與Gemma-2B相當的性能。")
    assert paper.title_zh == by_source["003_a9a4838e097c53b9.txt"].title_zh
    assert (paper.published, paper.date_is_exact) == (date(2024, 4, 11), True)
    assert paper.topics == (("新架構", TagSource.CATALOGUE),)


def test_real_seeds_merge_is_order_independent() -> None:
    entries = seed_entries()
    expected = merge(entries)
    rng = random.Random(7)
    for _ in range(5):
        shuffled = entries[:]
        rng.shuffle(shuffled)
        assert merge(shuffled) == expected


def test_real_duplicates_keep_the_long_simplified_abstract() -> None:
    papers = {p.arxiv_id: p for p in merge(seed_entries()).papers}
    rho = papers["2404.07965"]
    assert rho.title_zh.startswith("Rho-1")
    assert "Token" in rho.abstract_zh  # the 003 translation, not the 002 summary that says 標籤
    assert rho.published == date(2024, 4, 11)
    heading_only = papers["2402.06619"]
    assert (heading_only.published, heading_only.date_is_exact, heading_only.topics) == (date(2024, 2, 1), False, ())
