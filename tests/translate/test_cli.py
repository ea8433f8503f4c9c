"""`python -m bot translate [--limit N]` and the translation part of `python -m bot stats`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot import cli
from bot.config import Settings, TranslationSettings
from tests.translate.fake_llm import FakeModel, Mode
from tests.translate.helpers import ABSTRACTS, english, write_papers


def with_model(settings: Settings, fake: FakeModel, **options: object) -> Settings:
    config = TranslationSettings(url=fake.base_url, model="fake-translator", api_key=fake.api_key, timeout=5.0, batch=4)
    return settings.with_overrides(translation=replace(config, **options))  # type: ignore[arg-type]


def test_translate_without_a_model_explains_what_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name in ("BOT_LLM_URL", "BOT_LLM_MODEL", "BOT_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOT_DATABASE", str(tmp_path / "bot.sqlite3"))
    assert cli.main(["translate"]) == 2
    assert "BOT_LLM_URL" in capsys.readouterr().err


async def test_backfill_with_a_limit_shows_progress_then_stats(
    settings: Settings, fake: FakeModel, capsys: pytest.CaptureFixture[str]
) -> None:
    write_papers(settings.database, [english(f"2605.0090{i}", ABSTRACTS[i % 3]) for i in range(9)])
    fake.then(Mode.GOOD, Mode.JAPANESE)
    configured = with_model(settings, fake)
    assert await cli._translate(configured, 6) == 0
    captured = capsys.readouterr()
    assert "9 English-only papers without Chinese; translating 6" in captured.err
    assert "[6/6]" in captured.err
    assert "translated 5 of 6 attempted (1 rejected, 0 failed)" in captured.out
    assert await cli._translate(configured, None) == 0
    assert "translated 3 of 3 attempted" in capsys.readouterr().out
    assert await cli._stats(configured) == 0
    report = capsys.readouterr().out
    assert "translation: model fake-translator" in report
    assert "8 papers" in report and f"{fake.prompt_tokens + fake.completion_tokens:,} tokens" in report
    assert "waiting: 1 English-only papers (1 to retry after a failure)" in report
    assert "most tokens per paper:" in report


async def test_backfill_stops_at_the_budget(
    settings: Settings, fake: FakeModel, capsys: pytest.CaptureFixture[str]
) -> None:
    write_papers(settings.database, [english(f"2605.0091{i}", ABSTRACTS[i % 3]) for i in range(5)])
    configured = with_model(settings, fake, daily_papers=4, push_reserve=0.5, concurrency=1)
    assert await cli._translate(configured, None) == 0
    out = capsys.readouterr().out
    assert "translated 2 of 2" in out and "stopped by today's budget" in out


async def test_paper_in_the_terminal_shows_the_marked_translation_and_the_english(
    settings: Settings, fake: FakeModel, capsys: pytest.CaptureFixture[str]
) -> None:
    write_papers(settings.database, [english("2605.00920", ABSTRACTS[1])])
    assert await cli._paper(settings, "2605.00920") == 0
    assert "machine translation" not in capsys.readouterr().out
    assert await cli._translate(with_model(settings, fake), None) == 0
    capsys.readouterr()
    assert await cli._paper(settings, "2605.00920") == 0
    out = capsys.readouterr().out
    assert "[machine translation, fake-translator]" in out and "要点" in out and "outlier channels" in out
