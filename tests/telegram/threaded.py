"""The local Bot API on its own event loop in a thread, so the real `run_bot` can own the main thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from bot.localapi import LocalBotApi

T = TypeVar("T")


class ServerThread:
    """The local Bot API on its own event loop in a thread, so the bot can own the main thread as in production."""

    def __init__(self, api: LocalBotApi) -> None:
        self.api = api
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self.call(self.api.start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self.api.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def soon(self, action: Callable[[], object]) -> threading.Thread:
        """Run `action()` in a helper thread (it may block on the server)."""
        thread = threading.Thread(target=action, daemon=True)
        thread.start()
        return thread
