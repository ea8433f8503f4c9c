import sqlite3

import pytest

from bot.storage.fts import index_text, match_expression, query_terms


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
