"""When a chat's daily push is due: pure functions of the current instant, the push time and a timezone.

A push instant is the local wall time `push_time` on a local date, resolved with zoneinfo's fold=0:
a time skipped by a spring-forward gap lands just after the gap (02:30 -> 03:30 EDT), and a time that
occurs twice at fall-back means its first occurrence. Each local date therefore has exactly one
instant, and since a chat's push is keyed by its local date (chats.last_push_date), DST changes
neither skip nor repeat a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name (cached: 100,000 chats share a few dozen zones)."""
    return ZoneInfo(name)


def valid_zone(name: str | None, default: str) -> str:
    """`name` if it is a known timezone, else `default` (a stored name could vanish from tzdata)."""
    if name:
        try:
            zone(name)
            return name
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return default


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def local_date(now: datetime, tz: str) -> date:
    """The calendar date at `now` in timezone `tz` (a naive `now` is taken as UTC)."""
    return _aware(now).astimezone(zone(tz)).date()


def push_instant(day: date, push_time: time, tz: str) -> int:
    """Unix seconds of `push_time` on local date `day` in `tz` (fold=0, see the module docstring)."""
    return int(datetime.combine(day, push_time.replace(tzinfo=None, fold=0), zone(tz)).timestamp())


def next_push_at(now: datetime, push_time: time, tz: str, last_push_date: str | None) -> int:
    """Unix seconds of the next push instant at or after `now`, never on a local date <= last_push_date."""
    day = local_date(now, tz)
    if last_push_date:
        day = max(day, date.fromisoformat(last_push_date) + timedelta(days=1))
    instant = push_instant(day, push_time, tz)
    if instant < _aware(now).timestamp():
        instant = push_instant(day + timedelta(days=1), push_time, tz)
    return instant


@dataclass(frozen=True, slots=True)
class Day:
    """One (timezone, push time) pair seen at one instant: today's local date and push instants."""

    today: date
    iso: str
    instant: int  # today's push instant
    tomorrow: int  # tomorrow's push instant


class Calendar:
    """`Day`s for one instant, cached per (timezone, push time): a tick computes each pair once."""

    def __init__(self, now: datetime) -> None:
        self.now = _aware(now)
        self.ts = self.now.timestamp()
        self._days: dict[tuple[str, time], Day] = {}

    def day(self, tz: str, push_time: time) -> Day:
        key = (tz, push_time)
        found = self._days.get(key)
        if found is None:
            today = local_date(self.now, tz)
            found = Day(
                today,
                today.isoformat(),
                push_instant(today, push_time, tz),
                push_instant(today + timedelta(days=1), push_time, tz),
            )
            self._days[key] = found
        return found

    def next_after(self, tz: str, push_time: time, last_push_date: str | None) -> int:
        """`next_push_at` at this instant, from the cache in the common cases."""
        day = self.day(tz, push_time)
        if last_push_date == day.iso:
            return day.tomorrow
        if (last_push_date is None or last_push_date < day.iso) and day.instant >= self.ts:
            return day.instant
        return next_push_at(self.now, push_time, tz, last_push_date)
