import sqlite3
from pathlib import Path

import pytest

from bot.catalogue.topics import Taxonomy
from bot.config import Settings
from bot.services.ingest import ingest, needs_ingest
from bot.storage.db import connect

GOOD = """## A Good Paper
[一篇好论文](https://arxiv.org/abs/2405.00001)

这是一个完整的摘要。
"""

TABLE = """| 日期 | 標題 | 摘要 | 主題 |
|:--|:--|:--|:--|
| 2024年5月2日 | [Second Paper](https://arxiv.org/pdf/2405.00002v2.pdf) | 第二篇論文的摘要。 | 量化，對齊 |
| 2024年5月3日 | [Broken Row](https://arxiv.org/abs/2405.00003) | 少了一格 |
| 2024年5月4日 | [Not arXiv](https://example.com/paper) | 不是 arXiv。 | 量化 |
"""


def _dump(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    papers = conn.execute("SELECT arxiv_id, title_en, abstract_zh, published, content_hash FROM papers ORDER BY 1")
    tags = conn.execute("SELECT topic, paper_id, source FROM paper_topics ORDER BY 1, 2")
    return [*papers.fetchall(), *tags.fetchall()]


def test_seeds_give_70_papers_and_a_second_run_changes_nothing(settings: Settings, taxonomy: Taxonomy) -> None:
    conn = connect(settings.database)
    first = ingest(conn, [settings.seeds], taxonomy)
    assert (first.entries, first.papers, first.duplicates_merged, first.new) == (77, 70, 7, 70)
    assert first.rejects == []
    before = _dump(conn)
    second = ingest(conn, [settings.seeds], taxonomy)
    assert (second.new, second.updated, second.unchanged) == (0, 0, 70)
    assert _dump(conn) == before
    assert not needs_ingest(conn, [settings.seeds])


def test_seed_tags_record_their_source(seeded: Path) -> None:
    conn = connect(seeded)
    sources = dict(conn.execute("SELECT source, count(*) FROM paper_topics GROUP BY source").fetchall())
    assert sources["catalogue"] > 0 and sources["rule"] > 0
    # 2404.14047 carries 量化 in the catalogue itself.
    row = conn.execute(
        "SELECT source FROM paper_topics JOIN papers p ON p.id = paper_id WHERE arxiv_id = '2404.14047'"
        " AND topic = '量化'"
    ).fetchone()
    assert row == ("catalogue",)


def test_bad_entries_are_reported_with_file_and_line_and_good_ones_kept(
    tmp_path: Path, settings: Settings, taxonomy: Taxonomy
) -> None:
    (tmp_path / "good.md").write_text(GOOD, encoding="utf-8")
    (tmp_path / "table.md").write_text(TABLE, encoding="utf-8")
    (tmp_path / "latin1.md").write_bytes("## Café\n".encode("latin-1") + b"\xff\xfe")
    (tmp_path / "empty.md").write_bytes(b"")
    (tmp_path / "binary.md").write_bytes(b"\x00\x01\x02PNG")
    conn = connect(settings.database)
    report = ingest(conn, [tmp_path], taxonomy)
    assert report.new == 2
    where = {(r.source.rsplit("/", 1)[-1], r.line) for r in report.rejects}
    assert ("table.md", 4) in where and ("table.md", 5) in where
    assert {"latin1.md", "empty.md", "binary.md"} <= {r.source.rsplit("/", 1)[-1] for r in report.rejects}
    assert "table.md:4:" in report.format()
    stored = conn.execute("SELECT published FROM papers WHERE arxiv_id = '2405.00002'").fetchone()
    assert stored == ("2024-05-02",)


def test_bad_input_never_deletes_stored_papers(seeded: Path, tmp_path: Path, taxonomy: Taxonomy) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "garbage.md").write_bytes(b"\x00" * 100)
    conn = connect(seeded)
    report = ingest(conn, [broken], taxonomy)
    assert report.new == 0
    assert conn.execute("SELECT count(*) FROM papers").fetchone() == (70,)


def test_a_failing_write_leaves_the_previous_catalogue_intact(
    seeded: Path, tmp_path: Path, taxonomy: Taxonomy, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = connect(seeded)
    before = _dump(conn)
    (tmp_path / "new.md").write_text(GOOD, encoding="utf-8")

    def explode(_text: str | None) -> str:
        raise RuntimeError("disk on fire")

    # The FTS trigger calls fts_text(): make it fail half-way through the transaction.
    conn.create_function("fts_text", 1, explode)
    with pytest.raises(sqlite3.OperationalError):
        ingest(conn, [tmp_path], taxonomy)
    assert _dump(conn) == before


def test_changed_seed_file_is_noticed(seeded: Path, tmp_path: Path, taxonomy: Taxonomy) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "one.md").write_text(GOOD, encoding="utf-8")
    conn = connect(seeded)
    assert needs_ingest(conn, [seeds])
    ingest(conn, [seeds], taxonomy)
    assert not needs_ingest(conn, [seeds])
    (seeds / "one.md").write_text(GOOD.replace("完整的摘要", "更新过的摘要"), encoding="utf-8")
    assert needs_ingest(conn, [seeds])
    report = ingest(conn, [seeds], taxonomy)
    assert report.updated == 1


def test_small_batches_write_exactly_what_one_big_batch_writes(
    tmp_path: Path, settings: Settings, taxonomy: Taxonomy, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = connect(tmp_path / "whole.sqlite3")
    ingest(whole, [settings.seeds], taxonomy)
    monkeypatch.setattr("bot.services.ingest.WRITE_BATCH", 3)
    batched = connect(tmp_path / "batched.sqlite3")
    report = ingest(batched, [settings.seeds], taxonomy)
    assert (report.entries, report.papers, report.duplicates_merged, report.new) == (77, 70, 7, 70)
    assert _dump(batched) == _dump(whole)
    again = ingest(batched, [settings.seeds], taxonomy)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 70)


def _entry_files(folder: Path, rows: list[tuple[str, str]]) -> None:
    folder.mkdir()
    for name, row in rows:
        (folder / name).write_text("| 日期 | 標題 | 摘要 | 主題 |\n|:--|:--|:--|:--|\n" + row + "\n", encoding="utf-8")


@pytest.mark.parametrize("truncated_first", [True, False])
def test_a_paper_in_several_files_is_merged_from_all_of_them_whatever_the_order(
    tmp_path: Path, taxonomy: Taxonomy, truncated_first: bool
) -> None:
    truncated = (
        "| 2024年5月9日 | [Paper X](https://arxiv.org/abs/2405.00009) | 这是一个被截断的摘要，后面还有… | 量化 |"
    )
    complete = "| 2024年5月7日 | [Paper X](https://arxiv.org/abs/2405.00009) | 这是一个完整的摘要。 | 對齊 |"
    other = "| 2024年5月8日 | [Paper Y](https://arxiv.org/abs/2405.00008) | 另一篇论文。 | 量化 |"
    names = ["a.md", "b.md", "c.md"]
    rows = [truncated, other, complete] if truncated_first else [complete, other, truncated]
    _entry_files(tmp_path / "seeds", list(zip(names, rows, strict=True)))
    conn = connect(tmp_path / "bot.sqlite3")
    report = ingest(conn, [tmp_path / "seeds"], taxonomy)
    assert (report.entries, report.papers, report.duplicates_merged, report.new) == (3, 2, 1, 2)
    abstract, published = conn.execute(
        "SELECT abstract_zh, published FROM papers WHERE arxiv_id = '2405.00009'"
    ).fetchone()
    assert (abstract, published) == ("这是一个完整的摘要。", "2024-05-07")
    topics = conn.execute(
        "SELECT topic FROM paper_topics JOIN papers p ON p.id = paper_id WHERE arxiv_id = '2405.00009' ORDER BY 1"
    ).fetchall()
    assert topics == [("對齊",), ("量化",)]
    assert ingest(conn, [tmp_path / "seeds"], taxonomy).unchanged == 2
