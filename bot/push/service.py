"""The daily push: which chats are due, what each one gets, and sending it exactly once.

The truth lives in SQLite, not in the scheduler: `chats.next_push_at` (Unix seconds, computed in
Python from the chat's push time and timezone) says when a chat is due, `chats.last_push_date` which
local date was pushed last, and the delivery log (`deliveries`) what was planned and sent. A tick, once
a minute, asks the database which chats are due and pushes them.

Delivery guarantee (exactly once where it can be known, at most once where it cannot):

* A chat's push is planned before anything is sent to it: its rows go into the log as 'planned' in
  one transaction, together with its exhaustion notices. (Chats are decided all at once, but logged
  chunk by chunk as the fan-out reaches them, see ChunkLog; a chat not logged yet was sent nothing and
  stays due.) A paper row is unique per (chat, paper), so no chat can ever be sent the same paper
  twice: not across pushes, /today, restarts or re-ingests.
* Each message is marked 'sending' and that mark is committed before the HTTP call; the outcome
  ('sent' or 'failed') is committed afterwards, in batches.
* After a crash (even kill -9 mid fan-out), `recover()` turns rows left in 'sending' into 'unknown':
  they may have been delivered, so they are never sent again. Rows still 'planned' were certainly not
  sent, and the next tick sends them, so no chat is skipped. A chat's day is recorded as done
  (last_push_date = the local date, next_push_at = the next day's instant) only once none of its rows
  remain planned or sending; until then it stays due, and a planned day is resumed, never re-planned.
* Batching outcomes means a crash can leave a few delivered messages 'unknown' rather than 'sent';
  it never causes a duplicate. A 429 reverts its row to 'planned' (Telegram did not deliver it).
* A message that fails for good (transient errors beyond `max_attempts`, or an unexpected error) is
  marked 'failed' and is NOT re-sent later: it stays in the log, so the chat simply moves on to the
  next newest paper the following day; a failure never blocks a chat's next days.
* A chat that blocked the bot (or vanished) is deactivated, its remaining rows fail, and it is not
  scheduled until it writes again (ChatStore.ensure reactivates it; reschedule() then sets its time).

Missed days are not piled up: after downtime a chat is pushed at once only if today's local push time
has passed and today was not pushed; otherwise it waits for today's time (see planner.decide).

Concurrency: planning is serialized by a lock; a chat being served (by a fan-out or /today) is claimed,
and a later tick skips it while an earlier fan-out is still sending, so ticks may overlap safely: a
long fan-out never holds back chats that fall due after it started.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time as timer
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

from bot.config import Settings
from bot.model import DeliveryState, PushMode, Subscription
from bot.push.dispatcher import Claims, Dispatcher, StateWriter, Tally
from bot.push.planner import (
    Batch,
    CatalogueView,
    ChatPlan,
    ChunkPlan,
    ChunkState,
    PlanContext,
    attach_ids,
    decide,
    list_depth,
    read_chats,
    read_chunk,
    subscription_keys,
    with_state,
    write_rows,
    write_settled,
    zone_and_time,
)
from bot.push.schedule import Calendar, next_push_at, valid_zone
from bot.push.sender import Sender
from bot.storage.chats import ChatStore
from bot.storage.db import Database
from bot.storage.deliveries import ChatRow, DeliverySession, DeliveryStore
from bot.storage.papers import PaperStore

log = logging.getLogger(__name__)
T = TypeVar("T")

PLAN_CHUNK = 2000  # chats per planning transaction: bounded memory, and other queries get a turn between
TODAY_WAIT = 10.0  # seconds /today waits for a push already under way to the same chat


def utcnow() -> datetime:
    """The real clock (PushService's default; tests inject their own)."""
    return datetime.now(UTC)


async def _one(item: T) -> AsyncIterator[T]:
    yield item


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Planning 100,000 chats creates about a million small objects that live until sent, and the cyclic
    collector would rescan them again and again: deciding 100,000 chats x 3 subscriptions (the push
    benchmark's planning step) took 0.86-0.90 s of CPU with the collector and 0.67-0.74 s without it
    (2026-12-02, quiet machine). Nothing here makes reference cycles, so the collector rests for the
    planning pass only; reference counting still frees everything."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class FanoutReport:
    """What one tick did."""

    chats_due: int  # due chats found
    chats_busy: int  # due chats skipped: an earlier fan-out or /today is still serving them
    chats_sent: int  # chats with messages to send (new, resumed or leftover)
    sent: int  # papers delivered
    notices: int  # exhaustion notices delivered
    failed: int
    retried: int
    deactivated: int
    moved: int
    duration: float  # seconds, wall clock


@dataclass(frozen=True)
class TodayResult:
    """What /today did."""

    sent: int  # papers delivered now
    failed: int
    subscriptions: int  # how many the chat has (0: nothing to push)
    exhausted: tuple[Subscription, ...]  # subscriptions with nothing new (told now or earlier)
    notified: tuple[Subscription, ...]  # of which the chat was told now (a send_exhausted message)
    busy: bool = False  # the daily push to this chat is still being delivered: nothing was planned


@dataclass(frozen=True)
class PushStats:
    """For operators (/stats).

    "Today" is a local date: the messages planned for chats' local date equal to today's UTC date,
    i.e. that calendar day's digest in every timezone.
    """

    chats_total: int
    chats_active: int
    subscribers: dict[str, int]  # topic -> active chats following it, most followed first
    date: str
    sent_today: int  # messages (papers and notices) delivered
    failed_today: int
    unknown_today: int  # in flight during a crash: maybe delivered
    pending: int  # planned or sending now, any day
    next_due_at: int | None  # Unix seconds of the next push instant among active chats


class ChunkLog:
    """A decided chunk's new rows, logged as 'planned' (one transaction, `write_rows`) when the fan-out
    first needs one of its chats, and the next chunk's started then, ahead of need.

    Why not at planning: 100,000 chats x 3 papers are 300,000 rows, over a second of inserts before the
    first message could go out, while the fan-out itself sends 25-30 messages a second for hours. Each
    chat's rows are still logged in one transaction before any of them is sent; a chat whose rows were
    never logged was sent nothing, is still due, and is planned afresh by the next tick (or start).
    """

    def __init__(self, deliveries: DeliveryStore, chunk: ChunkPlan, planned_at: str) -> None:
        self._deliveries = deliveries
        self._chunk = chunk
        self._planned_at = planned_at
        self._task: asyncio.Future[None] | None = None
        self.then: ChunkLog | None = None
        for _, owners in chunk.groups.values():
            for plan in owners:
                plan.pending = self.wait

    def start(self) -> asyncio.Future[None]:
        """Begin logging (once)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._write())
        return self._task

    async def wait(self) -> None:
        """Until the chunk's rows are logged; starts the next chunk's logging too."""
        task = self.start()
        if self.then is not None:
            self.then.start()
        await asyncio.shield(task)  # a cancelled waiter must not cancel the write other chats wait for

    async def _write(self) -> None:
        chunk = self._chunk
        write = partial(write_rows, chunk=chunk, groups=chunk.row_groups(), planned_at=self._planned_at)
        attach_ids(chunk, await self._deliveries.run(write))


class PushService:
    """Plans and sends the daily push and /today; see the module docstring for the guarantees."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        sender: Sender,
        *,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._deliveries = DeliveryStore(db)
        self._chats = ChatStore(db)
        papers = PaperStore(db)
        self._papers = papers
        self._claims = Claims()
        self._plan_lock = asyncio.Lock()
        self._writer = StateWriter(self._deliveries, self._finish_days, clock)
        self._dispatcher = Dispatcher(
            sender=sender,
            chats=self._chats,
            papers=papers,
            deliveries=self._deliveries,
            writer=self._writer,
            claims=self._claims,
            push=settings.push,
            now=lambda: clock().timestamp(),
            stamp=self._stamp,
            sleep=sleep,
        )
        self._recovered = False
        self._resume = True  # collect rows left 'planned' by an earlier process at the next tick

    def _stamp(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="seconds")

    async def recover(self) -> None:
        """At start-up: rows left 'sending' by a dead process become 'unknown' (never re-sent)."""
        count = await self._deliveries.recover()
        self._recovered = True
        self._resume = True
        if count:
            log.warning("push recover: %d messages were in flight at the last shutdown, now 'unknown'", count)

    async def plan_due(self, now: datetime, *, log_rows: bool = True) -> list[ChatPlan]:
        """Plan every due chat without sending: rows logged as 'planned', which the next tick sends.

        With `log_rows=False` the new rows are only decided (each plan's `pending` logs them), which is
        all a tick does before its fan-out starts (the benchmark times the two apart)."""
        plans, _, _ = await self._plan_due(now)
        try:
            if log_rows:
                for plan in plans:
                    if plan.pending is not None:
                        await plan.pending()
        finally:
            for plan in plans:
                self._claims.release(plan.chat_id)
        return plans

    async def _plan_due(self, now: datetime) -> tuple[list[ChatPlan], int, int]:
        """Plans of the due chats and of leftovers, each chat claimed; (plans, due, busy)."""
        async with self._plan_lock:
            calendar = Calendar(now)
            ts = int(calendar.ts)
            # One snapshot of the due chats with their settings, claimed as read. A chat whose push another
            # fan-out finished between this snapshot and the claim looks due here, but its history (read
            # per chunk, after the claim) holds today's rows, so the day is not planned again, and the
            # stale schedule it was read with makes its reschedule a no-op (DeliverySession.set_schedule).
            due = await self._deliveries.due_chats(ts)
            resume, self._resume = self._resume, False
            if not due and not resume:
                return [], 0, 0
            claimed: list[int] = []
            busy = 0
            try:
                take = self._claims.take
                chats = [chat for chat in due if take(chat.chat_id)]
                busy = len(due) - len(chats)
                claimed += [chat.chat_id for chat in chats]
                left: list[int] = []
                if resume:  # rows an earlier process or an aborted fan-out left 'planned'; a due chat
                    # sends its leftovers with its plan, the others are resumed on their own
                    due_set = {chat.chat_id for chat in due}
                    leftover = await self._deliveries.open_chat_ids()
                    left = [i for i in leftover if i not in due_set and take(i)]
                    claimed += left
                view = CatalogueView(self._deliveries, self._papers)
                context = PlanContext(self._settings, calendar, view.lists, self._stamp(), view.truncated)
                with _gc_paused():
                    plans = await self._plan(self._batches(left, chats, context.since), context, view)
            except BaseException:
                self._resume = True
                for chat_id in claimed:
                    self._claims.release(chat_id)
                raise
            kept = {plan.chat_id for plan in plans}
            for chat_id in claimed:
                if chat_id not in kept:
                    self._claims.release(chat_id)
            return plans, len(due), busy

    async def _batches(self, left: list[int], due: list[ChatRow], since: str) -> AsyncIterator[Batch]:
        """Leftover chats (read now, after they were claimed), then due chats, chunk by chunk, each with its
        state (history, leftovers, notices). The next chunk is read while the current one is planned."""
        chunks: list[tuple[list[int], list[ChatRow] | None, PushMode]] = [
            (left[i : i + PLAN_CHUNK], None, PushMode.RESUME) for i in range(0, len(left), PLAN_CHUNK)
        ]
        for i in range(0, len(due), PLAN_CHUNK):
            part = due[i : i + PLAN_CHUNK]
            chunks.append(([chat.chat_id for chat in part], part, PushMode.PUSH))

        def fetch(n: int) -> asyncio.Future[tuple[list[ChatRow], ChunkState]]:
            ids, chats, _ = chunks[n]
            if chats is None:
                return asyncio.ensure_future(self._deliveries.read(partial(read_chats, chat_ids=ids, since=since)))
            return asyncio.ensure_future(self._deliveries.read(partial(with_state, chats=chats, since=since)))

        reading = fetch(0) if chunks else None
        try:
            for n, (_, _, mode) in enumerate(chunks):
                assert reading is not None
                chats, state = await reading
                reading = fetch(n + 1) if n + 1 < len(chunks) else None
                yield Batch(chats, mode, state)
        finally:
            if reading is not None:
                reading.cancel()

    async def _plan(self, batches: AsyncIterator[Batch], context: PlanContext, view: CatalogueView) -> list[ChatPlan]:
        """Decide each batch as it is read (the next one is read meanwhile, on the snapshot thread). What a
        batch settles for chats not pushed now is written at once; its new rows are logged later, by
        `ChunkLog`, when the fan-out first reaches one of its chats."""
        writes: list[asyncio.Future[None]] = []
        plans: list[ChatPlan] = []
        previous: ChunkLog | None = None
        try:
            async for batch in batches:
                if not batch.chats:
                    continue
                await view.ensure(subscription_keys(batch.chats), list_depth(batch.state, context))
                decided = decide(batch, context)
                if decided.schedule or decided.settled.remember or decided.settled.forget:
                    writes.append(asyncio.ensure_future(self._deliveries.run(partial(write_settled, chunk=decided))))
                if decided.groups:
                    chunk_log = ChunkLog(self._deliveries, decided, context.planned_at)
                    if previous is not None:
                        previous.then = chunk_log
                    previous = chunk_log
                plans += decided.plans
            for writing in writes:
                await writing
        except BaseException:
            await asyncio.gather(*writes, return_exceptions=True)
            raise
        return plans

    async def tick(self, now: datetime | None = None) -> FanoutReport:
        """Plan and send every due chat (and rows an earlier run left planned); safe to overlap.

        Calls `recover()` first if the service was not recovered yet.
        """
        started = timer.monotonic()
        if not self._recovered:
            await self.recover()
        plans, due, busy = await self._plan_due(now or self._clock())
        tally = Tally()
        try:
            tally = await self._dispatcher.run(plans)
        except BaseException:
            self._resume = True  # rows of the interrupted chats stay 'planned': pick them up next time
            raise
        finally:
            await self._writer.drain()
        report = FanoutReport(
            chats_due=due,
            chats_busy=busy,
            chats_sent=len(plans),
            sent=tally.sent,
            notices=tally.notices,
            failed=tally.failed,
            retried=tally.retried,
            deactivated=tally.deactivated,
            moved=tally.moved,
            duration=round(timer.monotonic() - started, 3),
        )
        if due or plans:
            log.info(
                "push fanout chats_due=%d chats_busy=%d chats_sent=%d sent=%d notices=%d failed=%d retried=%d"
                " deactivated=%d moved=%d duration=%.3fs",
                *asdict(report).values(),
                extra={"push_fanout": asdict(report)},
            )
        return report

    async def today(self, chat_id: int, now: datetime | None = None) -> TodayResult:
        """/today: plan and send the chat's papers now (via='today'); the push never repeats them.

        If a fan-out is still delivering this chat's daily push (a long one may take hours at Telegram's
        rate), /today waits up to TODAY_WAIT seconds for it, then gives up with `busy`.
        """
        try:
            await asyncio.wait_for(self._claims.wait(chat_id), TODAY_WAIT)
        except TimeoutError:
            return TodayResult(sent=0, failed=0, subscriptions=0, exhausted=(), notified=(), busy=True)
        self._claims.take(chat_id)
        keys: list[str] = []
        try:
            async with self._plan_lock:
                chat = await self._deliveries.chat(chat_id)
                keys = chat.subscriptions() if chat else []
                view = CatalogueView(self._deliveries, self._papers)
                context = PlanContext(
                    self._settings, Calendar(now or self._clock()), view.lists, self._stamp(), view.truncated
                )
                plans: list[ChatPlan] = []
                if chat is not None:
                    state = await self._deliveries.read(partial(read_chunk, chat_ids=[chat_id], since=context.since))
                    plans = await self._plan(_one(Batch([chat], PushMode.TODAY, state)), context, view)
            tally = await self._dispatcher.run(plans)
        finally:
            self._claims.release(chat_id)
            await self._writer.drain()
        plan = plans[0] if plans else None
        return TodayResult(
            sent=tally.sent,
            failed=tally.failed,
            subscriptions=len(keys),
            exhausted=tuple(Subscription.from_key(k) for k in plan.exhausted) if plan else (),
            notified=tuple(Subscription.from_key(k) for k in plan.notified) if plan else (),
        )

    async def reschedule(self, chat_id: int, now: datetime | None = None) -> int | None:
        """Recompute the chat's next push instant from its settings (after /time, /subscribe, reactivation)."""
        chat = await self._chats.get(chat_id)
        if chat is None:
            return None
        next_at = None
        if chat.active and await self._chats.subscriptions(chat_id):
            tz = valid_zone(chat.timezone, self._settings.default_timezone)
            push_time = chat.push_time or self._settings.default_time
            next_at = next_push_at(now or self._clock(), push_time, tz, chat.last_push_date)
        await self._chats.set_next_push(chat_id, next_at)
        return next_at

    async def stats(self, now: datetime | None = None) -> PushStats:
        """Counts for operators; "today" as documented on PushStats."""
        day = (now or self._clock()).astimezone(UTC).date().isoformat()
        total, active = await self._deliveries.chat_counts()
        states = await self._deliveries.counts_by_state(day)
        return PushStats(
            chats_total=total,
            chats_active=active,
            subscribers=await self._deliveries.topic_subscribers(),
            date=day,
            sent_today=states.get(DeliveryState.SENT, 0),
            failed_today=states.get(DeliveryState.FAILED, 0),
            unknown_today=states.get(DeliveryState.UNKNOWN, 0),
            pending=await self._deliveries.pending(),
            next_due_at=await self._deliveries.next_due(),
        )

    def _finish_days(self, session: DeliverySession, finishes: Sequence[tuple[int, str]], now: datetime) -> None:
        """(Runs in the writer's transaction.) Record pushed days and each chat's next instant."""
        calendar = Calendar(now)
        chats = session.chats(chat_id for chat_id, _ in finishes)
        updates: list[tuple[str, int | None, int]] = []
        for chat_id, day in finishes:
            chat = chats.get(chat_id)
            if chat is None:
                continue
            next_at = None
            if chat.active:
                tz, push_time = zone_and_time(chat, self._settings)
                next_at = calendar.next_after(tz, push_time, max(chat.last_push_date or "", day))
            updates.append((day, next_at, chat_id))
        session.finish_days(updates)
