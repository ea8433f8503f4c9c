from datetime import date

from telegram import InlineKeyboardMarkup

from bot.catalogue.model import Paper, TagSource
from bot.model import SearchHit, Subscription, SubscriptionKind, TopicCount
from bot.telegram import render
from bot.text.normalize import Script, to_script

HOSTILE = '<script>alert("x")</script> & <b>unclosed ' + "💥" * 10 + "\u202e\u200b"


def _paper(**changes: object) -> Paper:
    fields: dict[str, object] = {
        "arxiv_id": "2404.07965",
        "title_en": "Title",
        "title_zh": "标题",
        "abstract_zh": "这是一个关于大语言模型量化的摘要。",
        "published": date(2024, 4, 30),
        "date_is_exact": True,
        "topics": (("量化", TagSource.CATALOGUE), ("多模態LLM", TagSource.RULE)),
    }
    fields.update(changes)
    return Paper(**fields)  # type: ignore[arg-type]


def _buttons(markup: InlineKeyboardMarkup | None) -> list[str]:
    if markup is None:
        return []
    return [b.callback_data for row in markup.inline_keyboard for b in row if isinstance(b.callback_data, str)]


def _assert_valid(reply: render.Reply) -> None:
    assert 0 < render.visible_len(reply.text) <= render.MAX_TEXT
    for data in _buttons(reply.keyboard):
        assert 1 <= len(data.encode()) <= 64


def test_card_escapes_hostile_catalogue_text() -> None:
    reply = render.paper_card(_paper(title_en=HOSTILE, title_zh=HOSTILE, abstract_zh=HOSTILE), Script.SIMPLIFIED)
    assert "<script>" not in reply.text
    assert "&lt;script&gt;" in reply.text
    assert "&amp;" in reply.text
    _assert_valid(reply)


def test_card_of_a_huge_abstract_fits_and_links_the_full_text() -> None:
    reply = render.paper_card(_paper(abstract_zh="长" * 5000, title_en="T" * 900), Script.TRADITIONAL)
    _assert_valid(reply)
    assert "阅读全文" in to_script(reply.text, Script.SIMPLIFIED)


def test_card_abstract_with_astral_characters_is_cut_on_utf16_units() -> None:
    reply = render.paper_card(_paper(abstract_zh="😀" * 4000), Script.SIMPLIFIED)
    _assert_valid(reply)


def test_card_follows_the_chat_script() -> None:
    simplified = render.paper_card(_paper(), Script.SIMPLIFIED)
    traditional = render.paper_card(_paper(), Script.TRADITIONAL)
    assert "多模态LLM" in simplified.text and "多模態LLM" not in simplified.text
    assert "多模態LLM" in traditional.text and "標題" in traditional.text


def test_card_shows_month_only_dates_as_months_and_the_push_reason() -> None:
    via = Subscription(SubscriptionKind.TOPIC, "量化")
    reply = render.paper_card(_paper(date_is_exact=False), Script.SIMPLIFIED, via=via)
    assert "2024-04" in reply.text and "2024-04-30" not in reply.text
    assert "来自订阅：量化" in reply.text


def test_card_buttons_toggle_topics_and_open_related_papers() -> None:
    related = [_paper(arxiv_id="2404.00001", title_en="Other")]
    reply = render.paper_card(_paper(), Script.SIMPLIFIED, related=related, subscribed=frozenset({"量化"}))
    assert _buttons(reply.keyboard) == ["tv:量化", "ts:多模態LLM", "p:2404.00001"]


def test_search_page_numbers_buttons_and_paging() -> None:
    hits = [SearchHit(_paper(arxiv_id=f"2404.0000{i}"), True) for i in range(1, 6)]
    reply = render.search_page("量化", 7, 1, hits, True, Script.SIMPLIFIED)
    data = _buttons(reply.keyboard)
    assert data[:5] == [f"p:2404.0000{i}" for i in range(1, 6)]
    assert data[5:] == ["s:7:0", "s:7:2"]
    assert "6. " in reply.text and "10. " in reply.text
    _assert_valid(reply)


def test_search_page_with_hostile_query_and_results_stays_valid() -> None:
    hits = [SearchHit(_paper(title_en=HOSTILE * 20, abstract_zh=HOSTILE * 50), False)] * 5
    reply = render.search_page(HOSTILE * 100, 1, 0, hits, False, Script.TRADITIONAL)
    assert "<script>" not in reply.text
    _assert_valid(reply)


def test_topic_list_skips_buttons_whose_data_would_not_fit() -> None:
    counts = [TopicCount("量化", 3), TopicCount("超" * 30, 1)]
    reply = render.topics_list(counts, frozenset({"量化"}), Script.SIMPLIFIED)
    assert _buttons(reply.keyboard) == ["tt:量化"]
    assert "✅ 量化 · 3 篇" in reply.text


def test_snippet_centres_on_the_query_word() -> None:
    text = "开头" * 50 + "关键的量化方法" + "结尾" * 50
    assert "量化" in render.snippet(text, "量化")
    assert render.snippet(text, "量化").startswith("…")


def test_cut_never_splits_a_surrogate_pair() -> None:
    cut = render.cut("😀😀😀", 4)
    assert cut == "😀…"
    assert render.utf16_len(cut) <= 4


def test_deep_link_payload_round_trips() -> None:
    for arxiv_id in ("2404.07965", "hep-th/9901001", "math.GT/0309136"):
        payload = render.deep_link_payload(arxiv_id)
        assert all(c.isalnum() or c in "_-" for c in payload) and len(payload) <= 64
        assert render.parse_deep_link(payload) == arxiv_id


def test_help_lists_every_command_with_an_example() -> None:
    text = render.help_text(Script.SIMPLIFIED).text
    for command in render.COMMANDS:
        assert f"/{command.name} " in text
        assert command.example.split()[0] == f"/{command.name}"
