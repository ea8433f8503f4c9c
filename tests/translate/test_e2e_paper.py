"""/paper of a paper that arrived in English, over HTTP against the local Bot API and the fake model:
the English card at once, the marked Chinese edited in (in the chat's script), the English original a
tap away; without a model the English card; every failure leaves the English card and a retry."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import Settings, TranslationSettings
from bot.storage.db import connect
from bot.telegram.local import LocalBot, running_locally
from tests.conftest import ADMIN_ID
from tests.telegram.conftest import E2E_LIMITS, Chat, button_data
from tests.translate.fake_llm import FakeModel, Mode
from tests.translate.helpers import ABSTRACTS, english, subscribe, write_papers

PAPER = "2605.00100"


@pytest.fixture
def english_paper(settings: Settings, seeded: Path) -> str:
    write_papers(settings.database, [english(PAPER, ABSTRACTS[0])])
    return PAPER


@asynccontextmanager
async def bot_with(settings: Settings, fake: FakeModel | None, **options: float) -> AsyncIterator[LocalBot]:
    if fake is not None:
        config = TranslationSettings(
            url=fake.base_url, model="fake-translator", api_key=fake.api_key, timeout=5.0, wait=8.0, interval=3600.0
        )
        config = replace(config, **options)  # type: ignore[arg-type]
        settings = settings.with_overrides(translation=config)
    async with running_locally(settings, limits=E2E_LIMITS) as local:
        yield local
        await local.api.wait_idle()
        assert local.api.errors() == [], "the bot made requests Telegram would reject"


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def translation_row(settings: Settings) -> tuple[str, int | None] | None:
    conn = sqlite3.connect(settings.database)
    try:
        row = conn.execute("SELECT status, next_attempt_at FROM translations WHERE arxiv_id = ?", (PAPER,)).fetchone()
    finally:
        conn.close()
    return (row[0], row[1]) if row else None


async def test_the_chinese_is_edited_into_the_card_in_the_chats_script(
    settings: Settings, english_paper: str, fake: FakeModel
) -> None:
    fake.slow_seconds = 0.1
    fake.then(Mode.SLOW)
    async with bot_with(settings, fake, timeout=5.0) as bot:
        bob = Chat(bot.api, bot.api.add_private_chat(1002, "Bob", language_code="zh-hant"), 1002)
        [card] = await bob.say(f"/paper {english_paper}")
        # At once: the English original and a note that Chinese is on its way (in Bob's script).
        assert "hallucinate" in card.text and "正在生成中文翻譯" in card.text and card.edited == 0
        await until(lambda: card.edited == 1)
        await bot.api.wait_idle()
        assert "🤖 機器翻譯" in card.text and "hallucinate" not in card.text
        assert "訓練" in card.text and "训练" not in card.text  # traditional, as Bob reads
        assert "LoRA" in card.text and "要點" in card.text
        assert f"en:{english_paper}" in button_data(card)
        await bob.press(card, data=f"en:{english_paper}")
        assert "hallucinate" in card.text and "英文原文" in card.text and f"zh:{english_paper}" in button_data(card)
        await bob.press(card, data=f"zh:{english_paper}")
        assert "🤖 機器翻譯" in card.text
        # A simplified-script chat reads the same translation in simplified characters.
        alice = Chat(bot.api, bot.api.add_private_chat(1001, "Alice", language_code="zh-hans"), 1001)
        [again] = await alice.say(f"/paper {english_paper}")
        assert "🤖 机器翻译" in again.text and "训练" in again.text and again.edited == 0
    assert len(fake.requests) == 1
    assert translation_row(settings) == ("done", None)


async def test_without_a_model_the_card_is_english(settings: Settings, english_paper: str) -> None:
    async with bot_with(settings, None) as bot:
        alice = Chat(bot.api, bot.api.add_private_chat(1001, "Alice", language_code="zh-hans"), 1001)
        [card] = await alice.say(f"/paper {english_paper}")
        await asyncio.sleep(0.2)
        assert "hallucinate" in card.text and "正在生成" not in card.text and "机器翻译" not in card.text
        assert card.edited == 0 and not any(d.startswith("en:") for d in button_data(card))
    assert translation_row(settings) is None


@pytest.mark.parametrize(
    "mode",
    [
        Mode.RATE_LIMITED,
        Mode.SERVER_ERROR,
        Mode.HANG,
        Mode.NOT_A_COMPLETION,
        Mode.ENGLISH,
        Mode.ECHO_RULES,
        Mode.OBEY_INJECTION,
    ],
)
async def test_a_failure_leaves_the_english_card_and_a_retry(
    settings: Settings, english_paper: str, fake: FakeModel, mode: Mode
) -> None:
    fake.default = mode
    async with bot_with(settings, fake, timeout=0.3 if mode is Mode.HANG else 5.0) as bot:
        alice = Chat(bot.api, bot.api.add_private_chat(1001, "Alice", language_code="zh-hans"), 1001)
        [card] = await alice.say(f"/paper {english_paper}")
        # Sent with a "translating" note, then edited back to the plain English card.
        await until(lambda: card.edited == 1)
        await bot.api.wait_idle()
        assert "hallucinate" in card.text and "正在生成" not in card.text and "机器翻译" not in card.text
        assert "evil.example.com" not in card.text
    status, retry_at = translation_row(settings) or ("", None)
    assert status in {"failed", "rejected"} and retry_at is not None


async def test_curated_chinese_wins_over_a_machine_translation(settings: Settings, seeded: Path) -> None:
    conn = connect(settings.database)  # the search index's triggers need fts_text()
    conn.execute(
        "INSERT INTO translations (arxiv_id, version, status, title_zh, abstract_zh, created_at, updated_at)"
        " SELECT arxiv_id, version, 'done', '機器標題', '機器摘要內容', '', ''"
        " FROM papers WHERE arxiv_id = '2404.07965'"
    )
    conn.commit()
    conn.close()
    async with bot_with(settings, None) as bot:
        alice = Chat(bot.api, bot.api.add_private_chat(1001, "Alice", language_code="zh-hans"), 1001)
        [card] = await alice.say("/paper 2404.07965")
        assert "Rho-1" in card.text and "机器摘要" not in card.text and "机器翻译" not in card.text


async def test_stats_shows_tokens_per_day_and_per_paper(
    settings: Settings, english_paper: str, fake: FakeModel
) -> None:
    async with bot_with(settings, fake) as bot:
        admin = Chat(bot.api, bot.api.add_private_chat(ADMIN_ID, "Admin", language_code="zh-hans"), ADMIN_ID)
        [card] = await admin.say(f"/paper {english_paper}")
        await until(lambda: card.edited == 1)
        [report] = await admin.say("/stats")
    assert "translation: model fake-translator" in report.text
    assert f"1 papers, {fake.prompt_tokens + fake.completion_tokens:,} tokens" in report.text
    assert f"{english_paper}v1" in report.text


async def test_a_pushed_card_keeps_naming_its_subscription_when_switched_to_english(
    settings: Settings, english_paper: str, fake: FakeModel
) -> None:
    subscribe(settings.database, 1001, "keyword", "hallucinate")
    async with bot_with(settings, fake) as bot:
        alice = Chat(bot.api, bot.api.add_private_chat(1001, "Alice", language_code="zh-hans"), 1001)
        [card] = await alice.say(f"/paper {english_paper}")
        await until(lambda: card.edited == 1)
        [pushed] = await alice.say("/today")
        assert "来自订阅：关键词「hallucinate」" in pushed.text and "🤖 机器翻译" in pushed.text
        await alice.press(pushed, data=f"en:{english_paper}")
        assert "来自订阅：关键词「hallucinate」" in pushed.text and "英文原文" in pushed.text
        await alice.press(pushed, data=f"zh:{english_paper}")
        assert "来自订阅：关键词「hallucinate」" in pushed.text and "🤖 机器翻译" in pushed.text
        await alice.press(card, data=f"en:{english_paper}")
        assert "来自订阅" not in card.text  # a /paper card was not pushed: it says nothing of the kind
