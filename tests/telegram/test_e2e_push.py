"""The daily push over the real Application: APScheduler's clock fires it on the chat's minute."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.telegram.local import LocalBot
from tests.telegram.conftest import Chat


async def test_push_arrives_on_its_minute_and_today_does_not_repeat(bot: LocalBot, alice: Chat) -> None:
    await alice.say("/subscribe 多模態LLM")
    today = await alice.say("/today")
    first_paper = today[0].text.split("\n", 1)[0]
    zone = ZoneInfo("Asia/Taipei")
    target = (datetime.now(zone) + timedelta(minutes=1)).replace(second=0, microsecond=0)
    [confirmed] = await alice.say(f"/time {target:%H:%M} Asia/Taipei")
    assert f"{target:%H:%M}" in confirmed.text
    before = len(bot.api.messages(alice.chat_id))
    messages = await bot.api.wait_for_messages(alice.chat_id, before + 1, timeout=75)
    pushed = messages[before]
    arrived = datetime.fromtimestamp(pushed.date, zone)
    assert arrived >= target and arrived - target < timedelta(seconds=15)
    assert "来自订阅：多模态LLM" in pushed.text
    assert pushed.text.split("\n", 1)[0] != first_paper


async def test_today_until_a_topic_is_read_out(alice: Chat) -> None:
    await alice.say("/subscribe 量化")
    [count_line] = [line for line in (await alice.say("/topics"))[0].text.splitlines() if "量化" in line]
    total = int(count_line.split("·")[1].split()[0])
    seen = set()
    for _ in range(total):
        [card] = await alice.say("/today")
        seen.add(card.text.split("\n", 1)[0])
    assert len(seen) == total
    [notice] = await alice.say("/today")
    assert f"已读完 量化 的全部 {total} 篇" in notice.text
    [nothing] = await alice.say("/today")
    assert "没有新的论文" in nothing.text


async def test_today_without_subscriptions_offers_topics(alice: Chat) -> None:
    [reply] = await alice.say("/today")
    assert "还没有订阅" in reply.text and reply.buttons()
