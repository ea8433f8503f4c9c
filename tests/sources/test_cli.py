"""`python -m bot refresh`, `sources` and `paper` against the fake servers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main
from tests.sources.conftest import SPECS
from tests.sources.fakes import Digest, FakePaper, FakeSources
from tests.sources.test_refresh import DIGEST_MONTH, QUANT


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seeded: Path, fake: tuple[FakeSources, str]) -> Path:
    _, url = fake
    sources = tmp_path / "sources.toml"
    sources.write_text(SPECS.replace("URL", url), encoding="utf-8")
    for name, value in {
        "BOT_DATABASE": str(seeded),
        "BOT_SOURCES": str(sources),
        "BOT_ARXIV_FEED_URL": f"{url}/atom",
        "BOT_ARXIV_API_URL": f"{url}/api/query",
        "BOT_ARXIV_DELAY": "0",
        "BOT_HF_API_URL": f"{url}/hf/api",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("bot.cli.setup_logging", lambda *_: None)
    return sources


async def test_refresh_reports_each_source_and_fails_when_one_fails(
    env: Path, fake: tuple[FakeSources, str], capsys: pytest.CaptureFixture[str]
) -> None:
    server, _ = fake
    server.add(QUANT, listed=True)
    server.digests["2026-12.md"] = Digest(DIGEST_MONTH)
    server.hf = [{"paper": {"id": "2612.00020", "title": "Hugging Paper", "summary": "S.", "upvotes": 3}}]
    assert await asyncio.to_thread(main, ["refresh"]) == 0
    out = capsys.readouterr().out
    assert "arxiv (arxiv): fetched 1, new 1, updated 0, unchanged 0, rejected 0" in out
    assert "digest (digest): fetched 2, new 2" in out and "not arXiv papers" in out
    assert "hf_daily (hf_daily): fetched 1, new 1" in out

    server.digests.clear()  # the list disappears: 404
    assert await asyncio.to_thread(main, ["refresh", "digest"]) == 1
    assert "digest (digest): FAILED" in capsys.readouterr().out

    assert await asyncio.to_thread(main, ["sources"]) == 0
    out = capsys.readouterr().out
    assert "last error:" in out and "papers contributed: 2" in out and "next run:" in out

    assert await asyncio.to_thread(main, ["refresh", "nope"]) == 2


async def test_paper_fetches_an_unknown_id_from_arxiv(
    env: Path, fake: tuple[FakeSources, str], capsys: pytest.CaptureFixture[str]
) -> None:
    server, _ = fake
    server.add(FakePaper("2612.00042", "A Fetched Paper", "Its abstract."))
    assert await asyncio.to_thread(main, ["paper", "https://arxiv.org/abs/2612.00042v1"]) == 0
    captured = capsys.readouterr()
    assert "fetching from arXiv" in captured.err and "A Fetched Paper" in captured.out
    assert await asyncio.to_thread(main, ["paper", "2612.00043"]) == 1
    assert "arXiv has no paper 2612.00043" in capsys.readouterr().out
    server.fault = "reset"
    assert await asyncio.to_thread(main, ["paper", "2612.00044"]) == 1
    assert "try again later" in capsys.readouterr().out
