"""A traditional-script chat, end to end over the local Bot API: nothing it receives — messages, edits,
buttons, callback answers, the command menu — uses OpenCC's generic 爲 / 鏈接 / 支持 where Taiwan
writes 為 / 連結 / 支援."""

from __future__ import annotations

from bot.telegram.local import LocalBot
from tests.telegram.conftest import Chat

NOT_TAIWAN = ("爲", "鏈接", "支持")

COMMANDS = [
    "/start",
    "/help",
    "/topics",
    "/paper 2404.07965",
    "/paper 2404.99999",
    "/paper not-an-id",
    "/paper",
    "/search 量化",
    "/search 完全不存在的詞語組合",
    "/search",
    "/subscribe 多模态llm",
    "/subscribe 不存在的主題",
    "/subscriptions",
    "/unsubscribe",
    "/time 25:99",
    "/time 08:30 Asia/Taipei",
    "/today",
    "/lang",
    "/stats",
    "/frobnicate",
]


def _texts(chat: Chat) -> list[str]:
    texts = []
    for message in chat.api.messages(chat.chat_id):
        texts.append(message.text)
        texts.extend(button.get("text", "") for button in message.buttons())
    return texts


async def test_everything_a_traditional_chat_receives_reads_as_taiwan_writes_it(bot: LocalBot, bob: Chat) -> None:
    for command in COMMANDS:
        await bob.say(command)
    [topics] = await bob.say("/topics")
    answers = [await bob.press(topics, data=topics.buttons()[0]["callback_data"])]
    query_id = await bot.api.forge_callback(bob.chat_id, topics.message_id, "x:1", bob.user_id)
    answers.append(await bot.api.wait_for_callback_answer(query_id))
    texts = _texts(bob) + [a.get("text", "") for a in answers]
    assert len(texts) > len(COMMANDS)
    joined = "\n".join(texts)
    assert "訂閱" in joined and "订阅" not in joined  # it is the traditional chat
    assert "支援的寫法" in joined  # /paper usage, written 支持的写法 in simplified
    for text in texts:
        assert not any(word in text for word in NOT_TAIWAN), text
