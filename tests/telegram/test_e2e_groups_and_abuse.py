"""Groups (the admin rule, commands for other bots), hostile input, throttling and failures."""

from __future__ import annotations

import logging
from typing import ClassVar

import pytest

from bot.logs import RedactTokens
from bot.telegram.context import services
from bot.telegram.local import LOCAL_TOKEN, LocalBot
from tests.telegram.conftest import Chat, button_data

GROUP = -100500
ADMIN, MEMBER = 2001, 2002

HOSTILE = [
    "<b>bold</b>",
    "<script>alert(1)</script>",
    "a < b && c > d",
    "&amp; &lt; &#x41; &bogus;",
    "x" * 5000,
    "'; DROP TABLE papers; --",
    '" OR 1=1 --',
    "😀🚀👩\u200d💻" * 300,
    "\u202eRTL override\u202c עברית العربية",
    "\u200b\u200c\u200d\ufeff",
    'AND OR NOT * : - ( ) "',
    "多模態LLM" * 800,
]


@pytest.fixture
def group(bot: LocalBot) -> tuple[Chat, Chat]:
    bot.api.add_group(GROUP, "读书会", admins=[ADMIN], members=[MEMBER])
    return Chat(bot.api, GROUP, ADMIN), Chat(bot.api, GROUP, MEMBER)


async def test_only_group_admins_change_settings(group: tuple[Chat, Chat]) -> None:
    admin, member = group
    [refused] = await member.say("/subscribe 量化")
    assert "只有群组管理员" in refused.text
    [refused_time] = await member.say("/time 09:00")
    assert "只有群组管理员" in refused_time.text
    [ok] = await admin.say("/subscribe 量化")
    assert "已订阅" in ok.text
    [topics] = await member.say("/topics")
    answer = await member.press(topics, data="tt:量化")
    assert "只有群组管理员" in answer["text"]
    assert "✅ 量化" in topics.text  # unchanged: still subscribed, by the admin
    [overview] = await member.say("/subscriptions")
    assert "量化" in overview.text


async def test_everyone_in_a_group_can_read(group: tuple[Chat, Chat]) -> None:
    _, member = group
    [card] = await member.say("/paper 2404.07965")
    assert "Rho-1" in card.text


async def test_commands_for_another_bot_are_ignored(bot: LocalBot, group: tuple[Chat, Chat]) -> None:
    admin, _ = group
    await bot.api.send_text(GROUP, ADMIN, "/help@some_other_bot")
    await bot.api.wait_idle()
    assert bot.api.messages(GROUP) == []
    [reply] = await admin.say("/help@paper_digest_bot")
    assert "/subscribe" in reply.text


@pytest.mark.parametrize("command", ["/search", "/paper", "/subscribe", "/unsubscribe", "/time", "/start"])
async def test_hostile_input_gets_valid_replies(bot: LocalBot, alice: Chat, command: str) -> None:
    for text in HOSTILE:
        replies = await alice.say(f"{command} {text}")
        assert replies and all(r.text.strip() for r in replies)
    assert await services_alive(bot)


async def services_alive(bot: LocalBot) -> bool:
    svc = bot.application.bot_data["services"]
    return bool(await svc.catalogue.count() == 70)


async def test_callback_data_of_every_reply_fits(bot: LocalBot, alice: Chat) -> None:
    for text in ["/start", "/topics", "/search 模型", "/subscribe 多模", "/paper 2404.07965", "/lang"]:
        for message in await alice.say(text):
            assert all(len(d.encode()) <= 64 for d in button_data(message))


async def test_fast_chats_are_throttled_politely(bot: LocalBot, settings_limit: int, alice: Chat) -> None:
    for _ in range(settings_limit):
        await alice.say("/help")
    await bot.api.send_text(alice.chat_id, alice.user_id, "/help")
    await bot.api.send_text(alice.chat_id, alice.user_id, "/help")
    await bot.api.wait_idle()
    throttled = [m for m in bot.api.messages(alice.chat_id) if "太频繁" in m.text]
    assert len(throttled) == 1


@pytest.fixture
def settings_limit(bot: LocalBot) -> int:
    return bot.settings.commands_per_minute


async def test_a_failing_handler_apologises_and_the_bot_keeps_serving(
    bot: LocalBot, alice: Chat, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    svc = bot.application.bot_data["services"]

    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError(f"boom {LOCAL_TOKEN}")

    monkeypatch.setattr(svc.catalogue, "lookup", broken)
    caplog.handler.addFilter(RedactTokens())  # what setup_logging() puts on the real handler
    with caplog.at_level(logging.ERROR):
        [apology] = await alice.say("/paper 2404.07965")
    assert "抱歉" in apology.text
    assert LOCAL_TOKEN.split(":")[1] not in caplog.text
    monkeypatch.undo()
    [card] = await alice.say("/paper 2404.07965")
    assert "Rho-1" in card.text


async def test_token_never_reaches_the_logs(bot: LocalBot, alice: Chat, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        await alice.say("/search 量化")
    # httpx would log the request URL, token included, at INFO: build_application turns it down.
    assert caplog.records
    assert all(LOCAL_TOKEN not in r.getMessage() for r in caplog.records)


def test_services_accessor_refuses_an_uninitialised_application() -> None:
    class Ctx:
        bot_data: ClassVar[dict[str, object]] = {}

    with pytest.raises(RuntimeError):
        services(Ctx())  # type: ignore[arg-type]
