"""`config/sources.toml` (or the file BOT_SOURCES names): which sources feed the catalogue, when.

Each `[[source]]` has a name, a kind, `enabled`, a schedule and the options of its kind:

    [[source]]
    name = "arxiv"
    kind = "arxiv"                         # arxiv | digest | hf_daily | seeds
    categories = ["cs.CL", "cs.CV", "cs.LG", "cs.AI"]
    announce_types = ["new", "replace"]    # add "cross" for cross-lists
    schedule = { days = ["mon", "tue", "wed", "thu", "fri"], at = "00:30", timezone = "America/New_York" }

A schedule is either `days` + `at` (+ `timezone`, default UTC) or `every_hours`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import ConfigError, check_timezone, parse_time
from bot.sources.arxiv import AnnounceType

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = Python's weekday()


class SourceKind(StrEnum):
    """What a source reads."""

    ARXIV = "arxiv"
    DIGEST = "digest"
    HF_DAILY = "hf_daily"
    SEEDS = "seeds"


@dataclass(frozen=True)
class Schedule:
    """When a source runs: on some weekdays at a local time, or every N hours."""

    days: tuple[int, ...] = tuple(range(7))  # Python weekdays, Monday = 0
    at: time | None = None
    timezone: str = "UTC"
    every_hours: float | None = None

    def next_after(self, now: datetime, last_run: datetime | None = None) -> datetime:
        """The next run instant (aware datetimes): for a weekly schedule the first one strictly after
        `now`; every N hours, N hours after the last run, or `now` when that is past or there was none
        (the bot runs it a minute after it starts)."""
        if self.every_hours is not None:
            return max(now, last_run + timedelta(hours=self.every_hours)) if last_run else now
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        at = self.at or time(0, 0)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            candidate = datetime.combine(day, at, tzinfo=zone)
            if candidate > local:
                return candidate
        return now + timedelta(days=7)

    def describe(self) -> str:
        """`mon-fri 00:30 America/New_York` or `every 6 h`."""
        if self.every_hours is not None:
            return f"every {self.every_hours:g} h"
        days = ",".join(DAYS[d] for d in self.days) if len(self.days) < 7 else "daily"
        return f"{days} {(self.at or time(0, 0)).strftime('%H:%M')} {self.timezone}"


@dataclass(frozen=True)
class SourceSpec:
    """One configured source."""

    name: str
    kind: SourceKind
    enabled: bool = True
    schedule: Schedule = Schedule(every_hours=24)
    categories: tuple[str, ...] = ("cs.CL", "cs.CV", "cs.LG", "cs.AI")
    announce_types: tuple[AnnounceType, ...] = (AnnounceType.NEW, AnnounceType.REPLACE)
    urls: tuple[str, ...] = ()  # digest lists
    paths: tuple[Path, ...] = ()  # seed files or folders


def _schedule(raw: Any, where: str) -> Schedule:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: schedule must be a table, e.g. {{ every_hours = 6 }}")
    if "every_hours" in raw:
        hours = raw["every_hours"]
        if isinstance(hours, bool) or not isinstance(hours, int | float) or hours <= 0:
            raise ConfigError(f"{where}: every_hours must be a positive number")
        return Schedule(every_hours=float(hours))
    names = raw.get("days", list(DAYS))
    if not isinstance(names, list) or not names:
        raise ConfigError(f'{where}: days must be a list such as ["mon", "tue"]')
    days: list[int] = []
    for name in names:
        key = str(name).strip().lower()[:3]
        if key not in DAYS:
            raise ConfigError(f"{where}: unknown day {name!r} (use {', '.join(DAYS)})")
        days.append(DAYS.index(key))
    if "at" not in raw:
        raise ConfigError(f'{where}: a schedule with days needs at = "HH:MM"')
    return Schedule(
        days=tuple(sorted(set(days))),
        at=parse_time(str(raw["at"])),
        timezone=check_timezone(str(raw.get("timezone", "UTC"))),
    )


def _strings(raw: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {key} must be a list of strings")
    return tuple(v.strip() for v in value if v.strip())


def parse_sources(data: dict[str, Any], origin: str = "sources") -> list[SourceSpec]:
    """Specs from a parsed sources file."""
    raw_sources = data.get("source", [])
    if not isinstance(raw_sources, list):
        raise ConfigError(f"{origin}: expected [[source]] tables")
    specs: list[SourceSpec] = []
    for number, raw in enumerate(raw_sources, 1):
        where = f"{origin}: source #{number}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a table")
        name = str(raw.get("name", "")).strip()
        if not name:
            raise ConfigError(f"{where}: missing name")
        where = f"{origin}: source {name!r}"
        if any(s.name == name for s in specs):
            raise ConfigError(f"{where}: name used twice")
        try:
            kind = SourceKind(str(raw.get("kind", "")))
        except ValueError as exc:
            raise ConfigError(f"{where}: kind must be one of {', '.join(k.value for k in SourceKind)}") from exc
        try:
            announce = tuple(AnnounceType(t) for t in _strings(raw, "announce_types", where) or ("new", "replace"))
        except ValueError as exc:
            raise ConfigError(f"{where}: announce_types are new, cross, replace, replace-cross") from exc
        spec = SourceSpec(
            name=name,
            kind=kind,
            enabled=bool(raw.get("enabled", True)),
            schedule=_schedule(raw.get("schedule", {"every_hours": 24}), where),
            categories=_strings(raw, "categories", where) or SourceSpec.categories,
            announce_types=announce,
            urls=_strings(raw, "urls", where),
            paths=tuple(Path(p) for p in _strings(raw, "paths", where)),
        )
        if kind is SourceKind.DIGEST and spec.enabled and not spec.urls:
            raise ConfigError(f"{where}: a digest source needs urls")
        specs.append(spec)
    return specs


def load_sources(path: Path) -> list[SourceSpec]:
    """The sources of a file; none when the file does not exist."""
    if not path.exists():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return parse_sources(data, str(path))
