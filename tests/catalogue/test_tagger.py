"""Tagging untagged papers (ranked rules, the learned model, the hybrid) and honest evaluation."""

from __future__ import annotations

import dataclasses
import random
from datetime import date
from pathlib import Path

import pytest

from bot.catalogue.merge import merge
from bot.catalogue.model import Paper, TagSource
from bot.catalogue.parse import parse_file
from bot.catalogue.tagger import (
    Method,
    Tagger,
    TopicModel,
    TopicScore,
    evaluate_held_out,
    evaluate_method,
    format_evaluation,
    load_labelled,
)
from bot.catalogue.topics import Taxonomy, Topic

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return Taxonomy.load(ROOT / "config" / "topics.toml")


@pytest.fixture(scope="module")
def seed_papers() -> list[Paper]:
    return merge(e for path in sorted((ROOT / "seeds").glob("*.txt")) for e in parse_file(path).entries).papers


def paper(
    title_en: str = "A paper",
    abstract: str = "本文研究一个问题。",
    *,
    arxiv_id: str = "2404.00001",
    topics: tuple[tuple[str, TagSource], ...] = (),
    abstract_en: str = "",
    categories: tuple[str, ...] = (),
) -> Paper:
    return Paper(
        arxiv_id,
        title_en,
        "",
        abstract,
        date(2024, 4, 1),
        False,
        topics,
        abstract_en=abstract_en,
        categories=categories,
    )


def catalogue(*names: str) -> tuple[tuple[str, TagSource], ...]:
    return tuple((n, TagSource.CATALOGUE) for n in names)


# -- ranked rules ------------------------------------------------------------------------------------


def test_rule_tags_keep_the_strongest_topic_and_close_ones(tax: Taxonomy) -> None:
    tags = tax.rule_tags("Low-bit Quantization of LLMs", "", "我们研究 4-bit 量化，并顺带提到智能体。")
    assert tags[0][0] == "量化"
    assert "LLM代理" not in dict(tags)  # a passing mention is weaker than the paper's subject
    both = tax.rule_tags("Quantized Multimodal LLMs", "", "多模态大模型的量化。")
    assert {n for n, _ in both} == {"量化", "多模態LLM"}
    assert tax.rule_tags("", "", "今天天气很好。") == ()


def test_rules_read_english_abstracts_and_arxiv_categories(tax: Taxonomy) -> None:
    assert "PEFT" in dict(tax.rule_tags("A method", "", "", "We apply LoRA adapters to the model."))
    assert tax.rule_tags("Seeing better", "", "", "", ["cs.CV"])[0][0] == "視覺模型"
    assert tax.rule_tags("Seeing better", "", "") == ()


def test_confidence_grows_with_evidence(tax: Taxonomy) -> None:
    weak = dict(tax.rule_tags("A study", "", "本文提到量化。"))["量化"]
    strong = dict(tax.rule_tags("Quantization", "", "量化，量化，4-bit 量化。"))["量化"]
    assert 0.0 < weak < strong < 1.0


# -- the model and the tagger ----------------------------------------------------------------------


def _synthetic(n: int, *, noisy: bool) -> list[Paper]:
    rng = random.Random(7)
    words = [f"w{i}" for i in range(400)]
    papers = []
    for i in range(n):
        topic = "Q" if i % 2 else "M"
        signal = "quantization low-bit 量化" if topic == "Q" else "multimodal vision 多模态"
        filler = " ".join(rng.sample(words, 8))
        text = filler if noisy else f"{signal} {filler}"
        label = rng.choice("QM") if noisy else topic
        papers.append(paper(f"Paper {i}", text, arxiv_id=f"2404.{i:05d}", topics=catalogue(label)))
    return papers


TWO = Taxonomy([Topic("Q", english="Quantization"), Topic("M", english="Multimodal")])


def test_model_learns_a_real_signal_under_cross_validation() -> None:
    ev = evaluate_method(_synthetic(30, noisy=False), TWO, Method.MODEL)
    assert ev.protocol.startswith("5-fold cross-validation")
    assert ev.micro_precision is not None and ev.micro_precision >= 0.9
    assert ev.silent_rate == 0.0


def test_cross_validation_never_scores_a_paper_the_model_saw() -> None:
    # Labels are coin flips and every paper's words are its own: a model scored on its training
    # papers would be perfect; scored honestly it is at chance.
    papers = _synthetic(40, noisy=True)
    ev = evaluate_method(papers, TWO, Method.MODEL)
    assert ev.micro_precision is not None and ev.micro_precision < 0.75
    model = TopicModel.train(papers, TWO)
    assert model is not None
    in_sample = sum(
        {n for n, _ in tags} == set(p.topic_names) for p, tags in zip(papers, model.tags(papers), strict=True)
    )
    assert in_sample >= 0.9 * len(papers)


def test_model_knows_topics_the_catalogue_never_tagged_from_their_description() -> None:
    # The catalogue tags only Q and M; V is known from the taxonomy's words for it alone.
    taxonomy = Taxonomy(
        [
            Topic("Q", english="Quantization"),
            Topic("M", english="Multimodal"),
            Topic("V", english="Vision models", keywords=("image segmentation", "图像分割", "object detection")),
        ]
    )
    model = TopicModel.train(_synthetic(30, noisy=False), taxonomy)
    assert model is not None and "V" in model.topics
    (tags,) = model.tags([paper("Segment it", "一种图像分割与 object detection 方法。")])
    assert tags[0][0] == "V"
    (tags,) = model.tags([paper("Low-bit", "quantization low-bit 量化")])
    assert tags[0][0] == "Q"  # the catalogue's own examples still decide their topics


def test_model_learns_each_description_term_on_its_own() -> None:
    # A topic described by many terms: a paper naming only one of them still reads as that topic. In
    # one long description document each term's weight was diluted among the others and it did not.
    fields = ["astronomy", "genomics", "radiology", "chemistry", "geology", "botany", "zoology", "optics"]
    terms = tuple(f"{field} {kind}" for field in fields for kind in ("dataset", "model", "corpus", "survey"))
    taxonomy = Taxonomy(
        [
            Topic("Q", english="Quantization"),
            Topic("M", english="Multimodal"),
            Topic("D", english="Domains", keywords=terms),
        ]
    )
    model = TopicModel.train(_synthetic(30, noisy=False), taxonomy)
    assert model is not None
    for text in ("Applying language models to radiology.", "A radiology survey."):
        (probabilities,) = model.probabilities([paper("A study", text)])
        assert probabilities["D"] >= 0.8, (text, probabilities)  # 0.47 and 0.63 with one long document
    # One of 32 terms outweighs one signal word of the catalogue's multimodal papers.
    (tags,) = model.tags([paper("A study", "vision radiology")])
    assert tags[0][0] == "D"


def test_model_is_none_without_enough_examples() -> None:
    assert TopicModel.train([paper(topics=catalogue("Q"))], TWO) is None
    assert TopicModel.train([paper(f"p{i}") for i in range(10)], TWO) is None  # nothing tagged


def test_hybrid_uses_rules_first_and_the_model_where_rules_are_silent(tax: Taxonomy, seed_papers: list[Paper]) -> None:
    tagger = Tagger.train(tax, seed_papers, Method.HYBRID)
    assert tagger.model is not None
    ruled, silent = tagger.tag_many(
        [paper("Low-bit quantization", "本文研究量化。"), paper("Octopus", "本文介绍一种章鱼。")]
    )
    assert ruled[0].topic == "量化" and ruled[0].source is TagSource.RULE
    assert len(silent) == 1 and silent[0].source is TagSource.MODEL
    assert silent[0].topic in tax.names and 0.0 < silent[0].confidence < 1.0


def test_apply_leaves_catalogue_tags_alone_and_is_idempotent(tax: Taxonomy, seed_papers: list[Paper]) -> None:
    tagger = Tagger.train(tax, seed_papers)
    tagged = paper("Quantization", topics=catalogue("評估"))
    untagged = paper("Octopus", "本文介绍一种章鱼。")
    out = tagger.apply([tagged, untagged])
    assert out[0] is tagged
    assert out[1].topics and out[1].topics[0][1] is TagSource.MODEL
    assert tagger.apply(out) == out


def test_rules_tagger_needs_no_model(tax: Taxonomy) -> None:
    tagger = Tagger.train(tax, [], Method.RULES)
    assert tagger.model is None
    assert tagger.tag(paper("Octopus", "本文介绍一种章鱼。")) == ()


# -- evaluation ------------------------------------------------------------------------------------


def test_evaluation_arithmetic() -> None:
    taxonomy = Taxonomy([Topic("Q", keywords=("quant",)), Topic("M", keywords=("multimodal",))])
    papers = [
        paper("quant paper", topics=catalogue("Q")),  # Q: hit
        paper("multimodal quant", topics=catalogue("Q")),  # Q hit, M false positive (equal evidence)
        paper("plain", topics=catalogue("M")),  # M missed, rules silent
        paper("quant", topics=catalogue("Unknown", "M")),  # wrong
        paper("quant", topics=(("Q", TagSource.RULE),)),  # not evaluated: no catalogue topic
    ]
    ev = evaluate_method(papers, taxonomy, Method.RULES)
    assert ev.papers == 4
    assert ev.protocol.startswith("in-sample")
    assert ev.scores == (TopicScore("Q", 2, 3, 2), TopicScore("M", 2, 1, 0))
    assert ev.scores[0].precision == pytest.approx(2 / 3)
    assert ev.scores[0].recall == 1.0
    assert (ev.hit_rate, ev.exact_rate, ev.silent_rate) == (0.5, 0.25, 0.25)
    assert ev.micro_precision == pytest.approx(2 / 4)
    assert ev.micro_recall == pytest.approx(2 / 4)
    assert ev.unknown_topics == {"Unknown": 1}
    assert TopicScore("Z", 0, 0, 0).precision is None
    assert TopicScore("Z", 0, 0, 0).recall is None


def test_evaluation_on_the_seeds(tax: Taxonomy, seed_papers: list[Paper]) -> None:
    evs = {m: evaluate_method(seed_papers, tax, m) for m in Method}
    for ev in evs.values():
        assert ev.papers == 48
        assert sum(s.support for s in ev.scores) == 52  # 44 rows with one topic, 4 with two
        text = format_evaluation(ev)
        assert all(name in text for name in tax.names)
        assert ev.protocol in text
    hybrid = evs[Method.HYBRID]
    # The chosen method (README: the figures): precise, and every paper reachable through a topic.
    assert hybrid.micro_precision is not None and hybrid.micro_precision >= 0.7
    assert hybrid.micro_recall is not None and hybrid.micro_recall >= 0.78  # 41/52 (README)
    assert hybrid.silent_rate <= 0.05
    # The model alone, honestly cross-validated on 48 papers, is far behind: the hybrid uses it
    # only where no rule speaks.
    model = evs[Method.MODEL]
    assert model.micro_precision is not None and model.micro_precision < hybrid.micro_precision


def test_evaluation_ignores_the_papers_own_non_catalogue_tags(tax: Taxonomy, seed_papers: list[Paper]) -> None:
    stale = [dataclasses.replace(p, topics=(*p.topics, ("量化", TagSource.RULE))) for p in seed_papers]
    assert evaluate_method(stale, tax, Method.RULES) == evaluate_method(seed_papers, tax, Method.RULES)


# -- papers the rules were not written for ------------------------------------------------------------


def test_rules_tag_papers_written_apart_from_the_seeds(tax: Taxonomy, seed_papers: list[Paper]) -> None:
    # 39 well-known papers summarised by hand with an editor's topics (fixtures/unseen_papers.toml).
    # Before the 2026-12-02 vocabulary the rules found 33 of their 43 topics (recall 0.77) and left
    # five papers without a topic; the vocabulary was written while their misses were in view, so
    # this is a development check, not the honest figure (that is the held-out set below).
    papers = load_labelled(FIXTURES / "unseen_papers.toml")
    assert len(papers) == 39
    ev = evaluate_held_out(papers, tax, Method.RULES)
    assert ev.micro_recall is not None and ev.micro_recall >= 0.9
    assert ev.micro_precision is not None and ev.micro_precision >= 0.9
    assert ev.silent_rate == 0.0


def test_held_out_figures(tax: Taxonomy, seed_papers: list[Paper]) -> None:
    # 24 papers written after the vocabulary was frozen and scored once per day of changes (README:
    # rules 0.65 / 0.46 -> 0.65 / 0.54 -> 0.67 / 0.57, hybrid 0.58 / 0.50 -> 0.63 / 0.61 -> 0.63 / 0.61).
    # Far below the in-sample seed figures: that gap is what the seed figures hide. These floors catch
    # a rule change that loses ground on text nobody tuned for.
    papers = load_labelled(FIXTURES / "heldout_papers.toml")
    rules = evaluate_held_out(papers, tax, Method.RULES)
    assert rules.protocol == "held out: papers the rules were not written with"
    assert rules.papers == 24 and sum(s.support for s in rules.scores) == 28
    assert rules.micro_precision is not None and rules.micro_precision >= 0.6
    assert rules.micro_recall is not None and rules.micro_recall >= 0.5
    hybrid = evaluate_held_out(papers, tax, Method.HYBRID, seed_papers)
    assert "the model trained on the catalogue without them" in hybrid.protocol
    assert hybrid.silent_rate == 0.0  # the model answers where the rules are silent
    assert hybrid.micro_recall is not None and hybrid.micro_recall > rules.micro_recall
    assert hybrid.micro_precision is not None and hybrid.micro_precision >= 0.6  # 0.63 / 0.61: no worse
    assert hybrid.micro_recall >= 0.6
    model = evaluate_held_out(papers, tax, Method.MODEL, seed_papers)
    # The model with the topics' descriptions: 0.67 / 0.57 (one document per term; 0.54 / 0.46 as one
    # document, 0.25 / 0.21 without them).
    assert model.micro_precision is not None and model.micro_precision >= 0.6


def test_held_out_model_learns_only_from_the_training_papers() -> None:
    fresh = _synthetic(20, noisy=False)
    untrained = evaluate_held_out(fresh, TWO, Method.MODEL)
    assert untrained.silent_rate == 1.0  # nothing to learn from: no guesses, rather than made-up ones
    trained = evaluate_held_out(fresh, TWO, Method.MODEL, _synthetic(30, noisy=False))
    assert trained.micro_precision is not None and trained.micro_precision >= 0.9


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[paper]]\ntitle = 'x'\ntopics = ['量化']\n", "id and title are required"),
        ("[[paper]]\nid = '1'\ntitle = 'x'\n", "no topics"),
        ("[[paper]]\nid = '1'\ntitle = 'x'\ntopics = '量化'\n", "'topics' must be a list of strings"),
        ("paper = 1\n", r"no \[\[paper\]\] tables"),
        ("[[paper]\n", "Expected"),
    ],
)
def test_load_labelled_rejects_bad_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "papers.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_labelled(path)
