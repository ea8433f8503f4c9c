"""The contract between the bot and the real Bot API server: every (method, parameter) the bot sends, what
tdlib/telegram-bot-api does with it, and where in their source that is. test_contract.py drives the bot through
its features and checks each parameter of each request against this table; a parameter the table does not
list fails the test, so a new call or parameter is audited before it ships.

Sources: tdlib/telegram-bot-api at 01a3679 (telegram-bot-api/Client.cpp, WebhookActor.cpp), tdlib/td at 022d602
(td/telegram/...). "Telegram's server" marks limits that neither open-source project checks (MTProto errors).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bot.localapi.state import JournalEntry

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
UPDATE_TYPES = {
    "message", "edited_message", "channel_post", "edited_channel_post", "business_connection", "business_message",
    "edited_business_message", "deleted_business_messages", "message_reaction", "message_reaction_count",
    "inline_query", "chosen_inline_result", "callback_query", "shipping_query", "pre_checkout_query",
    "purchased_paid_media", "poll", "poll_answer", "my_chat_member", "chat_member", "chat_join_request",
    "chat_boost", "removed_chat_boost", "managed_bot", "guest_message",
}  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """One row of the audit: what the bot sends and what the real server does with it."""

    method: str
    parameter: str
    real_server: str
    source: str
    fixed: str  # what was wrong, and how it was fixed ("-" when the bot already complied)
    check: Callable[[Any], bool]


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _commands(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) <= 100
        and all(_COMMAND.fullmatch(c["command"]) and 1 <= len(c["description"].strip()) <= 256 for c in value)
    )


def _keyboard(value: Any) -> bool:
    rows = value.get("inline_keyboard") if isinstance(value, dict) else None
    if not isinstance(rows, list):
        return False
    buttons = [b for row in rows for b in row]
    return len(buttons) <= 100 and all(
        b.get("text", "").strip()
        and sum(k in b for k in ("callback_data", "url", "switch_inline_query", "switch_inline_query_current_chat"))
        == 1
        and (("callback_data" not in b) or 1 <= len(b["callback_data"].encode()) <= 64)
        and (("url" not in b) or b["url"].startswith(("https://", "http://", "tg://")))
        for b in buttons
    )


def _results(value: Any) -> bool:
    if not isinstance(value, list) or len(value) > 50:
        return False
    ids = [r.get("id", "") for r in value]
    return len(set(ids)) == len(ids) and all(1 <= len(i.encode()) <= 64 for i in ids)


def _preview(value: Any) -> bool:
    return isinstance(value, dict) and value.get("is_disabled") is True


CONTRACT: tuple[Rule, ...] = (
    Rule("getMe", "-", "returns the bot; a wrong token is 401", "Client.cpp:12709-12712, 168-169", "-", lambda v: True),
    Rule("deleteWebhook", "-", "answered even when no webhook is set",
         "Client.cpp:393 (same handler as setWebhook), 15760-15770", "-", lambda v: True),
    Rule("getUpdates", "offset", "integer; confirms updates below it", "Client.cpp:15707", "-", _int),
    Rule("getUpdates", "timeout", "clamped to 0..50 s", "Client.cpp:15709, Client.h:1610", "-",
         lambda v: _int(v) and 0 <= v <= 50),
    Rule("getUpdates", "limit", "clamped to 1..100", "Client.cpp:15708", "-", lambda v: _int(v) and 1 <= v <= 100),
    Rule("getUpdates", "allowed_updates", "JSON array of type names; malformed is ignored silently, unknown names "
         "skipped", "Client.cpp:16889-16928", "-", lambda v: isinstance(v, list) and set(v) <= UPDATE_TYPES),
    Rule("setMyCommands", "language_code", "empty or exactly two lowercase ASCII letters, else 400 invalid "
         "language code specified", "td misc.cpp:395-404 via BotCommand.cpp:171; Client.cpp:12734",
         "sent zh-hans / zh-hant, so the bot exited at start-up: now default + zh, and menu failures are "
         "retried in the background", lambda v: v in (None, "") or bool(re.fullmatch(r"[a-z]{2}", v))),
    Rule("setMyCommands", "commands", "trimmed, leading / dropped; command 1..32, description 1..256; "
         "[a-z0-9_] and at most 100 are Telegram's server", "td BotCommand.cpp:173-208", "-", _commands),
    Rule("setMyDescription", "language_code", "as setMyCommands", "td BotInfoManager.cpp:1198-1201, "
         "misc.cpp:395-404", "-", lambda v: v in (None, "") or bool(re.fullmatch(r"[a-z]{2}", v))),
    Rule("setMyDescription", "description", "0..512 characters (Telegram's server)", "Client.cpp:12808-12814",
         "-", lambda v: isinstance(v, str) and len(v) <= 512),
    Rule("setMyShortDescription", "language_code", "as setMyCommands", "td BotInfoManager.cpp:1210-1213, "
         "misc.cpp:395-404", "-", lambda v: v in (None, "") or bool(re.fullmatch(r"[a-z]{2}", v))),
    Rule("setMyShortDescription", "short_description", "0..120 characters (Telegram's server)",
         "Client.cpp:12823-12829", "-", lambda v: isinstance(v, str) and len(v) <= 120),
    Rule("sendMessage", "chat_id", "integer chat id", "Client.cpp:12885", "-", _int),
    Rule("sendMessage", "text", "1..4096 characters after entity parsing", "Client.cpp:11397-11406; "
         "td MessageContent.cpp:4758, MessageEntity.cpp:4519", "-", lambda v: isinstance(v, str) and v.strip() != ""),
    Rule("sendMessage", "parse_mode", "HTML entities parsed; invalid markup is 400", "Client.cpp:11404", "-",
         lambda v: v == "HTML"),
    Rule("sendMessage", "reply_markup", "inline keyboard; callback_data 1..64 bytes (Telegram's server)",
         "Client.cpp:9591-9600, 9697", "-", _keyboard),
    Rule("sendMessage", "link_preview_options", "JSON object of optional typed fields; when present, "
         "disable_web_page_preview is ignored", "Client.cpp:11361-11389", "-", _preview),
    Rule("sendMessage", "message_thread_id", "forum topic id; 1 (General) or an unknown topic is 400 message "
         "thread not found; ignored outside forums", "Client.cpp:8255-8292, 6818, 12375-12387",
         "never sent: replies and the push landed in General; now the topic of the update, and the push goes to "
         "the topic where /subscribe was sent", lambda v: _int(v) and v > 1),
    Rule("editMessageText", "chat_id", "integer chat id", "Client.cpp:13503", "-", _int),
    Rule("editMessageText", "message_id", "the message to edit", "Client.cpp:13503", "-", _int),
    Rule("editMessageText", "text", "as sendMessage", "Client.cpp:11391-11406", "-",
         lambda v: isinstance(v, str) and v.strip() != ""),
    Rule("editMessageText", "parse_mode", "as sendMessage", "Client.cpp:11404", "-", lambda v: v == "HTML"),
    Rule("editMessageText", "reply_markup", "as sendMessage", "Client.cpp:9697", "-", _keyboard),
    Rule("editMessageText", "link_preview_options", "as sendMessage", "Client.cpp:11361-11389", "-", _preview),
    Rule("answerCallbackQuery", "callback_query_id", "one answer per query within the deadline, else QUERY_ID_"
         "INVALID -> 400 query is too old", "Client.cpp:14319-14328, 146-148",
         "ts_all never answered (spinner) and an expired answer raised into an apology: now answered exactly once, "
         "before any change; an expired press is dropped quietly", lambda v: isinstance(v, str) and v != ""),
    Rule("answerCallbackQuery", "text", "plain text (no parse_mode parameter); at most 200 characters "
         "(Telegram's server)", "Client.cpp:14321", "answers carried HTML-escaped text (&amp;): now plain",
         lambda v: isinstance(v, str) and len(v) <= 200 and not re.search(r"&(amp|lt|gt|quot);|</?[a-z]+>", v)),
    Rule("answerCallbackQuery", "show_alert", "boolean", "Client.cpp:14322", "-", lambda v: isinstance(v, bool)),
    Rule("answerInlineQuery", "inline_query_id", "answerable for a short while only", "Client.cpp:14252, 146-148",
         "-", lambda v: isinstance(v, str) and v != ""),
    Rule("answerInlineQuery", "results", "at most 50; each id 1..64 bytes, unique (Telegram's server)",
         "Client.cpp:10261-10285; td InlineQueriesManager.cpp:742, .h:114", "-", _results),
    Rule("answerInlineQuery", "next_offset", "passed on verbatim; only an empty string means no more pages; "
         "at most 64 bytes (Telegram's server)", "Client.cpp:14255, 14271; td InlineQueriesManager.cpp:135-137",
         "sent \"[]\" (python-telegram-bot's Defaults turned \"\" into it): clients asked for page \"[]\" and got "
         "page 0 forever; now None when there is no next page", lambda v: isinstance(v, str) and v.isdigit()),
    Rule("answerInlineQuery", "cache_time", "clamped to 0..86400 (default 300)", "Client.cpp:14254", "-",
         lambda v: _int(v) and 0 <= v <= 86400),
    Rule("answerInlineQuery", "is_personal", "false lets Telegram serve the cached answer to every user",
         "Client.cpp:14253, 14271", "was false though results follow the sender's script: now true",
         lambda v: v is True),
    Rule("getChatMember", "chat_id", "integer chat id", "Client.cpp:15098", "-", _int),
    Rule("getChatMember", "user_id", "integer user id", "Client.cpp:15098", "-", _int),
    Rule("setWebhook", "url", "parsed as URL (else 400 invalid webhook URL specified); HTTPS on 443/80/88/8443 "
         "unless --local", "Client.cpp:16011-16016; WebhookActor.cpp:705-715", "-",
         lambda v: isinstance(v, str) and v.startswith(("https://", "http://127.0.0.1"))),
    Rule("setWebhook", "secret_token", "at most 256 bytes of A-Z a-z 0-9 _ -, sent back in "
         "X-Telegram-Bot-Api-Secret-Token", "Client.cpp:16018-16024; WebhookActor.cpp:560-562", "-",
         lambda v: isinstance(v, str) and len(v) <= 256 and bool(_BASE64URL.fullmatch(v))),
    Rule("setWebhook", "allowed_updates", "as getUpdates", "Client.cpp:16089, 16889-16928", "-",
         lambda v: isinstance(v, list) and set(v) <= UPDATE_TYPES),
    Rule("setWebhook", "max_connections", "clamped to 1..100", "Client.cpp:15988-15992", "-",
         lambda v: _int(v) and 1 <= v <= 100),
    Rule("setWebhook", "drop_pending_updates", "boolean; true clears the queue", "Client.cpp:16006-16008", "-",
         lambda v: isinstance(v, bool)),
)  # fmt: skip
_BY_KEY = {(rule.method, rule.parameter): rule for rule in CONTRACT}


def violations(journal: Iterable[JournalEntry]) -> tuple[list[str], set[tuple[str, str]]]:
    """Every parameter outside its row (or without a row), and the rows the journal exercised."""
    problems: list[str] = []
    used: set[tuple[str, str]] = set()
    for entry in journal:
        if entry.method == "webhook":
            continue  # the server's own delivery, not a request of the bot
        names = list(entry.params) or ["-"]
        for name in names:
            rule = _BY_KEY.get((entry.method, name))
            if rule is None:
                problems.append(f"{entry.method}.{name} is not in the audited contract")
                continue
            used.add((entry.method, name))
            value = entry.params.get(name)
            if name != "-" and not rule.check(value):
                problems.append(
                    f"{entry.method}.{name}={json.dumps(value, ensure_ascii=False)[:200]} breaks: "
                    f"{rule.real_server} ({rule.source})"
                )
    return problems, used
