"""The real bot running against the local Bot API server: used by the console, end-to-end tests and benchmarks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.config import Settings
from bot.localapi import LocalBotApi, RateLimits
from bot.telegram.app import build_application

# A token in Telegram's shape; it only ever reaches the local server on 127.0.0.1.
LOCAL_TOKEN = "123456789:LOCAL-console-token-not-a-secret-0000"


@dataclass
class LocalBot:
    """A running application and the local Bot API it talks to."""

    api: LocalBotApi
    application: Application  # type: ignore[type-arg]
    settings: Settings

    async def settle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the server is idle and the application has no update queued or in a handler.

        The server alone cannot tell a handler still working (a search on a busy machine) from one
        that is done: its quiet period can pass in between."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            await self.api.wait_idle(max(deadline - asyncio.get_running_loop().time(), 0.1))
            busy = self.application.update_queue.qsize() or self.application.update_processor.current_concurrent_updates
            if not busy:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"the bot still had {busy} update(s) after {timeout}s")
            await asyncio.sleep(0.01)


@asynccontextmanager
async def running_locally(
    settings: Settings,
    *,
    limits: RateLimits | None = None,
    before_start: Callable[[LocalBotApi], None] | None = None,
    push_clock: Callable[[], datetime] | None = None,
    **api_options: Any,
) -> AsyncIterator[LocalBot]:
    """Start the local Bot API and the real Application polling it; stop both on exit.

    `before_start` prepares the server before the bot's first request (e.g. a failure to meet at start-up);
    `push_clock` is the push's clock (build_application's `clock`)."""
    api = LocalBotApi(LOCAL_TOKEN, limits=limits, **api_options)
    if before_start is not None:
        before_start(api)
    await api.start()
    local = settings.with_overrides(token=LOCAL_TOKEN, api_url=api.root)
    application = build_application(local, clock=push_clock)
    try:
        await application.initialize()
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=10, allowed_updates=Update.ALL_TYPES)
        try:
            yield LocalBot(api, application, local)
        finally:
            if application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
            if application.post_shutdown is not None:
                await application.post_shutdown(application)
            await application.shutdown()
    finally:
        await api.stop()
