"""LocalBotApi over HTTP: response shapes, exact Telegram errors, limits and the gone-chat cases.

Requests go through python-telegram-bot's Bot (to prove it maps our answers to its exceptions) or raw httpx
(to pin the exact JSON, encodings and status codes).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyParameters
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, InvalidToken, RetryAfter

from bot.localapi import LocalBotApi, RateLimits
from bot.localapi.server import NOT_MODIFIED, QUERY_TOO_OLD

TOKEN = "123456:TEST-token"
ALICE = 42
GROUP = -100


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def api(clock: FakeClock) -> AsyncIterator[LocalBotApi]:
    server = LocalBotApi(TOKEN, clock=clock, limits=RateLimits(enabled=False))
    await server.start()
    server.add_private_chat(ALICE, "Alice", username="alice")
    server.add_group(GROUP, "读书会", admins=[7, 8], members=[ALICE])
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def bot(api: LocalBotApi) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=f"{api.root}/bot") as client:
        yield client


@pytest.fixture
async def http(api: LocalBotApi) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{api.root}/bot{TOKEN}/") as client:
        yield client


async def call(http: httpx.AsyncClient, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    response = await http.post(method, json=params)
    return response.status_code, response.json()


async def expect_error(
    http: httpx.AsyncClient, method: str, description: str, code: int = 400, **params: Any
) -> dict[str, Any]:
    status, body = await call(http, method, **params)
    assert (status, body["ok"], body["error_code"], body["description"]) == (code, False, code, description), body
    return body


def keyboard(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"inline_keyboard": [list(buttons)]}


# --- protocol -------------------------------------------------------------------------------------------


async def test_get_me_and_response_shape(bot: Bot, http: httpx.AsyncClient) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "paper_digest_bot", True)
    status, body = await call(http, "getMe")
    assert status == 200 and body["ok"] is True and body["result"]["username"] == "paper_digest_bot"


async def test_wrong_token_is_401(api: LocalBotApi) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{api.root}/bot123456:WRONG/getMe")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    with pytest.raises(InvalidToken):
        async with Bot("123456:WRONG", base_url=f"{api.root}/bot"):
            pass
    assert all("WRONG" not in repr(entry) for entry in api.journal)


async def test_unknown_method_is_404_and_names_are_case_insensitive(http: httpx.AsyncClient) -> None:
    await expect_error(http, "sendMessages", "Not Found: method not found", 404)
    response = await http.get("SENDMESSAGE", params={"chat_id": ALICE, "text": "via GET"})
    assert response.json()["result"]["text"] == "via GET"


async def test_json_and_form_encodings_are_equivalent(api: LocalBotApi, http: httpx.AsyncClient) -> None:
    markup = keyboard({"text": "▶", "callback_data": "next"})
    await http.post("sendMessage", json={"chat_id": ALICE, "text": "json", "reply_markup": markup})
    await http.post("sendMessage", data={"chat_id": str(ALICE), "text": "form", "reply_markup": json.dumps(markup)})
    await http.post("sendMessage", files={"chat_id": (None, str(ALICE)), "text": (None, "multipart")})
    assert [m.text for m in api.messages(ALICE)] == ["json", "form", "multipart"]
    assert api.journal[-2].params == {"chat_id": ALICE, "text": "form", "reply_markup": markup}
    assert api.messages(ALICE)[1].reply_markup == markup
    await expect_error(
        http,
        "sendMessage",
        "Bad Request: can't parse reply keyboard markup JSON object",
        chat_id=ALICE,
        text="x",
        reply_markup="{not json",
    )
    assert api.errors()[-1].description == "Bad Request: can't parse reply keyboard markup JSON object"


# --- message text ---------------------------------------------------------------------------------------


async def test_text_length_is_counted_in_utf16_after_parsing(api: LocalBotApi, http: httpx.AsyncClient) -> None:
    for ok_text in ("a" * 4096, "😀" * 2048, "<b>" + "量" * 4096 + "</b>"):
        status, _ = await call(http, "sendMessage", chat_id=ALICE, text=ok_text, parse_mode="HTML")
        assert status == 200
    for long_text in ("a" * 4097, "😀" * 2048 + "a", "&lt;" * 4097):
        await expect_error(
            http, "sendMessage", "Bad Request: message is too long", chat_id=ALICE, text=long_text, parse_mode="HTML"
        )


async def test_empty_text(http: httpx.AsyncClient, bot: Bot) -> None:
    await expect_error(http, "sendMessage", "Bad Request: message text is empty", chat_id=ALICE, text="")
    await expect_error(http, "sendMessage", "Bad Request: message text is empty", chat_id=ALICE)
    await expect_error(
        http, "sendMessage", "Bad Request: text must be non-empty", chat_id=ALICE, text="<b></b> \n", parse_mode="HTML"
    )
    with pytest.raises(BadRequest, match=r"(?i)text must be non-empty"):
        await bot.send_message(ALICE, "<i> </i>", parse_mode="HTML")


async def test_html_errors_and_entities(api: LocalBotApi, http: httpx.AsyncClient, bot: Bot) -> None:
    await expect_error(
        http,
        "sendMessage",
        'Bad Request: can\'t parse entities: Unsupported start tag "br" at byte offset 6',
        chat_id=ALICE,
        text="你好<br>",
        parse_mode="HTML",
    )
    await expect_error(
        http,
        "sendMessage",
        "Bad Request: can't parse entities: Can't find end of the entity starting at byte offset 4",
        chat_id=ALICE,
        text="研R&D",
        parse_mode="HTML",
    )
    with pytest.raises(BadRequest, match=r'(?i)can.t find end tag corresponding to start tag "b"'):
        await bot.send_message(ALICE, "<b>量化", parse_mode="HTML")
    sent = await bot.send_message(ALICE, '😀 <b>量化</b> <a href="https://arxiv.org">arXiv</a>', parse_mode="HTML")
    assert sent.text == "😀 量化 arXiv"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 3, 2), ("text_link", 6, 5)]
    last = api.last_message(ALICE)
    assert last.html == '😀 <b>量化</b> <a href="https://arxiv.org">arXiv</a>' and last.text == sent.text
    await expect_error(
        http,
        "sendMessage",
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'",
        chat_id=ALICE,
        text="v1.5",
        parse_mode="MarkdownV2",
    )
    await expect_error(
        http,
        "sendMessage",
        'Bad Request: unsupported parse_mode "BBCode"',
        chat_id=ALICE,
        text="x",
        parse_mode="BBCode",
    )


async def test_explicit_entities(api: LocalBotApi, http: httpx.AsyncClient) -> None:
    bold = {"type": "bold", "offset": 3, "length": 2}
    status, body = await call(http, "sendMessage", chat_id=ALICE, text="😀 量化", entities=[bold])
    assert status == 200 and body["result"]["entities"] == [bold]
    # Entities running past the end are clipped, as Telegram does.
    status, body = await call(http, "sendMessage", chat_id=ALICE, text="ab", entities=[{**bold, "offset": 1}])
    assert body["result"]["entities"] == [{"type": "bold", "offset": 1, "length": 1}]
    for entities in ([{"type": "bold", "offset": "x", "length": 1}], ["bold"], {"type": "bold"}):
        await expect_error(
            http,
            "sendMessage",
            "Bad Request: can't parse entities JSON object",
            chat_id=ALICE,
            text="ab",
            entities=entities,
        )


# --- keyboards ------------------------------------------------------------------------------------------


async def test_callback_data_is_limited_to_64_utf8_bytes(http: httpx.AsyncClient, bot: Bot) -> None:
    status, _ = await call(
        http,
        "sendMessage",
        chat_id=ALICE,
        text="ok",
        reply_markup=keyboard({"text": "量", "callback_data": "量" * 21 + "x"}),
    )
    assert status == 200
    for data in ("量" * 22, "x" * 65, ""):
        await expect_error(
            http,
            "sendMessage",
            "Bad Request: BUTTON_DATA_INVALID",
            chat_id=ALICE,
            text="x",
            reply_markup=keyboard({"text": "b", "callback_data": data}),
        )
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(
            ALICE, "x", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("b", callback_data="a" * 65)]])
        )


@pytest.mark.parametrize(
    ("button", "description"),
    [
        ({"text": "b", "url": "ftp://example.org"}, "Bad Request: BUTTON_URL_INVALID"),
        ({"text": "b", "url": "javascript:alert(1)"}, "Bad Request: BUTTON_URL_INVALID"),
        ({"text": "b", "url": "https://"}, "Bad Request: BUTTON_URL_INVALID"),
        ({"text": "", "callback_data": "x"}, "Bad Request: can't parse inline keyboard button: Text must be non-empty"),
        (
            {"text": "b"},
            "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
        ),
        (
            {"text": "b", "callback_data": "x", "url": "https://a.org"},
            "Bad Request: can't parse inline keyboard button: exactly one action field must be specified",
        ),
    ],
)
async def test_invalid_buttons(http: httpx.AsyncClient, button: dict[str, Any], description: str) -> None:
    await expect_error(http, "sendMessage", description, chat_id=ALICE, text="x", reply_markup=keyboard(button))


async def test_button_count_and_other_keyboards(api: LocalBotApi, http: httpx.AsyncClient, bot: Bot) -> None:
    rows = [[{"text": str(i), "callback_data": str(i)}] for i in range(100)]
    assert (await call(http, "sendMessage", chat_id=ALICE, text="x", reply_markup={"inline_keyboard": rows}))[0] == 200
    rows.append([{"text": "one more", "callback_data": "x"}])
    await expect_error(
        http,
        "sendMessage",
        "Bad Request: reply markup is too long",
        chat_id=ALICE,
        text="x",
        reply_markup={"inline_keyboard": rows},
    )
    ok = [
        keyboard({"text": "tg", "url": "tg://resolve?domain=x"}, {"text": "s", "switch_inline_query": ""}),
        {"keyboard": [["订阅", {"text": "退订"}]], "resize_keyboard": True},
        {"remove_keyboard": True},
        {"force_reply": True},
    ]
    for markup in ok:
        assert (await call(http, "sendMessage", chat_id=ALICE, text="x", reply_markup=markup))[0] == 200
    sent = await bot.send_message(ALICE, "reply kb", reply_markup=ReplyKeyboardMarkup([["a"]]))
    assert sent.reply_markup is None  # Message objects only carry inline keyboards
    stored = api.last_message(ALICE).reply_markup
    assert stored is not None and stored["keyboard"] == [[{"text": "a"}]]


# --- edits and deletes ----------------------------------------------------------------------------------


async def test_edit_message_text_rules(api: LocalBotApi, http: httpx.AsyncClient, bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("▶", callback_data="p:1")]])
    sent = await bot.send_message(ALICE, "<b>第 1 页</b>", parse_mode="HTML", reply_markup=markup)
    await expect_error(
        http,
        "editMessageText",
        f"Bad Request: {NOT_MODIFIED}",
        chat_id=ALICE,
        message_id=sent.message_id,
        text="<strong>第 1 页</strong>",
        parse_mode="HTML",
        reply_markup=markup.to_dict(),
    )
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("<b>第 1 页</b>", ALICE, sent.message_id, parse_mode="HTML", reply_markup=markup)
    edited = await bot.edit_message_text(
        "<b>第 2 页</b>", ALICE, sent.message_id, parse_mode="HTML", reply_markup=markup
    )
    assert not isinstance(edited, bool) and edited.text == "第 2 页" and edited.edit_date is not None
    current = api.last_message(ALICE)
    assert (current.text, current.html, current.edited) == ("第 2 页", "<b>第 2 页</b>", 1)
    # Same text without the keyboard is a modification: it removes the keyboard, as on Telegram.
    await bot.edit_message_text("<b>第 2 页</b>", ALICE, sent.message_id, parse_mode="HTML")
    assert api.last_message(ALICE).reply_markup is None and api.last_message(ALICE).edited == 2
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(ALICE, sent.message_id, reply_markup=None)
    await bot.edit_message_reply_markup(ALICE, sent.message_id, reply_markup=markup)
    assert api.last_message(ALICE).reply_markup == markup.to_dict()
    await expect_error(
        http, "editMessageText", "Bad Request: message to edit not found", chat_id=ALICE, message_id=999, text="x"
    )
    user_message = await api.send_text(ALICE, ALICE, "hello")
    await expect_error(
        http,
        "editMessageText",
        "Bad Request: message can't be edited",
        chat_id=ALICE,
        message_id=user_message["message_id"],
        text="x",
    )
    await expect_error(
        http,
        "editMessageText",
        "Bad Request: can't parse entities: Unexpected end tag at byte offset 0",
        chat_id=ALICE,
        message_id=sent.message_id,
        text="</b>",
        parse_mode="HTML",
    )


async def test_delete_message(api: LocalBotApi, bot: Bot) -> None:
    first = await bot.send_message(ALICE, "one")
    await bot.send_message(ALICE, "two")
    assert await bot.delete_message(ALICE, first.message_id) is True
    assert [m.text for m in api.messages(ALICE)] == ["two"]
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(ALICE, first.message_id)


async def test_reply_to_missing_message(http: httpx.AsyncClient, bot: Bot) -> None:
    await expect_error(
        http,
        "sendMessage",
        "Bad Request: message to be replied not found",
        chat_id=ALICE,
        text="x",
        reply_parameters={"message_id": 77},
    )
    ok = await bot.send_message(ALICE, "x", reply_parameters=ReplyParameters(77, allow_sending_without_reply=True))
    assert ok.reply_to_message is None
    base = await bot.send_message(ALICE, "base")
    reply = await bot.send_message(ALICE, "reply", reply_to_message_id=base.message_id)
    assert reply.reply_to_message is not None and reply.reply_to_message.text == "base"


# --- rate limits ----------------------------------------------------------------------------------------


@pytest.fixture
async def limited(clock: FakeClock) -> AsyncIterator[LocalBotApi]:
    server = LocalBotApi(TOKEN, clock=clock)
    await server.start()
    server.add_private_chat(ALICE)
    server.add_group(GROUP, "group", admins=[7])
    try:
        yield server
    finally:
        await server.stop()


async def test_private_chat_rate_limit(limited: LocalBotApi, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    async with httpx.AsyncClient(base_url=f"{limited.root}/bot{TOKEN}/") as http:
        for _ in range(3):  # the burst
            assert (await call(http, "sendMessage", chat_id=ALICE, text="x"))[0] == 200
        body = await expect_error(http, "sendMessage", "Too Many Requests: retry after 1", 429, chat_id=ALICE, text="x")
        assert body["parameters"] == {"retry_after": 1}
        clock.now += 0.5  # sending again inside the window is refused again
        await expect_error(http, "sendMessage", "Too Many Requests: retry after 1", 429, chat_id=ALICE, text="x")
        # Edits are not counted.
        message_id = limited.last_message(ALICE).message_id
        assert (await call(http, "editMessageText", chat_id=ALICE, message_id=message_id, text="y"))[0] == 200
        clock.now += 0.5
        assert (await call(http, "sendMessage", chat_id=ALICE, text="x"))[0] == 200
        clock.now += 0.5  # half a token: told to retry after 1 s (rounded up)...
        await expect_error(http, "sendMessage", "Too Many Requests: retry after 1", 429, chat_id=ALICE, text="x")
        clock.now += 0.6  # ...so a token is there again, but retry_after has not passed: still refused
        await expect_error(http, "sendMessage", "Too Many Requests: retry after 1", 429, chat_id=ALICE, text="x")
        clock.now += 0.4
        assert (await call(http, "sendMessage", chat_id=ALICE, text="x"))[0] == 200
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns about int retry_after otherwise
    async with Bot(TOKEN, base_url=f"{limited.root}/bot") as bot:
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(ALICE, "x")
    assert caught.value.retry_after.total_seconds() == 1  # type: ignore[union-attr]


async def test_group_rate_limit_is_20_per_minute(limited: LocalBotApi, clock: FakeClock) -> None:
    async with httpx.AsyncClient(base_url=f"{limited.root}/bot{TOKEN}/") as http:
        for _ in range(20):
            assert (await call(http, "sendMessage", chat_id=GROUP, text="x"))[0] == 200
        body = await expect_error(http, "sendMessage", "Too Many Requests: retry after 3", 429, chat_id=GROUP, text="x")
        assert body["parameters"] == {"retry_after": 3}
        clock.now += 3
        assert (await call(http, "sendMessage", chat_id=GROUP, text="x"))[0] == 200


async def test_global_rate_limit_is_30_per_second(limited: LocalBotApi, clock: FakeClock) -> None:
    for user in range(1, 32):
        limited.add_private_chat(user)
    async with httpx.AsyncClient(base_url=f"{limited.root}/bot{TOKEN}/") as http:
        for user in range(1, 31):
            assert (await call(http, "sendMessage", chat_id=user, text="x"))[0] == 200
        await expect_error(http, "sendMessage", "Too Many Requests: retry after 1", 429, chat_id=31, text="x")
        status, _ = await call(http, "sendMessage", chat_id=31, text="paid", allow_paid_broadcast=True)
        assert status == 200
        clock.now += 1 / 30
        assert (await call(http, "sendMessage", chat_id=31, text="x"))[0] == 200


# --- chats that are gone --------------------------------------------------------------------------------


async def test_blocked_deactivated_kicked_and_missing_chats(
    api: LocalBotApi, http: httpx.AsyncClient, bot: Bot
) -> None:
    api.block(ALICE)
    await expect_error(http, "sendMessage", "Forbidden: bot was blocked by the user", 403, chat_id=ALICE, text="x")
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_chat_action(ALICE, "typing")
    assert (await bot.get_chat(ALICE)).first_name == "Alice"  # reading still works
    api.unblock(ALICE)
    await bot.send_message(ALICE, "back")
    api.deactivate(ALICE)
    await expect_error(http, "sendMessage", "Forbidden: user is deactivated", 403, chat_id=ALICE, text="x")
    api.block(GROUP)
    await expect_error(
        http, "sendMessage", "Forbidden: bot was kicked from the group chat", 403, chat_id=GROUP, text="x"
    )
    api.add_group(-200, "超级群", admins=[7], supergroup=True)
    api.block(-200)
    await expect_error(
        http, "sendMessage", "Forbidden: bot was kicked from the supergroup chat", 403, chat_id=-200, text="x"
    )
    api.add_private_chat(50)
    api.delete_chat(50)
    await expect_error(http, "sendMessage", "Bad Request: chat not found", chat_id=50, text="x")
    await expect_error(http, "sendMessage", "Bad Request: chat not found", chat_id=987654, text="x")
    await expect_error(http, "sendMessage", "Bad Request: chat not found", chat_id="@nobody", text="x")
    api.add_user(60, "Never started")
    await expect_error(
        http, "sendMessage", "Forbidden: bot can't initiate conversation with a user", 403, chat_id=60, text="x"
    )


async def test_group_upgrade_to_supergroup(api: LocalBotApi, http: httpx.AsyncClient, bot: Bot) -> None:
    api.upgrade_group(GROUP, -1001234)
    body = await expect_error(
        http, "sendMessage", "Bad Request: group chat was upgraded to a supergroup chat", chat_id=GROUP, text="x"
    )
    assert body["parameters"] == {"migrate_to_chat_id": -1001234}
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(GROUP, "x")
    assert caught.value.new_chat_id == -1001234
    sent = await bot.send_message(-1001234, "hello supergroup")
    assert sent.chat.type == "supergroup" and sent.chat.title == "读书会"
    updates = await bot.get_updates(timeout=0)
    assert [
        (u.message.chat.id, u.message.migrate_to_chat_id, u.message.migrate_from_chat_id) for u in updates if u.message
    ] == [(GROUP, -1001234, None), (-1001234, None, GROUP)]


# --- getUpdates -----------------------------------------------------------------------------------------


async def test_concurrent_get_updates_conflict(api: LocalBotApi, http: httpx.AsyncClient) -> None:
    first = asyncio.create_task(call(http, "getUpdates", timeout=5))
    await asyncio.sleep(0.1)
    # A non-waiting request (python-telegram-bot's shutdown call) does not disturb the pending long poll...
    assert await call(http, "getUpdates", timeout=0) == (200, {"ok": True, "result": []})
    assert not first.done()
    # ...but a second long poll terminates it: the older request gets the 409, as on Telegram.
    async with httpx.AsyncClient(base_url=f"{api.root}/bot{TOKEN}/") as other:
        second = asyncio.create_task(call(other, "getUpdates", timeout=5))
        status, body = await asyncio.wait_for(first, 2)
        assert status == 409 and body["description"] == (
            "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
        )
        await api.send_text(ALICE, ALICE, "hi")
        status, body = await asyncio.wait_for(second, 2)
    assert status == 200 and body["result"][0]["message"]["text"] == "hi"
    assert [e.error_code for e in api.errors()] == [409]


async def test_get_updates_conflict_through_ptb(api: LocalBotApi, bot: Bot) -> None:
    async with Bot(TOKEN, base_url=f"{api.root}/bot") as second:
        first = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.sleep(0.1)
        polling = asyncio.create_task(second.get_updates(timeout=5))
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await first
        await api.send_text(ALICE, ALICE, "hi")
        assert [u.message.text for u in await polling if u.message] == ["hi"]


async def test_webhook_blocks_get_updates(api: LocalBotApi, http: httpx.AsyncClient) -> None:
    await expect_error(
        http,
        "setWebhook",
        "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
        url="http://example.org/hook",
    )
    assert (await call(http, "setWebhook", url="https://example.org/hook"))[0] == 200
    await expect_error(
        http,
        "getUpdates",
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
        409,
    )
    await api.send_text(ALICE, ALICE, "hi")
    _, info = await call(http, "getWebhookInfo")
    assert info["result"]["url"] == "https://example.org/hook" and info["result"]["pending_update_count"] == 1
    assert (await call(http, "deleteWebhook", drop_pending_updates=True))[0] == 200
    assert (await call(http, "getUpdates"))[1]["result"] == []


async def test_updates_for_messages_callbacks_and_inline_queries(api: LocalBotApi, bot: Bot) -> None:
    sent = await bot.send_message(
        ALICE,
        "pick",
        reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("▶", callback_data="play"), InlineKeyboardButton("量化", callback_data="t:quant")]]
        ),
    )
    await api.send_text(ALICE, ALICE, "/digest@paper_digest_bot 😀 today")
    query_id = await api.press_button(ALICE, sent.message_id, text="量化")
    inline_id = await api.inline_query(ALICE, "transformer", offset="10")
    updates = await bot.get_updates(timeout=0)
    message, callback, inline = (u.message for u in updates[:1]), updates[1].callback_query, updates[2].inline_query
    first = next(message)
    assert first is not None and first.text is not None and first.text.startswith("/digest")
    assert [(e.type, e.offset, e.length) for e in first.entities] == [("bot_command", 0, 24)]
    assert callback is not None and (callback.id, callback.data) == (query_id, "t:quant")
    assert callback.message is not None and callback.message.message_id == sent.message_id
    assert inline is not None and (inline.id, inline.query, inline.offset) == (inline_id, "transformer", "10")
    # Confirming with offset removes them; a long poll wakes up as soon as something arrives.
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    await api.send_text(ALICE, ALICE, "late")
    woke = await asyncio.wait_for(poll, 1)
    assert [u.message.text for u in woke if u.message] == ["late"]
    with pytest.raises(LookupError):
        await api.press_button(ALICE, sent.message_id, text="missing")


async def test_allowed_updates_filter(api: LocalBotApi, bot: Bot) -> None:
    sent = await bot.send_message(
        ALICE, "pick", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("▶", callback_data="play")]])
    )
    await api.send_text(ALICE, ALICE, "ignored")
    await api.press_button(ALICE, sent.message_id, data="play")
    updates = await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
    assert [u.callback_query.data for u in updates if u.callback_query] == ["play"] and len(updates) == 1


async def test_group_privacy_mode(api: LocalBotApi, bot: Bot) -> None:
    greeting = await bot.send_message(GROUP, "hi group")
    await api.send_text(GROUP, ALICE, "chatting among ourselves")
    await api.send_text(GROUP, ALICE, "/start@other_bot")
    await api.send_text(GROUP, ALICE, "/today")
    await api.send_text(GROUP, ALICE, "/today@Paper_Digest_Bot")
    await api.send_text(GROUP, ALICE, "thanks", reply_to=greeting.message_id)
    texts = [u.message.text for u in await bot.get_updates(timeout=0) if u.message]
    assert texts == ["/today", "/today@Paper_Digest_Bot", "thanks"]


# --- callbacks, inline mode, commands ---------------------------------------------------------------------


async def test_answer_callback_query_rules(
    api: LocalBotApi, clock: FakeClock, http: httpx.AsyncClient, bot: Bot
) -> None:
    sent = await bot.send_message(
        ALICE, "pick", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("▶", callback_data="play")]])
    )
    first = await api.press_button(ALICE, sent.message_id, data="play")
    await expect_error(
        http, "answerCallbackQuery", "Bad Request: MESSAGE_TOO_LONG", callback_query_id=first, text="长" * 201
    )
    assert await bot.answer_callback_query(first, text="好" * 200) is True
    assert api.callback_answers[first]["text"] == "好" * 200
    assert await api.wait_for_callback_answer(first) == api.callback_answers[first]
    await expect_error(http, "answerCallbackQuery", f"Bad Request: {QUERY_TOO_OLD}", callback_query_id=first)
    await expect_error(http, "answerCallbackQuery", f"Bad Request: {QUERY_TOO_OLD}", callback_query_id="nope")
    late = await api.forge_callback(ALICE, sent.message_id, "forged:data", ALICE)
    clock.now += 16
    await expect_error(http, "answerCallbackQuery", f"Bad Request: {QUERY_TOO_OLD}", callback_query_id=late)
    with pytest.raises(TimeoutError, match="not answered"):
        await api.wait_for_callback_answer(late, timeout=0.05)


def article(result_id: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "article",
        "id": result_id,
        "title": "t",
        "input_message_content": {"message_text": text, "parse_mode": "HTML"},
        **extra,
    }


async def test_answer_inline_query_rules(api: LocalBotApi, http: httpx.AsyncClient) -> None:
    def query() -> Any:
        return api.inline_query(ALICE, "q")

    cases = [
        ([article(str(i), "x") for i in range(51)], None, "Bad Request: too many inline query results specified"),
        ([article("a", "x"), article("a", "y")], None, "Bad Request: RESULT_ID_DUPLICATE"),
        ([article("é" * 33, "x")], None, "Bad Request: RESULT_ID_INVALID"),
        ([article("", "x")], None, "Bad Request: RESULT_ID_INVALID"),
        ([article("a", "x")], "o" * 65, "Bad Request: NEXT_OFFSET_INVALID"),
        (
            [article("a", "<p>x</p>")],
            None,
            'Bad Request: can\'t parse entities: Unsupported start tag "p" at byte offset 0',
        ),
        ([article("a", "x" * 4097)], None, "Bad Request: message is too long"),
        (
            [article("a", "x", reply_markup=keyboard({"text": "b", "callback_data": "d" * 65}))],
            None,
            "Bad Request: BUTTON_DATA_INVALID",
        ),
    ]
    for results, next_offset, description in cases:
        params: dict[str, Any] = {"inline_query_id": await query(), "results": results}
        if next_offset is not None:
            params["next_offset"] = next_offset
        await expect_error(http, "answerInlineQuery", description, **params)
    good = await query()
    results = [article(str(i), f"<b>{i}</b>") for i in range(50)]
    status, _ = await call(http, "answerInlineQuery", inline_query_id=good, results=results, next_offset="o" * 64)
    assert status == 200 and len((await api.wait_for_inline_answer(good))["results"]) == 50
    await expect_error(http, "answerInlineQuery", f"Bad Request: {QUERY_TOO_OLD}", inline_query_id=good, results=[])


async def test_chosen_inline_result_is_posted_via_bot(api: LocalBotApi, http: httpx.AsyncClient, bot: Bot) -> None:
    query_id = await api.inline_query(ALICE, "llm")
    result = article("p1", "<b>论文</b> 1", reply_markup=keyboard({"text": "👍", "callback_data": "like:p1"}))
    await call(http, "answerInlineQuery", inline_query_id=query_id, results=[result])
    message = await api.choose_inline_result(ALICE, query_id, "p1", chat_id=777)
    assert message["via_bot"]["username"] == "paper_digest_bot" and message["text"] == "论文 1"
    posted = api.last_message(777)
    assert posted.via_bot and posted.inline_message_id is not None
    callback_id = await api.press_button(777, posted.message_id, text="👍")
    updates = await bot.get_updates(timeout=0)
    callback = updates[-1].callback_query
    assert callback is not None and callback.id == callback_id
    assert callback.inline_message_id == posted.inline_message_id and callback.message is None
    assert await bot.edit_message_text("liked", inline_message_id=posted.inline_message_id) is True
    assert api.last_message(777).text == "liked"
    await expect_error(http, "sendMessage", "Bad Request: chat not found", chat_id=777, text="x")


async def test_set_my_commands_rules(api: LocalBotApi, http: httpx.AsyncClient, bot: Bot) -> None:
    zh = [{"command": "start", "description": "开始"}, {"command": "today", "description": "今日论文"}]
    assert (await call(http, "setMyCommands", commands=zh, language_code="zh"))[0] == 200
    assert (await call(http, "setMyCommands", commands=zh[:1], scope={"type": "all_group_chats"}))[0] == 200
    assert api.commands[("default", "zh")] == zh
    assert api.commands[("all_group_chats", "")] == zh[:1]
    got = await bot.get_my_commands(language_code="zh")
    assert [c.command for c in got] == ["start", "today"]
    assert await bot.get_my_commands() == ()
    for commands, description in [
        ([{"command": "Start", "description": "x"}], "Bad Request: BOT_COMMAND_INVALID"),
        ([{"command": "a" * 33, "description": "x"}], "Bad Request: command length must not exceed 32"),
        ([{"command": " / ", "description": "x"}], "Bad Request: command must be non-empty"),
        ([{"command": "ok", "description": "  "}], "Bad Request: command description must be non-empty"),
        ([{"command": "ok", "description": "d" * 257}], "Bad Request: command description length must not exceed 256"),
        ([{"command": f"c{i}", "description": "x"} for i in range(101)], "Bad Request: BOT_COMMANDS_TOO_MUCH"),
    ]:
        await expect_error(http, "setMyCommands", description, commands=commands)
    # tdlib's validate_bot_language_code: empty or exactly two lowercase ASCII letters, on set, get and delete.
    for code in ("zh-hans", "zh-hant", "ZH", "zho", "z", "中文", "zh_CN"):
        await expect_error(
            http, "setMyCommands", "Bad Request: invalid language code specified", commands=zh, language_code=code
        )
        await expect_error(http, "getMyCommands", "Bad Request: invalid language code specified", language_code=code)
        await expect_error(http, "deleteMyCommands", "Bad Request: invalid language code specified", language_code=code)
    await bot.delete_my_commands(language_code="zh")
    assert ("default", "zh") not in api.commands


async def test_chat_queries_and_actions(api: LocalBotApi, http: httpx.AsyncClient, bot: Bot) -> None:
    group = await bot.get_chat(GROUP)
    assert (group.type, group.title) == ("group", "读书会")
    assert (await bot.get_chat_member(GROUP, 7)).status == "creator"
    assert (await bot.get_chat_member(GROUP, 8)).status == "administrator"
    assert (await bot.get_chat_member(GROUP, ALICE)).status == "member"
    assert (await bot.get_chat_member(GROUP, api.bot_id)).status == "member"
    api.add_user(99)
    assert (await bot.get_chat_member(GROUP, 99)).status == "left"
    assert [m.user.id for m in await bot.get_chat_administrators(GROUP)] == [7, 8]
    with pytest.raises(BadRequest, match=r"(?i)there are no administrators in the private chat"):
        await bot.get_chat_administrators(ALICE)
    assert await bot.send_chat_action(ALICE, "typing") is True
    await expect_error(
        http, "sendChatAction", "Bad Request: wrong parameter action in request", chat_id=ALICE, action="dancing"
    )
    assert await bot.set_chat_menu_button() is True
    assert (await call(http, "logOut"))[0] == 200 and (await call(http, "close"))[0] == 200


async def test_journal_can_keep_only_failures() -> None:
    async with LocalBotApi(TOKEN, keep_journal=False) as server:
        server.add_private_chat(ALICE)
        async with httpx.AsyncClient(base_url=f"{server.root}/bot{TOKEN}/") as http:
            await call(http, "sendMessage", chat_id=ALICE, text="fine")
            await call(http, "sendMessage", chat_id=ALICE, text="")
        assert [(e.method, e.ok, e.description) for e in server.journal] == [
            ("sendMessage", False, "Bad Request: message text is empty")
        ]
        assert server.errors() == server.journal
        assert [m.text for m in server.messages(ALICE)] == ["fine"]
