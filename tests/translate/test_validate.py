"""Validation on answers written by hand: what a faithful translation looks like and what it must not do."""

from __future__ import annotations

import json

import pytest

from bot.translate.validate import Parsed, Rejected, parse, validate

TITLE = "Sparse Attention for Long-Context Reasoning"
ABSTRACT = (
    "We propose a sparse attention scheme that lets a 7B LLM read 128k tokens at the cost of 8k. Blocks are "
    "selected by a learned router and the rest are summarised. On long-document QA the model matches dense "
    "attention while using a fifth of the memory. Code is at https://github.com/example/sparse-attn."
)
GOOD_TITLE = "面向長上下文推理的稀疏注意力機制"
GOOD = (
    "我們提出一種稀疏注意力方案，使 7B 的 LLM 能以 8k 的代價讀取 128k 個 token。注意力塊由學習得到的路由器選擇，"
    "其餘部分則被摘要。在長文件問答上，該模型與稠密注意力表現相當，而只使用五分之一的記憶體。"
    "程式碼見 https://github.com/example/sparse-attn。"
)


def answer(title: str = GOOD_TITLE, abstract: str = GOOD, key: str = "") -> Parsed:
    return Parsed(title, abstract, key)


def test_a_faithful_translation_passes_and_is_traditional() -> None:
    simplified = GOOD.replace("們", "们").replace("種", "种").replace("記憶體", "内存")
    text = validate(TITLE, ABSTRACT, answer(abstract=simplified, key="提出稀疏注意力，以五分之一记忆体处理长文本。"))
    assert "我們" in text.abstract_zh and "种" not in text.abstract_zh
    assert text.key_point.startswith("提出稀疏注意力") and "記憶體" in text.key_point


def test_parse_tolerates_fences_and_reasoning() -> None:
    raw = json.dumps({"title": GOOD_TITLE, "abstract": GOOD}, ensure_ascii=False)
    assert parse(f"<think>let me think</think>\n```json\n{raw}\n```").title == GOOD_TITLE
    with pytest.raises(Rejected):
        parse("[1, 2]")
    with pytest.raises(Rejected):
        parse('{"title": 3, "abstract": "x"}')


@pytest.mark.parametrize(
    ("title", "abstract", "reason"),
    [
        ("", GOOD, "title: empty"),
        (GOOD_TITLE, "   ", "abstract: empty"),
        (GOOD_TITLE, GOOD[:30], "implausible length"),
        (GOOD_TITLE, GOOD * 4, "implausible length"),
        (GOOD_TITLE, GOOD.replace("https://github.com/example/sparse-attn", "https://bit.ly/win-prize"), "URL"),
        (GOOD_TITLE, GOOD + " 更多請見 www.example-prize.com", "URL"),
        (GOOD_TITLE, "以下是翻譯：" + GOOD, "chatter"),
        (GOOD_TITLE, "As an AI language model, I cannot translate this. " + GOOD, "chatter"),
        ("Sparse Attention", GOOD, "title: not mostly Chinese"),
        (GOOD_TITLE, "本論文では、スパースアテンションを提案する。" * 6, "not Chinese"),
        (GOOD_TITLE, "우리는 희소 어텐션을 제안한다. " * 8, "not Chinese"),
    ],
)
def test_bad_translations_are_rejected(title: str, abstract: str, reason: str) -> None:
    with pytest.raises(Rejected, match=reason):
        validate(TITLE, ABSTRACT, answer(title, abstract))


def test_a_url_the_source_has_is_kept() -> None:
    assert "https://github.com/example/sparse-attn" in validate(TITLE, ABSTRACT, answer()).abstract_zh


def test_a_bad_key_point_is_dropped_not_fatal() -> None:
    text = validate(TITLE, ABSTRACT, answer(key="Visit http://spam.example.org now"))
    assert text.key_point == "" and text.abstract_zh


def test_chatter_words_the_source_itself_uses_are_fine() -> None:
    source = "We ask whether models say 'as an AI' too often. " + ABSTRACT
    validate(TITLE, source, answer(abstract="我們研究模型是否過於頻繁地說「as an AI」。" + GOOD))
