"""Per-chat command rate limit: past the limit a chat is told once to slow down, then ignored briefly."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.telegram import render
from bot.telegram.context import Context, services
from bot.text.normalize import Script

WINDOW_SECONDS = 60.0


class Throttle:
    """Sliding one-minute window of updates per chat (or per user for inline queries)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = per_minute
        self._clock = clock
        self._seen: dict[int, deque[float]] = {}
        self._warned: dict[int, float] = {}

    def allow(self, key: int) -> bool:
        """Record one update; False when the key went over its limit."""
        now = self._clock()
        window = self._seen.setdefault(key, deque())
        while window and now - window[0] >= WINDOW_SECONDS:
            window.popleft()
        if len(window) >= self._limit:
            return False
        window.append(now)
        if len(self._seen) > 10_000:
            # Forget idle chats so memory stays bounded.
            for idle in [k for k, w in self._seen.items() if not w or now - w[-1] >= WINDOW_SECONDS]:
                self._seen.pop(idle, None)
                self._warned.pop(idle, None)
        return True

    def should_warn(self, key: int) -> bool:
        """Whether to tell this chat to slow down (once per window)."""
        now = self._clock()
        last = self._warned.get(key)
        if last is not None and now - last < WINDOW_SECONDS:
            return False
        self._warned[key] = now
        return True

    async def __call__(self, update: Update, context: Context) -> None:
        """TypeHandler callback run before every other handler."""
        chat = update.effective_chat
        user = update.effective_user
        key = chat.id if chat is not None else (user.id if user is not None else None)
        if key is None or self.allow(key):
            return
        script = await services(context).chats.script(chat.id) if chat is not None else Script.SIMPLIFIED
        if update.callback_query is not None:
            await update.callback_query.answer(render.throttled(script).text)
        elif chat is not None and update.message is not None and self.should_warn(key):
            await context.bot.send_message(chat.id, render.throttled(script).text)
        raise ApplicationHandlerStop
