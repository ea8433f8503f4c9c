"""LocalBotApi: a small, strict Telegram Bot API server on 127.0.0.1 for end-to-end tests and the console.

This module owns the HTTP surface (aiohttp; `<root>/bot<token>/<method>`, GET or POST with query string, JSON,
urlencoded or multipart parameters) and the Bot API methods.  The simulated users, chats and update queue, and
the helpers tests use to act as users and observe the bot, live in world.py (LocalBotApi inherits them);
validation rules live in rules.py, text parsing in html.py, records and rate limits in state.py.

Every request is answered like Telegram (`{"ok": true, "result": ...}` or `{"ok": false, "error_code": N,
"description": ..., "parameters": ...}`) and recorded in `journal`; the failures are also kept apart so
`errors()` is cheap.  The token never appears in logs: aiohttp's access log (which prints request paths, and
the path holds the token) is switched off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bot.localapi import rules
from bot.localapi.state import (
    JSON,
    ApiError,
    ChatRecord,
    JournalEntry,
    RateLimiter,
    RateLimits,
    SentMessage,
    bad_request,
)
from bot.localapi.world import World

_LOG = logging.getLogger(__name__)

CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same as a "
    "content and reply markup of the current message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
# Updates Telegram withholds unless allowed_updates names them explicitly.
_NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# Form encodings carry every value as a string; these are decoded up front so the journal looks the same
# whichever encoding the client used (python-telegram-bot posts urlencoded forms, JSON-dumping non-strings).
_JSON_KEYS = frozenset(
    {
        "reply_markup",
        "link_preview_options",
        "results",
        "commands",
        "scope",
        "allowed_updates",
        "entities",
        "menu_button",
        "button",
        "reply_parameters",
        "caption_entities",
    }
)
_INT_KEYS = frozenset(
    {
        "chat_id",
        "message_id",
        "user_id",
        "offset",
        "limit",
        "timeout",
        "cache_time",
        "reply_to_message_id",
        "message_thread_id",
        "max_connections",
    }
)
_BOOL_KEYS = frozenset(
    {
        "show_alert",
        "is_personal",
        "disable_notification",
        "protect_content",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "allow_paid_broadcast",
    }
)
# Bot API methods served; each is handled by the method named like it in snake case (getMe -> _get_me).
_METHODS = (
    "getMe",
    "logOut",
    "close",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "getUpdates",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "deleteMessage",
    "answerCallbackQuery",
    "answerInlineQuery",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "setMyDescription",
    "getMyDescription",
    "setMyShortDescription",
    "getMyShortDescription",
    "setChatMenuButton",
    "getChatMenuButton",
    "getChat",
    "getChatMember",
    "getChatAdministrators",
    "sendChatAction",
)
_INT = re.compile(r"-?\d+")
# td::is_base64url_characters (tdutils/td/utils/base64.cpp:19-21, 210-228): the webhook secret's alphabet.
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class _Params:
    """Typed access to a request's parameters, raising Telegram's errors for malformed values."""

    __slots__ = ("raw",)

    def __init__(self, raw: JSON) -> None:
        self.raw = raw

    def string(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    def integer(self, name: str, missing: str | None = None) -> int | None:
        value = self.raw.get(name)
        if value is None or value == "":
            if missing is not None:
                raise bad_request(missing)
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INT.fullmatch(value):
            return int(value)
        raise bad_request(f"invalid {name} specified")

    def number(self, name: str) -> float:
        """A non-integer-typed numeric parameter (getUpdates timeout may be fractional); 0 when absent."""
        value = self.raw.get(name)
        if value is None or value == "":
            return 0.0
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.raw.get(name)
        return value is True or value == 1 or (isinstance(value, str) and value.lower() in ("true", "1"))

    def obj(self, name: str, what: str) -> Any:
        value = self.raw.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {what} JSON object") from None
        return value


class LocalBotApi(World):
    """A faithful, small Telegram Bot API server plus the simulated users and chats around the bot."""

    def __init__(
        self,
        token: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: RateLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        bot_username: str = "paper_digest_bot",
        bot_name: str = "Paper Digest",
        privacy_mode: bool = True,
        inline_feedback: bool = False,
        keep_journal: bool = True,
        strict_ampersand: bool = True,
        query_timeout: float = 15.0,
        local_mode: bool = False,
    ) -> None:
        prefix = token.split(":", 1)[0]
        super().__init__(
            clock=clock,
            bot_id=int(prefix) if prefix.isdigit() else 1_000_000_001,
            bot_username=bot_username,
            bot_name=bot_name,
            privacy_mode=privacy_mode,
            inline_feedback=inline_feedback,
            strict_ampersand=strict_ampersand,
        )
        self._token = token
        self._host = host
        self._port = port
        self.limits = limits or RateLimits()
        self._rate = RateLimiter(self.limits, clock)
        self.keep_journal = keep_journal  # False keeps only failed requests (benchmarks)
        self.query_timeout = query_timeout  # seconds (on `clock`) a callback/inline query stays answerable
        # telegram-bot-api --local: webhooks may use plain HTTP, any port and local addresses (WebhookActor.cpp:705).
        self.local_mode = local_mode
        self.webhook_retry_seconds = 0.05  # pause after a failed delivery (Telegram backs off longer)
        self._webhook_task: asyncio.Task[None] | None = None
        self.root = ""
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.descriptions: dict[tuple[str, str], str] = {}  # (description | short_description, language) -> text
        self._default_menu_button: JSON = {"type": "commands"}
        self._allowed: frozenset[str] | None = None
        self._webhook: JSON | None = None
        self._webhook_error: tuple[int, str] | None = None  # (date, message) of the last failed delivery
        self._runner: web.AppRunner | None = None
        self._stopping = False
        self._methods: dict[str, tuple[str, Callable[[_Params], Any]]] = {
            name.lower(): (name, getattr(self, "_" + re.sub(r"([A-Z])", r"_\1", name).lower())) for name in _METHODS
        }

    # --- lifecycle -------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        # handler_cancellation: a long poll the client abandoned must release the getUpdates slot at once.
        # access_log=None: the access log prints request paths, and the path contains the token.
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.root = f"http://{self._host}:{site.port}"

    async def stop(self) -> None:
        self._stopping = True
        if self._poll_wakeup is not None and not self._poll_wakeup.done():
            self._poll_wakeup.set_result("stop")
        self._set_webhook_target(None)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- HTTP ------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        # Counted from the first byte of handling (before the body is read) so wait_idle cannot slip between;
        # the long poll is not "work in flight", it is the bot waiting.
        busy = request.match_info["method"].lower() != "getupdates"
        if busy:
            self._inflight += 1
        try:
            return await self._dispatch(request)
        finally:
            if busy:
                self._inflight -= 1
                self._last_activity = asyncio.get_running_loop().time()
                self._notify()

    async def _dispatch(self, request: web.Request) -> web.Response:
        given = request.match_info["method"]
        if request.match_info["token"] != self._token:
            return self._finish(given, {}, ApiError(401, "Unauthorized"), None)
        found = self._methods.get(given.lower())
        if found is None:
            return self._finish(given, {}, ApiError(404, "Not Found: method not found"), None)
        name, handler = found
        try:
            raw = await self._read_params(request)
        except ApiError as err:
            return self._finish(name, {}, err, None)
        if name == "getUpdates":
            return await self._get_updates_request(request, raw)
        injected = self._take_failure(name)
        if injected is not None:
            return self._finish(name, raw, injected, None)
        try:
            return self._finish(name, raw, None, handler(_Params(raw)))
        except ApiError as err:
            return self._finish(name, raw, err, None)
        except Exception as exc:  # a bug in this server must show up in errors(), not as a bare HTTP 500
            _LOG.exception("local Bot API failed in %s", name)
            return self._finish(name, raw, ApiError(500, f"Internal Server Error: {type(exc).__name__}: {exc}"), None)

    async def _read_params(self, request: web.Request) -> JSON:
        params: JSON = dict(request.query)
        if request.body_exists:
            if request.content_type == "application/json":
                try:
                    body = json.loads(await request.read())
                except ValueError:
                    raise bad_request("can't parse JSON encoded request body") from None
                if not isinstance(body, dict):
                    raise bad_request("JSON encoded request body must be an Object")
                params.update(body)
            elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                for key, value in (await request.post()).items():
                    if isinstance(value, web.FileField):
                        value.file.close()  # uploads are not simulated; keep only the name
                        params[key] = f"attach://{value.filename}"
                    else:
                        params[key] = value
        for key, value in params.items():
            if not isinstance(value, str):
                continue
            if key in _JSON_KEYS:
                with contextlib.suppress(ValueError):  # left as a string: the handler reports the error
                    params[key] = json.loads(value)
            elif key in _INT_KEYS and _INT.fullmatch(value):
                params[key] = int(value)
            elif key in _BOOL_KEYS and value.lower() in ("true", "false", "1", "0"):
                params[key] = value.lower() in ("true", "1")
        return params

    def _finish(self, method: str, params: JSON, error: ApiError | None, result: Any) -> web.Response:
        if error is None:
            body: JSON = {"ok": True, "result": result}
            status = 200
            if self.keep_journal:
                self.journal.append(JournalEntry(method, params, True, None, None, self._clock()))
        else:
            body = {"ok": False, "error_code": error.code, "description": error.description}
            if error.parameters:
                body["parameters"] = error.parameters
            status = error.code
            entry = JournalEntry(method, params, False, error.code, error.description, self._clock())
            self.journal.append(entry)
            self._errors.append(entry)
        return web.Response(
            body=json.dumps(body, ensure_ascii=False).encode(), status=status, content_type="application/json"
        )

    # --- updates -----------------------------------------------------------------------------------------

    async def _get_updates_request(self, request: web.Request, raw: JSON) -> web.Response:
        try:
            result = await self._get_updates(_Params(raw))
        except ApiError as err:
            transport = request.transport
            if err.code == 409 and (transport is None or transport.is_closing()):
                # The client had already given up on this poll (python-telegram-bot cancels its long poll on
                # shutdown): nobody reads this answer, so it is no bot error.
                return web.Response(status=409)
            return self._finish("getUpdates", raw, err, None)
        return self._finish("getUpdates", raw, None, result)

    async def _get_updates(self, p: _Params) -> list[JSON]:
        if self._webhook is not None:
            raise ApiError(409, WEBHOOK_CONFLICT)
        offset = p.integer("offset")
        limit = min(max(p.integer("limit") or 100, 1), 100)
        timeout = max(p.number("timeout"), 0.0)
        self._set_allowed(p)
        if offset is not None:
            self._confirm(offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batch = self._collect(limit)
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or self._stopping:
                return batch
            # As in tdlib's do_get_updates: a request that is about to long-poll terminates the pending
            # long poll, which is answered 409 (the older request loses); a timeout=0 request disturbs nothing.
            previous = self._poll_wakeup
            if previous is not None and not previous.done():
                previous.set_result("conflict")
            wakeup: asyncio.Future[str] = loop.create_future()
            self._poll_wakeup = wakeup
            self._notify()  # wait_polling() watches for this
            try:
                await asyncio.wait({wakeup}, timeout=remaining)
            finally:
                if self._poll_wakeup is wakeup:
                    self._poll_wakeup = None
            if wakeup.done() and wakeup.result() == "conflict":
                raise ApiError(409, CONFLICT)

    def _set_allowed(self, p: _Params) -> None:
        # Client.cpp:16889-16928 get_allowed_update_types: anything but a JSON array of strings is ignored (the
        # previous setting stays); names compare case-insensitively; an array naming no known type (empty
        # included) means the default set.
        try:
            allowed = p.obj("allowed_updates", "allowed updates")
        except ApiError:
            return
        if isinstance(allowed, list) and all(isinstance(kind, str) for kind in allowed):
            self._allowed = frozenset(kind.lower() for kind in allowed) or None

    def _confirm(self, offset: int) -> None:
        updates = self._updates
        if offset < 0:  # "the last -offset updates"; everything before them is forgotten
            while len(updates) > -offset:
                updates.popleft()
            return
        while updates and updates[0][0] < offset:
            updates.popleft()
        self._fetched_upto = max(self._fetched_upto, offset - 1)

    def _collect(self, limit: int) -> list[JSON]:
        batch: list[JSON] = []
        allowed = self._allowed
        scanned = self._fetched_upto
        expired: list[int] = []
        for update_id, kind, payload in self._updates:
            scanned = update_id
            if self._expired(update_id):
                expired.append(update_id)
                continue
            if kind in allowed if allowed is not None else kind not in _NOT_BY_DEFAULT:
                batch.append({"update_id": update_id, kind: payload})
                self._handed_over(update_id)
                if len(batch) >= limit:
                    break
        if expired:
            # Telegram's queue forgets an update whose lifetime ran out (world.UPDATE_LIFETIME).
            for update_id in expired:
                self._dropped(update_id)
            gone = set(expired)
            self._updates = type(self._updates)(u for u in self._updates if u[0] not in gone)
        # Updates of kinds the bot did not ask for count as fetched: Telegram never delivers them.
        self._fetched_upto = max(self._fetched_upto, scanned)
        if batch:
            self._last_activity = asyncio.get_running_loop().time()
        return batch

    # --- chat access ---------------------------------------------------------------------------------------

    def _chat(self, p: _Params, *, write: bool) -> ChatRecord:
        value = p.raw.get("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        chat = self._chats.get(value) if isinstance(value, int) and not isinstance(value, bool) else None
        if chat is None or chat.deleted or not chat.bot_member:
            if isinstance(value, int) and value in self._users and chat is None:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise bad_request("group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": chat.migrated_to})
        if chat.is_group and chat.blocked:
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
        if write and chat.deactivated:
            raise ApiError(403, "Forbidden: user is deactivated")
        if write and chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _reply_target(self, chat: ChatRecord, p: _Params) -> int | None:
        params = p.obj("reply_parameters", "reply parameters")
        target = p.integer("reply_to_message_id")
        lenient = p.flag("allow_sending_without_reply")
        if isinstance(params, dict):
            target = _Params(params).integer("message_id")
            lenient = lenient or bool(params.get("allow_sending_without_reply"))
        if target is None:
            return None
        if target in chat.messages or target in chat.user_messages:
            return target
        if lenient:
            return None
        raise bad_request("message to be replied not found")

    @staticmethod
    def _thread(chat: ChatRecord, p: _Params) -> int | None:
        """The forum topic a send goes to, checked as telegram-bot-api's check_message_topic does."""
        value = p.raw.get("message_thread_id")
        # Client.cpp:12375-12387 get_forum_topic_id: absent, unparsable or negative means 0 (no topic).
        thread = value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
        if thread == 0 or not chat.forum:
            return None  # Client.cpp:8262-8264, 8289: outside forums the parameter is ignored
        if thread == 1 or thread not in chat.topics:
            # Client.cpp:8276-8277 (General, id 1, is not a thread to name) and 6818 (getForumTopic failed).
            raise bad_request("message thread not found")
        return thread

    # --- methods -------------------------------------------------------------------------------------------

    def _log_out(self, p: _Params) -> bool:
        return True

    _close = _log_out

    def _get_me(self, p: _Params) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _set_webhook(self, p: _Params) -> bool:
        url = p.string("url")
        if p.flag("drop_pending_updates"):
            self._drop_updates()  # Client.cpp:16006-16008
        if not url:
            self._set_webhook_target(None)
            return True
        parts = urlsplit(url if "://" in url else f"https://{url}")
        try:
            port = parts.port or (80 if parts.scheme == "http" else 443)
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port <= 0:
            raise bad_request("invalid webhook URL specified")  # Client.cpp:16013-16016 (td::parse_url)
        secret = p.string("secret_token") or ""
        if len(secret.encode()) > 256:
            raise bad_request("secret token is too long")  # Client.cpp:16018-16021
        if not _BASE64URL.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")  # Client.cpp:16022-16024
        if not self.local_mode:
            # WebhookActor.cpp:705-715, reported as "bad webhook: ..." by Client.cpp:15961.
            if parts.scheme != "https":
                raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
            if port not in (443, 88, 80, 8443):
                raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        self._set_allowed(p)  # Client.cpp:16089 update_allowed_update_types
        self._set_webhook_target({"url": url, "secret_token": secret})
        return True

    def _delete_webhook(self, p: _Params) -> bool:
        self._set_webhook_target(None)
        if p.flag("drop_pending_updates"):
            self._drop_updates()
        return True

    async def wait_webhook(self, timeout: float = 5.0) -> str:  # noqa: ASYNC109
        """Wait until the bot has registered a webhook; returns its URL."""
        return await self._wait_until(
            lambda: (self._webhook or {}).get("url"), timeout, lambda: f"no webhook set\n{self.describe()}"
        )

    def _set_webhook_target(self, hook: JSON | None) -> None:
        """Switch deliveries: a webhook gets updates POSTed by a background task; None stops it."""
        self._webhook = hook
        self._notify()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            self._webhook_task = None
        self.webhook_wakeup = None
        if hook is not None:
            self.webhook_wakeup = asyncio.Event()
            self._webhook_task = asyncio.get_running_loop().create_task(self._deliver(hook, self.webhook_wakeup))

    async def _deliver(self, hook: JSON, wakeup: asyncio.Event) -> None:
        """POST each update to the webhook in order, as WebhookActor does (WebhookActor.cpp:552-566): JSON body,
        X-Telegram-Bot-Api-Secret-Token when a secret was set. A non-2xx answer is journaled as an error and the
        update is offered again after a pause; a 2xx answer confirms it."""
        headers = {"Content-Type": "application/json"}
        if hook["secret_token"]:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
        async with aiohttp.ClientSession() as session:
            while self._webhook is hook and not self._stopping:
                wakeup.clear()
                batch = self._collect(1)
                if not batch:
                    await wakeup.wait()
                    continue
                update = batch[0]
                self._inflight += 1
                try:
                    status, reason = await self._post_update(session, hook["url"], headers, update)
                finally:
                    self._inflight -= 1
                    self._last_activity = asyncio.get_running_loop().time()
                    self._notify()
                if 200 <= status < 300:
                    self._confirm(update["update_id"] + 1)
                    continue
                # WebhookActor.cpp:636: "Wrong response from the webhook: <code> <reason>". A refused connection
                # (status 0) is not the bot's answer: python-telegram-bot registers the webhook before its server
                # listens, and Telegram simply retries. Only a wrong HTTP answer counts as a bot error.
                description = f"Wrong response from the webhook: {status} {reason}" if status else reason
                self._webhook_error = (int(time.time()), description)
                if status:
                    entry = JournalEntry(
                        "webhook", {"update_id": update["update_id"]}, False, status, description, self._clock()
                    )
                    self.journal.append(entry)
                    self._errors.append(entry)
                self._fetched_upto = update["update_id"] - 1  # offer it again
                await asyncio.sleep(self.webhook_retry_seconds)

    @staticmethod
    async def _post_update(
        session: aiohttp.ClientSession, url: str, headers: dict[str, str], update: JSON
    ) -> tuple[int, str]:
        try:
            async with session.post(url, data=json.dumps(update, ensure_ascii=False).encode(), headers=headers) as r:
                await r.read()
                return r.status, r.reason or ""
        except aiohttp.ClientError as exc:
            return 0, f"Connection failed: {exc}"

    def _drop_updates(self) -> None:
        self._updates.clear()
        self._fetched_upto = self._next_update_id - 1

    def _get_webhook_info(self, p: _Params) -> JSON:
        info: JSON = {
            "url": (self._webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook is not None and self._webhook_error is not None:
            info["last_error_date"], info["last_error_message"] = self._webhook_error
        if self._allowed is not None:
            info["allowed_updates"] = sorted(self._allowed)
        return info

    def _send_message(self, p: _Params) -> JSON:
        chat = self._chat(p, write=True)
        text = p.string("text")
        parse_mode = p.string("parse_mode")
        plain, entities = rules.message_text(
            text, parse_mode, p.obj("entities", "entities"), strict_ampersand=self.strict_ampersand
        )
        markup = rules.reply_markup(p.obj("reply_markup", "reply keyboard markup"))
        preview_disabled = rules.link_preview_disabled(
            p.raw.get("link_preview_options"), p.flag("disable_web_page_preview")
        )
        reply_to = self._reply_target(chat, p)
        thread = self._thread(chat, p)
        self._rate.check(chat.id, group=chat.is_group, paid=p.flag("allow_paid_broadcast"))
        msg = SentMessage(
            chat.id,
            chat.take_message_id(),
            plain,
            text or "",
            entities,
            markup,
            int(time.time()),
            parse_mode=parse_mode,
            sender_id=self.bot_id,
            reply_to_message_id=reply_to,
            message_thread_id=thread,
            link_preview_disabled=preview_disabled,
        )
        chat.messages[msg.message_id] = msg
        self._emit(msg)
        return self._message_dict(chat, msg)

    def _edit_target(self, p: _Params) -> tuple[ChatRecord, SentMessage, bool]:
        inline_id = p.string("inline_message_id")
        if inline_id is not None:
            where = self._inline_messages.get(inline_id)
            chat = self._chats.get(where[0]) if where else None
            msg = chat.messages.get(where[1]) if chat is not None and where else None
            if chat is None or msg is None:
                raise bad_request("MESSAGE_ID_INVALID")
            return chat, msg, True
        chat = self._chat(p, write=True)
        message_id = p.integer("message_id", missing="message identifier is not specified")
        assert message_id is not None
        msg = chat.messages.get(message_id)
        if msg is None or msg.via_bot:
            if msg is not None or message_id in chat.user_messages:
                raise bad_request("message can't be edited")
            raise bad_request("message to edit not found")
        return chat, msg, False

    def _inline_markup(self, p: _Params) -> JSON | None:
        markup = p.obj("reply_markup", "inline keyboard markup")
        if markup is None:
            return None
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            raise bad_request("can't parse inline keyboard markup JSON object")
        rules.inline_keyboard(markup)
        return markup

    def _edited(self, chat: ChatRecord, msg: SentMessage, inline: bool) -> JSON | bool:
        msg.edited += 1
        msg.edit_date = int(time.time())
        self._emit(msg)
        return True if inline else self._message_dict(chat, msg)

    @staticmethod
    def _current_markup(msg: SentMessage) -> JSON | None:
        markup = msg.reply_markup
        return markup if markup is not None and "inline_keyboard" in markup else None

    def _edit_message_text(self, p: _Params) -> JSON | bool:
        chat, msg, inline = self._edit_target(p)
        text = p.string("text")
        parse_mode = p.string("parse_mode")
        plain, entities = rules.message_text(
            text, parse_mode, p.obj("entities", "entities"), strict_ampersand=self.strict_ampersand
        )
        markup = self._inline_markup(p)
        rules.link_preview_disabled(p.raw.get("link_preview_options"), p.flag("disable_web_page_preview"))
        # Telegram compares what users would see (text, entities, keyboard), not the HTML that produced it.
        if plain == msg.text and entities == msg.entities and markup == self._current_markup(msg):
            raise bad_request(NOT_MODIFIED)
        msg.text, msg.html, msg.entities, msg.parse_mode = plain, text or "", entities, parse_mode
        msg.reply_markup = markup  # an edit without reply_markup removes the inline keyboard, as on Telegram
        return self._edited(chat, msg, inline)

    def _edit_message_reply_markup(self, p: _Params) -> JSON | bool:
        chat, msg, inline = self._edit_target(p)
        markup = self._inline_markup(p)
        if markup == self._current_markup(msg):
            raise bad_request(NOT_MODIFIED)
        msg.reply_markup = markup
        return self._edited(chat, msg, inline)

    def _delete_message(self, p: _Params) -> bool:
        chat = self._chat(p, write=True)
        message_id = p.integer("message_id", missing="message identifier is not specified")
        msg = chat.messages.pop(message_id or 0, None)
        if msg is not None:
            if msg.inline_message_id is not None:
                self._inline_messages.pop(msg.inline_message_id, None)
            return True
        if chat.user_messages.pop(message_id or 0, None) is not None:
            return True
        raise bad_request("message to delete not found")

    def _live_query(self, pending: dict[str, float], query_id: str | None) -> str:
        created = pending.get(query_id or "")
        if query_id is None or created is None:
            raise bad_request(QUERY_TOO_OLD)
        if self._clock() - created > self.query_timeout:
            del pending[query_id]
            raise bad_request(QUERY_TOO_OLD)
        return query_id

    def _answer_callback_query(self, p: _Params) -> bool:
        query_id = self._live_query(self._pending_callbacks, p.string("callback_query_id"))
        text = p.string("text")
        if text is not None and len(text) > rules.MAX_CALLBACK_ANSWER:
            raise bad_request("MESSAGE_TOO_LONG")
        del self._pending_callbacks[query_id]
        self.callback_answers[query_id] = dict(p.raw)
        return True

    def _answer_inline_query(self, p: _Params) -> bool:
        query_id = self._live_query(self._pending_inline, p.string("inline_query_id"))
        results = rules.inline_results(
            p.obj("results", "inline query results"), p.raw.get("next_offset"), strict_ampersand=self.strict_ampersand
        )
        del self._pending_inline[query_id]
        self.inline_answers[query_id] = {**p.raw, "results": results}
        return True

    def _commands_key(self, p: _Params) -> tuple[str, str]:
        return rules.scope_key(p.obj("scope", "BotCommandScope")), rules.language_code(p.raw.get("language_code"))

    def _set_my_commands(self, p: _Params) -> bool:
        commands = rules.bot_commands(p.obj("commands", "commands"))
        key = self._commands_key(p)
        if commands:
            self.commands[key] = commands
        else:
            self.commands.pop(key, None)
        return True

    def _get_my_commands(self, p: _Params) -> list[JSON]:
        return list(self.commands.get(self._commands_key(p), []))

    def _delete_my_commands(self, p: _Params) -> bool:
        self.commands.pop(self._commands_key(p), None)
        return True

    def _describe(self, p: _Params, kind: str, limit: int) -> bool:
        # Client.cpp:12808-12829 pass both to tdlib, which checks the language code (BotInfoManager.cpp:1200,
        # 1212). The lengths (512 and 120 characters) are Telegram's server's, as documented; the exact error
        # text is not in the open-source code.
        language = rules.language_code(p.raw.get("language_code"))
        text = p.string(kind) or ""
        if len(text) > limit:
            raise bad_request(f"{kind} is too long")
        self.descriptions[(kind, language)] = text
        return True

    def _set_my_description(self, p: _Params) -> bool:
        return self._describe(p, "description", 512)

    def _set_my_short_description(self, p: _Params) -> bool:
        return self._describe(p, "short_description", 120)

    def _get_my_description(self, p: _Params) -> JSON:
        language = rules.language_code(p.raw.get("language_code"))
        return {"description": self.descriptions.get(("description", language), "")}

    def _get_my_short_description(self, p: _Params) -> JSON:
        language = rules.language_code(p.raw.get("language_code"))
        return {"short_description": self.descriptions.get(("short_description", language), "")}

    def _set_chat_menu_button(self, p: _Params) -> bool:
        button = p.obj("menu_button", "menu button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in ("commands", "web_app", "default"):
            raise bad_request("can't parse menu button JSON object")
        if p.raw.get("chat_id") in (None, ""):
            self._default_menu_button = button
        else:
            self._chat(p, write=False).menu_button = button
        return True

    def _get_chat_menu_button(self, p: _Params) -> JSON:
        if p.raw.get("chat_id") in (None, ""):
            return self._default_menu_button
        return self._chat(p, write=False).menu_button or self._default_menu_button

    def _get_chat(self, p: _Params) -> JSON:
        chat = self._chat(p, write=False)
        gifts = dict.fromkeys(
            ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription", "gifts_from_channels"), False
        )
        return {**self._chat_dict(chat), "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}

    def _member(self, chat: ChatRecord, user_id: int) -> JSON:
        user = self.bot_user if user_id == self.bot_id else self._users.get(user_id)
        if user is None:
            raise bad_request("user not found")
        if chat.type == "private":
            return {"status": "member", "user": user}
        if chat.admins and user_id == chat.admins[0]:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in chat.admins or (user_id == self.bot_id and chat.bot_is_admin):
            rights = dict.fromkeys(
                (
                    "can_manage_chat",
                    "can_delete_messages",
                    "can_manage_video_chats",
                    "can_restrict_members",
                    "can_change_info",
                    "can_invite_users",
                    "can_post_stories",
                    "can_edit_stories",
                    "can_delete_stories",
                    "can_pin_messages",
                ),
                True,
            )
            return {
                "status": "administrator",
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_promote_members": False,
                **rights,
            }
        if user_id in chat.members or user_id == self.bot_id:
            return {"status": "member", "user": user}
        return {"status": "left", "user": user}

    def _get_chat_member(self, p: _Params) -> JSON:
        chat = self._chat(p, write=False)
        user_id = p.integer("user_id", missing="invalid user_id specified")
        assert user_id is not None
        return self._member(chat, user_id)

    def _get_chat_administrators(self, p: _Params) -> list[JSON]:
        chat = self._chat(p, write=False)
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        ids = list(chat.admins) + ([self.bot_id] if chat.bot_is_admin else [])
        return [self._member(chat, user_id) for user_id in ids]

    def _send_chat_action(self, p: _Params) -> bool:
        self._chat(p, write=True)
        if p.string("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True
