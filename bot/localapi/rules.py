"""Telegram's validation rules for request payloads: message text, keyboards, bot commands, inline results.

Each check raises state.ApiError with Telegram's description (see /work/shared/telegram-bot-api-rules.md).
Where Telegram is lenient but a lenient answer would hide a bot bug (a button with two actions, a button URL
that is not http(s)/tg), these checks are on the strict side and say so.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from bot.localapi.html import Entity, EntityParseError, parse_text, utf16_len
from bot.localapi.state import JSON, bad_request

MAX_TEXT = 4096
MAX_BUTTONS = 100
MAX_CALLBACK_ANSWER = 200
MAX_INLINE_RESULTS = 50
PARSE_MODES = frozenset({"html", "markdownv2", "markdown", ""})

BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
# tdlib td/telegram/misc.cpp:395-404 (validate_bot_language_code, called by set/get/delete_commands in
# td/telegram/BotCommand.cpp:171,217,225): empty, or exactly two ASCII letters a-z. Nothing else: not "zh-hans",
# not "ZH", not three letters.
_LANGUAGE = re.compile(r"[a-z]{2}")
SCOPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)


def _entity_ok(entity: Any) -> bool:
    if not isinstance(entity, dict) or not isinstance(entity.get("type"), str):
        return False
    offset, length = entity.get("offset"), entity.get("length")
    return (
        isinstance(offset, int)
        and isinstance(length, int)
        and not isinstance(offset, bool)
        and not isinstance(length, bool)
        and offset >= 0
        and length >= 1
    )


def message_text(
    text: Any, parse_mode: str | None, entities: Any = None, *, strict_ampersand: bool = True
) -> tuple[str, list[Entity]]:
    """Validate a message text the way sendMessage/editMessageText do; return (plain text, entities)."""
    if text is not None and not isinstance(text, str):
        raise bad_request('field "message_text" must be of type String')
    if not text:
        raise bad_request("message text is empty")
    if parse_mode is not None and (not isinstance(parse_mode, str) or parse_mode.lower() not in PARSE_MODES):
        raise bad_request(f'unsupported parse_mode "{parse_mode}"')
    if entities is not None and (not isinstance(entities, list) or not all(_entity_ok(e) for e in entities)):
        raise bad_request("can't parse entities JSON object")
    try:
        plain, found = parse_text(text, parse_mode, entities, strict_ampersand=strict_ampersand)
    except EntityParseError as err:
        raise bad_request(f"can't parse entities: {err}") from None
    if not plain:
        raise bad_request("text must be non-empty")
    if utf16_len(plain) > MAX_TEXT:
        raise bad_request("message is too long")
    return plain, found


def link_preview_disabled(options: Any, disable_web_page_preview: bool) -> bool:
    """Check link_preview_options as telegram-bot-api does; whether previews are off.

    Client.cpp:11361-11365: with link_preview_options present, the legacy disable_web_page_preview is ignored;
    11368-11372: it must parse as JSON; 11377-11389: an object whose five fields, when present, have the right types.
    """
    if options is None or options == "":
        return disable_web_page_preview  # Client.cpp:11353-11359 (legacy parameter)
    if isinstance(options, str):
        raise bad_request("can't parse link preview options JSON object")
    if not isinstance(options, dict):
        raise bad_request("object expected as link preview options")
    for name in ("is_disabled", "prefer_small_media", "prefer_large_media", "show_above_text"):
        if name in options and not isinstance(options[name], bool):
            raise bad_request(f'field "{name}" must be of type Boolean')
    if "url" in options and not isinstance(options["url"], str):
        raise bad_request('field "url" must be of type String')
    return options.get("is_disabled") is True


def _button_url_ok(url: Any) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        return bool(parts.netloc)
    return parts.scheme == "tg" and len(url) > len("tg://")


def inline_keyboard(markup: JSON) -> None:
    """Check an InlineKeyboardMarkup: rows of buttons, each with text and exactly one valid action."""
    rows = markup.get("inline_keyboard")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('can\'t parse inline keyboard markup: field "inline_keyboard" must be an Array of Arrays')
    if sum(len(row) for row in rows) > MAX_BUTTONS:
        raise bad_request("reply markup is too long")
    for row in rows:
        for button in row:
            if not isinstance(button, dict):
                raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
            text = button.get("text")
            if not isinstance(text, str) or not text.strip():
                raise bad_request("can't parse inline keyboard button: Text must be non-empty")
            actions = [name for name in BUTTON_ACTIONS if button.get(name) is not None]
            if not actions:
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            if len(actions) > 1:
                # Telegram silently uses the first action; a second one is always a bot bug, so refuse it.
                raise bad_request("can't parse inline keyboard button: exactly one action field must be specified")
            data = button.get("callback_data")
            if data is not None and (not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64):
                raise bad_request("BUTTON_DATA_INVALID")
            if "url" in button and not _button_url_ok(button["url"]):
                raise bad_request("BUTTON_URL_INVALID")


def reply_markup(markup: Any) -> JSON | None:
    """Validate any reply_markup (inline keyboard, reply keyboard, remove, force reply); None if absent."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        inline_keyboard(markup)
    elif "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request('can\'t parse keyboard markup: field "keyboard" must be an Array of Arrays')
        for row in rows:
            for button in row:
                text = button if isinstance(button, str) else button.get("text") if isinstance(button, dict) else None
                if not isinstance(text, str) or not text:
                    raise bad_request("can't parse keyboard button: Text must be non-empty")
    elif markup.get("remove_keyboard") is not True and markup.get("force_reply") is not True:
        raise bad_request("can't parse reply keyboard markup JSON object")
    return markup


def bot_commands(commands: Any) -> list[JSON]:
    """Validate a setMyCommands list the way tdlib does (td/telegram/BotCommand.cpp:173-208), then the server."""
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > 100:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")  # Telegram's server (MTProto error), not in tdlib
    out: list[JSON] = []
    for entry in commands:
        if not isinstance(entry, dict):
            raise bad_request("can't parse BotCommand: BotCommand must be an Object")
        command, description = entry.get("command"), entry.get("description")
        if not isinstance(command, str) or not isinstance(description, str):
            raise bad_request('can\'t parse BotCommand: Field "command" must be of type String')
        # BotCommand.cpp:185-195: trimmed, one leading "/" dropped, 1..32 characters.
        command = command.strip()
        command = command[1:] if command.startswith("/") else command
        if not command:
            raise bad_request("command must be non-empty")
        if len(command) > 32:
            raise bad_request("command length must not exceed 32")
        if not _COMMAND.fullmatch(command):
            raise bad_request("BOT_COMMAND_INVALID")  # Telegram's server: lowercase letters, digits, "_"
        # BotCommand.cpp:197-205: the trimmed description is 1..256 characters.
        description = description.strip()
        if not description:
            raise bad_request("command description must be non-empty")
        if len(description) > 256:
            raise bad_request("command description length must not exceed 256")
        out.append({"command": command, "description": description})
    return out


def language_code(code: Any) -> str:
    """A bot command/description language code, as tdlib's validate_bot_language_code accepts it."""
    if code is None or code == "":
        return ""
    if not isinstance(code, str) or not _LANGUAGE.fullmatch(code):
        # tdlib says "Invalid language code specified" (misc.cpp:403); telegram-bot-api/Client.cpp:193-201
        # prefixes "Bad Request: " and lowercases the first letter.
        raise bad_request("invalid language code specified")
    return code


def scope_key(scope: Any) -> str:
    """The commands-table key for a BotCommandScope: its type, plus the chat (and user) it names."""
    if scope is None:
        return "default"
    if not isinstance(scope, dict) or not isinstance(scope.get("type"), str) or scope["type"] not in SCOPES:
        raise bad_request("can't parse BotCommandScope JSON object")
    kind = str(scope["type"])
    if kind in ("chat", "chat_administrators"):
        return f"{kind}:{scope.get('chat_id')}"
    if kind == "chat_member":
        return f"chat_member:{scope.get('chat_id')}:{scope.get('user_id')}"
    return kind


def inline_results(results: Any, next_offset: Any, *, strict_ampersand: bool = True) -> list[JSON]:
    """Validate answerInlineQuery results (count, ids, article content and keyboards) and next_offset."""
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise bad_request("can't parse inline query results JSON object")
    if len(results) > MAX_INLINE_RESULTS:
        raise bad_request("too many inline query results specified")  # Client.cpp:10268-10271
    if next_offset is not None and len(str(next_offset).encode("utf-8")) > 64:
        # Telegram's server (MTProto NEXT_OFFSET_INVALID), not in the open-source code. tdlib passes any other
        # string on, "[]" included, and only an empty one means "no more" (InlineQueriesManager.cpp:135-137).
        raise bad_request("NEXT_OFFSET_INVALID")
    seen: set[str] = set()
    for result in results:
        result_id = result.get("id")
        if not isinstance(result_id, str) or not 1 <= len(result_id.encode("utf-8")) <= 64:
            raise bad_request("RESULT_ID_INVALID")
        if result_id in seen:
            raise bad_request("RESULT_ID_DUPLICATE")
        seen.add(result_id)
        if result.get("type") == "article":
            if not result.get("title"):
                raise bad_request("can't parse inline query result: Can't find field \"title\"")
            if not isinstance(result.get("input_message_content"), dict):
                raise bad_request("can't parse inline query result: Can't find field \"input_message_content\"")
        content = result.get("input_message_content")
        if isinstance(content, dict) and "message_text" in content:
            link_preview_disabled(content.get("link_preview_options"), content.get("disable_web_page_preview") is True)
            message_text(
                content.get("message_text"),
                content.get("parse_mode"),
                content.get("entities"),
                strict_ampersand=strict_ampersand,
            )
        markup = result.get("reply_markup")
        if markup is not None:
            if not isinstance(markup, dict) or "inline_keyboard" not in markup:
                raise bad_request("can't parse inline query result: reply_markup must be an InlineKeyboardMarkup")
            inline_keyboard(markup)
    return results
