"""Per-chat rate limit on requests (commands, button presses, inline queries): past the limit a chat is told
once to slow down, then ignored briefly. Other messages a group admin bot sees are not requests and never count."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from telegram import MessageEntity, Update
from telegram.ext import ApplicationHandlerStop

from bot.telegram import render
from bot.telegram.context import Context, services
from bot.telegram.handlers.answer import answer, forget
from bot.telegram.handlers.common import send
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
        if not asks_the_bot(update):
            return  # group chatter the bot sees as an admin, service messages: not requests
        chat = update.effective_chat
        user = update.effective_user
        key = chat.id if chat is not None else (user.id if user is not None else None)
        if key is None or self.allow(key):
            return
        script = await services(context).chats.script(chat.id) if chat is not None else Script.SIMPLIFIED
        if update.callback_query is not None:
            await answer(update, context, render.throttled(script).text)
            forget(update, context)
        elif chat is not None and update.message is not None and self.should_warn(key):
            await send(update, context, render.throttled(script))
        raise ApplicationHandlerStop


def asks_the_bot(update: Update) -> bool:
    """Whether the update is a request to the bot: a command, a button press or an inline query."""
    if update.callback_query is not None or update.inline_query is not None:
        return True
    message = update.message
    if message is None or not message.text:
        return False
    # A bot_command entity at offset 0 is how Telegram marks "/command" (what CommandHandler matches too).
    return any(e.type == MessageEntity.BOT_COMMAND and e.offset == 0 for e in message.entities)
