"""Topic-name resolution on variants written for the purpose (benchmarks/topic_names.py holds them)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from benchmarks.topic_names import NEW_NAMES, VARIANTS, measure
from bot.catalogue.names import NameResolver, NameStatus
from bot.catalogue.topics import Taxonomy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def resolver() -> NameResolver:
    return NameResolver(Taxonomy.load(ROOT / "config" / "topics.toml"))


@pytest.mark.parametrize(("written", "topic", "kind"), VARIANTS, ids=[f"{k}:{w}" for w, _, k in VARIANTS])
def test_a_variant_is_never_filed_under_a_wrong_topic(
    resolver: NameResolver, written: str, topic: str, kind: str
) -> None:
    found = resolver.resolve(written)
    assert not found.filed or found.topic == topic, found
    if not found.filed:
        # Not filed: then it is at least offered to the operator as close to the right topic.
        assert found.status is NameStatus.DOUBTFUL and found.topic == topic, found


def test_variants_of_every_class_land_on_their_topic(resolver: NameResolver) -> None:
    missed: Counter[str] = Counter()
    for written, topic, kind in VARIANTS:
        found = resolver.resolve(written)
        if not (found.filed and found.topic == topic):
            missed[kind] += 1
    kinds = {kind for _, _, kind in VARIANTS}
    assert kinds == {"longer/shorter", "script", "english", "suffix", "abbreviation"}
    assert sum(missed.values()) <= 1, missed  # 45 of 46 at the default threshold


@pytest.mark.parametrize("name", NEW_NAMES)
def test_a_new_topic_name_is_not_filed(resolver: NameResolver, name: str) -> None:
    found = resolver.resolve(name)
    assert not found.filed, found
    assert found.status in (NameStatus.NEW, NameStatus.DOUBTFUL)


def test_the_threshold_trades_variants_for_safety(resolver: NameResolver) -> None:
    taxonomy = resolver.taxonomy
    strict = measure(NameResolver(taxonomy, 0.95))
    default = measure(resolver)
    loose = measure(NameResolver(taxonomy, 0.6))
    assert strict[0] < default[0]  # fewer variants filed
    assert default[3] == 0 < loose[3]  # a looser threshold files a new name somewhere


@pytest.mark.parametrize(
    ("written", "status", "how"),
    [
        ("多模態LLM", NameStatus.EXACT, "name or alias"),
        ("多模态ｌｌｍ", NameStatus.EXACT, "name or alias"),
        ("量化技術", NameStatus.VARIANT, "suffix"),
        ("大型語言模型代理", NameStatus.VARIANT, "normalised"),
        ("Benchmarks Suite", NameStatus.VARIANT, "contains benchmarks"),
        ("", NameStatus.NEW, "empty"),
        ("LLM", NameStatus.DOUBTFUL, ""),  # inside several topics' names: not filed anywhere
    ],
)
def test_resolution_says_how(resolver: NameResolver, written: str, status: NameStatus, how: str) -> None:
    found = resolver.resolve(written)
    assert found.status is status, found
    assert found.how.startswith(how)


def test_adopted_topics_are_topics_in_any_script() -> None:
    taxonomy = Taxonomy.load(ROOT / "config" / "topics.toml")
    assert taxonomy.adopt(["檢索增強生成", "量化", "  "]) == ["檢索增強生成"]
    assert taxonomy.names[-1] == "檢索增強生成"
    found = taxonomy.resolve("检索增强生成")
    assert found is not None and found.name == "檢索增強生成"
    assert taxonomy.resolve_name("檢索增強生成方法").topic == "檢索增強生成"
    assert taxonomy.rule_tags("Retrieval", "", "检索增强生成") == ()  # no rules of its own
