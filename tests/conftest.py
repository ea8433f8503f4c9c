"""Shared fixtures: settings pointing at a temp-file database, the real taxonomy and seeds."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.catalogue.topics import Taxonomy
from bot.config import Settings, SourcesSettings, load_settings
from bot.services.ingest import ingest
from bot.storage.db import Database, connect

# python-telegram-bot warns (an error under filterwarnings=error) when it builds RetryAfter with an
# int unless it is told to use timedelta: the 429 tests need the modern behaviour.
os.environ.setdefault("PTB_TIMEDELTA", "true")
# OpenBLAS (numpy and scipy, loaded when the topic model first trains) keeps a thread per core spinning
# between calls: on a 2-core machine shared with other work that made the tagging tests cost 5-10x
# their CPU time (4 s instead of 23-40 s for the tagger, tagging and CLI tests). Set before numpy loads.
for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

ROOT = Path(__file__).resolve().parents[1]
ADMIN_ID = 4242


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    return Taxonomy.load(ROOT / "config" / "topics.toml")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(ROOT / "config" / "bot.toml", {}).with_overrides(
        database=tmp_path / "bot.sqlite3",
        seeds=ROOT / "seeds",
        topics=ROOT / "config" / "topics.toml",
        admin_ids=frozenset({ADMIN_ID}),
        # No test reaches the internet: arXiv and Hugging Face are an address where nothing listens
        # (tests that need them start the fakes of tests/sources/fakes.py).
        sources=SourcesSettings(
            arxiv_feed_url="http://127.0.0.1:9/atom",
            arxiv_api_url="http://127.0.0.1:9/api/query",
            arxiv_delay=0.0,
            hf_api_url="http://127.0.0.1:9/hf/api",
            timeout=2.0,
        ),
    )


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory, taxonomy: Taxonomy) -> Path:
    """The real seeds ingested once per session (about half a second: the ingest trains the topic model)."""
    path = tmp_path_factory.mktemp("seeded") / "bot.sqlite3"
    conn = connect(path)
    try:
        ingest(conn, [ROOT / "seeds"], taxonomy)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    # Closing the last connection checkpoints and deletes the WAL: the one file holds the whole database.
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture
def seeded(settings: Settings, seeded_template: Path) -> Path:
    """The real seeds ingested into the test database (a copy of the session's ingest: each test may
    change its own); returns its path."""
    assert settings.seeds == ROOT / "seeds"
    shutil.copyfile(seeded_template, settings.database)
    return settings.database


@pytest.fixture
async def db(seeded: Path) -> AsyncIterator[Database]:
    database = await Database.open(seeded)
    yield database
    await database.close()
