"""Every command, over HTTP against the local Bot API, as a user would use it."""

from __future__ import annotations

import asyncio

import pytest

from bot.telegram.local import LocalBot
from bot.telegram.render import COMMANDS
from tests.conftest import ADMIN_ID
from tests.telegram.conftest import Chat, button_data


async def test_start_explains_and_offers_topic_buttons(alice: Chat) -> None:
    [reply] = await alice.say("/start")
    assert "每天为你推送" in reply.text
    assert any(d.startswith("tt:") for d in button_data(reply))


async def test_command_menus_default_and_zh(bot: LocalBot, alice: Chat) -> None:
    await alice.say("/help")
    # Telegram accepts only "" or two lowercase letters as a menu language (tdlib validate_bot_language_code).
    assert set(bot.api.commands) == {("default", ""), ("default", "zh")}
    default, zh = bot.api.commands[("default", "")], bot.api.commands[("default", "zh")]
    assert [c["command"] for c in default] == [c["command"] for c in zh]
    assert "stats" not in [c["command"] for c in zh]
    assert any("订阅" in c["description"] for c in zh)


async def test_help_lists_every_command(alice: Chat) -> None:
    [reply] = await alice.say("/help")
    for command in COMMANDS:
        assert f"/{command.name}" in reply.text


@pytest.mark.parametrize(
    "spelling",
    ["2404.07965", "arXiv:2404.07965v2", "https://arxiv.org/abs/2404.07965", "https://arxiv.org/pdf/2404.07965.pdf"],
)
async def test_paper_accepts_every_id_form(alice: Chat, spelling: str) -> None:
    [card] = await alice.say(f"/paper {spelling}")
    assert "Rho-1" in card.text
    urls = [e.get("url", "") for e in card.entities if e["type"] == "text_link"]
    assert "https://arxiv.org/abs/2404.07965" in urls and "https://arxiv.org/pdf/2404.07965" in urls


async def test_paper_not_in_catalogue_and_invalid(alice: Chat) -> None:
    [missing] = await alice.say("/paper hep-th/9901001")  # fetched from arXiv, which cannot be reached here
    for _ in range(200):
        if missing.edited:
            break
        await asyncio.sleep(0.05)
    assert "暂时无法连接 arXiv" in missing.text and "arxiv.org/abs/hep-th/9901001" in missing.text
    [invalid] = await alice.say("/paper hello")
    assert "不是有效的 arXiv ID" in invalid.text and "2404.07965" in invalid.text
    [usage] = await alice.say("/paper")
    assert "用法" in usage.text


async def test_card_shows_the_complete_merged_abstract(alice: Chat) -> None:
    [card] = await alice.say("/paper 2404.07839")
    assert "RecurrentGemma" in card.text
    assert "Gemma-2B" in card.text


async def test_search_pages_in_place_and_opens_cards(alice: Chat) -> None:
    [results] = await alice.say("/search 模型")
    assert "第 1 页" in results.text
    assert "s:" in " ".join(button_data(results))
    next_data = next(d for d in button_data(results) if d.startswith("s:") and d.endswith(":1"))
    await alice.press(results, data=next_data)
    assert results.edited == 1 and "第 2 页" in results.text and "6. " in results.text
    previous = next(d for d in button_data(results) if d.startswith("s:") and d.endswith(":0"))
    await alice.press(results, data=previous)
    assert "第 1 页" in results.text
    before = len(alice.api.messages(alice.chat_id))
    await alice.press(results, text="1")
    await alice.api.wait_for_messages(alice.chat_id, before + 1)
    assert "📅" in alice.last.text


async def test_search_finds_quantization_in_either_script(alice: Chat) -> None:
    [simplified] = await alice.say("/search 量化")
    assert "2404.14047" in simplified.text
    [mixed] = await alice.say("/search 對齊")
    [same] = await alice.say("/search 对齐")
    assert mixed.text.split("\n", 1)[1] == same.text.split("\n", 1)[1]


async def test_search_without_results_suggests(alice: Chat) -> None:
    [reply] = await alice.say("/search zzqqxx")
    assert "没有找到" in reply.text and "/topics" in reply.text
    [usage] = await alice.say("/search")
    assert "用法" in usage.text


async def test_subscribe_any_script_and_case(alice: Chat) -> None:
    [reply] = await alice.say("/subscribe 多模态llm")
    assert "已订阅主题「多模态LLM」" in reply.text
    [again] = await alice.say("/subscribe 多模態LLM")
    assert "已经订阅" in again.text
    [overview] = await alice.say("/subscriptions")
    assert "多模态LLM" in overview.text and "Asia/Shanghai" in overview.text


async def test_unknown_topic_offers_closest_and_keyword(alice: Chat) -> None:
    [reply] = await alice.say("/subscribe 多模")
    data = button_data(reply)
    assert "ts:多模態LLM" in data
    keyword = next(d for d in data if d.startswith("ks:"))
    before = len(alice.api.messages(alice.chat_id))
    await alice.press(reply, data=keyword)
    await alice.api.wait_for_messages(alice.chat_id, before + 1)
    assert "已订阅关键词「多模」" in alice.last.text


async def test_subscribe_without_argument_shows_topics(alice: Chat) -> None:
    usage, topics = await alice.say("/subscribe", replies=2)
    assert "选择" in usage.text and any(d.startswith("tt:") for d in button_data(topics))


async def test_topics_toggle_edits_the_list(alice: Chat) -> None:
    [topics] = await alice.say("/topics")
    answer = await alice.press(topics, data="tt:量化")
    assert "已订阅" in answer["text"]
    assert "✅ 量化" in topics.text
    await alice.press(topics, data="tt:量化")
    assert "✅ 量化" not in topics.text


async def test_unsubscribe_with_buttons_and_by_name(alice: Chat) -> None:
    await alice.say("/subscribe 量化")
    await alice.say("/subscribe 对齐")
    [menu] = await alice.say("/unsubscribe")
    assert "tu:量化" in button_data(menu)
    await alice.press(menu, data="tu:量化")
    [reply] = await alice.say("/unsubscribe 對齊")
    assert "已取消订阅" in reply.text
    [overview] = await alice.say("/subscriptions")
    assert "（无）" in overview.text


async def test_time_sets_and_rejects(alice: Chat) -> None:
    [ok] = await alice.say("/time 07:45 asia/taipei")
    assert "07:45" in ok.text and "Asia/Taipei" in ok.text
    [bad_time] = await alice.say("/time 25:00")
    assert "不是有效的时间" in bad_time.text
    [bad_zone] = await alice.say("/time 08:00 Mars/Olympus")
    assert "不认识时区" in bad_zone.text
    [usage] = await alice.say("/time")
    assert "07:45" in usage.text


async def test_lang_switches_script(alice: Chat) -> None:
    [menu] = await alice.say("/lang")
    await alice.press(menu, data="l:hant")
    assert "繁體中文" in menu.text
    [reply] = await alice.say("/subscribe 多模态llm")
    assert "已訂閱主題「多模態LLM」" in reply.text


async def test_default_script_follows_the_telegram_language(bob: Chat) -> None:
    [reply] = await bob.say("/help")
    assert "訂閱" in reply.text and "订阅" not in reply.text


async def test_deep_link_opens_a_card(alice: Chat) -> None:
    [card] = await alice.say("/start p_2404_07965")
    assert "Rho-1" in card.text


async def test_inline_mode_offers_cards(bot: LocalBot, alice: Chat) -> None:
    query_id = await bot.api.inline_query(alice.user_id, "RULER")
    answer = await bot.api.wait_for_inline_answer(query_id)
    assert answer["results"]
    posted = await bot.api.choose_inline_result(alice.user_id, query_id, answer["results"][0]["id"], alice.chat_id)
    assert "RULER" in posted["text"]


async def test_stale_and_forged_buttons_are_refused_politely(bot: LocalBot, alice: Chat) -> None:
    [topics] = await alice.say("/topics")
    for data in ["x:1", "tt:不存在的主题", "s:999999:3", "p:garbage", "l:klingon"]:
        query_id = await bot.api.forge_callback(alice.chat_id, topics.message_id, data, alice.user_id)
        answer = await bot.api.wait_for_callback_answer(query_id)
        assert answer.get("text"), data
    [overview] = await alice.say("/subscriptions")
    assert "（无）" in overview.text


async def test_stats_is_for_admins_only(bot: LocalBot, alice: Chat) -> None:
    [refused] = await alice.say("/stats")
    assert "仅限" in refused.text
    admin = Chat(bot.api, bot.api.add_private_chat(ADMIN_ID, "Admin"), ADMIN_ID)
    [stats] = await admin.say("/stats")
    assert "chats" in stats.text.lower()


async def test_unknown_command_points_to_help(alice: Chat) -> None:
    [reply] = await alice.say("/frobnicate")
    assert "/help" in reply.text
