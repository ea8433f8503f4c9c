"""Console mode: the real bot against the local Bot API, with a terminal as the user's chat."""

from __future__ import annotations

import asyncio
import contextlib

from bot.config import Settings
from bot.localapi.console import run_console
from bot.telegram.local import running_locally

CONSOLE_USER = 10_001


def run_console_mode(settings: Settings) -> int:
    """Chat with the bot in this terminal until /quit or Ctrl-D."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_console(settings))
    return 0


async def _console(settings: Settings) -> None:
    async with running_locally(settings) as local:
        chat_id = local.api.add_private_chat(CONSOLE_USER, "你", language_code="zh-hans")
        await run_console(local.api, chat_id=chat_id, user_id=CONSOLE_USER)
