"""Pure schedule arithmetic: local dates, push instants, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.push.schedule import Calendar, local_date, next_push_at, push_instant

NY = "America/New_York"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_local_date_follows_the_timezone() -> None:
    now = utc(2024, 5, 1, 20, 0)
    assert local_date(now, "Asia/Shanghai") == date(2024, 5, 2)
    assert local_date(now, NY) == date(2024, 5, 1)
    assert local_date(now.replace(tzinfo=None), "Asia/Shanghai") == date(2024, 5, 2)  # naive = UTC


def test_next_push_is_today_until_the_time_passes_then_tomorrow() -> None:
    at8 = time(8, 0)
    today_8 = int(utc(2024, 5, 1, 0, 0).timestamp())  # 08:00 in Shanghai
    assert next_push_at(utc(2024, 4, 30, 23, 0), at8, "Asia/Shanghai", None) == today_8
    assert next_push_at(utc(2024, 5, 1, 0, 0), at8, "Asia/Shanghai", None) == today_8  # due right now
    assert next_push_at(utc(2024, 5, 1, 0, 1), at8, "Asia/Shanghai", None) == today_8 + 86400


def test_next_push_is_never_on_a_date_already_pushed() -> None:
    at8 = time(8, 0)
    now = utc(2024, 4, 30, 23, 0)  # 07:00 in Shanghai, today's time still ahead
    tomorrow_8 = int(utc(2024, 5, 2, 0, 0).timestamp())
    assert next_push_at(now, at8, "Asia/Shanghai", "2024-05-01") == tomorrow_8
    assert next_push_at(now, at8, "Asia/Shanghai", "2024-05-02") == tomorrow_8 + 86400


def test_gap_and_fold_resolve_to_one_instant_per_day() -> None:
    # 02:30 does not exist on 2024-03-10 in New York: it lands after the gap (03:30 EDT = 07:30 UTC).
    assert push_instant(date(2024, 3, 10), time(2, 30), NY) == int(utc(2024, 3, 10, 7, 30).timestamp())
    # 01:30 happens twice on 2024-11-03: the first one (EDT, 05:30 UTC) is the push.
    assert push_instant(date(2024, 11, 3), time(1, 30), NY) == int(utc(2024, 11, 3, 5, 30).timestamp())


@pytest.mark.parametrize(
    ("start", "at", "expected"),
    [
        # spring forward: 02:30 local every day; the gap day's push is at 03:30 EDT
        (utc(2024, 3, 8, 12), time(2, 30), ["03-09 07:30", "03-10 07:30", "03-11 06:30", "03-12 06:30"]),
        # fall back: 01:30 local; the fold day's push is the first 01:30 (EDT), not the second
        (utc(2024, 11, 1, 12), time(1, 30), ["11-02 05:30", "11-03 05:30", "11-04 06:30", "11-05 06:30"]),
    ],
)
def test_minute_by_minute_across_dst_one_push_per_local_day(start: datetime, at: time, expected: list[str]) -> None:
    """A tick every minute for four days, as the bot runs: one push per local date, none skipped."""
    pushes: list[datetime] = []
    last: str | None = None
    due = next_push_at(start, at, NY, last)
    now = start
    while now < start + timedelta(days=4):
        if due <= now.timestamp():
            pushes.append(now)
            last = local_date(now, NY).isoformat()
            due = next_push_at(now, at, NY, last)
        now += timedelta(minutes=1)
    assert [p.strftime("%m-%d %H:%M") for p in pushes] == expected
    dates = [local_date(p, NY) for p in pushes]
    assert dates == [dates[0] + timedelta(days=i) for i in range(len(dates))]


def test_calendar_matches_next_push_at() -> None:
    now = utc(2024, 5, 1, 3, 0)
    cal = Calendar(now)
    for tz in ("Asia/Shanghai", NY, "Europe/Berlin", "Pacific/Kiritimati"):
        for last in (None, "2024-04-29", local_date(now, tz).isoformat(), "2024-05-03"):
            assert cal.next_after(tz, time(9, 15), last) == next_push_at(now, time(9, 15), tz, last)
