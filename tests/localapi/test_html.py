"""Telegram entity parsing (bot.localapi.html): accepted markup, exact error texts, UTF-8/UTF-16 positions."""

from __future__ import annotations

import pytest

from bot.localapi.html import EntityParseError, parse_html, parse_markdown, parse_markdown_v2, parse_text, utf16_len


def test_utf16_len_counts_astral_characters_twice() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("量化") == 2
    assert utf16_len("😀") == 2
    assert utf16_len("a😀b") == 4


def test_basic_tags_and_aliases() -> None:
    text, entities = parse_html(
        "<b>B</b><strong>S</strong><i>I</i><em>E</em><u>U</u><ins>N</ins><s>X</s><strike>Y</strike><del>Z</del>"
    )
    assert text == "BSIEUNXYZ"
    assert [e["type"] for e in entities] == [
        "bold",
        "bold",
        "italic",
        "italic",
        "underline",
        "underline",
        "strikethrough",
        "strikethrough",
        "strikethrough",
    ]
    assert [e["offset"] for e in entities] == list(range(9))


def test_offsets_are_utf16_after_emoji_and_entities() -> None:
    text, entities = parse_html("😀 &lt;<b>粗体</b> &#128512;<i>x</i>")
    assert text == "😀 <粗体 😀x"
    assert entities == [
        {"type": "bold", "offset": 4, "length": 2},
        {"type": "italic", "offset": 9, "length": 1},
    ]


def test_named_and_numeric_entities() -> None:
    text, _ = parse_html("&lt;&gt;&amp;&quot;&#65;&#x42;")
    assert text == '<>&"AB'


def test_links_spoilers_code_blockquote_and_emoji() -> None:
    text, entities = parse_html(
        '<a href="https://arxiv.org/abs/2401.00001?a=1&b=2">论文</a> '
        '<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler> '
        '<pre><code class="language-python">x = 1</code></pre> <code class="language-go">c</code> '
        "<blockquote expandable>q</blockquote><blockquote>r</blockquote>"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
    )
    assert text == "论文 st x = 1 c qr👍"
    by_type = {e["type"]: e for e in entities}
    assert by_type["text_link"]["url"] == "https://arxiv.org/abs/2401.00001?a=1&b=2"
    assert [e["offset"] for e in entities if e["type"] == "spoiler"] == [3, 4]
    assert by_type["pre"] == {"type": "pre", "offset": 6, "length": 5, "language": "python"}
    assert by_type["code"] == {"type": "code", "offset": 12, "length": 1}  # a lone code loses its language
    assert by_type["expandable_blockquote"]["offset"] == 14
    assert by_type["blockquote"]["offset"] == 15
    assert by_type["custom_emoji"]["custom_emoji_id"] == "5368324170671202286"


def test_link_without_href_uses_its_text_and_bad_schemes_are_dropped() -> None:
    _, entities = parse_html("<a>https://example.org</a>")
    assert entities[0]["url"] == "https://example.org"
    text, entities = parse_html('<a href="javascript:alert(1)">x</a>')
    assert text == "x" and entities == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("héllo <x>", 'Unsupported start tag "x" at byte offset 7'),
        ("你好<br>", 'Unsupported start tag "br" at byte offset 6'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("a <b", "Unclosed start tag at byte offset 2"),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("Tom & Jerry", "Can't find end of the entity starting at byte offset 4"),
        ("论文 &nbsp;", "Can't find end of the entity starting at byte offset 7"),
        ("&amp without semicolon", "Can't find end of the entity starting at byte offset 0"),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        (
            '<a href="x" target>y</a>',
            'Expected equal sign in declaration of an attribute of the tag "a" at byte offset 0',
        ),
        ("<b>x</b >y</b", "Unexpected end tag at byte offset 10"),
        ('<tg-emoji emoji-id="abc">x</tg-emoji>', "Invalid custom emoji identifier specified"),
    ],
)
def test_html_errors_match_telegram(source: str, message: str) -> None:
    with pytest.raises(EntityParseError) as caught:
        parse_html(source)
    assert str(caught.value) == message


def test_bare_ampersand_is_accepted_when_not_strict() -> None:
    assert parse_html("Tom & Jerry &nbsp;", strict_ampersand=False)[0] == "Tom & Jerry &nbsp;"


def test_bare_greater_than_is_harmless() -> None:
    assert parse_html("a > b")[0] == "a > b"


def test_markdown_v2_entities_escapes_and_reserved_characters() -> None:
    text, entities = parse_markdown_v2(r"*bold* _it_ __u__ ~s~ ||sp|| `c.d` [arXiv](https://arxiv.org) 1\.5")
    assert text == "bold it u s sp c.d arXiv 1.5"
    assert [e["type"] for e in entities] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "text_link",
    ]
    with pytest.raises(EntityParseError) as caught:
        parse_markdown_v2("版本 1.5")
    assert str(caught.value) == "Character '.' is reserved and must be escaped with the preceding '\\'"
    with pytest.raises(EntityParseError) as caught:
        parse_markdown_v2("*open")
    assert str(caught.value) == "Can't find end of Bold entity at byte offset 0"


def test_legacy_markdown() -> None:
    text, entities = parse_markdown("*b* _i_ `c` [t](https://t.me)")
    assert text == "b i c t"
    assert [e["type"] for e in entities] == ["bold", "italic", "code", "text_link"]
    with pytest.raises(EntityParseError) as caught:
        parse_markdown("a *b")
    assert str(caught.value) == "Can't find end of the entity starting at byte offset 2"


def test_parse_text_trims_like_telegram_and_moves_entities() -> None:
    text, entities = parse_text("\n\n  <b>hi</b> there \n", "HTML")
    assert text == "hi there"
    assert entities == [{"type": "bold", "offset": 0, "length": 2}]
    assert parse_text("  ", None) == ("", [])
    with pytest.raises(ValueError, match="unsupported parse_mode"):
        parse_text("x", "BBCode")
