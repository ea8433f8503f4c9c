"""Operators' view of translation: tokens per day and per paper, what waits, the budget (/stats and
`python -m bot stats`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bot.config import TranslationSettings
from bot.storage.translations import DayUsage, PaperCost, TranslationStatus, TranslationStore

DAYS_SHOWN = 7


@dataclass(frozen=True)
class TranslationStats:
    """Everything the report prints."""

    enabled: bool
    model: str
    daily_tokens: int
    daily_papers: int
    today: DayUsage
    days: list[DayUsage]  # the last DAYS_SHOWN days with requests, newest first
    statuses: dict[TranslationStatus, int]
    waiting: int  # English-only paper versions without a valid translation
    average_tokens: float  # per translated paper version, every attempt counted
    costliest: list[PaperCost]


async def translation_stats(store: TranslationStore, settings: TranslationSettings, today: date) -> TranslationStats:
    """Read the figures for `today` (a UTC date) and the days before it."""
    first = (today - timedelta(days=DAYS_SHOWN - 1)).isoformat()
    return TranslationStats(
        enabled=settings.enabled,
        model=settings.model,
        daily_tokens=settings.daily_tokens,
        daily_papers=settings.daily_papers,
        today=await store.usage(today.isoformat()),
        days=await store.usage_days(first, today.isoformat()),
        statuses=await store.status_counts(),
        waiting=await store.waiting(),
        average_tokens=await store.average_tokens(),
        costliest=await store.costliest(3),
    )


def format_translation_stats(stats: TranslationStats) -> str:
    """A small fixed-width report."""
    state = f"model {stats.model}" if stats.enabled else "off (BOT_LLM_URL not set)"
    today = stats.today
    share = 100 * today.tokens.total / stats.daily_tokens if stats.daily_tokens else 0.0
    retrying = stats.statuses.get(TranslationStatus.FAILED, 0) + stats.statuses.get(TranslationStatus.REJECTED, 0)
    lines = [
        f"translation: {state}",
        f"  today {today.day}: {today.papers} papers, {today.tokens.total:,} tokens "
        f"({share:.0f}% of {stats.daily_tokens:,}; papers cap {stats.daily_papers:,}), "
        f"{today.rejected} rejected, {today.failed} failed",
        f"  translated: {stats.statuses.get(TranslationStatus.DONE, 0)} paper versions, "
        f"{stats.average_tokens:,.0f} tokens per paper on average",
        f"  waiting: {stats.waiting} English-only papers ({retrying} to retry after a failure)",
        "  tokens per day:",
    ]
    lines += [
        f"    {d.day}  {d.papers:5d} papers  {d.tokens.total:>12,} tokens  "
        f"({d.tokens.prompt:,} in / {d.tokens.completion:,} out)"
        for d in stats.days
    ] or ["    (none)"]
    if stats.costliest:
        lines.append("  most tokens per paper:")
        lines += [
            f"    {c.arxiv_id}v{c.version}  {c.tokens.total:,} tokens, {c.attempts} attempts, {c.status}"
            for c in stats.costliest
        ]
    return "\n".join(lines)
