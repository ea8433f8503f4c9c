"""After ingest: variant topic names filed, new ones set aside or adopted, untagged papers tagged by the
model, `topics --unmapped`, and the push's preference for catalogue tags."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.catalogue.topics import Taxonomy
from bot.cli import main
from bot.config import Settings
from bot.push.planner import CATALOGUE_LEAD_DAYS
from bot.services.ingest import ingest
from bot.services.tagging import format_names
from bot.storage.db import connect
from bot.storage.deliveries import DeliverySession
from bot.storage.topic_names import adopted_names, load_names

ROOT = Path(__file__).resolve().parents[2]

# A digest list of my own, naming topics as another month might.
VARIANT_LIST = """| 日期 | 標題 | 摘要 | 主題 |
|:--|:--|:--|:--|
| 2024年5月2日 | [Quant](https://arxiv.org/abs/2405.00001) | 四位元量化，手機上的小模型。 | 量化方法，小型語言模型 |
| 2024年5月2日 | [Seeing](https://arxiv.org/abs/2405.00002) | 訓練多模態模型。 | 多模態大型語言模型 |
| 2024年5月3日 | [RAG 1](https://arxiv.org/abs/2405.00003) | 檢索增強生成。 | 檢索增強生成 |
| 2024年5月3日 | [RAG 2](https://arxiv.org/abs/2405.00004) | 改進檢索器。 | 檢索增強生成 |
| 2024年5月4日 | [RAG 3](https://arxiv.org/abs/2405.00005) | 新的檢索索引。 | 檢索增強生成，LLM評估 |
| 2024年5月4日 | [Tongues](https://arxiv.org/abs/2405.00006) | 探討翻譯能力。 | 多語言 |
"""


@pytest.fixture
def lists(tmp_path: Path) -> Path:
    folder = tmp_path / "lists"
    folder.mkdir()
    for seed in sorted((ROOT / "seeds").glob("*.txt")):
        (folder / seed.name).write_bytes(seed.read_bytes())
    (folder / "900_variants.txt").write_text(VARIANT_LIST, encoding="utf-8")
    return folder


def _tags(conn: sqlite3.Connection, arxiv_id: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT topic, source FROM paper_topics JOIN papers p ON p.id = paper_id WHERE p.arxiv_id = ?", (arxiv_id,)
    )
    return dict(rows.fetchall())


def test_variants_are_filed_new_names_adopted_or_set_aside(settings: Settings, lists: Path) -> None:
    taxonomy = Taxonomy.load(ROOT / "config" / "topics.toml")
    conn = connect(settings.database)
    report = ingest(conn, [lists], taxonomy)
    text = report.format()
    assert "量化方法 -> 量化 (suffix)" in text
    assert "多模態大型語言模型 -> 多模態LLM (normalised)" in text
    assert "LLM評估 -> 評估" in text
    assert "new topics adopted: 檢索增強生成" in text
    assert "多語言 (doubtful, near 多模態LLM, 1 paper)" in text
    # Variants carry the topic they mean, as catalogue tags.
    assert _tags(conn, "2405.00001") == {"量化": "catalogue", "小型LLM": "catalogue"}
    assert _tags(conn, "2405.00002") == {"多模態LLM": "catalogue"}
    # A new name on three papers (adopt_after) is a topic: listed, counted, subscribable.
    assert _tags(conn, "2405.00005") == {"檢索增強生成": "catalogue", "評估": "catalogue"}
    topics = [row[0] for row in conn.execute("SELECT name FROM topics ORDER BY position")]
    assert topics[: len(taxonomy.names)] == list(taxonomy.names)
    assert "檢索增強生成" in topics and taxonomy.resolve("检索增强生成") is not None
    assert adopted_names(conn) == ["檢索增強生成"]
    # A name on too few papers is not a topic nobody can find: it is set aside with its paper, which
    # gets a topic from the tagger instead.
    assert "多語言" not in topics
    tags = _tags(conn, "2405.00006")
    assert "多語言" not in tags and tags and set(tags.values()) <= {"rule", "model"}
    names = load_names(conn)
    assert names["多語言"].status == "doubtful" and names["多語言"].papers == ("2405.00006",)
    assert names["量化方法"].status == "variant" and names["量化方法"].topic == "量化"
    # Every paper is reachable through some topic.
    assert conn.execute(
        "SELECT count(*) FROM papers p WHERE NOT EXISTS (SELECT 1 FROM paper_topics WHERE paper_id = p.id)"
    ).fetchone() == (0,)
    # A second run changes nothing.
    before = conn.execute("SELECT topic, paper_id, source, confidence FROM paper_topics ORDER BY 1, 2").fetchall()
    again = ingest(conn, [lists], Taxonomy.load(ROOT / "config" / "topics.toml"))
    assert again.new == again.updated == 0
    assert (
        conn.execute("SELECT topic, paper_id, source, confidence FROM paper_topics ORDER BY 1, 2").fetchall() == before
    )


def test_model_tags_record_source_and_confidence(settings: Settings, lists: Path) -> None:
    conn = connect(settings.database)
    ingest(conn, [lists], Taxonomy.load(ROOT / "config" / "topics.toml"))
    rows = conn.execute("SELECT source, confidence FROM paper_topics").fetchall()
    assert {source for source, _ in rows} == {"catalogue", "rule", "model"}
    assert all(0 < c <= 1 for _, c in rows)
    assert all(c == 1.0 for s, c in rows if s == "catalogue")
    assert all(c < 1.0 for s, c in rows if s != "catalogue")


def test_a_name_on_fewer_papers_than_configured_waits_and_an_alias_files_it(
    settings: Settings, lists: Path, tmp_path: Path
) -> None:
    text = (ROOT / "config" / "topics.toml").read_text(encoding="utf-8")
    strict = tmp_path / "strict.toml"
    strict.write_text(text.replace("adopt_after = 3", "adopt_after = 4"), encoding="utf-8")
    conn = connect(settings.database)
    report = ingest(conn, [lists], Taxonomy.load(strict))
    assert report.topics.adopted == []
    assert load_names(conn)["檢索增強生成"].status == "new"
    assert _tags(conn, "2405.00003") and "檢索增強生成" not in _tags(conn, "2405.00003")
    listing = format_names(load_names(conn), Taxonomy.load(strict))
    assert "檢索增強生成  [new]  3 papers: 2405.00003, 2405.00004, 2405.00005" in listing
    assert "多語言  [doubtful — near 多模態LLM" in listing
    assert "量化方法 -> 量化" in listing
    # The operator adds an alias: the next ingest files the name's papers under the topic.
    aliased = tmp_path / "aliased.toml"
    aliased.write_text(
        text.replace("adopt_after = 3", "adopt_after = 4").replace(
            'aliases = ["基准", "benchmark"', 'aliases = ["檢索增強生成", "基准", "benchmark"'
        ),
        encoding="utf-8",
    )
    (lists / "901_more.txt").write_text(VARIANT_LIST.replace("2405.0000", "2405.0010"), encoding="utf-8")
    report = ingest(conn, [lists], Taxonomy.load(aliased))
    assert _tags(conn, "2405.00003")["基準"] == "catalogue"
    assert _tags(conn, "2405.00103")["基準"] == "catalogue"


def test_unmapped_command_lists_names_with_papers(
    settings: Settings, lists: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    conn = connect(settings.database)
    ingest(conn, [lists], Taxonomy.load(ROOT / "config" / "topics.toml"))
    conn.close()
    monkeypatch.setenv("BOT_DATABASE", str(settings.database))
    assert main(["topics", "--unmapped"]) == 0
    out = capsys.readouterr().out
    assert "多語言" in out and "2405.00006" in out
    assert "Adopted as topics of their own:" in out and "檢索增強生成" in out


def test_push_prefers_catalogue_tags(settings: Settings, lists: Path) -> None:
    conn = connect(settings.database)
    ingest(conn, [lists], Taxonomy.load(ROOT / "config" / "topics.toml"))
    rows = conn.execute(
        "SELECT pt.topic, p.arxiv_id, pt.source, p.published FROM paper_topics pt JOIN papers p ON p.id = pt.paper_id"
    ).fetchall()
    ordered = DeliverySession(conn).topic_lists({t for t, *_ in rows}, depth=1000, lead_days=CATALOGUE_LEAD_DAYS)
    mixed = 0
    for topic in {t for t, *_ in rows}:
        tags = {i: (s, date.fromisoformat(d)) for t, i, s, d in rows if t == topic}

        def push_order(arxiv_id: str) -> tuple[date, str]:
            source, day = tags[arxiv_id]  # noqa: B023 - used at once, inside the loop
            return (day + timedelta(days=CATALOGUE_LEAD_DAYS if source == "catalogue" else 0), arxiv_id)

        assert ordered[f"topic:{topic}"].ids == sorted(tags, key=push_order, reverse=True), topic
        mixed += len({s for s, _ in tags.values()}) > 1
    assert mixed >= 3
    # Preferred: somewhere a machine-tagged paper is newer than a catalogue one (2405.00006 was tagged by
    # the tagger and is the newest paper) and still comes after it.
    assert any(
        ordered[f"topic:{t}"].ids.index(i) > ordered[f"topic:{t}"].ids.index(i2)
        for t, i, s, d in rows
        for t2, i2, s2, d2 in rows
        if t2 == t and s != "catalogue" and s2 == "catalogue" and d2 < d
    )
    conn.close()
