"""Rules the local Bot API enforces because telegram-bot-api and tdlib do (each cited in bot/localapi): webhook
registration and delivery, queued-update lifetimes, unanswered callback queries, link previews, forum topics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from bot.localapi import LocalBotApi, RateLimits
from bot.localapi.world import UNANSWERED
from tests.localapi.test_server import TOKEN, FakeClock, call, expect_error

ALICE = 42
FORUM = -100900


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def api(clock: FakeClock) -> AsyncIterator[LocalBotApi]:
    server = LocalBotApi(TOKEN, clock=clock, limits=RateLimits(enabled=False))
    await server.start()
    server.add_private_chat(ALICE, "Alice")
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def http(api: LocalBotApi) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{api.root}/bot{TOKEN}/") as client:
        yield client


async def test_set_webhook_checks_url_and_secret(api: LocalBotApi, http: httpx.AsyncClient) -> None:
    hook = "https://bot.example.org/hook"
    await expect_error(http, "setWebhook", "Bad Request: secret token is too long", url=hook, secret_token="a" * 257)
    for secret in ("has space", "plus+", "slash/", "equals=", "中文"):
        await expect_error(
            http, "setWebhook", "Bad Request: secret token contains unallowed characters", url=hook, secret_token=secret
        )
    await expect_error(http, "setWebhook", "Bad Request: invalid webhook URL specified", url="ftp://x.org/hook")
    await expect_error(
        http, "setWebhook", "Bad Request: bad webhook: An HTTPS URL must be provided for webhook", url="http://x.org/h"
    )
    await expect_error(
        http,
        "setWebhook",
        "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
        url="https://x.org:9000/h",
    )
    ok = await call(http, "setWebhook", url="https://x.org:8443/h", secret_token="A-z_09" * 42 + "abcd")
    assert ok[0] == 200
    await expect_error(
        http,
        "getUpdates",
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
        code=409,
    )


async def test_webhook_delivery_posts_with_the_secret_and_retries_wrong_answers(clock: FakeClock) -> None:
    received: list[tuple[str | None, dict[str, object]]] = []
    answers = [500, 200]

    async def webhook(request: web.Request) -> web.Response:
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.Response(status=answers.pop(0) if answers else 200)

    app = web.Application()
    app.router.add_post("/hook", webhook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    api = LocalBotApi(TOKEN, clock=clock, local_mode=True)
    await api.start()
    try:
        api.add_private_chat(ALICE, "Alice")
        async with httpx.AsyncClient(base_url=f"{api.root}/bot{TOKEN}/") as http:
            assert (await call(http, "setWebhook", url=f"http://127.0.0.1:{port}/hook", secret_token="s3cr3t"))[
                0
            ] == 200
            await api.send_text(ALICE, ALICE, "/start")
            await api.wait_idle()
            for _ in range(100):
                if len(received) >= 2:
                    break
                await asyncio.sleep(0.01)
            info = (await call(http, "getWebhookInfo"))[1]["result"]
        assert [secret for secret, _ in received] == ["s3cr3t", "s3cr3t"]
        assert received[0][1] == received[1][1] and received[0][1]["message"]["text"] == "/start"  # type: ignore[index]
        assert [(e.method, e.error_code) for e in api.errors()] == [("webhook", 500)]
        assert info["last_error_message"] == "Wrong response from the webhook: 500 Internal Server Error"
        assert info["pending_update_count"] == 0
    finally:
        await api.stop()
        await runner.cleanup()


async def test_queued_updates_expire_like_telegrams(api: LocalBotApi, clock: FakeClock) -> None:
    await api.send_text(ALICE, ALICE, "old message")
    clock.now += 86400  # a message waits 24 h from its date
    await api.send_text(ALICE, ALICE, "recent message")
    old_press = await api.inline_query(ALICE, "old inline")  # inline queries wait 30 s
    clock.now += 31
    await api.inline_query(ALICE, "new inline")
    async with httpx.AsyncClient(base_url=f"{api.root}/bot{TOKEN}/") as http:
        updates = (await call(http, "getUpdates"))[1]["result"]
    seen = [u["message"]["text"] if "message" in u else u["inline_query"]["query"] for u in updates]
    assert seen == ["recent message", "new inline"]
    assert old_press not in api.inline_answers


async def test_callback_queries_expire_after_150_seconds_and_unanswered_ones_are_errors(
    api: LocalBotApi, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    sent = (
        await call(
            http,
            "sendMessage",
            chat_id=ALICE,
            text="pick",
            reply_markup={"inline_keyboard": [[{"text": "a", "callback_data": "a"}]]},
        )
    )[1]
    message_id = sent["result"]["message_id"]
    await api.press_button(ALICE, message_id, data="a")
    clock.now += 151  # never delivered: Telegram drops it, and nobody's spinner waits on the bot
    kept = await api.press_button(ALICE, message_id, data="a")
    updates = (await call(http, "getUpdates"))[1]["result"]
    assert [u["callback_query"]["id"] for u in updates] == [kept]
    assert [(e.method, e.description) for e in api.errors()] == [("answerCallbackQuery", UNANSWERED)]
    assert len(api.errors()) == 1  # journaled once
    assert (await call(http, "answerCallbackQuery", callback_query_id=kept))[0] == 200
    await expect_error(
        http,
        "answerCallbackQuery",
        "Bad Request: query is too old and response timeout expired or query ID is invalid",
        callback_query_id=kept,
    )


async def test_descriptions(api: LocalBotApi, http: httpx.AsyncClient) -> None:
    assert (await call(http, "setMyDescription", description="每日论文", language_code="zh"))[0] == 200
    assert (await call(http, "getMyDescription", language_code="zh"))[1]["result"] == {"description": "每日论文"}
    for method, name, limit in (
        ("setMyDescription", "description", 512),
        ("setMyShortDescription", "short_description", 120),
    ):
        for params, error in (
            ({name: "x", "language_code": "zh-hans"}, "Bad Request: invalid language code specified"),
            ({name: "x" * (limit + 1)}, f"Bad Request: {name} is too long"),
        ):
            status, body = await call(http, method, **params)
            assert (status, body["description"]) == (400, error)


async def test_link_preview_options(api: LocalBotApi, http: httpx.AsyncClient) -> None:
    ok = await call(
        http, "sendMessage", chat_id=ALICE, text="https://arxiv.org", link_preview_options={"is_disabled": True}
    )
    assert ok[0] == 200 and api.last_message(ALICE).link_preview_disabled
    # With link_preview_options present, the legacy disable_web_page_preview is ignored (Client.cpp:11362-11365).
    await call(http, "sendMessage", chat_id=ALICE, text="x", link_preview_options={}, disable_web_page_preview=True)
    assert not api.last_message(ALICE).link_preview_disabled
    await expect_error(
        http,
        "sendMessage",
        "Bad Request: can't parse link preview options JSON object",
        chat_id=ALICE,
        text="x",
        link_preview_options="{not json",
    )
    await expect_error(
        http,
        "sendMessage",
        "Bad Request: object expected as link preview options",
        chat_id=ALICE,
        text="x",
        link_preview_options=[1],
    )
    await expect_error(
        http,
        "sendMessage",
        'Bad Request: field "is_disabled" must be of type Boolean',
        chat_id=ALICE,
        text="x",
        link_preview_options={"is_disabled": "yes"},
    )


async def test_forum_threads(api: LocalBotApi, http: httpx.AsyncClient) -> None:
    api.add_group(FORUM, "论文组", admins=[7], forum=True)
    api.add_group(-5, "plain", admins=[7])
    topic = api.add_topic(FORUM, "论文")
    assert topic > 1
    ok = (await call(http, "sendMessage", chat_id=FORUM, text="x", message_thread_id=topic))[1]["result"]
    assert ok["message_thread_id"] == topic and ok["is_topic_message"] is True and ok["chat"]["is_forum"] is True
    general = (await call(http, "sendMessage", chat_id=FORUM, text="x"))[1]["result"]
    assert "message_thread_id" not in general
    for thread in (1, 99999):
        await expect_error(
            http,
            "sendMessage",
            "Bad Request: message thread not found",
            chat_id=FORUM,
            text="x",
            message_thread_id=thread,
        )
    # Outside forums the parameter is ignored (Client.cpp check_message_topic).
    assert (await call(http, "sendMessage", chat_id=-5, text="x", message_thread_id=99999))[0] == 200
    api.delete_topic(FORUM, topic)
    await expect_error(
        http, "sendMessage", "Bad Request: message thread not found", chat_id=FORUM, text="x", message_thread_id=topic
    )
    user_message = await api.send_text(FORUM, 7, "/help", thread=api.add_topic(FORUM, "二"))
    assert user_message["is_topic_message"] is True
