"""The simulated Telegram world around the bot: users, chats, bot messages, the update queue, user actions.

This module owns what LocalBotApi's users do (send text, press buttons, use inline mode, block the bot, upgrade
a group) and what tests observe (messages, journal failures, waiting for answers or for the bot to go idle).
server.py builds the Bot API methods on top of this state; the Message/Chat shapes here are Telegram's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TypeVar

from bot.localapi import rules
from bot.localapi.html import utf16_len
from bot.localapi.state import JSON, ApiError, ChatRecord, JournalEntry, SentMessage

_LOG = logging.getLogger(__name__)
T = TypeVar("T")
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@([A-Za-z0-9_]{3,32}))?")
# How long Telegram keeps an undelivered update queued for the bot (seconds), as telegram-bot-api pushes
# them into its queue: messages 86400 s from their date (Client.cpp:17053), inline queries 30 s (17073-17075),
# chosen inline results 600 s (17081-17083), callback queries 150 s (17155-17158, 17215-17218, 17227-17230).
UPDATE_LIFETIME = {"message": 86400.0, "inline_query": 30.0, "chosen_inline_result": 600.0, "callback_query": 150.0}
UNANSWERED = "callback query was never answered: the button's spinner keeps turning"


class World:
    """State and user-side actions of the simulated Telegram; LocalBotApi adds the HTTP Bot API on top."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        bot_id: int,
        bot_username: str,
        bot_name: str,
        privacy_mode: bool,
        inline_feedback: bool,
        strict_ampersand: bool,
    ) -> None:
        self._clock = clock
        self.bot_id = bot_id
        self.bot_user: JSON = {"id": bot_id, "is_bot": True, "first_name": bot_name, "username": bot_username}
        self.privacy_mode = privacy_mode
        self.inline_feedback = inline_feedback  # BotFather's /setinlinefeedback: send chosen_inline_result
        self.strict_ampersand = strict_ampersand
        self.journal: list[JournalEntry] = []
        self._errors: list[JournalEntry] = []
        self.callback_answers: dict[str, JSON] = {}
        self.inline_answers: dict[str, JSON] = {}
        self.on_message: Callable[[int, SentMessage], None] | None = None
        self._users: dict[int, JSON] = {}
        self._chats: dict[int, ChatRecord] = {}
        self._updates: deque[tuple[int, str, JSON]] = deque()
        self._next_update_id = 1
        self._fetched_upto = 0  # highest update id handed to (or skipped for) the bot
        self._poll_wakeup: asyncio.Future[str] | None = None  # the pending long poll, if any
        self._pending_callbacks: dict[str, float] = {}  # query id -> creation time on `clock`
        self._pending_inline: dict[str, float] = {}
        self._inline_queries: dict[str, JSON] = {}
        self._inline_messages: dict[str, tuple[int, int]] = {}  # inline_message_id -> (chat id, message id)
        self._ids = itertools.count(1)
        self._inflight = 0  # Bot API requests being handled (long polls excluded)
        self._last_activity = 0.0  # loop time of the last request or delivered update
        self._waiters: list[asyncio.Future[None]] = []
        self._failures: dict[str, list[ApiError]] = {}  # method -> errors to answer its next calls with
        self._expires: dict[int, float] = {}  # update id -> `clock` time Telegram drops it if undelivered
        self._query_of_update: dict[int, str] = {}  # callback update id -> query id
        self._delivered_queries: set[str] = set()  # callback queries handed to the bot
        self._reported: set[str] = set()  # unanswered queries already journaled as errors
        self.webhook_wakeup: asyncio.Event | None = None  # set on every new update while a webhook is active

    # --- updates and shapes ------------------------------------------------------------------------------

    def _enqueue(self, kind: str, payload: JSON) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        self._updates.append((update_id, kind, payload))
        self._expires[update_id] = self._clock() + UPDATE_LIFETIME.get(kind, 86400.0)
        if kind == "callback_query":
            self._query_of_update[update_id] = str(payload["id"])
        if self._poll_wakeup is not None and not self._poll_wakeup.done():
            self._poll_wakeup.set_result("update")
        if self.webhook_wakeup is not None:
            self.webhook_wakeup.set()
        self._notify()
        return update_id

    def _chat_dict(self, chat: ChatRecord) -> JSON:
        if chat.type != "private":
            out_group: JSON = {"id": chat.id, "type": chat.type, "title": chat.title or ""}
            if chat.forum:
                out_group["is_forum"] = True  # telegram-bot-api/Client.cpp:1303-1304 (JsonChat)
            return out_group
        user = self._users.get(chat.user_id or chat.id, {})
        out: JSON = {"id": chat.id, "type": "private", "first_name": user.get("first_name", "User")}
        if user.get("username"):
            out["username"] = user["username"]
        return out

    def _message_dict(self, chat: ChatRecord, msg: SentMessage, *, nested: bool = False) -> JSON:
        out: JSON = {
            "message_id": msg.message_id,
            "from": self._users[msg.sender_id] if msg.via_bot else self.bot_user,
            "chat": self._chat_dict(chat),
            "date": msg.date,
            "text": msg.text,
        }
        if msg.entities:
            out["entities"] = msg.entities
        if msg.reply_markup is not None and "inline_keyboard" in msg.reply_markup:
            out["reply_markup"] = msg.reply_markup  # Message objects only ever carry inline keyboards
        if msg.edit_date is not None:
            out["edit_date"] = msg.edit_date
        if msg.via_bot:
            out["via_bot"] = self.bot_user
        if msg.message_thread_id is not None:
            # Client.cpp:4126-4129 and 4727-4728: a message in a forum topic other than General.
            out["message_thread_id"] = msg.message_thread_id
            out["is_topic_message"] = True
        if msg.reply_to_message_id is not None and not nested:
            target = chat.messages.get(msg.reply_to_message_id)
            replied = (
                self._message_dict(chat, target, nested=True)
                if target is not None
                else chat.user_messages.get(msg.reply_to_message_id)
            )
            if replied is not None:
                out["reply_to_message"] = {k: v for k, v in replied.items() if k != "reply_to_message"}
        return out

    def _emit(self, msg: SentMessage) -> None:
        if self.on_message is not None:
            try:
                self.on_message(msg.chat_id, msg)
            except Exception:  # an observer's bug must not turn into a Bot API error
                _LOG.exception("on_message hook failed")
        self._notify()

    # --- the simulated world: users and chats ----------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str = "User",
        *,
        username: str | None = None,
        language_code: str | None = "zh-hans",
    ) -> JSON:
        """Create (or replace) a Telegram user; returns the User object."""
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[user_id] = user
        return dict(user)

    def add_private_chat(
        self,
        user_id: int,
        first_name: str = "User",
        *,
        username: str | None = None,
        language_code: str | None = "zh-hans",
    ) -> int:
        """The user opened the bot (pressed Start): a private chat whose id is the user id."""
        if user_id not in self._users:
            self.add_user(user_id, first_name, username=username, language_code=language_code)
        if user_id not in self._chats or not self._chats[user_id].bot_member:
            self._chats[user_id] = ChatRecord(user_id, "private", user_id=user_id, members={user_id})
        return user_id

    def add_group(
        self,
        chat_id: int,
        title: str,
        *,
        admins: list[int],
        members: Iterable[int] = (),
        supergroup: bool = False,
        bot_is_admin: bool = False,
        forum: bool = False,
    ) -> int:
        """A group (or supergroup) with the bot in it; admins[0] is the creator.  Unknown users are created.

        forum=True: a supergroup with topics (add topics with add_topic)."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        people = [*admins, *members]
        for user_id in people:
            if user_id not in self._users:
                self.add_user(user_id, f"User{user_id}")
        self._chats[chat_id] = ChatRecord(
            chat_id,
            "supergroup" if supergroup else "group",
            title=title,
            admins=list(admins),
            members=set(people),
            bot_is_admin=bot_is_admin,
            forum=forum,
        )
        if forum:
            self._chats[chat_id].type = "supergroup"
        return chat_id

    def add_topic(self, chat_id: int, name: str) -> int:
        """Create a forum topic; returns its message_thread_id (the id of its creation message, as on Telegram)."""
        chat = self._known_chat(chat_id)
        if not chat.forum:
            raise ValueError(f"chat {chat_id} is not a forum")
        if chat.next_message_id == 1:
            chat.take_message_id()  # message 1 opened the group; thread id 1 is General (Client.h:68)
        thread_id = chat.take_message_id()
        chat.topics[thread_id] = name
        return thread_id

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """An admin deletes a forum topic: sends into it fail from now on."""
        del self._known_chat(chat_id).topics[thread_id]

    def _known_chat(self, chat_id: int) -> ChatRecord:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise LookupError(f"unknown chat {chat_id}")
        return chat

    def _delivered(self, chat: ChatRecord, text: str, reply_to: int | None) -> bool:
        """Group privacy mode: the bot sees commands (not addressed to another bot) and replies to itself."""
        if chat.type == "private" or not self.privacy_mode or chat.bot_is_admin:
            return True
        if reply_to is not None and reply_to in chat.messages:
            return True
        command = _COMMAND.match(text)
        return (
            command is not None
            and (command.group(1) or self.bot_user["username"]).lower() == str(self.bot_user["username"]).lower()
        )

    async def send_text(
        self, chat_id: int, user_id: int, text: str, *, reply_to: int | None = None, thread: int | None = None
    ) -> JSON:
        """The user sends `text` to the chat (in forum topic `thread`); enqueues the update, returns the Message."""
        if chat_id == user_id and chat_id not in self._chats:
            self.add_private_chat(user_id)
        chat = self._known_chat(chat_id)
        if chat.deleted or chat.migrated_to is not None:
            raise ValueError(f"chat {chat_id} no longer exists (deleted or upgraded to {chat.migrated_to})")
        if chat.deactivated:
            raise ValueError(f"user {user_id} is deactivated")
        if user_id not in self._users:
            self.add_user(user_id, f"User{user_id}")
        chat.members.add(user_id)
        if chat.type == "private":
            chat.blocked = False  # writing to a bot you blocked means pressing Restart, which unblocks it
        message: JSON = {
            "message_id": chat.take_message_id(),
            "from": self._users[user_id],
            "chat": self._chat_dict(chat),
            "date": int(time.time()),
            "text": text,
        }
        if thread is not None:
            if thread not in chat.topics:
                raise LookupError(f"no forum topic {thread} in chat {chat_id}")
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
        command = _COMMAND.match(text)
        if command is not None:
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command.group(0))}]
        if reply_to is not None:
            target = chat.messages.get(reply_to)
            replied = self._message_dict(chat, target, nested=True) if target else chat.user_messages.get(reply_to)
            if replied is None:
                raise LookupError(f"no message {reply_to} in chat {chat_id}")
            message["reply_to_message"] = replied
        chat.user_messages[message["message_id"]] = message
        if self._delivered(chat, text, reply_to):
            self._enqueue("message", message)
        return message

    def _find_message(self, chat_id: int, message_id: int) -> tuple[ChatRecord, SentMessage]:
        chat = self._known_chat(chat_id)
        msg = chat.messages.get(message_id)
        if msg is None:
            raise LookupError(f"no bot message {message_id} in chat {chat_id}")
        return chat, msg

    async def press_button(
        self,
        chat_id: int,
        message_id: int,
        *,
        text: str | None = None,
        data: str | None = None,
        user_id: int | None = None,
    ) -> str:
        """Press the inline button with that text and/or callback_data; returns the callback query id."""
        if text is None and data is None:
            raise ValueError("name the button by text= or data=")
        chat, msg = self._find_message(chat_id, message_id)
        for button in msg.buttons():
            if (text is None or button.get("text") == text) and (data is None or button.get("callback_data") == data):
                if button.get("callback_data") is None:
                    raise ValueError(f"button {button.get('text')!r} is not a callback button: {button}")
                return self._callback(chat, msg, str(button["callback_data"]), user_id)
        labels = [(b.get("text"), b.get("callback_data")) for b in msg.buttons()]
        raise LookupError(f"no button text={text!r} data={data!r} on message {message_id}; it has {labels}")

    async def forge_callback(self, chat_id: int, message_id: int, data: str, user_id: int) -> str:
        """A callback query with arbitrary data on an existing bot message (stale or forged buttons)."""
        chat, msg = self._find_message(chat_id, message_id)
        return self._callback(chat, msg, data, user_id)

    def _callback(self, chat: ChatRecord, msg: SentMessage, data: str, user_id: int | None) -> str:
        if user_id is None:
            if chat.type != "private":
                raise ValueError("user_id is required to press a button in a group")
            user_id = chat.user_id or chat.id
        if user_id not in self._users:
            self.add_user(user_id, f"User{user_id}")
        query_id = str(4_000_000_000_000_000_000 + next(self._ids))
        payload: JSON = {
            "id": query_id,
            "from": self._users[user_id],
            "chat_instance": str(abs(chat.id) * 7919 + 104_729),
            "data": data,
        }
        if msg.inline_message_id is not None:
            payload["inline_message_id"] = msg.inline_message_id
        else:
            payload["message"] = self._message_dict(chat, msg)
        self._pending_callbacks[query_id] = self._clock()
        self._enqueue("callback_query", payload)
        return query_id

    async def inline_query(self, user_id: int, query: str, offset: str = "") -> str:
        """The user types `@bot query`; returns the inline query id."""
        if len(query) > 256:
            raise ValueError("inline query text is limited to 256 characters")
        if user_id not in self._users:
            self.add_user(user_id, f"User{user_id}")
        query_id = str(5_000_000_000_000_000_000 + next(self._ids))
        payload: JSON = {
            "id": query_id,
            "from": self._users[user_id],
            "query": query,
            "offset": offset,
            "chat_type": "sender",
        }
        self._pending_inline[query_id] = self._clock()
        self._inline_queries[query_id] = payload
        self._enqueue("inline_query", payload)
        return query_id

    async def inline_scroll(
        self,
        user_id: int,
        query: str,
        *,
        max_pages: int = 20,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[JSON]:
        """What a Telegram client does while the user scrolls inline results: ask, then ask again with the
        answer's next_offset until an answer has none (empty next_offset means no more, InlineQueriesManager.cpp
        in tdlib: NEXT_OFFSET_MASK only for a non-empty offset). Returns every answer in order; LookupError if the
        bot keeps offering pages past `max_pages` (a scroll that never ends)."""
        answers: list[JSON] = []
        offset = ""
        for _ in range(max_pages):
            query_id = await self.inline_query(user_id, query, offset)
            answer = await self.wait_for_inline_answer(query_id, timeout)
            answers.append(answer)
            offset = str(answer.get("next_offset") or "")
            if not offset:
                return answers
        raise LookupError(
            f"inline results for {query!r} never end: {max_pages} pages, "
            f"offsets {[a.get('next_offset') for a in answers]}"
        )

    async def choose_inline_result(self, user_id: int, query_id: str, result_id: str, chat_id: int) -> JSON:
        """The user picks a result: its text is posted into chat_id "via bot"; returns that Message."""
        answer = self.inline_answers.get(query_id)
        if answer is None:
            raise LookupError(f"inline query {query_id} was not answered")
        result = next((r for r in answer["results"] if r.get("id") == result_id), None)
        if result is None:
            raise LookupError(f"inline query {query_id} has no result {result_id!r}")
        content = result.get("input_message_content") or {}
        if "message_text" not in content:
            raise ValueError("only text input_message_content is simulated")
        plain, entities = rules.message_text(
            content["message_text"],
            content.get("parse_mode"),
            content.get("entities"),
            strict_ampersand=self.strict_ampersand,
        )
        chat = self._chats.get(chat_id)
        if chat is None:  # a chat the bot is not in, e.g. the user's chat with a friend
            chat = self._chats[chat_id] = ChatRecord(
                chat_id,
                "private" if chat_id > 0 else "group",
                title=None if chat_id > 0 else "Chat",
                user_id=chat_id,
                bot_member=False,
            )
            if chat_id > 0 and chat_id not in self._users:
                self.add_user(chat_id, f"User{chat_id}")
        markup = result.get("reply_markup")
        inline_id = f"AgAAA{next(self._ids):012d}" if markup else None
        msg = SentMessage(
            chat.id,
            chat.take_message_id(),
            plain,
            content["message_text"],
            entities,
            markup,
            int(time.time()),
            parse_mode=content.get("parse_mode"),
            via_bot=True,
            sender_id=user_id,
            inline_message_id=inline_id,
        )
        chat.messages[msg.message_id] = msg
        if inline_id is not None:
            self._inline_messages[inline_id] = (chat.id, msg.message_id)
        message = self._message_dict(chat, msg)
        if chat.bot_member and (chat.type != "private" or chat.id == user_id):
            self._enqueue("message", message)
        if self.inline_feedback:
            chosen: JSON = {
                "result_id": result_id,
                "from": self._users[user_id],
                "query": self._inline_queries.get(query_id, {}).get("query", ""),
            }
            if inline_id is not None:
                chosen["inline_message_id"] = inline_id
            self._enqueue("chosen_inline_result", chosen)
        self._emit(msg)
        return message

    def block(self, chat_id: int) -> None:
        """The user blocks the bot (private) or the bot is kicked (group): sends now get 403."""
        self._known_chat(chat_id).blocked = True

    def unblock(self, chat_id: int) -> None:
        self._known_chat(chat_id).blocked = False

    def deactivate(self, chat_id: int) -> None:
        """The user deleted their account: 403 user is deactivated."""
        self._known_chat(chat_id).deactivated = True

    def upgrade_group(self, chat_id: int, new_chat_id: int) -> None:
        """Upgrade a group to a supergroup: the old id answers 400 with migrate_to_chat_id from now on."""
        old = self._known_chat(chat_id)
        new = ChatRecord(
            new_chat_id,
            "supergroup",
            title=old.title,
            admins=list(old.admins),
            members=set(old.members),
            bot_is_admin=old.bot_is_admin,
        )
        self._chats[new_chat_id] = new
        old.migrated_to = new_chat_id
        actor = self._users.get(old.admins[0]) if old.admins else self.bot_user
        now = int(time.time())
        self._enqueue(
            "message",
            {
                "message_id": old.take_message_id(),
                "from": actor,
                "chat": self._chat_dict(old),
                "date": now,
                "migrate_to_chat_id": new_chat_id,
            },
        )
        self._enqueue(
            "message",
            {
                "message_id": new.take_message_id(),
                "from": actor,
                "chat": self._chat_dict(new),
                "date": now,
                "migrate_from_chat_id": chat_id,
            },
        )

    def delete_chat(self, chat_id: int) -> None:
        """The chat disappears: 400 chat not found from now on."""
        self._known_chat(chat_id).deleted = True

    def fail_next(self, method: str, error: ApiError, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with `error` (Telegram having a bad moment)."""
        self._failures.setdefault(method, []).extend([error] * times)

    def _take_failure(self, method: str) -> ApiError | None:
        queued = self._failures.get(method)
        return queued.pop(0) if queued else None

    # --- observation -----------------------------------------------------------------------------------------

    def messages(self, chat_id: int) -> list[SentMessage]:
        """Bot messages in the chat, oldest first, with edits applied and deleted ones gone.

        The SentMessage objects are live: a later edit updates the object a test already holds.
        """
        chat = self._chats.get(chat_id)
        return list(chat.messages.values()) if chat is not None else []

    def user_messages(self, chat_id: int) -> list[JSON]:
        """Messages the simulated users sent to the chat (Message objects), oldest first."""
        chat = self._chats.get(chat_id)
        return list(chat.user_messages.values()) if chat is not None else []

    def last_message(self, chat_id: int) -> SentMessage:
        chat = self._chats.get(chat_id)
        if chat is None or not chat.messages:
            raise LookupError(f"the bot has sent nothing to chat {chat_id}")
        return next(reversed(chat.messages.values()))

    def _expired(self, update_id: int) -> bool:
        """Whether Telegram would have dropped this undelivered update by now."""
        return self._clock() >= self._expires.get(update_id, float("inf"))

    def _handed_over(self, update_id: int) -> None:
        """Bookkeeping when an update reaches the bot (by getUpdates or webhook)."""
        self._expires.pop(update_id, None)
        query_id = self._query_of_update.pop(update_id, None)
        if query_id is not None:
            self._delivered_queries.add(query_id)

    def _dropped(self, update_id: int) -> None:
        """An update expired undelivered: a pressed button nobody will ever hear of is no bot error."""
        self._expires.pop(update_id, None)
        query_id = self._query_of_update.pop(update_id, None)
        if query_id is not None:
            self._pending_callbacks.pop(query_id, None)

    def errors(self) -> list[JournalEntry]:
        """The failed requests (kept apart from the journal, so this stays cheap), plus every callback query
        the bot received and never answered (each journaled once, as Telegram's client would keep spinning)."""
        for query_id in sorted(self._delivered_queries & self._pending_callbacks.keys() - self._reported):
            self._reported.add(query_id)
            entry = JournalEntry(
                "answerCallbackQuery", {"callback_query_id": query_id}, False, None, UNANSWERED, self._clock()
            )
            self.journal.append(entry)
            self._errors.append(entry)
        return list(self._errors)

    def take_errors(self) -> list[JournalEntry]:
        """The failures so far, forgotten afterwards (a test that provoked them on purpose checks and clears)."""
        found = self.errors()
        self._errors.clear()
        return found

    def describe(self, chat_id: int | None = None) -> str:
        """A readable dump of a chat and the latest requests, for assertion messages."""
        lines: list[str] = []
        if chat_id is not None:
            lines.append(f"bot messages in chat {chat_id}:")
            for msg in self.messages(chat_id):
                labels = " ".join(f"[{b.get('text')}]" for b in msg.buttons())
                lines.append(f"  #{msg.message_id}{' (edited)' if msg.edited else ''}: {msg.text[:300]!r} {labels}")
        lines.append("latest requests:")
        for entry in self.journal[-12:]:
            outcome = "ok" if entry.ok else f"{entry.error_code} {entry.description}"
            lines.append(f"  {entry.method}({entry.params.get('chat_id', '')}) -> {outcome}")
        pending = self._next_update_id - 1 - self._fetched_upto
        lines.append(f"updates not yet fetched by the bot: {pending}")
        return "\n".join(lines)

    # --- waiting ----------------------------------------------------------------------------------------------

    def _notify(self) -> None:
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def _wait_until(self, ready: Callable[[], T | None], seconds: float, what: Callable[[], str]) -> T:
        """Return ready()'s first non-None value, re-checking on every state change; TimeoutError(what())."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            value = ready()
            if value is not None:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(what())
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait({waiter}, timeout=remaining)
            finally:
                if not waiter.done():
                    waiter.cancel()
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(waiter)

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 (public API name)
    ) -> list[SentMessage]:
        """Wait until the chat holds at least `count` bot messages; returns them all."""

        def ready() -> list[SentMessage] | None:
            chat = self._chats.get(chat_id)
            return list(chat.messages.values()) if chat is not None and len(chat.messages) >= count else None

        return await self._wait_until(
            ready, timeout, lambda: f"expected >= {count} bot messages in {timeout}s\n{self.describe(chat_id)}"
        )

    async def wait_for_callback_answer(self, query_id: str, timeout: float = 5.0) -> JSON:  # noqa: ASYNC109
        return await self._wait_until(
            lambda: self.callback_answers.get(query_id),
            timeout,
            lambda: f"callback query {query_id} not answered in {timeout}s\n{self.describe()}",
        )

    async def wait_for_inline_answer(self, query_id: str, timeout: float = 5.0) -> JSON:  # noqa: ASYNC109
        return await self._wait_until(
            lambda: self.inline_answers.get(query_id),
            timeout,
            lambda: f"inline query {query_id} not answered in {timeout}s\n{self.describe()}",
        )

    @property
    def polling(self) -> bool:
        """Whether the bot has a long poll (getUpdates) waiting right now."""
        return self._poll_wakeup is not None and not self._poll_wakeup.done()

    async def wait_polling(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until the bot is long-polling (started and caught up)."""
        await self._wait_until(
            lambda: True if self.polling else None, timeout, lambda: f"the bot is not polling\n{self.describe()}"
        )

    async def wait_idle(self, timeout: float = 5.0, *, quiet: float = 0.05) -> None:  # noqa: ASYNC109
        """Wait until every update was fetched, no request is in flight and none came for `quiet` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            now = loop.time()
            settled = self._fetched_upto >= self._next_update_id - 1 and self._inflight == 0
            rest = self._last_activity + quiet - now if settled else quiet / 5
            if settled and rest <= 0:
                return
            if now >= deadline:
                raise TimeoutError(f"the bot did not go idle in {timeout}s\n{self.describe()}")
            await asyncio.sleep(min(max(rest, 0.001), deadline - now))
