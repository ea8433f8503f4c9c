"""Fixtures: the fake sources on a loopback port, settings pointing at them, a refresh service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bot.catalogue.topics import Taxonomy
from bot.config import Settings, SourcesSettings
from bot.services.refresh import RefreshService, build_fetcher
from bot.services.refresh_worker import RefreshWorker
from bot.sources.config import SourceSpec, parse_sources
from bot.sources.http import Politeness
from bot.storage.db import Database
from tests.sources.fakes import FakeSources, start


@dataclass
class Clock:
    """A wall clock the test moves, and a monotonic clock + sleep that never really sleeps."""

    now: datetime
    mono: float = 1000.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    async def sleep(self, seconds: float) -> None:
        self.mono += max(seconds, 0.0)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 12, 2, 6, 0, tzinfo=UTC))


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeSources, str]]:
    sources = FakeSources()
    runner, url = await start(sources)
    yield sources, url
    await runner.cleanup()


@pytest.fixture
def fake_settings(settings: Settings, fake: tuple[FakeSources, str]) -> Settings:
    _, url = fake
    return settings.with_overrides(
        sources=SourcesSettings(
            arxiv_feed_url=f"{url}/atom",
            arxiv_api_url=f"{url}/api/query",
            arxiv_delay=0.0,
            hf_api_url=f"{url}/hf/api",
            timeout=2.0,
            max_bytes=200_000,
        )
    )


SPECS = """
[[source]]
name = "arxiv"
kind = "arxiv"
categories = ["cs.CL", "cs.CV", "cs.LG", "cs.AI"]
announce_types = ["new", "replace"]
schedule = { days = ["mon", "tue", "wed", "thu", "fri"], at = "00:30", timezone = "America/New_York" }

[[source]]
name = "digest"
kind = "digest"
urls = ["URL/lists/2026-12.md"]
schedule = { every_hours = 6 }

[[source]]
name = "hf_daily"
kind = "hf_daily"
schedule = { every_hours = 24 }
"""


def specs_for(url: str) -> list[SourceSpec]:
    import tomllib

    return parse_sources(tomllib.loads(SPECS.replace("URL", url)))


MakeService = Callable[..., Awaitable[RefreshService]]


@pytest.fixture(scope="session")
def refresh_worker() -> Iterator[RefreshWorker]:
    """One real worker process for the session's services (each job names its database): starting a
    process and importing scikit-learn in it once, not per test."""
    worker = RefreshWorker()
    yield worker
    asyncio.run(worker.close())


@pytest.fixture
async def make_service(
    db: Database,
    fake_settings: Settings,
    taxonomy: Taxonomy,
    fake: tuple[FakeSources, str],
    clock: Clock,
    refresh_worker: RefreshWorker,
) -> AsyncIterator[MakeService]:
    made: list[RefreshService] = []

    async def make(specs: list[SourceSpec] | None = None, politeness: Politeness | None = None) -> RefreshService:
        fetcher = build_fetcher(fake_settings, politeness or Politeness(0.0, clock=clock.monotonic, sleep=clock.sleep))
        service = RefreshService(
            db, fake_settings, taxonomy, specs or specs_for(fake[1]), fetcher, clock=clock, worker=refresh_worker
        )
        made.append(service)
        return service

    yield make
    for service in made:
        await service.close()
