"""The operator command line, as an operator runs it."""

import logging
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from bot.cli import main


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BOT_DATABASE", str(tmp_path / "cli.sqlite3"))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    # No CLI test reaches the internet: arXiv is an address where nothing listens.
    monkeypatch.setenv("BOT_ARXIV_API_URL", "http://127.0.0.1:9/api/query")
    monkeypatch.setenv("BOT_ARXIV_FEED_URL", "http://127.0.0.1:9/atom")
    monkeypatch.setenv("BOT_ARXIV_DELAY", "0")
    # main() installs the process's log handlers; pytest owns them here.
    monkeypatch.setattr("bot.cli.setup_logging", lambda *_: None)
    return tmp_path / "cli.sqlite3"


def test_ingest_paper_search_topics(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topics", "--evaluate"]) == 1  # nothing to measure against yet
    assert "run `python -m bot ingest` first" in capsys.readouterr().err
    assert main(["ingest"]) == 0
    assert "distinct papers: 70" in capsys.readouterr().out
    assert main(["paper", "https://arxiv.org/pdf/2404.07839v1.pdf"]) == 0
    out = capsys.readouterr().out
    assert "RecurrentGemma" in out and "Gemma-2B" in out
    assert main(["search", "量化"]) == 0
    assert "2404.14047" in capsys.readouterr().out
    assert main(["topics"]) == 0
    assert "多模態LLM" in capsys.readouterr().out
    assert main(["topics", "--evaluate"]) == 0
    out = capsys.readouterr().out
    assert "precision" in out and "in-sample" in out and "papers left without any topic" in out
    held_out = Path(__file__).parent / "catalogue" / "fixtures" / "heldout_papers.toml"
    assert main(["topics", "--evaluate", "--papers", str(held_out)]) == 0
    out = capsys.readouterr().out
    assert f"[{held_out}]" in out and "held out: papers the rules were not written with" in out
    assert main(["topics", "--papers", str(held_out)]) == 2
    assert main(["topics", "--evaluate", "--papers", str(held_out.with_name("missing.toml"))]) == 2


def test_unknown_and_invalid_papers(capsys: pytest.CaptureFixture[str]) -> None:
    main(["ingest"])
    capsys.readouterr()
    assert main(["paper", "2501.00001"]) == 1
    captured = capsys.readouterr()
    assert "not in the catalogue, fetching from arXiv" in captured.err
    assert "arXiv cannot be reached right now; try again later" in captured.out
    assert main(["paper", "<b>hi</b>"]) == 2
    assert "not an arXiv ID" in capsys.readouterr().out


def test_stats_on_an_empty_database(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats"]) == 0
    assert "chats: 0" in capsys.readouterr().out


def test_run_without_token_or_terminal_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    # pytest captures stdin/stdout, so there is no terminal here.
    assert main(["run"]) == 2
    assert "TELEGRAM_BOT_TOKEN" in capsys.readouterr().err


def test_a_search_index_folded_by_other_code_is_rebuilt_before_answering(
    database: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    main(["ingest"])
    with closing(sqlite3.connect(database)) as raw:
        raw.execute("UPDATE search_index SET folding = 'index_text 0; OpenCC 1.1.9; Unicode 14.0.0'")
        raw.execute("INSERT INTO papers_fts (papers_fts) VALUES ('delete-all')")  # its tokens are not ours
        raw.commit()
    capsys.readouterr()
    with caplog.at_level(logging.INFO, logger="bot.storage.index"):
        assert main(["search", "多模態"]) == 0
    assert "2404" in capsys.readouterr().out
    assert "70/70 papers re-indexed" in caplog.text
