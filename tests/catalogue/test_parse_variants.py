"""Other months of the digest lists, as a maintainer writes them: the parser's generality.

Every variant here is written for this test from the seed formats (seeds/002 is the table family):
other header words, a BOM, other topic separators, rows without a date, titles made of several links,
rows about blogs or repositories, unknown header words. None comes from another published month.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.catalogue.parse import parse_file, parse_text

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
TABLE_SEED = SEEDS / "002_0d8f5bdce59820b0.txt"
TABLE_HEAD = "| 日期 | 標題 | 摘要 | 主題 |\n|---|---|---|---|\n"


def seed_rows() -> list[tuple[date, str, str, str, list[str]]]:
    """(date, title, arXiv ID, abstract, topics) of every row of the seed table."""
    result = parse_file(TABLE_SEED)
    assert not result.rejects
    rows = []
    for e in result.entries:
        assert e.published is not None
        rows.append((e.published, e.title_en, e.arxiv_id, e.abstract_zh, list(e.topics)))
    return rows


# Each variant: a header, a row formatter (date, title, ID, abstract, topics) -> cells, a file prefix.
VARIANTS = {
    "traditional synonyms, BOM, CRLF": (
        "\ufeff| 發布日期 | 論文 | 簡介 | 標籤 |\r\n|---|---|---|---|\r\n",
        lambda d, t, i, a, ts: [
            f"{d.year}年{d.month}月{d.day}日",
            f"[{t}](https://arxiv.org/abs/{i})",
            a,
            "、".join(ts),
        ],
        "\r\n",
    ),
    "English words, ISO dates, semicolons": (
        "| Date | Paper | TL;DR | Tags |\n| --- | --- | --- | --- |\n",
        lambda d, t, i, a, ts: [d.isoformat(), f"[**{t}**](http://arxiv.org/pdf/{i}v2.pdf)", a, "; ".join(ts)],
        "\n",
    ),
    "reordered with index and code columns, hashtags": (
        "| # | 标题 | 代码 | 主题 | 摘要 | 日期 |\n|:-:|:--|:--|:--|:--|:--|\n",
        lambda d, t, i, a, ts: [
            "1",
            f"[{t}](https://arxiv.org/abs/{i})",
            "[GitHub](https://github.com/example/repo)",
            " ".join(f"#{x}" for x in ts),
            a,
            f"{d.month}/{d.day}/{d.year}",
        ],
        "\n",
    ),
    "unknown header words: columns inferred": (
        "| 📅 | 📄 | 📝 | 🏷️ |\n|---|---|---|---|\n",
        lambda d, t, i, a, ts: [d.strftime("%b %d, %Y"), f"[{t}](https://arxiv.org/abs/{i})", a, " / ".join(ts)],
        "\n",
    ),
    "several links in the title cell": (
        "| 日期 | 標題 | 摘要 | 主題 |\n|---|---|---|---|\n",
        lambda d, t, i, a, ts: [
            f"{d.month}月{d.day}日",
            f"**{t}** [[PDF](https://arxiv.org/pdf/{i})] [[Code](https://github.com/x/y)]",
            a,
            "，".join(ts),
        ],
        "\n",
    ),
    "title with link column": (
        "| 日期 | 标题 | 链接 | 摘要 | 主题 |\n|---|---|---|---|---|\n",
        lambda d, t, i, a, ts: [d.isoformat(), t, f"https://arxiv.org/abs/{i}", a, ",".join(ts)],
        "\n",
    ),
    "no date column, no header": (
        "",
        lambda d, t, i, a, ts: [f"[{t}](https://arxiv.org/abs/{i})", a, "，".join(ts)],
        "\n",
    ),
}


def render(header: str, fmt, newline: str, rows) -> str:  # type: ignore[no-untyped-def]
    body = "".join("| " + " | ".join(fmt(*r)) + " |" + newline for r in rows)
    return "Intro prose a maintainer writes above the table." + newline + newline + header + body


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_arxiv_row_of_a_variant_month_is_ingested(name: str) -> None:
    rows = seed_rows()
    header, fmt, newline = VARIANTS[name]
    result = parse_text(render(header, fmt, newline, rows), f"{name}.md")
    assert result.rejects == []
    assert len(result.entries) >= 0.98 * len(rows)
    by_id = {e.arxiv_id: e for e in result.entries}
    for published, title, arxiv_id, abstract, topics in rows:
        entry = by_id[arxiv_id]
        assert entry.title_en == title
        assert entry.abstract_zh == abstract
        assert list(entry.topics) == topics
        if "no date" not in name:
            assert entry.published == published


def test_variant_months_together_pass_the_98_percent_bar() -> None:
    rows = seed_rows()
    total = parsed = 0
    for header, fmt, newline in VARIANTS.values():
        result = parse_text(render(header, fmt, newline, rows), "month.md")
        total += len(rows)
        parsed += len(result.entries)
    assert parsed / total >= 0.98


def test_non_arxiv_rows_are_reported_not_lost() -> None:
    text = (
        "| Date | Paper | Summary | Tags |\n|---|---|---|---|\n"
        "| 2024-05-01 | [A blog post](https://example.com/blog/post) | 一篇博客。 | 评估 |\n"
        "| 2024-05-02 | [A repo](https://github.com/org/repo) | 一个仓库。 | 量化 |\n"
        "| 2024-05-03 | [Real](https://arxiv.org/abs/2405.00001) | 真论文。 | 量化 |\n"
    )
    result = parse_text(text, "m.md")
    assert [e.arxiv_id for e in result.entries] == ["2405.00001"]
    assert [(r.line, r.non_arxiv) for r in result.rejects] == [(3, True), (4, True)]
    assert "github.com/org/repo" in result.rejects[1].reason


def test_rows_without_date_and_half_broken_rows() -> None:
    text = (
        "| 日期 | 標題 | 摘要 | 主題 |\n|---|---|---|---|\n"
        "|  | [No date](https://arxiv.org/abs/2405.00001) | 没有日期。 | 量化 |\n"
        "| 2024-05-02 | [Broken](https://arxiv.org/abs/2405.00002) | 少了一格。 |\n"
        "| 2024-05-03 | [Trailing](https://arxiv.org/abs/2405.00003) | 多了一个空格。 | 量化 | |\n"
    )
    result = parse_text(text, "m.md")
    assert [(e.arxiv_id, e.published) for e in result.entries] == [
        ("2405.00001", None),
        ("2405.00003", date(2024, 5, 3)),
    ]
    assert [r.line for r in result.rejects] == [4]
    assert "3 cells, expected 4" in result.rejects[0].reason


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2024年5月1日", date(2024, 5, 1)),
        ("2024-05-01", date(2024, 5, 1)),
        ("2024/5/1", date(2024, 5, 1)),
        ("2024.05.01", date(2024, 5, 1)),
        ("20240501", date(2024, 5, 1)),
        ("2024-05-01T12:30:00Z", date(2024, 5, 1)),
        ("May 1, 2024", date(2024, 5, 1)),
        ("1 May 2024", date(2024, 5, 1)),
        ("Sept. 3rd, 2024", date(2024, 9, 3)),
        ("05/30/2024", date(2024, 5, 30)),
        ("5月1日", date(2024, 5, 1)),
        ("**2024-05-01**", date(2024, 5, 1)),
    ],
)
def test_date_spellings(cell: str, expected: date) -> None:
    text = TABLE_HEAD + f"| {cell} | [T](https://arxiv.org/abs/2405.00001) | 摘要。 | 量化 |\n"
    (entry,) = parse_text(text, "d.md").entries
    assert entry.published == expected


def test_month_without_year_in_a_january_list_of_december_papers() -> None:
    text = TABLE_HEAD + "| 1月2日 | [T](https://arxiv.org/abs/2412.00001) | 摘要。 | 量化 |\n"
    (entry,) = parse_text(text, "d.md").entries
    assert entry.published == date(2025, 1, 2)


def test_table_with_header_words_in_longer_phrases() -> None:
    text = (
        "| 论文标题（英文） | 中文摘要（机器翻译） | 所属领域标签 |\n|---|---|---|\n"
        "| [T](https://arxiv.org/abs/2405.00001) | 一段摘要。 | 量化、PEFT |\n"
    )
    (entry,) = parse_text(text, "h.md").entries
    assert (entry.arxiv_id, entry.abstract_zh, entry.topics, entry.published) == (
        "2405.00001",
        "一段摘要。",
        ("量化", "PEFT"),
        None,
    )


def test_unknown_table_that_has_no_paper_column_is_still_rejected_row_by_row() -> None:
    text = "| Name | Value |\n|---|---|\n| a | 1 |\n| b | 2 |\n"
    result = parse_text(text, "x.md")
    assert result.entries == []
    assert [r.line for r in result.rejects] == [1, 3, 4]


def test_inferred_columns_are_found_by_content_not_position() -> None:
    rows = seed_rows()[:10]
    body = "".join(
        f"| {'，'.join(ts)} | {a} | {d.isoformat()} | [{t}](https://arxiv.org/abs/{i}) |\n" for d, t, i, a, ts in rows
    )
    result = parse_text("| a | b | c | d |\n|---|---|---|---|\n" + body, "x.md")
    assert result.rejects == []
    assert [(e.arxiv_id, e.published, list(e.topics)) for e in result.entries] == [
        (i, d, ts) for d, _, i, _, ts in rows
    ]
