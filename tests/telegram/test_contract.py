"""The contract test: drive the bot through every feature that talks to Telegram and check each parameter of
each request it made against the real server's limits (tests/telegram/contract.py, one cited row per
method and parameter). A parameter without a row fails, so nothing reaches Telegram unaudited."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.telegram.local import LocalBot
from bot.telegram.runner import webhook_path_and_secret
from tests.telegram.conftest import Chat
from tests.telegram.contract import CONTRACT, violations

GROUP, FORUM = -100950, -100960
ADMIN, MEMBER = 3101, 3102


async def test_every_parameter_the_bot_sends_is_within_the_real_servers_limits(bot: LocalBot, alice: Chat) -> None:
    api = bot.api
    # Private chat: commands, buttons (edits, alerts, cards), paging.
    for text in ("/start", "/help", "/paper 2404.07965", "/lang", "/time 08:30 Asia/Taipei", "/subscriptions"):
        await alice.say(text)
    [topics] = await alice.say("/topics")
    await alice.press(topics, data="tt:量化")
    await api.wait_for_callback_answer(
        await api.forge_callback(alice.chat_id, topics.message_id, "tv:量化", alice.user_id)
    )
    await api.wait_idle()
    [results] = await alice.say("/search model")
    if any(b.get("callback_data", "").startswith("s:") for b in results.buttons()):
        await alice.press(
            results,
            data=next(b["callback_data"] for b in results.buttons() if b.get("callback_data", "").startswith("s:")),
        )
    await alice.press(
        results, data=next(b["callback_data"] for b in results.buttons() if b.get("callback_data", "").startswith("p:"))
    )
    # Inline mode, scrolled to the end as a client does.
    await api.inline_scroll(alice.user_id, "model")
    # A group: an admin check (getChatMember) and an alert for a member.
    api.add_group(GROUP, "读书会", admins=[ADMIN], members=[MEMBER])
    member = Chat(api, GROUP, MEMBER)
    [group_topics] = await member.say("/topics")
    await member.press(group_topics, data="tt:量化")
    # A forum: replies and the push in the topic.
    api.add_group(FORUM, "论文组", admins=[ADMIN], forum=True)
    thread = api.add_topic(FORUM, "论文")
    await api.send_text(FORUM, ADMIN, "/subscribe 量化", thread=thread)
    await api.wait_for_messages(FORUM, 1)
    svc = bot.application.bot_data["services"]
    chat = await svc.chats.get(FORUM)
    await svc.push.tick(datetime.fromtimestamp(chat.next_push_at, UTC))
    await api.wait_idle()

    problems, used = violations(api.journal)
    assert problems == []
    # The webhook registration is exercised by test_webhook.py (the real run_webhook); its secret is derived here.
    _, secret = webhook_path_and_secret("123456789:any-token")
    webhook_rules = {r.parameter: r for r in CONTRACT if r.method == "setWebhook"}
    assert webhook_rules["secret_token"].check(secret)
    sent_here = {(r.method, r.parameter) for r in CONTRACT if r.method != "setWebhook"}
    optional = {("getUpdates", "limit")}  # python-telegram-bot leaves it at the server's default
    assert sent_here - optional <= used, f"rows nothing exercised: {sorted(sent_here - optional - used)}"


def test_every_row_cites_its_source() -> None:
    for rule in CONTRACT:
        assert rule.source and any(name in rule.source for name in ("Client.cpp", "td ", "WebhookActor.cpp")), rule
