"""A Hong Kong traditional chat (繁體（香港）), end to end over the local Bot API: replies, buttons,
the daily push and inline results come in Hong Kong forms (訂閲, 羣組), not Taiwan's (訂閱)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.telegram.local import LocalBot
from bot.text.normalize import to_hongkong
from tests.telegram.conftest import Chat, button_data

COMMANDS = ["/start", "/help", "/topics", "/paper 2404.07965", "/search 量化", "/subscribe 多模态llm", "/subscriptions"]


def _hong_kong(text: str) -> bool:
    """Whether text is already in Hong Kong forms (converting it changes nothing) and not Taiwan's."""
    return to_hongkong(text) == text and "訂閱" not in text


async def test_a_zh_hk_user_gets_hong_kong_forms_everywhere(bot: LocalBot) -> None:
    carol = Chat(bot.api, bot.api.add_private_chat(1003, "Carol", language_code="zh-hk"), 1003)
    for command in COMMANDS:
        await carol.say(command)
    messages = bot.api.messages(carol.chat_id)
    texts = [m.text for m in messages] + [b.get("text", "") for m in messages for b in m.buttons()]
    joined = "\n".join(texts)
    assert "訂閲" in joined and "订阅" not in joined
    assert all(_hong_kong(text) for text in texts), [t for t in texts if not _hong_kong(t)]

    # The daily push of a Hong Kong chat is written in Hong Kong forms too.
    svc = bot.application.bot_data["services"]
    chat = await svc.chats.get(carol.chat_id)
    before = len(bot.api.messages(carol.chat_id))
    await svc.push.tick(datetime.fromtimestamp(chat.next_push_at, UTC))
    await bot.api.wait_idle()
    pushed = bot.api.messages(carol.chat_id)[before:]
    assert pushed and all(_hong_kong(m.text) for m in pushed)
    assert "來自訂閲" in pushed[0].text

    # Inline results follow the sender's language: Hong Kong forms for a zh-hk user.
    query_id = await bot.api.inline_query(carol.user_id, "量化")
    answer = await bot.api.wait_for_inline_answer(query_id)
    assert answer["results"]
    for result in answer["results"]:
        assert _hong_kong(result["input_message_content"]["message_text"])
        assert _hong_kong(result.get("description", ""))


async def test_lang_switches_a_taiwan_chat_to_hong_kong_and_back(bot: LocalBot, bob: Chat) -> None:
    [menu] = await bob.say("/lang")
    assert [b["text"] for b in menu.buttons()] == ["繁體中文", "繁體（香港）", "简体中文"]
    await bob.press(menu, data=button_data(menu)[1])
    assert bob.last.text == "好的，以後使用繁體（香港）。"
    [topics] = await bob.say("/topics")
    assert "訂閲" in topics.text and "訂閱" not in topics.text
    [done] = await bob.say("/lang 繁")
    assert "繁體中文" in done.text
    [topics] = await bob.say("/topics")
    assert "訂閱" in topics.text
    [done] = await bob.say("/lang 香港")
    assert done.text == "好的，以後使用繁體（香港）。"
