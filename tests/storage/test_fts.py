import sqlite3
from datetime import date
from pathlib import Path

import pytest

from bot.catalogue.model import Paper
from bot.storage.db import connect
from bot.storage.fts import Densities, Match, index_text, match_expression, parse_query, query_terms, ranked_matches
from bot.storage.papers import CatalogueWriter


def test_han_runs_become_bigrams_and_latin_is_kept() -> None:
    assert index_text("大語言模型 LLM").split() == ["大语", "语言", "言模", "模型", "llm"]


def test_query_words_become_token_phrases() -> None:
    assert query_terms("多模态 Mixture-of-Experts") == [["多模", "模态"], ["mixture", "of", "experts"]]


@pytest.mark.parametrize(
    "hostile",
    ['"', '"a" OR (b)', "NOT", "*", "a:b", "-x", "AND OR NOT", "'; DROP TABLE papers; --", "NEAR(a b)", "^a"],
)
def test_fts_syntax_in_queries_is_plain_text(hostile: str) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
    conn.execute("INSERT INTO t VALUES (?)", (index_text("a b x not and or near drop table papers"),))
    expression = match_expression(hostile)
    if expression is not None:
        # Must not raise: every word is a quoted phrase.
        conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (expression,)).fetchall()


def test_nothing_searchable_gives_no_expression() -> None:
    assert match_expression("   ") is None
    assert match_expression("！？。") is None
    assert match_expression("\u200b") is None


def _catalogue(path: Path, abstracts: list[str], titles: list[str] | None = None) -> sqlite3.Connection:
    """A catalogue whose papers (oldest first) have these abstracts."""
    conn = connect(path)
    papers = [
        Paper(f"2401.{i:05d}", (titles or [])[i] if titles else f"Paper {i}", "", text, date(2024, 1, 1), True)
        for i, text in enumerate(abstracts)
    ]
    CatalogueWriter(conn).write(papers, [], {})
    return conn


def _ranked(conn: sqlite3.Connection, query: str, mode: Match = Match.PHRASES) -> list[int]:
    parsed = parse_query(query, mode)
    assert parsed is not None
    return [m.rowid for m in ranked_matches(conn, parsed, Densities())]


def test_a_rarer_word_outranks_a_common_one_and_a_title_match_outranks_both(tmp_path: Path) -> None:
    # Papers 1-30: every fifth is about 对齐; 31 is the only one about 量化; 32 has 对齐 in its title.
    abstracts = ["关于对齐的研究。" if i % 5 == 0 else "其他研究。" for i in range(30)]
    abstracts += ["关于量化的研究。", "关于对齐的研究。"]
    titles = [f"Paper {i}" for i in range(31)] + ["Alignment 对齐"]
    conn = _catalogue(tmp_path / "bot.sqlite3", abstracts, titles)
    ranked = _ranked(conn, "对齐 量化", Match.ANY)
    assert ranked == [32, 31, 26, 21, 16, 11, 6, 1]  # title match, the rare word, then newest first


def test_common_characters_are_searched_in_the_newest_papers_and_rare_words_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every paper holds the pairs 上下 and 下文; only the oldest holds them as 上下文, and zebra.
    conn = _catalogue(tmp_path / "bot.sqlite3", ["上下文。zebra"] + ["上下 a 下文"] * 400)
    assert _ranked(conn, "上下文") == [1]
    assert _ranked(conn, "zebra") == [1]
    # With a budget for a few dozen rows of these dense pairs, the phrase is looked for only among
    # the newest papers; a rare word still reaches back to the oldest one.
    monkeypatch.setattr("bot.storage.fts.SCAN_BUDGET", 100)
    assert _ranked(conn, "上下文") == []
    assert _ranked(conn, "zebra") == [1]
    newest = _ranked(conn, "上下文", Match.TOKENS)  # the loosened search finds the newest papers
    assert newest and min(newest) > 300
