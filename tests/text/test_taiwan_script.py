"""Traditional text reads as Taiwan writes it: every rendered reply of a traditional chat, interface
strings and catalogue text alike, uses 為 / 連結 / 支援, never OpenCC's generic 爲 / 鏈接 / 支持."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from datetime import date, time
from typing import Any

import pytest

from bot.catalogue.model import Paper, TagSource
from bot.model import SearchHit, Subscription, SubscriptionKind, TopicCount
from bot.telegram import render
from bot.text.normalize import Script, to_script

# What OpenCC's generic standard (s2t) writes, and what a Taiwanese reader writes instead.
NOT_TAIWAN = {"爲": "為", "鏈接": "連結", "支持": "支援"}

# Catalogue text in both scripts carrying every word above, so the test fails if any path skips the
# conversion: simplified text through s2t gives 爲/鏈接/支持, traditional text keeps 支持.
_SIMPLIFIED = "为了支持长上下文，本文给出代码链接。"
_TRADITIONAL = "為了支持長上下文，本文給出程式碼鏈接。"
PAPER = Paper(
    "2404.07965",
    "Why we support long context",
    "为什么支持长上下文：链接与记忆",
    _SIMPLIFIED + _TRADITIONAL,
    date(2024, 4, 11),
    True,
    (("上下文長度", TagSource.CATALOGUE), ("評估", TagSource.RULE)),
)
TOPIC_SUB = Subscription(SubscriptionKind.TOPIC, "上下文長度")
KEYWORD_SUB = Subscription(SubscriptionKind.KEYWORD, "支持向量")

# Values for every parameter a renderer takes; a parameter with several values is tried with each.
SAMPLES: dict[str, list[Any]] = {
    "paper": [PAPER],
    "arxiv_id": ["2404.07965"],
    "given": ["", "支持链接"],
    "text": ["<b>为了支持</b>链接"],
    "query": ["支持 链接"],
    "query_id": [3],
    "page": [0, 1],
    "hits": [[SearchHit(PAPER, True), SearchHit(PAPER, False)]],
    "has_more": [True],
    "broadened": [False, True],
    "page_size": [5],
    "suggestions": [["上下文長度", "評估"]],
    "counts": [[TopicCount("上下文長度", 6), TopicCount("評估", 5)], []],
    "subscribed": [frozenset({"上下文長度"}), frozenset(), True, False],
    "name": ["上下文長度"],
    "total": [12],
    "papers": [[PAPER, PAPER], 70],
    "subscription": [TOPIC_SUB, KEYWORD_SUB],
    "status": ["added", "already", "limit", "removed", "not_subscribed"],
    "limit": [20],
    "keyword_query_id": [None, 7],
    "subs": [[], [TOPIC_SUB, KEYWORD_SUB], [(TOPIC_SUB, None), (KEYWORD_SUB, 4)]],
    "push_time": [time(8, 30)],
    "timezone": ["Asia/Taipei"],
    "next_push_at": [None, 1_712_800_000],
    "active": [True, False],
    "kind": ["bad_timezone", "bad_time", "usage"],
    "current": [None, (time(8, 30), "Asia/Taipei")],
    "has_subscriptions": [True, False],
    "related": [(), [PAPER]],
    "via": [None, TOPIC_SUB, KEYWORD_SUB],
    "wait": [0.0, 9.0],
}


def _renderers() -> list[tuple[str, Callable[..., Any]]]:
    """Every public function of render that produces something for a chat of a given script."""
    return [
        (name, fn)
        for name, fn in inspect.getmembers(render, inspect.isfunction)
        if fn.__module__ == render.__name__
        and not name.startswith("_")
        and "script" in inspect.signature(fn).parameters
    ]


def _calls(fn: Callable[..., Any]) -> Iterator[dict[str, Any]]:
    """Keyword arguments for `fn`: first values everywhere, then each other value of one parameter."""
    params = [p for p in inspect.signature(fn).parameters.values() if p.name != "script"]
    missing = [p.name for p in params if p.name not in SAMPLES and p.default is inspect.Parameter.empty]
    assert not missing, f"{fn.__name__}: add sample values for {missing} to SAMPLES"
    fitting = {p.name: [v for v in SAMPLES.get(p.name, []) if _fits(v, p)] for p in params}
    base = {name: values[0] for name, values in fitting.items() if values}
    yield base
    for name, values in fitting.items():
        for value in values[1:]:
            yield {**base, name: value}


def _fits(value: Any, param: inspect.Parameter) -> bool:
    """Whether a sample suits the parameter's annotation (SAMPLES shares names across renderers)."""
    annotation = str(param.annotation)
    if annotation == "bool":
        return isinstance(value, bool)
    if annotation == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if "frozenset" in annotation:
        return isinstance(value, frozenset)
    if "Sequence[tuple" in annotation:
        return isinstance(value, list) and all(isinstance(v, tuple) for v in value)
    if "Sequence[Subscription]" in annotation:
        return isinstance(value, list) and all(isinstance(v, Subscription) for v in value)
    if "Sequence" in annotation:
        return isinstance(value, list | tuple)
    return not isinstance(value, bool) or "bool" in annotation


def _texts(result: Any) -> Iterator[str]:
    """The message text and every button label of a reply (or a plain callback answer)."""
    if isinstance(result, str):
        yield result
        return
    assert isinstance(result, render.Reply)
    yield result.text
    if result.keyboard is not None:
        for row in result.keyboard.inline_keyboard:
            for button in row:
                yield button.text


RENDERERS = _renderers()


def test_every_renderer_is_covered() -> None:
    names = {name for name, _ in RENDERERS}
    # A sanity floor, so a broken discovery cannot make the test below vacuous.
    assert {"paper_card", "search_page", "help_text", "topics_list", "lang_menu", "stale_button"} <= names
    assert len(names) >= 25


@pytest.mark.parametrize(("name", "fn"), RENDERERS, ids=[name for name, _ in RENDERERS])
def test_traditional_replies_use_taiwan_words(name: str, fn: Callable[..., Any]) -> None:
    checked = 0
    for kwargs in _calls(fn):
        for text in _texts(fn(script=Script.TRADITIONAL, **kwargs)):
            for generic, taiwan in NOT_TAIWAN.items():
                assert generic not in text, f"{name}({kwargs}) shows {generic!r} where Taiwan writes {taiwan!r}: {text}"
            checked += 1
    assert checked


def test_catalogue_text_reaches_the_reader_in_taiwan_usage() -> None:
    card = render.paper_card(PAPER, Script.TRADITIONAL).text
    assert "為了支援長上下文" in card
    assert "連結" in card
    simplified = render.paper_card(PAPER, Script.SIMPLIFIED).text
    assert "为了支持长上下文" in simplified  # simplified chats keep the mainland words


def test_command_menu_descriptions_use_taiwan_words() -> None:
    for command in render.COMMANDS:
        description = to_script(command.description, Script.TRADITIONAL)
        assert not any(word in description for word in NOT_TAIWAN), description
    assert to_script("按 arXiv ID 或链接查看论文", Script.TRADITIONAL) == "按 arXiv ID 或連結檢視論文"


@pytest.mark.parametrize(
    ("simplified", "taiwan"),
    [
        ("为了", "為了"),
        ("支持的写法", "支援的寫法"),
        ("链接", "連結"),
        ("软件和信息", "軟體和資訊"),
        ("数据集", "資料集"),
        ("视频生成", "影片生成"),
        ("搜索论文", "搜尋論文"),
    ],
)
def test_to_script_uses_taiwan_phrases(simplified: str, taiwan: str) -> None:
    assert to_script(simplified, Script.TRADITIONAL) == taiwan
