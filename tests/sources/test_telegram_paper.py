"""/paper of a paper the catalogue does not hold, end to end: the real Application on the local Bot API,
the fake arXiv behind it. "Fetching…" at once, edited into the card (or a clear answer) within 15 s."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings
from bot.localapi import SentMessage
from bot.storage import sources as source_state
from bot.storage.db import connect
from bot.telegram.local import LocalBot, running_locally
from tests.conftest import ADMIN_ID, ROOT
from tests.sources.fakes import FakePaper, FakeSources
from tests.telegram.conftest import E2E_LIMITS, Chat


@pytest.fixture
async def bot(fake_settings: Settings, seeded: Path, tmp_path: Path) -> AsyncIterator[LocalBot]:
    sources = tmp_path / "sources.toml"  # no scheduled source: only /paper talks to the fake
    sources.write_text("", encoding="utf-8")
    settings = fake_settings.with_overrides(sources=dataclasses.replace(fake_settings.sources, file=sources))
    async with running_locally(settings, limits=E2E_LIMITS) as local:
        yield local
        await local.api.wait_idle()
        assert local.api.errors() == [], "the bot made requests Telegram would reject"


async def edited(message: SentMessage, within: float = 15.0) -> float:
    """Seconds until the message was edited (fails after `within`)."""
    start = time.monotonic()
    while not message.edited:
        assert time.monotonic() - start < within, f"not edited within {within} s: {message.text!r}"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_unknown_id_is_fetched_shown_and_searchable(bot: LocalBot, fake: tuple[FakeSources, str]) -> None:
    server, _ = fake
    server.add(FakePaper("2612.00042", "Glimmerwave Transformers", "We introduce glimmerwave attention."))
    alice = Chat(bot.api, 1001, 1001)
    [card] = await alice.say("/paper https://arxiv.org/abs/2612.00042v1")
    assert "arXiv" in card.html
    await edited(card)
    assert "Glimmerwave Transformers" in card.text and "glimmerwave attention" in card.text
    [results] = await alice.say("/search glimmerwave")
    assert "Glimmerwave Transformers" in results.text
    [again] = await alice.say("/paper 2612.00042")  # now in the catalogue: a card at once, no new request
    assert "Glimmerwave Transformers" in again.text
    assert [p for p, _, _ in server.requests] == ["/api/query"]


async def test_unknown_and_unreachable_answers_in_the_chats_script(
    bot: LocalBot, fake: tuple[FakeSources, str]
) -> None:
    server, _ = fake
    bob = Chat(bot.api, 1002, 1002)
    [missing] = await bob.say("/paper 2612.99999")
    await edited(missing)
    assert "arXiv 上没有" in missing.text
    server.fault = "500"
    [down] = await bob.say("/paper 2612.99998")
    await edited(down)
    assert "暂时无法连接 arXiv" in down.text and "请稍后再试" in down.text


async def test_stats_show_the_sources_to_admins(bot: LocalBot) -> None:
    admin = Chat(bot.api, ADMIN_ID, ADMIN_ID)
    [report] = await admin.say("/stats")
    assert "sources:" in report.text


def test_fetch_answers_follow_the_script() -> None:
    from bot.telegram import render
    from bot.text.normalize import Script

    assert "arXiv 上沒有" in render.arxiv_unknown("2612.99999", Script.TRADITIONAL).text
    assert "請稍後再試" in render.arxiv_unreachable("2612.99999", Script.TRADITIONAL).text
    assert "排队" in render.fetching("2612.99999", 9.0, Script.SIMPLIFIED).text
    assert "排隊" in render.fetching("2612.99999", 9.0, Script.TRADITIONAL).text


async def refresh_jobs_at_start(
    settings: Settings, seeded: Path, record: Callable[[sqlite3.Connection], object] | None = None
) -> dict[str, datetime | None]:
    """The refresh jobs (name -> next run) of a bot started with the shipped sources.toml on `seeded`,
    after `record` wrote what earlier runs left in the source state."""
    if record is not None:
        conn = connect(seeded)
        conn.execute("BEGIN IMMEDIATE")
        record(conn)
        conn.execute("COMMIT")
        conn.close()
    real = settings.with_overrides(sources=dataclasses.replace(settings.sources, file=ROOT / "config" / "sources.toml"))
    async with running_locally(real, limits=E2E_LIMITS) as local:
        queue = local.application.job_queue
        assert queue is not None
        jobs = {job.name: job.next_t for job in queue.jobs() if job.name and job.name.startswith("refresh:")}
        await local.api.wait_idle()
    return jobs


async def test_each_enabled_source_gets_a_job_on_its_schedule(settings: Settings, seeded: Path) -> None:
    jobs = await refresh_jobs_at_start(settings, seeded)
    assert set(jobs) == {"refresh:arxiv", "refresh:seeds"}  # digest and hf_daily are off by default
    arxiv_next = jobs["refresh:arxiv"]
    assert arxiv_next is not None
    local_next = arxiv_next.astimezone(ZoneInfo("America/New_York"))
    assert (local_next.hour, local_next.minute) == (0, 30)
    assert local_next.weekday() in range(5)  # Monday-Friday: after the Sunday-Thursday announcements
    seeds_next = jobs["refresh:seeds"]
    assert seeds_next is not None  # never ran: a minute after start, not a day later
    assert timedelta(0) < seeds_next - datetime.now(UTC) <= timedelta(seconds=61)


async def test_a_source_every_n_hours_runs_n_hours_after_its_last_run_across_a_restart(
    settings: Settings, seeded: Path
) -> None:
    ran = datetime.now(UTC) - timedelta(hours=3)
    jobs = await refresh_jobs_at_start(
        settings,
        seeded,
        lambda c: source_state.record_success(c, "seeds", "seeds", ran, new=0, updated=0, report={}),
    )
    seeds_next = jobs["refresh:seeds"]
    assert seeds_next is not None  # every 24 h: 21 h from now, not 1 minute nor 24 h
    assert abs(seeds_next - (ran + timedelta(hours=24))) < timedelta(seconds=2)


async def test_a_retry_pending_before_a_restart_is_still_made(settings: Settings, seeded: Path) -> None:
    """arXiv failed an hour ago and was to be retried in ten minutes: after a restart it is, instead of
    waiting for the next announcement day."""
    failed = datetime.now(UTC) - timedelta(hours=1)
    retry = datetime.now(UTC) + timedelta(minutes=10)
    jobs = await refresh_jobs_at_start(
        settings, seeded, lambda c: source_state.record_failure(c, "arxiv", "arxiv", failed, "timed out", retry)
    )
    assert "refresh:arxiv" in jobs  # the schedule still applies
    retry_next = jobs["refresh:arxiv:retry"]
    assert retry_next is not None and abs(retry_next - retry) < timedelta(seconds=2)
