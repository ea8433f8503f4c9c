"""Sending planned rows: pacing, bounded concurrency, Telegram's refusals, and batched state writes.

Scheduling: each chat with rows is a job in a heap ordered by the instant it may send next. A pool of
`PushSettings.concurrency` workers pops the earliest job, sends ONE message and pushes the job back
`per_chat_interval` later (or after a 429's retry_after, or a backoff). So with many chats, messages
go out round-robin and pacing never holds a worker; one slow or failing chat occupies one worker at
most while the others go on. A global `RateLimiter` spaces all sends (`global_rate`/s; <= 0: off), and
a semaphore keeps at most `concurrency` HTTP calls in flight across overlapping fan-outs and /today.

Telegram's answers (bot.push.errors): RetryLater puts the message back to 'planned' and the chat back in
the heap after retry_after (not counted as an attempt; all sends pause too when the limit is the bot's:
said so, or two chats told to wait within a second); TransientError retries with exponential backoff
(1 s, 2 s, 4 s ... capped at 60 s) up to `max_attempts`, then 'failed'; ChatUnavailable deactivates the
chat and fails its remaining rows; ChatMoved moves the chat's data to the new id and sends there; any
other exception fails that one message (logged) and the fan-out goes on.

State writes are batched by `StateWriter` (group commit): each message's 'sending' mark must be durable
before the HTTP call, so a worker waits for it, but all marks and outcomes requested meanwhile share
one transaction. Outcomes ('sent', 'failed') are not waited for: if the process dies before they are
flushed, those rows stay 'sending' and become 'unknown' at the next start. That is the trade-off:
a crash may leave a few delivered messages labelled 'unknown' instead of 'sent', but it can never
cause a message to be sent twice, and the per-message cost is a fraction of one commit. A worker
stopped between its mark and the HTTP call (cancellation, shutdown) puts the row back to 'planned'.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial

from bot.catalogue.model import Paper
from bot.config import PushSettings
from bot.model import DeliveryState, Subscription
from bot.push.errors import ChatMoved, ChatUnavailable, RetryLater, TransientError
from bot.push.planner import ChatPlan
from bot.push.sender import Sender
from bot.storage.chats import ChatStore
from bot.storage.deliveries import DeliverySession, DeliveryStore, Final, PlannedRow
from bot.storage.papers import PaperStore

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Finisher = Callable[[DeliverySession, Sequence[tuple[int, str]], datetime], None]

MAX_RETRY_LATER = 10  # 429s for one message before giving up on it (they don't count as attempts)
MAX_MOVES = 3  # ChatMoved answers for one message (a chain of migrations is not expected)
BACKOFF_BASE = 1.0  # seconds; doubled per transient failure
BACKOFF_CAP = 60.0
GLOBAL_429_WINDOW = 1.0  # two chats told "retry later" this close together: the limit is the bot's
PAPER_CACHE = 20_000


class RateLimiter:
    """Spaces sends `1/rate` seconds apart across all chats, and pauses them all after a global 429."""

    def __init__(self, rate: float, now: Callable[[], float], sleep: Sleep) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._now = now
        self._sleep = sleep
        self._next = 0.0
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._now() + seconds)

    async def wait(self) -> None:
        now = self._now()
        if self._interval:
            # Reserve the next slot before sleeping, so concurrent callers queue up instead of colliding.
            slot = max(now, self._next)
            self._next = slot + self._interval
            if slot > now:
                await self._sleep(slot - now)
        while (delay := self._paused_until - self._now()) > 0:
            await self._sleep(delay)


class Claims:
    """Chats a fan-out or /today is serving in this process: nobody else plans or sends for them."""

    def __init__(self) -> None:
        self._held: set[int] = set()
        self._waiters: dict[int, asyncio.Event] = {}

    def __contains__(self, chat_id: object) -> bool:
        return chat_id in self._held

    def take(self, chat_id: int) -> bool:
        if chat_id in self._held:
            return False
        self._held.add(chat_id)
        return True

    def release(self, chat_id: int) -> None:
        self._held.discard(chat_id)
        event = self._waiters.pop(chat_id, None)
        if event is not None:
            event.set()

    def move(self, old: int, new: int) -> None:
        self.release(old)
        self._held.add(new)

    async def wait(self, chat_id: int) -> None:
        """Until no one serves this chat."""
        while chat_id in self._held:
            await self._waiters.setdefault(chat_id, asyncio.Event()).wait()


class StateWriter:
    """Group commit of row states (see the module docstring); one flusher task at a time."""

    def __init__(self, store: DeliveryStore, finisher: Finisher, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._finisher = finisher
        self._clock = clock
        self._sending: list[int] = []
        self._finals: list[Final] = []
        self._finishes: list[tuple[int, str]] = []
        self._after: list[Callable[[], None]] = []  # run once the batch holding a finish is written
        self._waiters: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None

    async def sending(self, row_id: int) -> None:
        """Mark a row 'sending' and return once that is committed."""
        self._sending.append(row_id)
        await self._wait()

    def final(self, final: Final) -> None:
        """Record a row's outcome (committed with the next batch)."""
        self._finals.append(final)
        self._kick()

    def unmark(self, row_id: int, attempts: int) -> None:
        """Undo `sending` for a row whose HTTP call never started: drop the mark if it was not flushed
        yet, else set the row back to 'planned' in a later batch (after the one holding the mark)."""
        try:
            self._sending.remove(row_id)
        except ValueError:
            self.final(Final(row_id, DeliveryState.PLANNED, attempts, None, None))

    def finish(self, chat_id: int, local_date: str, then: Callable[[], None]) -> None:
        """Record a chat's push day as done once its rows' outcomes are committed (same or later batch),
        then call `then` (committed or not: a failed write must not leave the chat claimed forever)."""
        self._finishes.append((chat_id, local_date))
        self._after.append(then)
        self._kick()

    async def drain(self) -> None:
        """Return once everything recorded so far is committed."""
        if self._sending or self._finals or self._finishes or self._task is not None:
            await self._wait()

    async def _wait(self) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        self._kick()
        await future

    def _kick(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while self._sending or self._finals or self._finishes or self._waiters:
                sending, finals, finishes, waiters = self._sending, self._finals, self._finishes, self._waiters
                after = self._after
                self._sending, self._finals, self._finishes, self._waiters, self._after = [], [], [], [], []
                apply = partial(self._apply, sending=sending, finals=finals, finishes=finishes, now=self._clock())
                try:
                    await self._store.run(apply)
                except Exception as exc:
                    log.exception("push: writing delivery states failed")
                    for future in waiters:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                finally:
                    for then in after:
                        then()
                for future in waiters:
                    if not future.done():
                        future.set_result(None)
        finally:
            self._task = None

    def _apply(
        self,
        session: DeliverySession,
        sending: list[int],
        finals: list[Final],
        finishes: list[tuple[int, str]],
        now: datetime,
    ) -> None:
        # Outcomes first: a row reverted to 'planned' after a 429 may be 'sending' again in this batch.
        session.finals(finals)
        session.mark_sending(sending)
        if finishes:
            self._finisher(session, finishes, now)


@dataclass(slots=True)
class Tally:
    """What one fan-out did."""

    chats: int = 0
    sent: int = 0  # papers delivered
    notices: int = 0  # exhaustion notices delivered
    failed: int = 0
    retried: int = 0  # 429s and transient errors retried
    deactivated: int = 0
    moved: int = 0


@dataclass(eq=False, slots=True)
class _Job:
    plan: ChatPlan
    chat_id: int
    pos: int = 0
    attempts: int = 0  # of the current row
    waits: int = 0  # 429s of the current row
    moves: int = 0
    marked: bool = False  # the current row is durably 'sending'
    done: bool = False


@lru_cache(maxsize=4096)
def _subscription(key: str) -> Subscription:
    return Subscription.from_key(key)


class Dispatcher:
    """Sends chat plans; shared by the fan-outs and /today of one PushService."""

    def __init__(
        self,
        *,
        sender: Sender,
        chats: ChatStore,
        papers: PaperStore,
        deliveries: DeliveryStore,
        writer: StateWriter,
        claims: Claims,
        push: PushSettings,
        now: Callable[[], float],
        stamp: Callable[[], str],
        sleep: Sleep,
    ) -> None:
        self._sender = sender
        self._chats = chats
        self._papers = papers
        self._deliveries = deliveries
        self._writer = writer
        self._claims = claims
        self._push = push
        self._now = now
        self._stamp = stamp
        self._sleep = sleep
        self._limiter = RateLimiter(push.global_rate, now, sleep)
        self._slots = asyncio.Semaphore(max(1, push.concurrency))
        self._paper_cache: dict[str, Paper] = {}
        self._last_429 = (float("-inf"), 0)

    async def run(self, plans: Sequence[ChatPlan]) -> Tally:
        """Send every plan's rows; release each chat's claim when its rows are done.

        A BaseException (cancellation, a crash) propagates at once: rows in flight stay 'sending'.
        """
        tally = Tally(chats=len(plans))
        jobs = [_Job(plan, plan.chat_id) for plan in plans]
        start = self._now()
        heap = [(start, i, job) for i, job in enumerate(jobs)]  # sorted already: a valid heap
        order = itertools.count(len(jobs))

        async def worker() -> None:
            while heap:
                ready, _, job = heapq.heappop(heap)
                delay = ready - self._now()
                if delay > 0:
                    await self._sleep(delay)
                if job.plan.pending is not None and not await self._logged(job):
                    continue
                again = await self._step(job, tally) if job.pos < len(job.plan.rows) else None
                if again is None:
                    self._done(job)
                else:
                    heapq.heappush(heap, (again, next(order), job))

        tasks = [asyncio.create_task(worker()) for _ in range(min(max(1, self._push.concurrency), len(jobs)))]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for job in jobs:
                if not job.done:
                    self._claims.release(job.chat_id)
        return tally

    async def _logged(self, job: _Job) -> bool:
        """Log the job's new rows (with its chunk's, see push.service.ChunkLog); False if that failed: the
        chat is dropped from this fan-out, sent nothing new, and stays due for the next tick."""
        assert job.plan.pending is not None
        try:
            await job.plan.pending()
        except Exception:
            log.exception("push: logging the planned messages of chat %s failed", job.chat_id)
            job.done = True
            self._claims.release(job.chat_id)
            return False
        return True

    def _done(self, job: _Job) -> None:
        job.done = True
        if job.plan.finish:
            # The chat stays claimed until its day is recorded, so the next tick never sees it due and free.
            self._writer.finish(job.chat_id, job.plan.local_date, partial(self._claims.release, job.chat_id))
        else:
            self._claims.release(job.chat_id)

    def _settle(self, job: _Job, row: PlannedRow, state: DeliveryState, error: str | None) -> float | None:
        """Record the current row's outcome and move on; when the job may send again (None: done)."""
        self._writer.final(Final(row.id, state, job.attempts, error, self._stamp()))
        job.pos += 1
        job.attempts = job.waits = 0
        job.marked = False
        return self._now() + self._push.per_chat_interval if job.pos < len(job.plan.rows) else None

    async def _paper(self, job: _Job, arxiv_id: str) -> Paper | None:
        paper = self._paper_cache.get(arxiv_id)
        if paper is None:
            # Fetch the rest of this chat's papers at once; most chats share them, so the cache hits.
            cache = self._paper_cache
            wanted = {r.arxiv_id for r in job.plan.rows[job.pos :] if r.arxiv_id and r.arxiv_id not in cache}
            if len(self._paper_cache) + len(wanted) > PAPER_CACHE:
                self._paper_cache.clear()
            self._paper_cache.update(await self._papers.get_many(sorted(wanted)))
            paper = self._paper_cache.get(arxiv_id)
        return paper

    async def _step(self, job: _Job, tally: Tally) -> float | None:
        """Send the job's current row once; when the job may send again (None: it is done)."""
        row = job.plan.rows[job.pos]
        paper = None
        if row.arxiv_id is not None:
            paper = await self._paper(job, row.arxiv_id)
            if paper is None:
                tally.failed += 1
                return self._settle(job, row, DeliveryState.FAILED, "paper not in catalogue")
        await self._ready(job, row)
        refused: Exception | None = None
        try:
            await self._send(job, row, paper)
        except Exception as exc:  # a BaseException (cancellation, a crash) leaves the row 'sending'
            refused = exc
        finally:
            self._slots.release()
        if refused is not None:
            return await self._refused(job, row, refused, tally)
        if paper is None:
            tally.notices += 1
        else:
            tally.sent += 1
        return self._settle(job, row, DeliveryState.SENT, None)

    async def _ready(self, job: _Job, row: PlannedRow) -> None:
        """Wait for the global pace, make the row durably 'sending', and take one of the HTTP slots."""
        await self._limiter.wait()
        try:
            if not job.marked:
                job.marked = True
                await self._writer.sending(row.id)  # durable before the HTTP call: never sent twice
            await self._slots.acquire()
        except BaseException:
            # Stopped before the HTTP call (cancelled, or the mark failed): certainly not sent, so the row
            # goes back to 'planned' and is sent later, instead of ending 'unknown' after a restart.
            if job.marked:
                self._writer.unmark(row.id, job.attempts)
                job.marked = False
            raise

    async def _send(self, job: _Job, row: PlannedRow, paper: Paper | None) -> None:
        """The one HTTP call: the paper card, or the exhaustion notice when there is no paper."""
        subscription = _subscription(row.subscription)
        job.attempts += 1
        if paper is None:
            await self._sender.send_exhausted(job.chat_id, job.plan.script, subscription, row.total)
        else:
            await self._sender.send_paper(job.chat_id, job.plan.script, paper, subscription)

    async def _refused(self, job: _Job, row: PlannedRow, exc: Exception, tally: Tally) -> float | None:
        """What a refusal (bot.push.errors) or an unexpected error means for the row and the chat; when the
        job may send again (None: it is done)."""
        if isinstance(exc, RetryLater):
            return self._retry_later(job, row, exc, tally)
        if isinstance(exc, ChatMoved):
            job.attempts -= 1
            job.moves += 1
            if job.moves > MAX_MOVES:
                tally.failed += 1
                return self._settle(job, row, DeliveryState.FAILED, "chat moved too often")
            await self._move(job, exc.new_chat_id)
            tally.moved += 1
            return self._now() if job.pos < len(job.plan.rows) else None
        if isinstance(exc, ChatUnavailable):
            await self._unavailable(job, exc.reason, tally)
            return None
        if isinstance(exc, TransientError):
            if job.attempts >= self._push.max_attempts:
                tally.failed += 1
                return self._settle(job, row, DeliveryState.FAILED, f"transient: {exc}"[:200])
            tally.retried += 1
            return self._now() + min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** (job.attempts - 1))
        # A bug or an unmapped API error: this message fails, the fan-out goes on.
        log.error("push: sending to chat %s failed", job.chat_id, exc_info=exc)
        tally.failed += 1
        return self._settle(job, row, DeliveryState.FAILED, f"{type(exc).__name__}: {exc}"[:200])

    def _retry_later(self, job: _Job, row: PlannedRow, exc: RetryLater, tally: Tally) -> float | None:
        job.attempts -= 1  # a 429 is not a failure
        job.waits += 1
        if job.waits > MAX_RETRY_LATER:
            tally.failed += 1
            return self._settle(job, row, DeliveryState.FAILED, "rate limited too often")
        now = self._now()
        last_at, last_chat = self._last_429
        if exc.all_chats or (last_chat != job.chat_id and now - last_at < GLOBAL_429_WINDOW):
            self._limiter.pause(exc.seconds)
        self._last_429 = (now, job.chat_id)
        # Telegram refused it, so it was not delivered: back to 'planned' (sent after a restart too).
        self._writer.final(Final(row.id, DeliveryState.PLANNED, job.attempts, "429", None))
        job.marked = False
        tally.retried += 1
        return now + exc.seconds

    async def _move(self, job: _Job, new_chat_id: int) -> None:
        """The group became a supergroup: move its data (unless already moved) and continue there."""
        old = job.chat_id
        if await self._chats.get(old) is not None:
            await self._chats.migrate(old, new_chat_id)
        self._claims.move(old, new_chat_id)
        job.chat_id = new_chat_id
        # Merging into an existing supergroup drops the old group's rows for papers it already had.
        rest = job.plan.rows[job.pos :]
        alive = await self._deliveries.existing([r.id for r in rest], new_chat_id)
        current = rest[0].id
        job.plan.rows[job.pos :] = [r for r in rest if r.id in alive]
        job.marked = job.marked and current in alive

    async def _unavailable(self, job: _Job, reason: str, tally: Tally) -> None:
        """Blocked, kicked or gone: deactivate, and fail this and the remaining rows."""
        await self._chats.deactivate(job.chat_id, reason)
        tally.deactivated += 1
        first = True
        while job.pos < len(job.plan.rows):
            tally.failed += 1
            self._settle(
                job, job.plan.rows[job.pos], DeliveryState.FAILED, reason[:200] if first else "chat unavailable"
            )
            first = False
