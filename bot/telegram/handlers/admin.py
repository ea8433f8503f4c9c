"""/stats for the configured admin ids."""

from __future__ import annotations

from datetime import UTC, datetime

from telegram import Update

from bot.push.report import format_stats
from bot.telegram import render
from bot.telegram.context import Context, services
from bot.telegram.handlers.common import prepare, send
from bot.telegram.sources import sources_report
from bot.translate.report import format_translation_stats, translation_stats


async def stats(update: Update, context: Context) -> None:
    """/stats: chats, subscribers per topic, today's pushes, next due minute, translation tokens (admins only)."""
    script = await prepare(update, context)
    svc = services(context)
    user = update.effective_user
    if user is None or user.id not in svc.settings.admin_ids:
        await send(update, context, render.not_admin_command(script))
        return
    report = format_stats(await svc.push.stats())
    if svc.translation is not None:
        today = datetime.now(UTC).date()
        stats = await translation_stats(svc.translation.store, svc.settings.translation, today)
        report += "\n" + format_translation_stats(stats)
    report += "\n" + await sources_report(context)
    await send(update, context, render.plain(f"<pre>{render.esc(render.cut(report, 3900))}</pre>", script))
