"""Start-up calls that only make the bot look right (menus, descriptions): never fatal, retried in the background.

Only two answers stop the bot (see runner.py): 401 (a wrong token) and 409 (another instance polls the same
token). Anything else a cosmetic call meets (a 400 after a Bot API change, a 429, a network hiccup) is logged
in one line and retried with a growing delay while the bot serves.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import Bot, BotCommand
from telegram.error import InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application, CallbackContext, JobQueue

from bot.telegram import render
from bot.text.normalize import Script, to_script

log = logging.getLogger(__name__)

# One menu per language code Telegram accepts. tdlib's validate_bot_language_code (td/telegram/misc.cpp:395)
# takes only "" or two lowercase letters, so Chinese gets one menu ("zh"), not one per script; the default
# menu (no code) serves every other client language.
MENUS: tuple[tuple[str | None, Script], ...] = ((None, Script.SIMPLIFIED), ("zh", Script.SIMPLIFIED))
FIRST_RETRY_SECONDS = 30.0
MAX_RETRY_SECONDS = 3600.0
JOB_NAME = "cosmetic-start-up-retry"


def menu(script: Script) -> list[BotCommand]:
    """The public commands (not the operators' /stats) with descriptions in the script."""
    return [BotCommand(c.name, to_script(c.description, script)) for c in render.COMMANDS if c.name != "stats"]


# Shown in an empty chat with the bot ("What can this bot do?", at most 512 characters) and on its profile
# (at most 120).
DESCRIPTION = (
    "每天在你设定的时间推送新的 AI 论文：中文标题与摘要、arXiv 原文链接。\n"
    "发送 /start 选择主题；/paper 查看任意 arXiv 论文；/search 用中文或英文搜索；/lang 切换繁体（台湾 / 香港）/ 简体。"
)
SHORT_DESCRIPTION = "每日 AI 论文：中文标题与摘要，按主题订阅，繁简皆可。"


async def set_menus(bot: Bot) -> None:
    """Register every command menu and the bot's descriptions."""
    for language, script in MENUS:
        await bot.set_my_commands(menu(script), language_code=language)
        await bot.set_my_description(to_script(DESCRIPTION, script), language_code=language)
        await bot.set_my_short_description(to_script(SHORT_DESCRIPTION, script), language_code=language)


async def apply_cosmetics(application: Application, delay: float | None = None) -> None:  # type: ignore[type-arg]
    """Set the menus now; on failure log one line and try again later (doubling the delay up to an hour)."""
    delay = FIRST_RETRY_SECONDS if delay is None else delay
    try:
        await set_menus(application.bot)
    except InvalidToken:
        raise  # the token is wrong: nothing else will work either
    except TelegramError as exc:
        wait = max(delay, _retry_after(exc))
        log.warning(
            "could not set the command menus or descriptions (%s: %s); retrying in %.0f s",
            type(exc).__name__,
            exc,
            wait,
        )
        _schedule(application.job_queue, wait, min(delay * 2, MAX_RETRY_SECONDS))
        return
    log.info("command menus and descriptions set")


def _retry_after(exc: TelegramError) -> float:
    if not isinstance(exc, RetryAfter):
        return 0.0
    after = exc.retry_after
    return after.total_seconds() if isinstance(after, timedelta) else float(after)


def _schedule(job_queue: JobQueue | None, wait: float, next_delay: float) -> None:  # type: ignore[type-arg]
    if job_queue is None:
        log.warning("no job queue: the command menus stay unset until the next start")
        return

    async def retry(context: CallbackContext) -> None:  # type: ignore[type-arg]
        await apply_cosmetics(context.application, next_delay)

    job_queue.run_once(retry, when=wait, name=JOB_NAME)
