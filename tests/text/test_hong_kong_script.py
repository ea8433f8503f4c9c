"""Hong Kong traditional (繁體（香港）, OpenCC s2hk): every rendered reply of a Hong Kong chat — interface
strings, catalogue text, buttons — is the simplified reply converted to Hong Kong forms, none left in
Taiwan's or the mainland's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.telegram import render
from bot.text.normalize import Script, to_hongkong, to_script
from tests.text.test_taiwan_script import PAPER, RENDERERS, _calls, _texts

# The /lang buttons name each script in its own script, on purpose.
LANG_LABELS = {"繁體中文", "繁體（香港）", "简体中文"}
# Replies that name the chat's script, so the simplified reply says something else.
NAMES_THE_SCRIPT = {"lang_menu", "lang_set"}


@pytest.mark.parametrize(("name", "fn"), RENDERERS, ids=[name for name, _ in RENDERERS])
def test_hong_kong_replies_are_the_simplified_ones_in_hong_kong_forms(name: str, fn: Callable[..., Any]) -> None:
    checked = 0
    for kwargs in _calls(fn):
        hong_kong = list(_texts(fn(script=Script.HONG_KONG, **kwargs)))
        simplified = list(_texts(fn(script=Script.SIMPLIFIED, **kwargs)))
        assert len(hong_kong) == len(simplified)
        for hk, hans in zip(hong_kong, simplified, strict=True):
            if hk in LANG_LABELS:
                continue
            expected = to_hongkong(hk if name in NAMES_THE_SCRIPT else hans)
            assert hk == expected, f"{name}({kwargs}): {hk!r} is not in Hong Kong forms"
            assert "訂閱" not in hk and "裡" not in hk, f"{name}({kwargs}) shows Taiwan forms: {hk}"
            checked += 1
    assert checked


def test_a_hong_kong_card_and_interface_read_as_hong_kong_writes() -> None:
    card = render.paper_card(PAPER, Script.HONG_KONG)
    assert "訂閲" in "".join(_texts(card))  # the topic buttons: 订阅 -> 訂閲 (Taiwan: 訂閱)
    assert "為了支持長上下文" in card.text  # catalogue text, from either script
    menu = render.lang_menu(Script.HONG_KONG)
    assert "當前使用：繁體（香港）" in menu.text
    assert menu.keyboard is not None
    assert [b.text for b in menu.keyboard.inline_keyboard[0]] == ["繁體中文", "繁體（香港）", "简体中文"]
    assert render.lang_set(Script.HONG_KONG).text == "好的，以後使用繁體（香港）。"


def test_command_descriptions_in_hong_kong_forms() -> None:
    for command in render.COMMANDS:
        assert to_script(command.description, Script.HONG_KONG) == to_hongkong(command.description)
    assert to_script("订阅主题或关键词", Script.HONG_KONG) == "訂閲主題或關鍵詞"
