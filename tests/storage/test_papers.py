import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.catalogue.model import Paper, TagSource
from bot.storage.db import Database, connect
from bot.storage.fts import Densities, newest_matches, parse_query
from bot.storage.papers import CatalogueWriter, PaperStore


async def _ids(store: PaperStore, query: str, **kw: Any) -> list[str]:
    page = await store.search(query, **kw)
    return [hit.paper.arxiv_id for hit in page.hits]


async def test_get_returns_the_merged_complete_abstract(db: Database) -> None:
    paper = await PaperStore(db).get("2404.07839")
    assert paper is not None
    assert paper.title_en.startswith("RecurrentGemma")
    assert paper.title_zh  # from the heading file
    assert paper.abstract_zh.endswith("。")
    assert paper.date_is_exact  # the table's date wins over the ID's month


async def test_undated_paper_gets_the_month_of_its_id(db: Database) -> None:
    paper = await PaperStore(db).get("2402.06619")
    assert paper is not None and not paper.date_is_exact
    assert paper.published.isoformat() == "2024-02-01"


async def test_two_character_chinese_queries_match(db: Database) -> None:
    store = PaperStore(db)
    assert "2404.14047" in await _ids(store, "量化", limit=20)
    assert await _ids(store, "微調", limit=5)
    assert await _ids(store, "對齊", limit=5)


@pytest.mark.parametrize(
    ("traditional", "simplified"), [("量化", "量化"), ("對齊", "对齐"), ("微調", "微调"), ("長上下文", "长上下文")]
)
async def test_search_ignores_script(db: Database, traditional: str, simplified: str) -> None:
    store = PaperStore(db)
    assert await _ids(store, traditional, limit=50) == await _ids(store, simplified, limit=50)


async def test_english_words_phrases_and_case(db: Database) -> None:
    store = PaperStore(db)
    assert (await _ids(store, "RULER"))[0] == "2404.06654"
    assert (await _ids(store, "ruler"))[0] == "2404.06654"
    assert "2404.15045" in await _ids(store, "mixture of experts")


async def test_arxiv_id_query_finds_the_paper(db: Database) -> None:
    assert (await _ids(PaperStore(db), "2404.07965"))[0] == "2404.07965"


async def test_title_matches_rank_above_abstract_only_matches(db: Database) -> None:
    page = await PaperStore(db).search("微调", limit=20)
    flags = [hit.in_title for hit in page.hits]
    assert True in flags and False in flags
    assert flags == sorted(flags, reverse=True)


async def test_paging_is_disjoint_and_ordered(db: Database) -> None:
    store = PaperStore(db)
    everything = await _ids(store, "模型", limit=100)
    pages = [await _ids(store, "模型", offset=o, limit=5) for o in range(0, len(everything), 5)]
    assert [i for page in pages for i in page] == everything
    last = await store.search("模型", offset=len(everything) - 5, limit=5)
    assert not last.has_more


@pytest.mark.parametrize(
    "hostile",
    ['"', "'", "(", ")", "AND", "OR NOT", "*", ":", "-", "a:b", '"unbalanced', "NEAR(x)", "'; DROP TABLE papers;--"],
)
async def test_fts_syntax_never_raises(db: Database, hostile: str) -> None:
    store = PaperStore(db)
    await store.search(hostile)
    assert await store.count() == 70


async def test_no_word_in_common_falls_back_to_any_word(db: Database) -> None:
    page = await PaperStore(db).search("RULER zzzzunknownzzz")
    assert page.broadened
    assert page.hits[0].paper.arxiv_id == "2404.06654"


async def test_topic_counts_and_newest_first(db: Database) -> None:
    store = PaperStore(db)
    counts = {t.name: t.papers for t in await store.topic_counts()}
    assert counts["多模態LLM"] >= 6
    papers = await store.papers_of_topic("多模態LLM", limit=50)
    dates = [p.published for p in papers]
    assert dates == sorted(dates, reverse=True)


async def test_related_papers_share_a_topic(db: Database) -> None:
    store = PaperStore(db)
    paper = (await store.papers_of_topic("多模態LLM", limit=1))[0]
    related = await store.related(paper.arxiv_id, limit=3)
    assert len(related) == 3 and all(set(r.topic_names) & set(paper.topic_names) for r in related)
    assert paper.arxiv_id not in [r.arxiv_id for r in related]


def _paper(arxiv_id: str, abstract: str = "一篇论文的摘要。") -> Paper:
    return Paper(arxiv_id, f"Paper {arxiv_id}", "", abstract, date(2024, 5, 1), True, (("量化", TagSource.CATALOGUE),))


async def test_the_writer_works_inside_a_database_write_and_undoes_only_its_own_run(tmp_path: Path) -> None:
    database = await Database.open(tmp_path / "bot.sqlite3")
    try:
        counts = await database.write(lambda c: CatalogueWriter(c).write([_paper("2405.00001")], ["量化"], {}))
        assert (counts.new, counts.updated, counts.unchanged) == (1, 0, 0)

        def fail_inside(conn: sqlite3.Connection) -> int:
            with pytest.raises(RuntimeError), CatalogueWriter(conn).run() as run:
                run.add([_paper("2405.00002")])
                raise RuntimeError("source broke mid-run")
            # The caller's transaction goes on: the failed run left nothing in it.
            return int(conn.execute("SELECT count(*) FROM papers").fetchone()[0])

        assert await database.write(fail_inside) == 1
        again = await database.write(
            lambda c: CatalogueWriter(c).write([_paper("2405.00001", "新的摘要。"), _paper("2405.00003")], [], {})
        )
        assert (again.new, again.updated, again.unchanged) == (1, 1, 0)
        assert (await PaperStore(database).get("2405.00001")) is not None
        assert [h.paper.arxiv_id for h in (await PaperStore(database).search("新的摘要")).hits] == ["2405.00001"]
    finally:
        await database.close()


def test_a_paper_written_twice_in_one_run_counts_once(tmp_path: Path) -> None:
    conn = connect(tmp_path / "bot.sqlite3")
    CatalogueWriter(conn).write([_paper("2405.00001")], [], {})
    with CatalogueWriter(conn).run() as run:
        run.add([_paper("2405.00001", "改过一次。"), _paper("2405.00002")], tag=1)
        assert run.written(["2405.00001", "2405.00009"]) == {"2405.00001": 1}
        run.add([_paper("2405.00001"), _paper("2405.00002", "也改了。")], tag=2)
        counts = run.finish([], {})
    # 2405.00001 ends as it was before the run; 2405.00002 is new however often it was written.
    assert (counts.new, counts.updated, counts.unchanged) == (1, 0, 1)
    assert conn.execute("SELECT abstract_zh FROM papers ORDER BY arxiv_id").fetchall() == [
        ("一篇论文的摘要。",),
        ("也改了。",),
    ]


async def test_keyword_ids_are_the_matching_papers_newest_first(db: Database) -> None:
    store = PaperStore(db)
    ids = await store.search_ids_newest_first("模型", limit=10)
    papers = await store.get_many(ids)
    assert len(ids) == 10 and all("模型" in papers[i].abstract_zh + papers[i].title_zh for i in ids)
    keys = [(papers[i].published, i) for i in ids]
    assert keys == sorted(keys, reverse=True)
    assert await store.search_ids_newest_first("zzqqxx") == []


async def test_a_long_loosened_query_counts_only_its_rare_words_as_title_matches(tmp_path: Path) -> None:
    # No paper holds 大语言模型的上下文长度 as typed, ten hold its character pairs: the search loosens.
    # 大语言模型的 is in every paper, 上下文长度 in a fifth: only the latter is a title match worth ranking.
    holds = "大语言模型的推理，以及上下文长度。"
    papers = [_paper(f"2405.{i:05d}", "大语言模型的推理。") for i in range(1, 41)]
    papers += [_paper(f"2405.{i:05d}", holds) for i in range(41, 51)]
    context = Paper("2405.00041", "Context", "上下文长度外推", holds, date(2024, 5, 1), True, ())
    llm = Paper("2405.00050", "LLM", "大语言模型的对齐", holds, date(2024, 5, 1), True, ())
    papers[40], papers[49] = context, llm
    conn = connect(tmp_path / "bot.sqlite3")
    CatalogueWriter(conn).write(papers, ["量化"], {})
    conn.close()
    database = await Database.open(tmp_path / "bot.sqlite3")
    try:
        page = await PaperStore(database).search("大語言模型的上下文長度", limit=20)
    finally:
        await database.close()
    assert page.broadened
    assert sorted(h.paper.arxiv_id for h in page.hits) == [f"2405.{i:05d}" for i in range(41, 51)]
    # The older paper with 上下文长度 in its title comes first; 大语言模型的 in a title is no title match.
    assert [(h.paper.arxiv_id, h.in_title) for h in page.hits[:2]] == [("2405.00041", True), ("2405.00050", False)]


@pytest.mark.parametrize("every", [7, 50, 170])
def test_newest_matches_are_exactly_the_newest_whatever_the_windows(tmp_path: Path, every: int) -> None:
    # Two words each in a third of the papers but together only in every `every`-th: the first rowid
    # window finds few or none of the matches and the next windows are sized from what it found.
    texts = ["甲乙" if i % 3 == 0 else "丙丁" if i % 3 == 1 else "其他" for i in range(600)]
    texts = [("甲乙丙丁" if i % every == 0 else t) + "的摘要。" for i, t in enumerate(texts)]
    conn = connect(tmp_path / "bot.sqlite3")
    CatalogueWriter(conn).write([_paper(f"2405.{i:05d}", t) for i, t in enumerate(texts, 1)], [], {})
    query = parse_query("甲乙 丙丁")
    assert query is not None
    everything = [
        r for (r,) in conn.execute("SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?", (query.expression,))
    ]
    for want in (1, 5, 12):
        ids, _density = newest_matches(conn, query, Densities(), want=want)
        assert ids == sorted(everything, reverse=True)[:want]
    conn.close()
