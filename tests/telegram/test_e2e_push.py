"""The daily push over the real Application: its minute job pushes a chat on the chat's own minute
(the push's clock is injected, so the test runs the job at chosen instants instead of waiting for them)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.telegram.app import PUSH_JOB
from bot.telegram.local import running_locally
from tests.telegram.conftest import E2E_LIMITS, Chat


class Clock:
    """The push's clock, set by the test: the job runs at a chosen minute instead of the test waiting."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_push_arrives_on_its_minute_and_today_does_not_repeat(settings: Settings, seeded: Path) -> None:
    zone = ZoneInfo("Asia/Taipei")
    clock = Clock(datetime(2024, 5, 1, 9, 0, tzinfo=zone))
    async with running_locally(settings, limits=E2E_LIMITS, push_clock=clock) as bot:
        alice = Chat(bot.api, bot.api.add_private_chat(1001, "Alice", language_code="zh-hans"), 1001)
        assert bot.application.job_queue is not None
        [job] = bot.application.job_queue.get_jobs_by_name(PUSH_JOB)
        # APScheduler runs the push once a minute, on the minute.
        assert job.job.trigger.interval == timedelta(minutes=1)
        assert job.next_t is not None and job.next_t.second == 0

        await alice.say("/subscribe 多模態LLM")
        first_paper = (await alice.say("/today"))[0].text.split("\n", 1)[0]
        [confirmed] = await alice.say("/time 09:30 Asia/Taipei")
        assert "09:30" in confirmed.text
        before = len(bot.api.messages(alice.chat_id))

        clock.now = datetime(2024, 5, 1, 9, 29, 30, tzinfo=zone)
        await job.run(bot.application)  # the minute before: nothing
        await bot.api.wait_idle()
        assert len(bot.api.messages(alice.chat_id)) == before

        clock.now = datetime(2024, 5, 1, 9, 30, 2, tzinfo=zone)
        await job.run(bot.application)
        [pushed] = (await bot.api.wait_for_messages(alice.chat_id, before + 1))[before:]
        assert "来自订阅：多模态LLM" in pushed.text
        assert pushed.text.split("\n", 1)[0] != first_paper  # /today's paper is never pushed again

        clock.now = datetime(2024, 5, 1, 9, 31, tzinfo=zone)
        await job.run(bot.application)  # the next minute, and later the same day: no second push
        clock.now = datetime(2024, 5, 1, 23, 59, tzinfo=zone)
        await job.run(bot.application)
        await bot.api.wait_idle()
        assert len(bot.api.messages(alice.chat_id)) == before + 1
        assert bot.api.errors() == []


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
