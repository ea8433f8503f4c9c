"""Planning a day's messages: which paper each subscription brings, and who is told a topic ran out.

The rule, per chat and push: subscriptions are visited in a stable order (rotated by the date when a
chat follows more subscriptions than `papers_per_push`, so none starves); each one brings the newest
paper of its list that the chat has never had in the delivery log (any state: failed or unknown
papers are not offered again) and that this plan has not already taken, so a paper in two subscribed
topics is sent once. A subscription with nothing new is "exhausted": the chat is told once (a notice
row, and a row in `exhausted` remembering the subscription's paper count), and the subscription is
then skipped without scanning while its paper count stays the same; when the count changes and a new
paper turns up, the `exhausted` row is deleted, so a later run-out is told again.

A planning pass reads the due chats with their subscriptions (one snapshot query; each chat is
claimed as it is read), then handles them in chunks: the chunk's history is read (`read_chunk`, on the snapshot thread,
the next chunk while this one is decided), the topic lists its chats follow are read as deep as their
history needs (`CatalogueView`), and `decide` runs in plain Python on the event loop. What it settles
for chats not pushed now (schedules) is written at once (`write_settled`); the chunk's new rows and
notices are logged later, in one transaction, when the fan-out first reaches one of its chats
(`write_rows`, driven by push.service.ChunkLog). Between planning and logging no one else plans these
chats (they are claimed), and schedule updates apply only if the chat's schedule is unchanged, so a
/time that raced the tick wins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import time, timedelta
from functools import lru_cache, partial
from typing import NamedTuple

from bot.config import Settings
from bot.model import DeliveryKind, PushMode, Via
from bot.push.schedule import Calendar, Day, valid_zone
from bot.storage.deliveries import SEPARATOR, ChatRow, DeliverySession, DeliveryStore, NewRow, PlannedRow, RowGroup
from bot.storage.papers import PaperStore
from bot.text.normalize import Script

KEYWORD_LIMIT = 5000  # newest matches a keyword subscription walks (its "all N papers")
# In push order a paper the catalogue (a human list) filed under a topic counts as this many days newer
# than one our rules or model tagged: preferred, yet a month-old curated paper does not hold back today's.
CATALOGUE_LEAD_DAYS = 30
MIN_DEPTH = 500  # papers per topic list read at least: one query per topic, however few chats are due
_NOTHING: frozenset[str] = frozenset()
_NO_NOTICES: dict[str, int] = {}
# chats.script as stored (NULL: never chosen) -> the script a push is written in.
_SCRIPTS: dict[str | None, Script] = {None: Script.SIMPLIFIED, **{script.value: script for script in Script}}


@dataclass(slots=True)
class Exhaustion:
    """The exhaustion side of one chat's picks (absent in the common case: every subscription had news)."""

    exhausted: list[str] = field(default_factory=list)  # keys with nothing new (told now or before)
    notices: list[tuple[str, int]] = field(default_factory=list)  # (key, paper count) to tell now
    remember: list[tuple[str, int]] = field(default_factory=list)  # `exhausted` rows to upsert
    forget: list[str] = field(default_factory=list)  # `exhausted` rows to delete


def pick(
    subscriptions: Sequence[str],
    lists: Mapping[str, Sequence[str]],
    seen: frozenset[str] | set[str],
    noticed: Mapping[str, int],
    cap: int,
    rotate: int,
    truncated: AbstractSet[str] = _NOTHING,
) -> tuple[list[tuple[str, str]], Exhaustion | None]:
    """Apply the planning rule (module docstring) to one chat: [(arXiv ID, subscription key)], exhaustion.

    `truncated` lists are cut short of the topic's papers (CatalogueView), so their length is no paper
    count: they are always scanned (and, read deep enough, always hold a paper the chat has not had)."""
    count = len(subscriptions)
    if count > cap:
        start = rotate % count
        subscriptions = [*subscriptions[start:], *subscriptions[:start]]
    papers: list[tuple[str, str]] = []
    taken: list[str] = []
    extra: Exhaustion | None = None
    for key in subscriptions:
        if len(papers) >= cap:
            break
        ids = lists.get(key, ())
        told = noticed.get(key) if noticed else None
        if told is not None and told == len(ids) and key not in truncated:
            extra = extra or Exhaustion()
            extra.exhausted.append(key)  # told already and nothing was added since: don't even scan
            continue
        found = None
        for arxiv_id in ids:
            if arxiv_id not in seen and arxiv_id not in taken:
                found = arxiv_id
                break
        if found is not None:
            papers.append((found, key))
            taken.append(found)
            if told is not None:
                extra = extra or Exhaustion()
                extra.forget.append(key)
            continue
        extra = extra or Exhaustion()
        extra.exhausted.append(key)
        if told is not None:
            extra.remember.append((key, len(ids)))  # papers came but all were seen: stay quiet, new count
        elif ids:
            extra.notices.append((key, len(ids)))
            extra.remember.append((key, len(ids)))
    return papers, extra


@dataclass(slots=True)
class ChatPlan:
    """The messages planned for one chat: `rows` are in the log as 'planned'; while `pending` is set, the
    chat's new rows are decided but not logged yet, and awaiting it logs them (appending to `rows`)."""

    chat_id: int
    script: Script
    local_date: str  # the chat's local date being pushed ('' for leftovers only)
    rows: list[PlannedRow]  # in sending order: leftovers of an interrupted run first
    finish: bool  # record the day as pushed once every row is done
    exhausted: Sequence[str] = ()  # subscription keys with nothing new
    notified: Sequence[str] = ()  # of which told in this plan
    new: int = 0  # rows decided by this plan (the rest of `rows` are leftovers)
    pending: Callable[[], Awaitable[None]] | None = None  # logs the new rows; None once they are logged


@lru_cache(maxsize=2048)
def _time(text: str) -> time:
    return time.fromisoformat(text)


def zone_and_time(chat: ChatRow, settings: Settings) -> tuple[str, time]:
    """The chat's timezone and push time, defaults filled in."""
    tz = valid_zone(chat.timezone, settings.default_timezone)
    return tz, _time(chat.push_time) if chat.push_time else settings.default_time


@dataclass(frozen=True)
class PlanContext:
    """What every chat of a planning pass shares."""

    settings: Settings
    calendar: Calendar
    lists: Mapping[str, Sequence[str]]  # CatalogueView.lists, deepened chunk by chunk
    planned_at: str
    truncated: AbstractSet[str] = _NOTHING  # CatalogueView.truncated

    @property
    def since(self) -> str:
        """The earliest date that is "today" somewhere: push days before it are not resumed, only leftovers."""
        return (self.calendar.now.date() - timedelta(days=2)).isoformat()


@dataclass(slots=True)
class ChunkState:
    """What `decide` needs to know about a chunk of chats, read in one snapshot."""

    open_rows: dict[int, list[PlannedRow]]
    seen: dict[int, set[str]]
    pushed: set[tuple[int, str]]
    noticed: dict[int, dict[str, int]]


class Batch(NamedTuple):
    """Chats to plan together, why (PushMode), and their state."""

    chats: list[ChatRow]
    mode: PushMode
    state: ChunkState


def read_chunk(session: DeliverySession, chat_ids: Sequence[int], since: str) -> ChunkState:
    """(Database thread.) The chunk's leftovers, history and notices (subscriptions come with the chats)."""
    seen, pushed = session.history(chat_ids, since)
    return ChunkState(session.open_rows(chat_ids), seen, pushed, session.exhausted(chat_ids))


def read_chats(session: DeliverySession, chat_ids: Sequence[int], since: str) -> tuple[list[ChatRow], ChunkState]:
    """(Database thread.) The chats (with subscriptions, in `chat_ids` order) and their chunk state."""
    chats = session.chats(chat_ids)
    return [chats[i] for i in chat_ids if i in chats], read_chunk(session, chat_ids, since)


def with_state(session: DeliverySession, chats: list[ChatRow], since: str) -> tuple[list[ChatRow], ChunkState]:
    """(Database thread.) These chats (read already) and their chunk state."""
    return chats, read_chunk(session, [chat.chat_id for chat in chats], since)


Schedule = tuple[int | None, str | None, int, int | None, str | None, str | None]


@dataclass(slots=True)
class Marks:
    """Changes to the `exhausted` table: (chat, key, paper count) to upsert, (chat, key) to delete."""

    remember: list[tuple[int, str, int]] = field(default_factory=list)
    forget: list[tuple[int, str]] = field(default_factory=list)


@dataclass(slots=True)
class ChunkPlan:
    """`decide`'s output: plans to send; what `write_settled` stores at once (chats not pushed now);
    and what `write_rows` logs before the first of the chunk's chats is sent."""

    plans: list[ChatPlan] = field(default_factory=list)
    # (via, local date, kind) -> new rows and the plan of each, inserted group by group in this order
    groups: dict[tuple[str, str, str], tuple[list[NewRow], list[ChatPlan]]] = field(default_factory=dict)
    marks: Marks = field(default_factory=Marks)  # of chats with new rows: logged with them
    settled: Marks = field(default_factory=Marks)  # of chats without new rows: stored at once
    schedule: list[Schedule] = field(default_factory=list)

    def group(self, via: str, local_date: str, kind: str) -> tuple[list[NewRow], list[ChatPlan]]:
        found = self.groups.get((via, local_date, kind))
        if found is None:
            found = self.groups[(via, local_date, kind)] = ([], [])
        return found

    def row_groups(self) -> list[RowGroup]:
        return [(via, day, kind, rows) for (via, day, kind), (rows, _) in self.groups.items()]


@dataclass(frozen=True, slots=True)
class _Slot:
    """A chat's timezone and push time (defaults filled in) and that pair's today at this instant."""

    tz: str
    push_time: time
    day: Day


@lru_cache(maxsize=4096)
def _keys(joined: str | None) -> list[str]:
    # 100,000 chats hold a few thousand distinct subscription lists: split each once.
    return joined.split(SEPARATOR) if joined else []


def subscription_keys(chats: Sequence[ChatRow]) -> set[str]:
    """Every subscription key of these chats."""
    return {key for chat in chats for key in _keys(chat.keys)}


def list_depth(state: ChunkState, ctx: PlanContext) -> int:
    """How deep the lists must be read for this chunk: its most-served chat's papers plus one push."""
    return max(map(len, state.seen.values()), default=0) + ctx.settings.papers_per_push + 1


def push_day(chat: ChatRow, mode: PushMode, slot: _Slot, cal: Calendar, schedule: list[Schedule]) -> str | None:
    """The local date to push to `chat` now, or None; a due chat not pushed now is rescheduled (`schedule`).

    A due chat is pushed only once its local push time of *today* has come: if the due instant was on
    an earlier local day (the bot was down) and today's time is still ahead, it is just rescheduled to
    today, so missed days never pile up; if today's time has passed, today's push happens now, once.
    """
    if mode is PushMode.TODAY:
        return slot.day.iso
    if mode is PushMode.RESUME or not chat.active or chat.next_push_at is None or chat.next_push_at > cal.ts:
        return None  # leftovers only, or no longer due: rescheduled or deactivated since it was found due
    was = (chat.next_push_at, chat.push_time, chat.timezone)
    if chat.keys is None:
        schedule.append((None, None, chat.chat_id, *was))  # nothing to push until /subscribe
    elif chat.last_push_date is not None and chat.last_push_date >= slot.day.iso:
        schedule.append((cal.next_after(slot.tz, slot.push_time, chat.last_push_date), None, chat.chat_id, *was))
    elif slot.day.instant > cal.ts:
        schedule.append((slot.day.instant, None, chat.chat_id, *was))  # an earlier day was missed
    else:
        return slot.day.iso
    return None


def take_papers(
    out: ChunkPlan, plan: ChatPlan, chat: ChatRow, state: ChunkState, ctx: PlanContext, day: Day, via: Via
) -> int:
    """Pick the chat's papers and exhaustion notices (`pick`) into `out`, owned by `plan`, logged as `via`;
    how many rows."""
    chat_id = chat.chat_id
    papers, extra = pick(
        _keys(chat.keys),
        ctx.lists,
        state.seen.get(chat_id, _NOTHING),
        state.noticed.get(chat_id, _NO_NOTICES),
        ctx.settings.papers_per_push,
        day.today.toordinal(),
        ctx.truncated,
    )
    if papers:
        rows, owners = out.group(via, plan.local_date, DeliveryKind.PAPER)
        rows += [(chat_id, arxiv_id, key, 0) for arxiv_id, key in papers]
        owners += [plan] * len(papers)
    if extra is None:
        plan.new = len(papers)
        return plan.new
    if extra.notices:
        rows, owners = out.group(via, plan.local_date, DeliveryKind.NOTICE)
        rows += [(chat_id, None, key, total) for key, total in extra.notices]
        owners += [plan] * len(extra.notices)
    plan.exhausted = extra.exhausted
    plan.notified = [key for key, _ in extra.notices]
    # A notice's `exhausted` row is written with the notice itself: a crash before the chat's rows are
    # logged must not leave it marked as told.
    marks = out.marks if papers or extra.notices else out.settled
    marks.remember += [(chat_id, key, n) for key, n in extra.remember]
    marks.forget += [(chat_id, key) for key in extra.forget]
    plan.new = len(papers) + len(extra.notices)
    return plan.new


def decide(batch: Batch, ctx: PlanContext) -> ChunkPlan:
    """Decide what each chat of the chunk gets (pure; rows get their ids in `attach_ids`): whether it is
    pushed now (`push_day`), and if so which papers (`take_papers`).

    A push day that was planned already (a restart mid fan-out) is resumed, never planned again.
    Returned plans: push plans with rows, leftovers, and every /today plan (even empty).
    """
    cal, settings = ctx.calendar, ctx.settings
    out = ChunkPlan()
    slots: dict[tuple[str | None, str | None], _Slot] = {}  # 100,000 chats share few
    chats, mode, state = batch
    open_rows, pushed, plans = state.open_rows, state.pushed, out.plans
    finish = mode is not PushMode.TODAY
    via = Via.PUSH if finish else Via.TODAY
    for chat in chats:
        chat_id = chat.chat_id
        leftovers = open_rows.get(chat_id) or []
        slot = slots.get((chat.timezone, chat.push_time))
        if slot is None:
            tz, push_time = zone_and_time(chat, settings)
            slot = slots[(chat.timezone, chat.push_time)] = _Slot(tz, push_time, cal.day(tz, push_time))
        target = push_day(chat, mode, slot, cal, out.schedule)
        if target is None:
            if leftovers:
                plans.append(ChatPlan(chat_id, _SCRIPTS[chat.script], "", leftovers, False))
            continue
        plan = ChatPlan(chat_id, _SCRIPTS[chat.script], target, leftovers, finish)
        added = 0
        if not finish or (chat_id, target) not in pushed:
            added = take_papers(out, plan, chat, state, ctx, slot.day, via)
        if added or leftovers or not finish:
            plans.append(plan)
        else:  # a push day with nothing to send is done right here; the others when their rows are
            was = (chat.next_push_at, chat.push_time, chat.timezone)
            out.schedule.append((cal.next_after(slot.tz, slot.push_time, target), target, chat_id, *was))
    return out


def write_settled(session: DeliverySession, chunk: ChunkPlan) -> None:
    """(Database thread, one write transaction.) What planning settles for chats it does not push now:
    their new schedules and notice marks."""
    session.set_exhausted(chunk.settled.remember)
    session.clear_exhausted(chunk.settled.forget)
    session.set_schedule(chunk.schedule)


def write_rows(session: DeliverySession, chunk: ChunkPlan, groups: Sequence[RowGroup], planned_at: str) -> int:
    """(Database thread, one write transaction.) Log a decided chunk's new rows (its `row_groups()`) as
    'planned' with their notice marks; the first new id."""
    first = session.insert(groups, planned_at)
    session.set_exhausted(chunk.marks.remember)
    session.clear_exhausted(chunk.marks.forget)
    return first


def attach_ids(chunk: ChunkPlan, first_id: int) -> None:
    """Give the written rows to their plans (ids are consecutive from `first_id`)."""
    row_id = first_id
    new = tuple.__new__  # PlannedRow(...) runs Python-level __new__: measurable at 300,000 rows
    for rows, owners in chunk.groups.values():
        for row, plan in zip(rows, owners, strict=True):
            plan.rows.append(new(PlannedRow, (row_id, row[1], row[2], row[3])))
            plan.pending = None
            row_id += 1


class CatalogueView:
    """Subscription key -> arXiv IDs in push order, read for one planning pass, as deep as it needs.

    A chat that has had s papers finds an unsent one among the first s + papers_per_push of any list,
    so a topic's list is read `depth` >= that deep (`DeliverySession.topic_lists`): the cost follows the
    chats' history, not the catalogue's size. A list cut at its depth is `truncated`: its length is not
    the topic's paper count, so it says nothing about whether a topic ran out (see `pick`).
    """

    def __init__(self, deliveries: DeliveryStore, papers: PaperStore) -> None:
        self._deliveries = deliveries
        self._papers = papers
        self.lists: dict[str, list[str]] = {}
        self.truncated: set[str] = set()
        self._depth: dict[str, int] = {}

    async def ensure(self, keys: Iterable[str], depth: int = 0) -> Mapping[str, Sequence[str]]:
        """The lists of these subscription keys, topics at least `depth` deep (MIN_DEPTH at least)."""
        depth = max(depth, MIN_DEPTH)
        topics: list[str] = []
        for key in set(keys):
            if key.startswith("topic:"):
                if key not in self.lists or (key in self.truncated and self._depth[key] < depth):
                    topics.append(key[6:])
            elif key.startswith("keyword:") and key not in self.lists:
                self.lists[key] = await self._papers.search_ids_newest_first(key[8:], limit=KEYWORD_LIMIT)
        if topics:
            fetched = await self._deliveries.read(
                partial(DeliverySession.topic_lists, topics=topics, depth=depth, lead_days=CATALOGUE_LEAD_DAYS)
            )
            for key, (ids, truncated) in fetched.items():
                self.lists[key] = ids
                self._depth[key] = depth
                if truncated:
                    self.truncated.add(key)
                else:
                    self.truncated.discard(key)
        return self.lists
