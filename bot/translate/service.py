"""Translating ahead of need: which papers, how fast, within which budget, and what happens on failure.

- **What**: paper versions with English only (no curated Chinese abstract) and no valid translation.
  Papers matching an active chat's topic or keyword come first (they may be pushed next); then the
  newest others. `/paper` asks for one paper at once (`translate_now`), on slots of its own so a
  background batch never queues in front of a user.
- **Budget**: tokens and papers per UTC day (config `[translation]`). Work on papers nobody follows
  stops at `1 - push_reserve` of the budget; the reserve is for followed papers and /paper.
- **Failures**: a transport error or a rejected answer is recorded with a retry time (exponential
  backoff with jitter, from a minute up to a day, at least the server's Retry-After); the English stays
  on the card meanwhile. A 429 also pauses every request until its Retry-After has passed.
- **Never blocking**: no handler reply and no push awaits this; callers run it in background tasks,
  and one request is bounded by the client's timeout.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.catalogue.model import MachineTranslation
from bot.config import Settings, TranslationSettings
from bot.storage.db import Database
from bot.storage.translations import Candidate, Tokens, TranslationStatus, TranslationStore
from bot.translate.client import ChatClient, FailureKind, ModelError
from bot.translate.glossary import Glossary
from bot.translate.prompt import PROMPT_VERSION, build_messages
from bot.translate.validate import Rejected, parse, validate

log = logging.getLogger(__name__)

BACKOFF_FIRST = 60.0  # seconds before the first retry
BACKOFF_MAX = 86_400.0
BACKOFF_REQUEST_ERROR = 3600.0  # a wrong model name or key will not fix itself in a minute
URGENT_SLOTS = 2  # /paper requests in flight beside the background work
DEFAULT_PAUSE = 30.0  # after a 429 without Retry-After
TOKENS_PER_PAPER_GUESS = 1500  # reserved per request in flight, so a full batch cannot overshoot the budget


Task = asyncio.Task[MachineTranslation | None]


def _judge(candidate: Candidate, content: str, model: str) -> MachineTranslation:
    """Parse and validate an answer (Rejected when it is not a usable translation)."""
    return validate(candidate.title_en, candidate.abstract_en, parse(content), model)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class RunReport:
    """What a batch (or a whole backfill) did."""

    attempted: int = 0
    translated: int = 0
    rejected: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    stopped: str = ""  # why it ended before running out of work: "budget", "rate limited", "busy"
    papers: list[str] = field(default_factory=list)  # translated IDs, in completion order

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: RunReport) -> None:
        self.attempted += other.attempted
        self.translated += other.translated
        self.rejected += other.rejected
        self.failed += other.failed
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.papers += other.papers
        self.stopped = other.stopped

    def summary(self) -> str:
        line = (
            f"translated {self.translated} of {self.attempted} attempted ({self.rejected} rejected, "
            f"{self.failed} failed), {self.tokens:,} tokens"
        )
        return line + (f"; stopped: {self.stopped}" if self.stopped else "")


@dataclass(frozen=True)
class Outcome:
    """One attempt at one paper."""

    status: TranslationStatus
    text: MachineTranslation | None
    tokens: Tokens
    error: str = ""
    kind: FailureKind | None = None
    retry_after: float | None = None


class TranslationService:
    """Papers to Chinese through a `ChatClient`, recorded in `TranslationStore`."""

    def __init__(
        self,
        store: TranslationStore,
        client: ChatClient,
        settings: TranslationSettings,
        glossary: Glossary,
        *,
        clock: Callable[[], datetime] = _utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.settings = settings
        self._client = client
        self._glossary = glossary
        self._clock = clock
        self._monotonic = monotonic
        self._rng = rng
        self._background = asyncio.Semaphore(settings.concurrency)
        self._urgent = asyncio.Semaphore(URGENT_SLOTS)
        self._inflight: dict[str, Task] = {}
        self._followers: set[asyncio.Task[None]] = set()
        self._paused_until = 0.0
        self._run_lock = asyncio.Lock()

    @property
    def model(self) -> str:
        return self._client.model

    def paused(self) -> bool:
        """Whether a 429's Retry-After is still running."""
        return self._monotonic() < self._paused_until

    def busy(self, arxiv_id: str) -> bool:
        """Whether this paper is being translated right now."""
        return arxiv_id in self._inflight

    # -- one paper -----------------------------------------------------------------------------------

    async def _attempt(self, candidate: Candidate) -> Outcome:
        """Ask the model once and judge the answer (no database writes)."""
        # Prompt building and validation (regexes, OpenCC) run off the event loop: handlers share it.
        messages = await asyncio.to_thread(build_messages, candidate.title_en, candidate.abstract_en, self._glossary)
        try:
            completion = await self._client.complete(messages)
        except ModelError as exc:
            if exc.kind is FailureKind.RATE_LIMITED:
                pause = exc.retry_after if exc.retry_after is not None else DEFAULT_PAUSE
                self._paused_until = max(self._paused_until, self._monotonic() + pause)
            log.warning("translation of %s failed: %s (%s)", candidate.arxiv_id, exc.kind, exc)
            return Outcome(TranslationStatus.FAILED, None, Tokens(), f"{exc.kind}: {exc}", exc.kind, exc.retry_after)
        try:
            text = await asyncio.to_thread(_judge, candidate, completion.content, completion.model)
        except Rejected as exc:
            log.warning("translation of %s rejected: %s", candidate.arxiv_id, exc)
            return Outcome(TranslationStatus.REJECTED, None, completion.tokens, f"rejected: {exc}")
        return Outcome(TranslationStatus.DONE, text, completion.tokens)

    def _retry_at(self, now: datetime, attempts: int, outcome: Outcome) -> int:
        delay = min(BACKOFF_FIRST * 2 ** max(attempts, 0), BACKOFF_MAX) * (0.5 + self._rng())
        if outcome.kind is FailureKind.REQUEST:
            delay = max(delay, BACKOFF_REQUEST_ERROR)
        if outcome.retry_after is not None:
            delay = max(delay, outcome.retry_after)
        return int(now.timestamp() + delay)

    async def _translate(self, candidate: Candidate) -> Outcome:
        """One attempt, recorded with its tokens; a failure gets its retry time."""
        outcome = await self._attempt(candidate)
        now = self._clock()
        next_at = None
        if outcome.status is not TranslationStatus.DONE:
            previous = await self.store.get(candidate.arxiv_id, candidate.version)
            next_at = self._retry_at(now, previous.attempts if previous else 0, outcome)
        await self.store.record(
            candidate,
            outcome.status,
            now=now,
            tokens=outcome.tokens,
            text=outcome.text,
            error=outcome.error or None,
            next_attempt_at=next_at,
            prompt_version=PROMPT_VERSION,
        )
        return outcome

    async def allowed(self, priority: bool) -> bool:
        """Whether today's budget admits one more request of this priority."""
        share = 1.0 if priority else 1.0 - self.settings.push_reserve
        usage = await self.store.usage(self._clock().date().isoformat())
        reserved = len(self._inflight) * TOKENS_PER_PAPER_GUESS
        return (
            usage.tokens.total + reserved < self.settings.daily_tokens * share
            and usage.papers + len(self._inflight) < self.settings.daily_papers * share
        )

    async def translate_now(self, arxiv_id: str) -> MachineTranslation | None:
        """The Chinese of one paper as soon as possible (for /paper); None when it cannot be had now.

        Joins a translation already under way; otherwise uses the urgent slots. A paper that failed
        twice or more keeps its backoff even here, so a stubborn paper does not cost tokens per tap.
        """
        running = self._inflight.get(arxiv_id)
        if running is None:
            # Registered before the first await, so a second tap joins instead of asking twice.
            running = self._start(arxiv_id, self._urgent_one(arxiv_id))
        return await asyncio.shield(running)

    async def _urgent_one(self, arxiv_id: str) -> MachineTranslation | None:
        candidate = await self.store.source(arxiv_id)
        if candidate is None or self.paused() or not await self.allowed(True):
            return None
        previous = await self.store.get(candidate.arxiv_id, candidate.version)
        if (
            previous is not None
            and previous.attempts >= 2
            and (previous.next_attempt_at or 0) > self._clock().timestamp()
        ):
            return None
        async with self._urgent:
            return (await self._translate(candidate)).text

    def _start(self, arxiv_id: str, work: Coroutine[Any, Any, MachineTranslation | None]) -> Task:
        task = asyncio.create_task(work)
        self._inflight[arxiv_id] = task
        task.add_done_callback(lambda _: self._inflight.pop(arxiv_id, None))
        return task

    # -- batches -------------------------------------------------------------------------------------

    async def run_once(
        self, limit: int | None = None, progress: Callable[[RunReport], None] | None = None
    ) -> RunReport:
        """Translate up to `limit` (default: the configured batch) papers, followed papers first.

        Stops early on the budget or a 429 pause; a run already in progress makes this one a no-op.
        """
        report = RunReport()
        if self._run_lock.locked():
            report.stopped = "busy"
            return report
        async with self._run_lock:
            if self.paused():
                report.stopped = "rate limited"
                return report
            now = int(self._clock().timestamp())
            batch = await self.store.candidates(now, limit or self.settings.batch, exclude=frozenset(self._inflight))

            async def one(candidate: Candidate) -> None:
                async with self._background:
                    if report.stopped:
                        return
                    if self.paused():
                        report.stopped = "rate limited"
                        return
                    if candidate.arxiv_id in self._inflight:
                        return
                    if not await self.allowed(candidate.priority):
                        report.stopped = "budget"
                        return

                    async def work() -> MachineTranslation | None:
                        outcome = await self._translate(candidate)
                        report.attempted += 1
                        report.prompt_tokens += outcome.tokens.prompt
                        report.completion_tokens += outcome.tokens.completion
                        if outcome.status is TranslationStatus.DONE:
                            report.translated += 1
                            report.papers.append(candidate.arxiv_id)
                        elif outcome.status is TranslationStatus.REJECTED:
                            report.rejected += 1
                        else:
                            report.failed += 1
                        if progress is not None:
                            progress(report)
                        return outcome.text

                    await asyncio.shield(self._start(candidate.arxiv_id, work()))

            await asyncio.gather(*(one(c) for c in batch))
        return report

    async def backfill(
        self, limit: int | None = None, progress: Callable[[RunReport], None] | None = None
    ) -> RunReport:
        """Batches until `limit` papers were attempted, nothing is left, or the budget or a 429 stops it."""
        total = RunReport()
        while limit is None or total.attempted < limit:
            size = self.settings.batch if limit is None else min(self.settings.batch, limit - total.attempted)
            base = RunReport()
            base.add(total)

            def forward(batch: RunReport, base: RunReport = base) -> None:
                if progress is not None:
                    view = RunReport()
                    view.add(base)
                    view.add(batch)
                    progress(view)

            report = await self.run_once(size, forward)
            total.add(report)
            if report.stopped or report.attempted == 0:
                break
        return total

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run follow-up work (editing a card) in the background until it ends or the service closes."""
        task = asyncio.create_task(work)
        self._followers.add(task)
        task.add_done_callback(self._followers.discard)

    async def close(self) -> None:
        """Cancel translations and follow-ups in flight and close the HTTP client."""
        tasks = [*self._inflight.values(), *self._followers]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._client.close()


def build_translation(settings: Settings, db: Database) -> TranslationService | None:
    """The service for the configured model, or None without BOT_LLM_URL (English papers stay English)."""
    config = settings.translation
    if not config.enabled:
        return None
    client = ChatClient(config.url, config.model, config.api_key, timeout=config.timeout)
    return TranslationService(TranslationStore(db), client, config, Glossary.load(config.glossary))
