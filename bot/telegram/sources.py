"""The refresh jobs on the JobQueue and /paper's fetch of papers the catalogue does not hold."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from telegram import Message
from telegram.error import TelegramError
from telegram.ext import Application

from bot.catalogue.topics import Taxonomy
from bot.config import Settings
from bot.services.refresh import FETCH_DEADLINE, FetchStatus, RefreshService, backoff, build_fetcher
from bot.sources.config import SourceSpec, load_sources
from bot.storage.db import Database
from bot.telegram import render
from bot.telegram.context import Context, services
from bot.text.normalize import Script

log = logging.getLogger(__name__)
JOB_PREFIX = "refresh:"
FIRST_RUN_DELAY = 60.0  # seconds after start before a due source runs: the bot answers users first


def build_refresh(settings: Settings, database: Database, taxonomy: Taxonomy) -> RefreshService:
    """The refresh service of the running bot (one polite HTTP client for every source and /paper)."""
    return RefreshService(database, settings, taxonomy, load_sources(settings.sources.file), build_fetcher(settings))


async def schedule_refresh(application: Application, service: RefreshService) -> None:  # type: ignore[type-arg]
    """One job per enabled source, on its own schedule; one that runs every N hours first runs N hours
    after its last run (a minute after start if that is past), and a failed run's retry is kept, so
    restarts neither skip nor repeat a run."""
    queue = application.job_queue
    if queue is None:
        return
    now = datetime.now(UTC)
    next_runs = await service.next_runs()
    for spec in service.specs:
        if not spec.enabled:
            continue
        name = f"{JOB_PREFIX}{spec.name}"
        schedule = spec.schedule
        if schedule.every_hours is not None:
            due = next_runs.get(spec.name) or now
            first = max(FIRST_RUN_DELAY, (due - now).total_seconds())
            queue.run_repeating(refresh_job, interval=schedule.every_hours * 3600, first=first, name=name, data=spec)
        else:
            at = schedule.at.replace(tzinfo=ZoneInfo(schedule.timezone)) if schedule.at else None
            # PTB counts days from Sunday = 0; Python's weekday() from Monday = 0.
            days = tuple((d + 1) % 7 for d in schedule.days)
            if at is not None:
                queue.run_daily(refresh_job, time=at, days=days, name=name, data=spec)
            retry = next_runs.get(spec.name)
            if retry is not None and retry < schedule.next_after(now):  # a retry pending from before a restart
                when = max(FIRST_RUN_DELAY, (retry - now).total_seconds())
                queue.run_once(refresh_job, when=when, name=f"{name}:retry", data=spec)


async def refresh_job(context: Context) -> None:
    """Run one source; when it fails, try again after a backoff (the schedule still applies)."""
    job = context.job
    spec = job.data if job is not None else None
    service = services(context).refresh
    if not isinstance(spec, SourceSpec) or service is None:
        return
    report = await service.run_source(spec)
    if report.ok or context.job_queue is None:
        return
    states = {s.spec.name: s.state for s in await service.status()}
    current = states.get(spec.name)
    failures = current.failures if current is not None else 1
    context.job_queue.run_once(
        refresh_job, when=backoff(failures).total_seconds(), name=f"{JOB_PREFIX}{spec.name}:retry", data=spec
    )


async def fetch_into(context: Context, message: Message | None, arxiv_id: str, script: Script) -> render.Reply:
    """Fetch a paper from arXiv and edit the "fetching…" message into its card or a clear answer."""
    svc = services(context)
    refresh = svc.refresh
    assert refresh is not None
    try:
        result = await asyncio.wait_for(refresh.fetch_paper(arxiv_id), FETCH_DEADLINE)
    except TimeoutError:  # the fetch goes on (shielded) and stores the paper for the next /paper
        reply = render.arxiv_slow(arxiv_id, script)
    else:
        if result.status is FetchStatus.FOUND and result.paper is not None:
            reply = render.paper_card(result.paper, script)
        elif result.status is FetchStatus.UNKNOWN:
            reply = render.arxiv_unknown(arxiv_id, script)
        elif result.status is FetchStatus.INVALID:
            reply = render.paper_usage(script, arxiv_id)
        else:
            log.warning("/paper %s: arXiv unreachable: %s", arxiv_id, result.detail)
            reply = render.arxiv_unreachable(arxiv_id, script)
    if message is not None:
        try:
            await message.edit_text(reply.text, reply_markup=reply.keyboard, disable_web_page_preview=True)
        except TelegramError as exc:
            log.warning("could not edit the fetching message: %s", exc)
    return reply


async def sources_report(context: Context) -> str:
    """The sources' state for /stats (admins)."""
    refresh = services(context).refresh
    if refresh is None:
        return ""
    return "sources:\n" + "\n".join(s.format() for s in await refresh.status())
