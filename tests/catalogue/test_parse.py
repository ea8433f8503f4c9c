"""Seed-file parsing: both formats, every kind of bad input, the real seeds, and speed."""

from __future__ import annotations

import io
import random
import time
from datetime import date
from pathlib import Path

import pytest

from bot.catalogue.model import Reject, SeedEntry
from bot.catalogue.parse import (
    MAX_TITLE_CHARS,
    ParseResult,
    iter_parse_lines,
    parse_file,
    parse_text,
)

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
HEADER = "| 日期 | 標題 | 摘要 | 主題 |\n|:---|:---|:---|:---|\n"


def only_entry(result: ParseResult) -> SeedEntry:
    assert result.rejects == []
    assert len(result.entries) == 1
    return result.entries[0]


def only_reject(result: ParseResult) -> Reject:
    assert result.entries == []
    assert len(result.rejects) == 1
    return result.rejects[0]


def row(date_cell: str, title: str, abstract: str, topics: str) -> str:
    return f"| {date_cell} | {title} | {abstract} | {topics} |\n"


# -- heading format --------------------------------------------------------------------------------


def test_heading_entry_fields() -> None:
    text = (
        "## Aya Model: An Instruction Finetuned Model\n"
        "[Aya 模型：开放获取的多语言模型](https://arxiv.org/abs/2402.07827v2)\n"
        "\n"
        "第一段摘要。\n"
        "\n"
        "第二段摘要，\n"
        "同一段的第二行。\n"
    )
    entry = only_entry(parse_text(text, "f.txt"))
    assert entry == SeedEntry(
        source="f.txt",
        line=1,
        arxiv_id="2402.07827",
        title_en="Aya Model: An Instruction Finetuned Model",
        title_zh="Aya 模型：开放获取的多语言模型",
        abstract_zh="第一段摘要。\n\n第二段摘要，\n同一段的第二行。",
        published=None,
        topics=(),
    )


def test_heading_levels_and_line_numbers() -> None:
    text = (
        "Some introduction that is not an entry.\n"
        "\n"
        "# First\n"
        "[第一](https://arxiv.org/abs/2404.03715)\n"
        "\n"
        "摘要一。\n"
        "## Second ##\n"
        " [第二](http://arxiv.org/pdf/2404.04125.pdf) \n"
        "摘要二。\n"
    )
    result = parse_text(text, "f.txt")
    assert result.rejects == []
    assert [(e.line, e.title_en, e.arxiv_id, e.abstract_zh) for e in result.entries] == [
        (3, "First", "2404.03715", "摘要一。"),
        (7, "Second", "2404.04125", "摘要二。"),
    ]


def test_heading_title_cleanup() -> None:
    text = "## **Bold\u200b Title**\n[\u202e中文\u200d标题](https://arxiv.org/abs/2404.03715)\n\n摘\u200b要。\n"
    entry = only_entry(parse_text(text, "f.txt"))
    assert entry.title_en == "Bold Title"
    assert entry.title_zh == "中文标题"
    assert entry.abstract_zh == "摘要。"


def test_crlf_and_bom() -> None:
    text = "\ufeff# Title\r\n[标题](https://arxiv.org/abs/2404.03715)\r\n\r\n摘要。\r\n"
    entry = only_entry(parse_text(text, "f.txt"))
    assert (entry.title_en, entry.abstract_zh) == ("Title", "摘要。")


# -- table format ----------------------------------------------------------------------------------


def test_table_row_fields() -> None:
    text = HEADER + row(
        "2024年4月28日",
        "[AdvPrompter: Fast](https://arxiv.org/pdf/2404.16873)",
        "本文提出了一種新方法。",
        " 對抗攻擊，評估 ",
    )
    entry = only_entry(parse_text(text, "t.txt"))
    assert entry == SeedEntry(
        source="t.txt",
        line=3,
        arxiv_id="2404.16873",
        title_en="AdvPrompter: Fast",
        title_zh="",
        abstract_zh="本文提出了一種新方法。",
        published=date(2024, 4, 28),
        topics=("對抗攻擊", "評估"),
    )


def test_table_topics_separators_and_empty_cell() -> None:
    text = (
        HEADER
        + row("2024年4月4日", "[A](https://arxiv.org/abs/2404.03592)", "甲。", "微調, PEFT，，微調、 多模態LLM ")
        + row("2024年4月5日", "[B](https://arxiv.org/abs/2404.03593)", "乙。", "")
    )
    result = parse_text(text, "t.txt")
    assert result.rejects == []
    assert [e.topics for e in result.entries] == [("微調", "PEFT", "多模態LLM"), ()]


def test_table_escaped_pipes_br_and_column_order() -> None:
    text = (
        "| 标题 | 主题 | 日期 | 摘要 |\n"
        "|---|---|---|---|\n"
        "| [A \\| B](https://arxiv.org/abs/2404.03592) | 量化 | 2024-04-04 | 第一行<br>第二行 \\| 含竖线 |\n"
    )
    entry = only_entry(parse_text(text, "t.txt"))
    assert entry.title_en == "A | B"
    assert entry.abstract_zh == "第一行\n第二行 | 含竖线"
    assert entry.published == date(2024, 4, 4)
    assert entry.topics == ("量化",)


def test_empty_date_cell_keeps_row_without_date() -> None:
    text = HEADER + row("", "[A](https://arxiv.org/abs/2404.03592)", "甲。", "量化")
    assert only_entry(parse_text(text, "t.txt")).published is None


def test_mixed_formats_in_one_file() -> None:
    text = (
        "# Heading paper\n[标题](https://arxiv.org/abs/2404.03715)\n\n摘要。\n\n"
        + HEADER
        + row("2024年4月1日", "[Table paper](https://arxiv.org/abs/2404.01331)", "摘要。", "量化")
        + "\n## Another heading paper\n[标题二](https://arxiv.org/abs/2404.04125)\n\n摘要二。\n"
    )
    result = parse_text(text, "m.txt")
    assert result.rejects == []
    assert [(e.arxiv_id, e.line, e.published) for e in result.entries] == [
        ("2404.03715", 1, None),
        ("2404.01331", 8, date(2024, 4, 1)),
        ("2404.04125", 10, None),
    ]


def test_hostile_content_is_kept_verbatim() -> None:
    html = "<script>alert('x')</script> <b>粗</b> &amp;"
    sql = "'; DROP TABLE papers; --"
    emoji = "🚀🔥🤖"
    long_abstract = "长" * 5000 + "。"
    text = f"# {html} {sql} {emoji}\n[{emoji}](https://arxiv.org/abs/2404.03715)\n\n{long_abstract}\n"
    entry = only_entry(parse_text(text, "h.txt"))
    assert entry.title_en == f"{html} {sql} {emoji}"
    assert entry.title_zh == emoji
    assert entry.abstract_zh == long_abstract


# -- rejects ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ("| 2024年4月1日 | [A](https://arxiv.org/abs/2404.01331) | 摘要。 |\n", "3 cells, expected 4"),
        ("| 2024年4月1日 | [A](https://arxiv.org/abs/2404.01331) | 摘要。 | 量化 | extra |\n", "5 cells"),
    ],
)
def test_reject_wrong_cell_count(cells: str, reason: str) -> None:
    result = parse_text(HEADER + cells, "t.txt")
    reject = only_reject(result)
    assert (reject.source, reject.line) == ("t.txt", 3)
    assert reason in reject.reason


@pytest.mark.parametrize(
    ("title_cell", "reason"),
    [
        ("[A](https://example.com/paper.pdf)", "not an arXiv link"),
        ("[A](https://arxiv.org/abs/2413.00001)", "no valid arXiv ID"),
        ("[A](https://arxiv.org/list/cs.CL/recent)", "no valid arXiv ID"),
        ("[A]()", "no URL"),
        ("Just a title", "not a [title](arXiv URL) link"),
        ("", "empty title cell"),
        ("[](https://arxiv.org/abs/2404.01331)", "empty English title"),
    ],
)
def test_reject_bad_title_cell(title_cell: str, reason: str) -> None:
    reject = only_reject(parse_text(HEADER + row("2024年4月1日", title_cell, "摘要。", "量化"), "t.txt"))
    assert reject.line == 3
    assert reason in reject.reason


@pytest.mark.parametrize("bad_date", ["2024年13月1日", "2024年2月30日", "yesterday", "1066年1月1日", "2024/99/99"])
def test_reject_unparseable_date(bad_date: str) -> None:
    reject = only_reject(
        parse_text(HEADER + row(bad_date, "[A](https://arxiv.org/abs/2404.01331)", "摘要。", "量化"), "t.txt")
    )
    assert "unparseable date" in reject.reason
    assert bad_date in reject.reason


def test_reject_empty_abstract_and_absurd_lengths() -> None:
    link = "[A](https://arxiv.org/abs/2404.01331)"
    long_title = "[" + "T" * (MAX_TITLE_CHARS + 1) + "](https://arxiv.org/abs/2404.01332)"
    text = (
        HEADER
        + row("2024年4月1日", link, "", "量化")
        + row("2024年4月1日", long_title, "摘要。", "量化")
        + row("2024年4月1日", "[B](https://arxiv.org/abs/2404.01333)", "摘" * 20_001, "量化")
        + row("2024年4月1日", "[C](https://arxiv.org/abs/2404.01334)", "摘要。", "题" * 101)
        + row("2024年4月1日", "[D](https://arxiv.org/abs/2404.01335)", "摘要。", "，".join(map(str, range(21))))
    )
    result = parse_text(text, "t.txt")
    assert result.entries == []
    assert [(r.line, r.reason.split(" ")[0]) for r in result.rejects] == [
        (3, "empty"),
        (4, "English"),
        (5, "abstract"),
        (6, "topic"),
        (7, "row"),
    ]
    assert "over 1,000" in result.rejects[1].reason


def test_good_rows_survive_bad_neighbours() -> None:
    text = (
        HEADER
        + row("2024年4月1日", "[A](https://example.com/a)", "摘要。", "量化")
        + row("2024年4月2日", "[B](https://arxiv.org/abs/2404.01332)", "摘要。", "量化")
        + "| only | two |\n"
        + row("2024年4月3日", "[C](https://arxiv.org/abs/2404.01333)", "摘要。", "量化")
    )
    result = parse_text(text, "t.txt")
    assert [e.arxiv_id for e in result.entries] == ["2404.01332", "2404.01333"]
    assert [r.line for r in result.rejects] == [3, 5]


def test_reject_heading_without_link_line() -> None:
    text = (
        "# No link, next heading\n\n"
        "# No link, text instead\n"
        "只是一段文字。\n"
        "更多文字。\n\n"
        "# Good\n[好](https://arxiv.org/abs/2404.03715)\n\n摘要。\n\n"
        "# No link at end of file\n"
    )
    result = parse_text(text, "h.txt")
    assert [e.title_en for e in result.entries] == ["Good"]
    assert [(r.line, r.reason[:16]) for r in result.rejects] == [
        (1, "heading has no ["),
        (4, "expected a [中文标题]"[:16]),
        (12, "heading has no ["),
    ]
    assert "只是一段文字" in result.rejects[1].reason


def test_reject_heading_with_bad_link_or_empty_parts() -> None:
    text = (
        "# Not arXiv\n[标题](https://openreview.net/forum?id=abc)\n\n摘要。\n\n"
        "# Bad ID\n[标题](https://arxiv.org/abs/9999.99999)\n\n摘要。\n\n"
        "# No Chinese title\n[](https://arxiv.org/abs/2404.03715)\n\n摘要。\n\n"
        "# No abstract\n[标题](https://arxiv.org/abs/2404.04125)\n\n"
        "#\n[标题](https://arxiv.org/abs/2404.04126)\n\n摘要。\n"
    )
    result = parse_text(text, "h.txt")
    assert result.entries == []
    assert [(r.line, r.reason.split(":")[0]) for r in result.rejects] == [
        (2, "link is not an arXiv link"),
        (7, "arXiv link has no valid arXiv ID"),
        (11, "empty Chinese title in the link line"),
        (16, "empty abstract"),
        (19, "empty English title"),
    ]
    # The abstract of a rejected block does not leak into anything.
    assert all("摘要" not in r.reason for r in result.rejects)


def test_reject_unrecognised_table_and_its_rows() -> None:
    text = "| Name | Value |\n|---|---|\n| a | 1 |\n| b | 2 |\n"
    result = parse_text(text, "x.txt")
    assert result.entries == []
    assert [r.line for r in result.rejects] == [1, 3, 4]
    assert "table header not recognised" in result.rejects[0].reason
    assert "header (line 1) was rejected" in result.rejects[1].reason


def test_table_rows_without_header_are_rejected() -> None:
    text = row("2024年4月1日", "[A](https://arxiv.org/abs/2404.01331)", "摘要。", "量化")
    reject = parse_text(text, "x.txt").rejects[0]
    assert reject.line == 1
    assert "table header not recognised" in reject.reason


def test_prose_only_file_is_rejected() -> None:
    reject = only_reject(parse_text("Just some notes.\nNothing else.\n", "notes.txt"))
    assert reject.line == 0
    assert "no catalogue entries" in reject.reason


@pytest.mark.parametrize("content", [b"", b"   \n\n\t\n", b"\xef\xbb\xbf"])
def test_reject_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    assert only_reject(parse_file(path)) == Reject("empty.txt", 0, "empty file")


def test_reject_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "gbk.txt"
    path.write_bytes(b"# Title\n" + "[标题](https://arxiv.org/abs/2404.03715)\n".encode("gbk"))
    reject = only_reject(parse_file(path))
    assert reject.line == 0
    assert "not UTF-8" in reject.reason
    assert "line 2" in reject.reason


def test_reject_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    reject = only_reject(parse_file(path))
    assert (reject.line, reject.reason.split(" (")[0]) == (0, "binary file")
    # UTF-16 text has NUL bytes too, and is refused the same way.
    utf16 = tmp_path / "utf16.txt"
    utf16.write_text("# Title\n", encoding="utf-16")
    assert "binary file" in only_reject(parse_file(utf16)).reason


def test_reject_file_over_max_bytes(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    text = "# Title\n[标题](https://arxiv.org/abs/2404.03715)\n\n摘要。\n"
    path.write_text(text, encoding="utf-8")
    size = path.stat().st_size
    reject = only_reject(parse_file(path, max_bytes=size - 1))
    assert reject.line == 0
    assert f"{size:,} bytes" in reject.reason
    assert only_entry(parse_file(path, max_bytes=size)).arxiv_id == "2404.03715"


def test_reject_missing_file_and_directory(tmp_path: Path) -> None:
    assert "not a regular file" in only_reject(parse_file(tmp_path / "missing.txt")).reason
    assert "not a regular file" in only_reject(parse_file(tmp_path)).reason


def test_reject_str_is_file_colon_line() -> None:
    reject = only_reject(parse_text(HEADER + "| a | b |\n", "002.txt"))
    assert str(reject) == "002.txt:3: table row has 2 cells, expected 4"


def test_garbage_never_raises(tmp_path: Path) -> None:
    rng = random.Random(20240401)
    alphabet = "#|[]()\\<>年月日，, \n\t" + "abcxyz019" + "摘要标题" + "\u200b\ufeff"
    pieces = ["# T\n", "[标题](https://arxiv.org/abs/2404.03715)\n", HEADER, "|:---|\n", "\n"]
    for i in range(200):
        text = "".join(
            rng.choice(pieces) if rng.random() < 0.3 else rng.choice(alphabet) for _ in range(rng.randint(0, 300))
        )
        result = parse_text(text, "g.txt")
        assert all(isinstance(r, Reject) for r in result.rejects)
        path = tmp_path / f"g{i}.bin"
        path.write_bytes(rng.randbytes(rng.randint(0, 200)))
        parse_file(path)


# -- streaming -------------------------------------------------------------------------------------


def test_iter_parse_lines_streams_a_text_file() -> None:
    stream = io.StringIO(HEADER + row("2024年4月1日", "[A](https://arxiv.org/abs/2404.01331)", "摘要。", "量化"))
    items = list(iter_parse_lines(stream, "s.txt"))
    assert len(items) == 1
    assert isinstance(items[0], SeedEntry)
    assert items[0].line == 3


# -- the real seeds --------------------------------------------------------------------------------


def test_real_seed_files_parse_cleanly() -> None:
    results = {path.name: parse_file(path) for path in sorted(SEEDS.glob("*.txt"))}
    assert {name: len(r.entries) for name, r in results.items()} == {
        "000_8edb3da9fc1ff42c.txt": 12,
        "002_0d8f5bdce59820b0.txt": 48,
        "003_a9a4838e097c53b9.txt": 17,
    }
    assert [r for result in results.values() for r in result.rejects] == []
    table = results["002_0d8f5bdce59820b0.txt"].entries
    assert all(e.published is not None and e.title_zh == "" and e.topics for e in table)
    headings = results["000_8edb3da9fc1ff42c.txt"].entries + results["003_a9a4838e097c53b9.txt"].entries
    assert all(e.published is None and e.title_zh and e.topics == () for e in headings)
    # The BASE TTS link line starts with a space in the file.
    assert any(e.arxiv_id == "2402.08093" for e in headings)
    assert {t for e in table for t in e.topics} == {
        "基礎LLM", "上下文長度", "基準", "評估", "LLM代理", "多模態LLM", "對抗攻擊", "對齊", "小型LLM", "微調",
        "PEFT", "指令調整", "提示工程", "新架構", "模型壓縮", "特定領域LLM", "紅隊評測", "視覺模型", "量化",
    }  # fmt: skip


# -- speed -----------------------------------------------------------------------------------------


def test_a_large_file_parses_completely() -> None:
    abstract = "本文介紹了一種新方法，" * 30 + "。"
    lines = [HEADER]
    for i in range(10_000):
        lines.append(row("2024年4月30日", f"[Paper {i}](https://arxiv.org/pdf/2404.{i:05d})", abstract, "量化，評估"))
        lines.append(f"## Heading paper {i}\n[标题 {i}](https://arxiv.org/abs/2403.{i:05d})\n\n{abstract}\n\n")
        lines.append(HEADER)
    text = "".join(lines)
    result = parse_text(text, "bench.txt")
    assert len(result.entries) == 20_000
    assert result.rejects == []
    # Parsing speed is measured by benchmarks/catalogue.py (ingest papers/s).


def test_hostile_link_lines_are_rejected_quickly() -> None:
    nasty = "[" + "](" * 200_000 + "x"
    text = f"# Title\n{nasty}\n\n摘要。\n" + HEADER + row("2024年4月1日", nasty, "摘要。", "量化")
    start = time.perf_counter()
    result = parse_text(text, "n.txt")
    # A guard against catastrophic backtracking (which would take hours), not a speed figure:
    # the bound is far above any machine's load.
    assert time.perf_counter() - start < 10.0
    assert result.entries == []
    assert ["characters long" in r.reason for r in result.rejects] == [True, True]


def test_old_mac_line_endings() -> None:
    text = "# Title\r[标题](https://arxiv.org/abs/2404.03715)\r\r摘要。\r"
    assert only_entry(parse_text(text, "f.txt")).abstract_zh == "摘要。"


def test_overlong_heading_abstract_is_rejected_without_keeping_it() -> None:
    lines = ["# Title\n", "[标题](https://arxiv.org/abs/2404.03715)\n", "\n"]
    lines += ["很长的摘要。" * 100 + "\n"] * 100  # 60,000 characters
    lines += ["# Next\n", "[下一篇](https://arxiv.org/abs/2404.04125)\n", "\n", "摘要。\n"]
    items = list(iter_parse_lines(lines, "long.txt"))
    assert isinstance(items[0], Reject)
    assert items[0].line == 1
    assert "60,000 characters, over 20,000" in items[0].reason
    assert isinstance(items[1], SeedEntry)
    assert items[1].arxiv_id == "2404.04125"
