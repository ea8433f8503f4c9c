"""Cards and listings of machine-translated papers: marker, key point, toggle button, escaping, limits."""

from __future__ import annotations

from dataclasses import replace

from bot.catalogue.model import MachineTranslation
from bot.model import SearchHit
from bot.telegram import callbacks, render
from bot.telegram.callbacks import Action
from bot.text.normalize import Script
from tests.translate.helpers import ABSTRACTS, english

MACHINE = MachineTranslation(
    "檢索增強的<罕見>實體問答", "我們提出一種方法 & 讓 LLM 引用段落。", "以檢索<b>約束</b>回答。", "m"
)


def data(reply: render.Reply) -> list[str]:
    if reply.keyboard is None:
        return []
    return [b.callback_data for row in reply.keyboard.inline_keyboard for b in row if isinstance(b.callback_data, str)]


def test_machine_card_is_marked_escaped_and_offers_the_original() -> None:
    paper = replace(english("2605.00200", ABSTRACTS[0]), machine=MACHINE)
    card = render.paper_card(paper, Script.TRADITIONAL)
    assert "🤖 機器翻譯" in card.text and "&lt;罕見&gt;" in card.text and "&amp;" in card.text
    assert "要點：以檢索&lt;b&gt;約束&lt;/b&gt;回答。" in card.text
    assert "hallucinate" not in card.text
    assert data(card)[0] == "en:2605.00200"
    original = render.paper_card(paper, Script.SIMPLIFIED, original=True)
    assert "hallucinate" in original.text and "英文原文" in original.text and "罕见" not in original.text
    assert data(original)[0] == "zh:2605.00200"


def test_curated_chinese_wins_and_english_only_shows_english() -> None:
    curated = replace(english("2605.00201"), abstract_zh="人工摘要。", title_zh="人工標題", machine=MACHINE)
    card = render.paper_card(curated, Script.SIMPLIFIED)
    assert "人工摘要" in card.text and "机器翻译" not in card.text and data(card) == []
    plain = render.paper_card(english("2605.00202", ABSTRACTS[2]), Script.SIMPLIFIED, translating=True)
    assert "episodic memory" in plain.text and "正在生成中文翻译" in plain.text


def test_huge_machine_text_still_fits_telegram() -> None:
    huge = MachineTranslation("標" * 400, "譯" * 6000, "點" * 150, "m")
    paper = replace(english("hep-th/9901001", "word " * 2000), machine=huge)
    for script in Script:
        for original in (False, True):
            card = render.paper_card(paper, script, original=original)
            assert render.visible_len(card.text) <= render.MAX_TEXT
    assert callbacks.decode("en:hep-th/9901001") == callbacks.Callback(Action.ORIGINAL, "hep-th/9901001")
    assert callbacks.decode("zh:2605.00200v2") is None  # only canonical IDs come back


def test_search_listing_uses_the_machine_title_and_text() -> None:
    paper = replace(english("2605.00203", ABSTRACTS[0]), machine=MACHINE)
    page = render.search_page("方法", 1, 0, [SearchHit(paper, False)], False, Script.SIMPLIFIED)
    assert "检索增强的&lt;罕见&gt;实体问答" in page.text and "我们提出一种方法" in page.text
