"""Fixtures: a `Database` on a temp file, the fake model, a clock and a translation service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage.db import Database, connect
from bot.translate.service import TranslationService
from tests.translate.fake_llm import FakeModel
from tests.translate.helpers import Clock, make_service


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.sqlite3"


@pytest.fixture
async def database(db_path: Path) -> AsyncIterator[Database]:
    connect(db_path).close()
    db = await Database.open(db_path)
    yield db
    await db.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeModel]:
    async with FakeModel(api_key="sk-test-SECRET-never-print-123456") as model:
        yield model


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def service(database: Database, fake: FakeModel, clock: Clock) -> AsyncIterator[TranslationService]:
    svc = make_service(database, fake, clock)
    yield svc
    await svc.close()
