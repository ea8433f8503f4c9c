"""The taxonomy: loading and validation, name resolution, suggestions, rule tagging, evaluation."""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from pathlib import Path

import pytest

from bot.catalogue.merge import merge
from bot.catalogue.model import Paper, TagSource
from bot.catalogue.parse import parse_file
from bot.catalogue.topics import Taxonomy, Topic, match_fold
from bot.text.normalize import fold

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
TOPICS = ROOT / "config" / "topics.toml"


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return Taxonomy.load(TOPICS)


@pytest.fixture(scope="module")
def seed_papers() -> list[Paper]:
    return merge(e for path in sorted(SEEDS.glob("*.txt")) for e in parse_file(path).entries).papers


def paper(
    title_en: str = "A paper",
    abstract: str = "本文研究一个问题。",
    *,
    title_zh: str = "",
    topics: tuple[tuple[str, TagSource], ...] = (),
) -> Paper:
    return Paper("2404.00001", title_en, title_zh, abstract, date(2024, 4, 1), False, topics)


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topics.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- the real taxonomy -----------------------------------------------------------------------------


def test_taxonomy_covers_exactly_the_catalogue_topics(tax: Taxonomy, seed_papers: list[Paper]) -> None:
    used = {name for p in seed_papers for name in p.topic_names}
    assert set(tax.names) == used
    assert len(tax.names) == 19
    assert tax.names[:3] == ("基礎LLM", "上下文長度", "基準")  # file order
    for topic in tax.topics:
        assert topic.english, topic.name
        assert topic.aliases, topic.name
        assert topic.keywords or topic.words or topic.patterns, topic.name


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("多模態LLM", "多模態LLM"),
        ("多模态llm", "多模態LLM"),
        ("多模态LLM", "多模態LLM"),
        ("  多模态  LLM ", None),  # an inner space is not in the name
        ("multimodal  LLM", "多模態LLM"),
        ("MLLM", "多模態LLM"),
        (" 量化 ", "量化"),
        ("Quantization", "量化"),
        ("QUANTISATION", "量化"),
        ("ｑｕａｎｔｉｚａｔｉｏｎ", "量化"),  # full width
        ("ＬＬＭ代理", "LLM代理"),
        ("llm代理", "LLM代理"),
        ("agents", "LLM代理"),
        ("peft", "PEFT"),
        ("基准测试", "基準"),
        ("基準測試", "基準"),
        ("红队评测", "紅隊評測"),
        ("Red Teaming", "紅隊評測"),
        ("上下文长度", "上下文長度"),
        ("long context", "上下文長度"),
        ("量\u200b化", "量化"),  # zero-width space
        ("cooking", None),
        ("", None),
    ],
)
def test_resolve(tax: Taxonomy, typed: str, canonical: str | None) -> None:
    topic = tax.resolve(typed)
    assert (topic.name if topic else None) == canonical


def test_get_is_exact(tax: Taxonomy) -> None:
    assert tax.get("量化") is tax.resolve("quantization")
    assert tax.get("quantization") is None


@pytest.mark.parametrize(
    ("typed", "first"),
    [
        ("多模态", "多模態LLM"),
        ("multimodal llms", "多模態LLM"),
        ("quantizaton", "量化"),
        ("量化方法", "量化"),
        ("微调技术", "微調"),
        ("上下文", "上下文長度"),
        ("红队", "紅隊評測"),
        ("alignmnt", "對齊"),
        ("Agnet", "LLM代理"),
    ],
)
def test_closest_suggests_the_intended_topic_first(tax: Taxonomy, typed: str, first: str) -> None:
    suggestions = tax.closest(typed)
    assert suggestions, typed
    assert suggestions[0].name == first


def test_closest_limits_and_misses(tax: Taxonomy) -> None:
    assert len(tax.closest("LLM", 3)) == 3
    assert len(tax.closest("LLM", 1)) == 1
    assert all("llm" in fold(t.name) for t in tax.closest("LLM", 3))
    assert tax.closest("xyzzy") == []
    assert tax.closest("") == []
    assert tax.closest("量化", 0) == []


# -- tagging ---------------------------------------------------------------------------------------


def test_tag_finds_topics_in_either_script_and_case(tax: Taxonomy) -> None:
    assert "量化" in tax.tag("How Good Are Low-bit Quantized LLaMA3 Models?", "", "")
    assert "量化" in tax.tag("A study", "", "本文探討了低位寬度量化的性能。")
    assert "多模態LLM" in tax.tag("", "", "我們提出了一個多模態大型語言模型。")  # traditional
    assert "多模態LLM" in tax.tag("", "", "我们提出了一个多模态大语言模型。")  # simplified
    assert "多模態LLM" in tax.tag("ＭＵＬＴＩＭＯＤＡＬ reasoning", "", "")  # full width
    assert tax.tag("", "", "今天天气很好。") == ()


def test_tag_returns_taxonomy_order_without_duplicates(tax: Taxonomy) -> None:
    names = tax.tag(
        "Quantized multimodal agents",
        "",
        "We study multimodal agents with 4-bit quantization; 多模态 智能体 量化。",
    )
    assert names == tuple(n for n in tax.names if n in names)
    assert set(names) >= {"LLM代理", "多模態LLM", "量化"}
    assert len(names) == len(set(names))


def test_words_need_word_boundaries(tax: Taxonomy) -> None:
    assert "視覺模型" in tax.tag("Scaling ViT-L", "", "")
    assert "視覺模型" in tax.tag("", "", "我们使用 CLIP的编码器。")  # Chinese next to a word is a boundary
    assert "視覺模型" not in tax.tag("Activity recognition with clipped gradients", "", "")
    assert "PEFT" in tax.tag("", "", "通过 QLoRA 微调")
    assert "PEFT" not in tax.tag("Exploration in RL", "", "")


def test_chemistry_is_not_read_inside_reinforcement_learning(tax: Taxonomy) -> None:
    assert "特定領域LLM" not in tax.tag("", "", "我们使用强化学习训练模型。")
    assert "特定領域LLM" in tax.tag("", "", "面向化学领域的语言模型。")


def test_overlapping_and_prefix_keywords_are_all_found() -> None:
    taxonomy = Taxonomy(
        [
            Topic("A", keywords=(match_fold("ab"),)),
            Topic("B", keywords=(match_fold("abc"),)),
            Topic("C", keywords=(match_fold("bcd"),)),
            Topic("D", words=("ab",)),
            Topic("E", keywords=(match_fold("长上下文"),)),
            Topic("F", keywords=(match_fold("上下文学习"),)),
        ]
    )
    assert taxonomy.tag("abcd", "", "") == ("A", "B", "C")  # "ab" is inside the word "abcd"
    assert taxonomy.tag("ab-cd", "", "") == ("A", "D")
    assert taxonomy.tag("", "", "长上下文学习") == ("E", "F")


def test_title_rules_ignore_the_abstract() -> None:
    taxonomy = Taxonomy([Topic("Bench", title_keywords=("bench",))])
    assert taxonomy.tag("CodeEditorBench", "", "") == ("Bench",)
    assert taxonomy.tag("A model", "", "evaluated on a bench of tasks") == ()


def test_patterns_count_even_when_keywords_of_the_topic_matched() -> None:
    # Regression: patterns were skipped once a literal found the topic, so a title pattern hit was
    # lost whenever the abstract also had a keyword, and more evidence scored lower than less.
    taxonomy = Taxonomy(
        [Topic("Bench", keywords=(match_fold("new benchmark"),), title_patterns=(re.compile(r"bench\b"),))]
    )
    title_only = taxonomy.rule_scores("CodeBench: editing code", "", "We study code editing.")
    both = taxonomy.rule_scores("CodeBench: editing code", "", "We build a new benchmark.")
    abstract_only = taxonomy.rule_scores("Editing code", "", "We build a new benchmark.")
    assert both["Bench"] > title_only["Bench"]
    assert both["Bench"] > abstract_only["Bench"]
    # A pattern's occurrences in the abstract count beside the keywords' too.
    counted = Taxonomy([Topic("MoE", keywords=("mixture of experts",), patterns=(re.compile(r"moe\b"),))])
    one = counted.rule_scores("A model", "", "a mixture of experts layer")["MoE"]
    more = counted.rule_scores("A model", "", "a mixture of experts (moe) layer")["MoE"]
    assert more > one


def test_apply_rules_only_touches_papers_without_catalogue_topics(tax: Taxonomy) -> None:
    tagged = paper("Quantization", topics=(("評估", TagSource.CATALOGUE),))
    untagged = paper("How Good Are Low-bit Quantized Models?")
    stale = paper("Nothing relevant here", topics=(("量化", TagSource.RULE),))
    out = tax.apply_rules([tagged, untagged, stale])
    assert out[0] is tagged
    # The quantization evidence (title keyword, -bit) outweighs the evaluation one ("how good").
    assert out[1].topics[0] == ("量化", TagSource.RULE)
    assert all(0.0 < c < 1.0 for c in out[1].topic_confidence)
    assert len(out[1].topic_confidence) == len(out[1].topics)
    assert out[2].topics == ()
    assert tax.apply_rules(out) == out  # idempotent


def test_canonicalize_maps_names_and_reports_unknown(tax: Taxonomy) -> None:
    p = paper(
        topics=(
            ("多模态LLM", TagSource.CATALOGUE),
            ("多模態LLM", TagSource.CATALOGUE),
            ("Cooking", TagSource.CATALOGUE),
            ("quantization", TagSource.RULE),
        )
    )
    (out,), unknown = tax.canonicalize([p])
    assert out.topics == (
        ("多模態LLM", TagSource.CATALOGUE),
        ("Cooking", TagSource.CATALOGUE),
        ("量化", TagSource.RULE),
    )
    assert unknown == {"Cooking": 1}


def test_rules_tag_most_untagged_seed_papers(tax: Taxonomy, seed_papers: list[Paper]) -> None:
    # Speed lives in benchmarks/catalogue.py (ingest papers/s), not in a timed test.
    papers = [dataclasses.replace(p, topics=()) for p in seed_papers]
    tagged = tax.apply_rules(papers)
    assert sum(1 for p in tagged if p.topics) > len(papers) // 2


# -- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[[topic]]\nname = "量化"\naliases = ["quant"]\n[[topic]]\nname = "壓縮"\naliases = ["QUANT"]\n',
            "'QUANT' of topic '壓縮' is also a name or alias of topic '量化'",
        ),
        (
            '[[topic]]\nname = "多模態LLM"\n[[topic]]\nname = "視覺"\naliases = ["多模态llm"]\n',
            "also a name or alias of topic '多模態LLM'",
        ),
        ('[[topic]]\nname = "量化"\n[[topic]]\nname = "量化"\n', "defined twice"),
        ("[[topic]]\nname = \"量化\"\npatterns = ['(unclosed']\n", "invalid regular expression '(unclosed'"),
        ("[[topic]]\nname = \"量化\"\npatterns = ['Quant']\n", "upper-case"),
        ("[[topic]]\nname = \"量化\"\npatterns = ['x*']\n", "matches the empty string"),
        ('[[topic]]\nname = "量化"\nkeywords = ["  "]\n', "empty keyword"),
        ('[[topic]]\nname = "量化"\nkeyword = ["quant"]\n', "unknown keys ['keyword']"),
        ('[[topic]]\nname = "量化"\naliases = "quant"\n', "'aliases' must be a list of strings"),
        ('[[topic]]\nenglish = "Quantization"\n', "topic #1 has no name"),
        ('title = "topics"\n', "unknown top-level keys"),
        ('[names]\nthreshold = 1.5\n[[topic]]\nname = "量化"\n', "threshold must be a number in (0, 1]"),
        ('[names]\nadopt_after = 0\n[[topic]]\nname = "量化"\n', "adopt_after must be a whole number"),
        ('[names]\nadopt = 2\n[[topic]]\nname = "量化"\n', "unknown keys ['adopt'] in [names]"),
        ('[tagging]\nmethod = "magic"\n[[topic]]\nname = "量化"\n', "method must be one of rules, model, hybrid"),
        ("", "no [[topic]] tables"),
        ("[[topic]\n", "invalid TOML"),
    ],
)
def test_load_rejects_invalid_files(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"topics\.toml") as info:
        Taxonomy.load(write_toml(tmp_path, toml))
    assert message in str(info.value)


def test_load_accepts_regex_escapes_and_lookbehind(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        "[[topic]]\nname = \"化學\"\nenglish = \"Chemistry\"\npatterns = ['化学(?<!强化学)', '\\bchem\\w*']\n",
    )
    taxonomy = Taxonomy.load(path)
    assert taxonomy.topics[0].label == "化學 (Chemistry)"
    assert taxonomy.tag("", "", "化學實驗") == ("化學",)  # pattern converted to match traditional text too
    assert taxonomy.tag("Chemistry LLM", "", "") == ("化學",)
    assert taxonomy.tag("", "", "强化学习") == ()
