"""Refresh end to end against the fake servers: reports, politeness, failures that lose nothing,
versions, /paper fetches, digest lists, Hugging Face, and a subscriber's next push."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, date, datetime, timedelta

from bot.catalogue.model import TagSource
from bot.config import Settings
from bot.push.service import PushService
from bot.services.refresh import FetchStatus, combine
from bot.storage.chats import Subscription, SubscriptionKind
from bot.storage.db import Database
from bot.storage.migrations import MIGRATIONS, migrate
from bot.storage.papers import PaperStore, read_papers
from tests.push import Clock as PushClock
from tests.push import FakeSender, add_chat
from tests.sources.conftest import Clock, MakeService
from tests.sources.fakes import Digest, FakePaper, FakeSources
from tests.storage import database_at

QUANT = FakePaper(
    "2612.00001",
    "Four-bit Quantization of Large Language Models without Calibration",
    "We study post-training quantization of LLM weights to 4 bits and introduce glimmerwave rounding.",
    categories=("cs.LG", "cs.CL"),
)
VISION = FakePaper("2612.00002", "Seeing Through Fog", "A detector for foggy street scenes.", categories=("cs.CV",))
OTHER = FakePaper("2612.00003", "A Physics Paper", "Not ours.", categories=("hep-th",))


async def paper_row(db: Database, arxiv_id: str):  # type: ignore[no-untyped-def]
    return (await db.read(lambda c: read_papers(c, [arxiv_id]))).get(arxiv_id)


async def test_refresh_adds_new_papers_with_metadata_and_topics(
    fake: tuple[FakeSources, str], make_service: MakeService, db: Database
) -> None:
    server, _ = fake
    for p in (QUANT, VISION, OTHER):
        server.add(p, listed=True)
    service = await make_service()
    (report,) = await service.run(["arxiv"])
    assert report.ok, report.error
    assert (report.fetched, report.new, report.updated) == (2, 2, 0)  # hep-th is not in our categories
    quant = await paper_row(db, QUANT.arxiv_id)
    assert quant.abstract_en == QUANT.abstract and quant.authors == QUANT.authors
    assert quant.categories == ("cs.LG", "cs.CL") and quant.version == 1 and quant.sources == ("arxiv",)
    assert quant.abstract_zh == "" and quant.published == date(2026, 12, 1)
    assert ("量化", TagSource.RULE) in quant.topics
    vision = await paper_row(db, VISION.arxiv_id)
    assert ("視覺模型", TagSource.RULE) in vision.topics  # from the primary category
    # Searchable in English right away (the FTS index covers abstract_en).
    hits = await PaperStore(db).search("glimmerwave")
    assert [h.paper.arxiv_id for h in hits.hits] == [QUANT.arxiv_id]
    # The listing came from the feed: no API call was needed, and the User-Agent names a contact.
    assert [path for path, _, _ in server.requests] == ["/atom/cs.CL+cs.CV+cs.LG+cs.AI"]
    assert "+https://" in server.requests[0][2]["User-Agent"]


async def test_a_paper_no_rule_matches_is_tagged_by_the_model(
    fake: tuple[FakeSources, str], make_service: MakeService, db: Database
) -> None:
    # Words no keyword rule of config/topics.toml names, in a category with no mapped topic: before
    # the run settled topics, such a paper stayed without any topic and reached no subscriber.
    plain = FakePaper(
        "2612.00009",
        "Glimmerwave: On the Behaviour of Pretrained Systems",
        "We describe glimmerwave, an observation about pretrained systems across many settings.",
        categories=("cs.AI",),
    )
    server, _ = fake
    server.add(plain, listed=True)
    service = await make_service()
    (report,) = await service.run(["arxiv"])
    assert report.ok and report.new == 1
    paper = await paper_row(db, plain.arxiv_id)
    assert paper.topics, "a refreshed paper must be reachable through some topic"
    assert {source for _, source in paper.topics} <= {TagSource.RULE, TagSource.MODEL}


async def test_the_same_query_is_never_made_twice_a_day(
    fake: tuple[FakeSources, str], make_service: MakeService, clock: Clock
) -> None:
    server, _ = fake
    server.add(QUANT, listed=True)
    service = await make_service()
    await service.run(["arxiv"])
    (again,) = await service.run(["arxiv"])
    assert again.ok and again.new == 0 and "already fetched" in again.notes[0]
    assert len(server.requests) == 1
    clock.now += timedelta(days=1, minutes=1)
    await service.run(["arxiv"])
    assert len(server.requests) == 2


async def test_new_version_updates_in_place_keeps_date_and_chinese_text(
    fake: tuple[FakeSources, str], make_service: MakeService, db: Database
) -> None:
    server, _ = fake
    before = await paper_row(db, "2404.19296")  # a seed paper with a Chinese abstract and catalogue topics
    replaced = FakePaper(
        "2404.19296",
        "Octopus v4: Graph of language models",
        "Revised abstract.",
        version=3,
        announce="replace",
        published=date(2026, 12, 1),
    )
    server.add(replaced, listed=True)
    service = await make_service()
    (report,) = await service.run(["arxiv"])
    assert (report.new, report.updated) == (0, 1)
    after = await paper_row(db, "2404.19296")
    assert after.version == 3 and after.abstract_en == "Revised abstract."
    assert after.published == before.published  # not "new" again
    assert after.abstract_zh == before.abstract_zh and after.topics == before.topics


def test_combine_never_downgrades_a_version() -> None:
    from bot.sources.arxiv import ArxivRecord

    v3 = ArxivRecord("2401.00001", 3, "T3", "A3", ("X",), ("cs.CL",), date(2024, 1, 2)).to_paper("arxiv")
    v2 = ArxivRecord("2401.00001", 2, "T2", "A2", ("Y",), ("cs.LG",), date(2024, 1, 5)).to_paper("hf_daily")
    merged = combine(v3, v2)
    assert (merged.version, merged.title_en, merged.abstract_en, merged.categories) == (3, "T3", "A3", ("cs.CL",))
    assert merged.sources == ("arxiv", "hf_daily") and merged.published == date(2024, 1, 2)


async def test_a_failing_source_loses_nothing_and_does_not_block_the_others(
    fake: tuple[FakeSources, str], make_service: MakeService, db: Database, clock: Clock
) -> None:
    server, _ = fake
    count = await PaperStore(db).count()
    server.digests["2026-12.md"] = Digest(DIGEST_MONTH)
    server.fault, server.fault_times = "bomb", 1  # the first request (arXiv's listing) is an XML bomb
    service = await make_service()
    arxiv_report, digest_report, _hf = await service.run()
    assert not arxiv_report.ok and "unsafe XML" in (arxiv_report.error or "")
    assert digest_report.ok and digest_report.new == 2
    assert await PaperStore(db).count() == count + 2
    (status, *_) = await service.status()
    assert status.state is not None and status.state.failures == 1
    assert status.next_run == clock.now + timedelta(minutes=5)  # retried with backoff, before the schedule
    assert "last error" in status.format()
    # The next run succeeds and clears the error streak.
    server.add(QUANT, listed=True)
    (retry,) = await service.run(["arxiv"])
    assert retry.ok and retry.new == 1
    (status, *_) = await service.status()
    assert status.state is not None and status.state.failures == 0 and status.papers == 1


async def test_a_source_every_n_hours_is_due_until_it_runs_then_n_hours_after_its_last_run(
    fake: tuple[FakeSources, str], make_service: MakeService, clock: Clock
) -> None:
    """`sources` and /stats show when it really runs: not "N hours from whenever you asked"."""
    server, _ = fake
    server.digests["2026-12.md"] = Digest(DIGEST_MONTH)
    service = await make_service()
    digest = {s.spec.name: s for s in await service.status()}["digest"]
    assert digest.due and digest.next_run == clock.now and "due now" in digest.format()
    ran_at = clock.now
    (report,) = await service.run(["digest"])
    assert report.ok
    clock.now += timedelta(hours=2)
    digest = {s.spec.name: s for s in await service.status()}["digest"]
    assert not digest.due and digest.next_run == ran_at + timedelta(hours=6)
    assert (ran_at + timedelta(hours=6)).isoformat(timespec="minutes") in digest.format()
    clock.now += timedelta(hours=5)
    assert {s.spec.name: s for s in await service.status()}["digest"].due


DIGEST_MONTH = """# 2026年12月 論文摘要

| 發布日期 | 論文 | 簡介 | 標籤 |
|---|---|---|---|
| 2026-12-01 | [Tiny Agents](https://arxiv.org/abs/2612.00010) | 一个小型代理。 | LLM代理 |
| 2026-12-01 | [Blog Post](https://example.com/post) | 不是论文。 | 評估 |
|  | [Tiny Quant](https://arxiv.org/pdf/2612.00011v2) | 一种量化方法。 | 量化、模型壓縮 |
"""


async def test_digest_list_conditional_get_and_changed_rows_only(
    fake: tuple[FakeSources, str], make_service: MakeService, db: Database
) -> None:
    server, _ = fake
    server.digests["2026-12.md"] = Digest(DIGEST_MONTH)
    service = await make_service()
    (first,) = await service.run(["digest"])
    assert (first.fetched, first.new, len(first.rejected)) == (2, 2, 1)
    assert first.rejected[0].non_arxiv and "not arXiv papers" in first.format()
    agents = await paper_row(db, "2612.00010")
    assert agents.abstract_zh == "一个小型代理。" and agents.topics == (("LLM代理", TagSource.CATALOGUE),)
    (second,) = await service.run(["digest"])
    assert second.ok and second.new == 0 and "not modified" in second.notes[0]
    assert server.requests[-1][2]["If-None-Match"] == '"v1"'
    # The maintainer edits one row: only that row is written.
    server.digests["2026-12.md"] = Digest(DIGEST_MONTH.replace("一个小型代理。", "一个更小的代理。"), etag='"v2"')
    (third,) = await service.run(["digest"])
    assert (third.new, third.updated, third.unchanged) == (0, 1, 1)


async def test_hf_daily_adds_papers_and_upvotes(
    fake: tuple[FakeSources, str], make_service: MakeService, db: Database
) -> None:
    server, _ = fake
    server.hf = [
        {
            "paper": {
                "id": "2612.00020",
                "title": "Hugging Paper",
                "summary": "Quantization again.",
                "upvotes": 42,
                "authors": [{"name": "A. B."}],
                "publishedAt": "2026-12-01T10:00:00.000Z",
            },
            "numComments": 1,
        },
        {"paper": {"id": "not-an-id", "title": "x"}},
        "garbage",  # type: ignore[list-item]  # hostile input: not an object at all
    ]
    service = await make_service()
    (report,) = await service.run(["hf_daily"])
    assert (report.fetched, report.new) == (1, 1) and "2 items" in report.notes[0]
    upvotes = await db.read(
        lambda c: c.execute("SELECT hf_upvotes FROM papers WHERE arxiv_id = '2612.00020'").fetchone()
    )
    assert upvotes[0] == 42


async def test_fetch_paper_found_unknown_invalid_unreachable(
    fake: tuple[FakeSources, str], make_service: MakeService, db: Database
) -> None:
    server, _ = fake
    server.add(QUANT)
    service = await make_service()
    found = await service.fetch_paper("arXiv:2612.00001v1")
    assert found.status is FetchStatus.FOUND and found.paper is not None
    assert found.paper.title_en == QUANT.title
    assert (await PaperStore(db).search("glimmerwave")).hits  # findable by search afterwards
    unknown = await service.fetch_paper("2612.99999")
    assert unknown.status is FetchStatus.UNKNOWN
    calls = len(server.requests)
    assert (await service.fetch_paper("2612.99999")).status is FetchStatus.UNKNOWN
    assert len(server.requests) == calls  # remembered for a day, not asked again
    assert (await service.fetch_paper("hello")).status is FetchStatus.INVALID
    server.fault = "500"
    down = await service.fetch_paper("2612.00005")
    assert down.status is FetchStatus.UNREACHABLE and "server_error" in down.detail


async def test_concurrent_fetches_of_one_id_share_one_request(
    fake: tuple[FakeSources, str], make_service: MakeService
) -> None:
    server, _ = fake
    server.add(QUANT)
    service = await make_service()
    results = await asyncio.gather(*(service.fetch_paper("2612.00001") for _ in range(5)))
    assert {r.status for r in results} == {FetchStatus.FOUND}
    assert len(server.requests) == 1


async def test_a_subscribers_next_push_carries_a_refreshed_paper(
    fake: tuple[FakeSources, str], make_service: MakeService, settings: Settings, db: Database
) -> None:
    server, _ = fake
    push_clock = PushClock(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))  # 08:00 in Shanghai
    sender = FakeSender()
    push = PushService(db, settings, sender, clock=push_clock, sleep=push_clock.sleep)
    await add_chat(db, 7, [Subscription(SubscriptionKind.TOPIC, "量化")])
    await add_chat(db, 8, [Subscription(SubscriptionKind.KEYWORD, "glimmerwave")])
    await push.reschedule(7)
    await push.reschedule(8)
    await push.tick()
    assert len(sender.ids(7)) == 1  # the one seed paper of 量化
    assert sender.ids(8) == []  # the keyword matches nothing yet
    # The night's refresh brings a new quantization paper.
    server.add(QUANT, listed=True)
    service = await make_service()
    (report,) = await service.run(["arxiv"])
    assert report.new == 1
    push_clock.now += timedelta(days=1)
    await push.tick()
    assert sender.ids(7)[1:] == [QUANT.arxiv_id]
    assert sender.ids(8) == [QUANT.arxiv_id]  # keyword subscriptions match the English abstract
    assert sender.notices == []  # something new: no "read everything" notice


async def test_a_fresh_paper_is_pushed_before_last_years_curated_ones(
    fake: tuple[FakeSources, str], make_service: MakeService, settings: Settings, db: Database
) -> None:
    """The push prefers the catalogue's own (human) tags, but a curated paper from 2024 does not hold
    back one arXiv announced today: a subscriber with unread seed papers still gets the new one."""
    server, _ = fake
    push_clock = PushClock(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))
    sender = FakeSender()
    push = PushService(db, settings, sender, clock=push_clock, sleep=push_clock.sleep)
    await add_chat(db, 7, [Subscription(SubscriptionKind.TOPIC, "多模態LLM")])
    await push.reschedule(7)
    await push.tick()
    (first,) = sender.ids(7)
    assert first.startswith("2404.")  # a seed paper; more of them are left unread
    fresh = FakePaper(
        "2612.00042",
        "A Multimodal Large Language Model for Charts",
        "We train a multimodal LLM that reads charts and images and answers questions about them.",
        categories=("cs.CV", "cs.CL"),
    )
    server.add(fresh, listed=True)
    (report,) = await (await make_service()).run(["arxiv"])
    assert report.new == 1
    push_clock.now += timedelta(days=1)
    await push.tick()
    assert sender.ids(7)[1:] == [fresh.arxiv_id]
    push_clock.now += timedelta(days=1)
    await push.tick()
    assert sender.ids(7)[2].startswith("2404.")  # then the curated papers again, newest first


def test_a_database_of_the_previous_release_migrates_intact(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "old.sqlite3"
    conn = database_at(path, (1, 2))  # the schema of the release before this change: migrations 1 and 2 only
    now = "2026-11-01T00:00:00+00:00"
    conn.execute(
        "INSERT INTO papers (arxiv_id, title_en, abstract_zh, published, date_is_exact, content_hash, added_at,"
        " updated_at) VALUES ('2404.00001', 'Old', '旧摘要。', '2024-04-01', 1, 'h', ?, ?)",
        (now, now),
    )
    for chat in (1, 2, 3):
        conn.execute(
            "INSERT INTO chats (chat_id, kind, script, push_time, timezone, created_at, updated_at)"
            " VALUES (?, 'private', 'hant', '09:00', 'Asia/Taipei', ?, ?)",
            (chat, now, now),
        )
        conn.execute(
            "INSERT INTO subscriptions VALUES (?, 'topic', '量化', ?), (?, 'keyword', 'moe', ?)", (chat, now, chat, now)
        )
        conn.execute(
            "INSERT INTO deliveries (chat_id, arxiv_id, kind, via, local_date, state, planned_at)"
            " VALUES (?, '2404.00001', 'paper', 'push', '2026-11-01', 'sent', ?)",
            (chat, now),
        )
    dump = {
        t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in ("chats", "subscriptions", "deliveries")
    }
    conn.close()

    migrated = sqlite3.connect(path, isolation_level=None)
    migrated.create_function("fts_text", 1, lambda t: t, deterministic=True)
    assert migrate(migrated) == max(MIGRATIONS)
    for table, rows in dump.items():
        after = migrated.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
        # Later migrations may add columns (chats.push_thread_id, migration 9): the old ones keep their values.
        assert [row[: len(rows[0])] for row in after] == rows
    row = migrated.execute("SELECT title_en, abstract_zh, abstract_en, version, hf_upvotes FROM papers").fetchone()
    assert row == ("Old", "旧摘要。", "", 0, None)
    assert migrated.execute("SELECT count(*) FROM source_state").fetchone() == (0,)
    migrated.close()


def test_a_database_that_got_a_later_migration_first_still_gets_migration_4(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "gap.sqlite3"
    # What main's database looked like when migration 5 landed before 4.
    conn = database_at(path, [v for v in sorted(MIGRATIONS) if v != 4])
    assert migrate(conn) == max(MIGRATIONS)
    assert conn.execute("SELECT count(*) FROM source_state").fetchone() == (0,)
    assert sorted(r[0] for r in conn.execute("SELECT version FROM migrations")) == sorted(MIGRATIONS)
    conn.close()
