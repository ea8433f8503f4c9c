"""Operators' plain-text view of push statistics (shared by /stats and `python -m bot stats`)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.push.service import PushStats


def format_stats(stats: PushStats) -> str:
    """A small fixed-width report."""
    next_due = (
        datetime.fromtimestamp(stats.next_due_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        if stats.next_due_at is not None
        else "-"
    )
    lines = [
        f"chats: {stats.chats_total} ({stats.chats_active} active)",
        f"pushes on {stats.date}: sent {stats.sent_today}, failed {stats.failed_today}, "
        f"unknown {stats.unknown_today}, pending {stats.pending}",
        f"next due minute: {next_due}",
        "active subscribers per topic:",
    ]
    lines += [f"  {count:6d}  {topic}" for topic, count in stats.subscribers.items()] or ["  (none)"]
    return "\n".join(lines)
