"""Filing the topic names catalogue lists write under the taxonomy's topics.

A digest list from another month names the same topics in other words: another script or case
(多模态llm), a longer or shorter form (多模態大型語言模型, 上下文), an English name (Model
Compression), a suffix (量化方法, 對齊技術, 基準測試), an abbreviation (PEFT, MoE, SLMs). Resolution,
cheapest first:

1. exact: the folded name (script, case, width, spaces) is a topic's name or alias (Taxonomy.resolve);
2. normalised: generic words rewritten (大型語言模型 / large language models -> llm), spaces,
   hyphens and generic suffixes (方法, 模型, 技術, methods …) dropped, then compared again;
3. abbreviation: an all-Latin name equal to the initials of a topic's English name or alias
   (PEFT = parameter-efficient fine-tuning);
4. similarity: containment (one key inside the other) or difflib's ratio against every name and
   alias; filed when the best topic scores at least `threshold` and clearly beats the runner-up.

Anything else is `new` (no topic is close) or `doubtful` (close to a topic, but not enough to file
it automatically): both are kept off the papers and listed by `python -m bot topics --unmapped`
with their papers, until an operator adds an alias or the name is on `adopt_after` papers and
becomes a topic of its own (`adopted`).

The default threshold and the figures behind it: benchmarks/topic_names.py (README: Topics).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from bot.catalogue.topics import Taxonomy, Topic
from bot.text.normalize import fold

__all__ = ["DEFAULT_THRESHOLD", "NameResolver", "NameStatus", "Resolution"]

DEFAULT_THRESHOLD = 0.8
_MARGIN = 0.1  # the best topic must beat the runner-up by this much to be filed automatically
_DOUBT = 0.5  # below this nothing is close: the name is new

# Generic ways of writing "large language model(s)": all become "llm" before comparing.
_LLM = re.compile(r"大型语言模型|大语言模型|大规模语言模型|大模型|large[\s-]*language[\s-]*models?|llms\b")
# Suffixes that name the same topic more specifically: 量化方法 = 量化, 对齐技术 = 对齐.
_SUFFIXES = (
    "方法", "技术", "模型", "研究", "测试", "测评", "评测", "框架", "策略", "算法", "系统", "任务", "问题", "领域",
    "methods", "method", "models", "model", "techniques", "technique", "approaches", "approach",
    "testing", "tests", "test", "study", "studies",
)  # fmt: skip
_STRIP = re.compile(r"[\s\-_·・/,，、:：()（）\[\]【】\"'“”‘’]+")
_LATIN_WORD = re.compile(r"[a-z0-9]+")


class NameStatus(StrEnum):
    """How a catalogue topic name was filed."""

    EXACT = "exact"  # a topic's name or alias (folded)
    VARIANT = "variant"  # filed under a topic by the automatic step
    DOUBTFUL = "doubtful"  # close to a topic, not filed
    NEW = "new"  # no topic is close
    ADOPTED = "adopted"  # a new name on enough papers: a topic of its own


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a written topic name means."""

    written: str
    status: NameStatus
    topic: str | None  # the topic it is filed under (EXACT, VARIANT), or the closest one (DOUBTFUL)
    score: float  # 1.0 for exact; the similarity otherwise
    how: str  # why, for reports: "alias", "suffix", "abbreviation", "contains 量化", ...

    @property
    def filed(self) -> bool:
        """Whether papers carrying the name are tagged with `topic`."""
        return self.status in (NameStatus.EXACT, NameStatus.VARIANT)


@lru_cache(maxsize=8192)
def _canon(text: str) -> str:
    """Folded, generic LLM wording unified, separators removed."""
    return _STRIP.sub("", _LLM.sub("llm", fold(text)))


def _strip_suffix(key: str) -> str:
    """`key` without one generic suffix, when something meaningful is left."""
    for suffix in _SUFFIXES:
        if key.endswith(suffix) and len(key) - len(suffix) >= 2:
            return key[: -len(suffix)]
    return key


def _forms(key: str) -> list[tuple[str, str]]:
    """The forms of a normalised key compared exactly, each with why it is the same name."""
    forms = [(key, "normalised"), (_strip_suffix(key), "suffix")]
    if key.endswith("s") and len(key) > 3:
        forms.append((key[:-1], "plural"))
    # "llm" is generic: LLM評估 is 評估, LLM代理 is 代理 (a topic's own name keeps its LLM on the index side).
    without = key.replace("llm", "")
    if len(without) >= 2 and without != key:
        forms += [(without, "without llm"), (_strip_suffix(without), "without llm and suffix")]
    return forms


_SMALL_WORDS = frozenset({"of", "from", "for", "the", "and", "with", "to", "in", "on", "a", "an"})


def _initials(text: str) -> str:
    """Initials of the Latin words of a name: parameter-efficient fine-tuning -> peft (small words
    count only inside a word list that keeps them: mixture of experts -> moe is an alias anyway)."""
    return "".join(word[0] for word in _LATIN_WORD.findall(fold(text)) if word not in _SMALL_WORDS)


class NameResolver:
    """Resolves written topic names against a taxonomy (see the module docstring)."""

    def __init__(self, taxonomy: Taxonomy, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.taxonomy = taxonomy
        self.threshold = threshold
        # normalised key -> topic, for every name and alias (with and without a generic suffix)
        self._keys: dict[str, list[Topic]] = {}
        self._initials: dict[str, list[Topic]] = {}
        for topic in taxonomy.topics:
            for alias in (topic.name, *topic.aliases, *([topic.english] if topic.english else [])):
                key = _canon(alias)
                for variant in {key, _strip_suffix(key), key.replace("llm", "")}:
                    if len(variant) >= 2 and topic not in self._keys.setdefault(variant, []):
                        self._keys[variant].append(topic)
                letters = _initials(alias)
                if len(_LATIN_WORD.findall(fold(alias))) >= 2 and len(letters) >= 3:
                    owners = self._initials.setdefault(letters, [])
                    if topic not in owners:
                        owners.append(topic)

    def resolve(self, written: str) -> Resolution:
        """What `written` means: a topic (exact or variant), a doubtful guess, or nothing (new)."""
        exact = self.taxonomy.resolve(written)
        if exact is not None:
            return Resolution(written, NameStatus.EXACT, exact.name, 1.0, "name or alias")
        key = _canon(written)
        if not key:
            return Resolution(written, NameStatus.NEW, None, 0.0, "empty")
        for candidate, how in _forms(key):
            owners = self._keys.get(candidate, [])
            if len(owners) == 1:
                return Resolution(written, NameStatus.VARIANT, owners[0].name, 1.0, how)
        letters = key[:-1] if key.endswith("s") and key[:-1] in self._initials else key
        if key.isascii() and key.isalpha() and 3 <= len(letters) <= 6 and len(self._initials.get(letters, [])) == 1:
            return Resolution(written, NameStatus.VARIANT, self._initials[letters][0].name, 0.95, "abbreviation")
        return self._similar(written, _strip_suffix(key))

    def _similar(self, written: str, key: str) -> Resolution:
        best: dict[str, tuple[float, str]] = {}
        matcher = difflib.SequenceMatcher(autojunk=False)
        matcher.set_seq2(key)
        for other, owners in self._keys.items():
            if min(len(other), len(key)) >= 2 and (other in key or key in other):
                # Containment: 多模态学习 holds 多模态, 上下文 is inside 上下文长度. Longer overlaps count more.
                score = 0.6 + 0.4 * min(len(other), len(key)) / max(len(other), len(key))
                how = f"contains {other}" if other in key else f"inside {other}"
            else:
                matcher.set_seq1(other)
                if matcher.real_quick_ratio() < _DOUBT or matcher.quick_ratio() < _DOUBT:
                    continue
                score = matcher.ratio()
                how = f"like {other}"
            for topic in owners:
                if score > best.get(topic.name, (0.0, ""))[0]:
                    best[topic.name] = (score, how)
        if not best:
            return Resolution(written, NameStatus.NEW, None, 0.0, "no topic is close")
        ranked = sorted(best.items(), key=lambda item: -item[1][0])
        name, (score, how) = ranked[0]
        runner_up = ranked[1][1][0] if len(ranked) > 1 else 0.0
        if score >= self.threshold and score - runner_up >= _MARGIN:
            return Resolution(written, NameStatus.VARIANT, name, round(score, 3), how)
        if score >= _DOUBT:
            why = how if score - runner_up >= _MARGIN else f"{how}; also close to {ranked[1][0]}"
            return Resolution(written, NameStatus.DOUBTFUL, name, round(score, 3), why)
        return Resolution(written, NameStatus.NEW, None, round(score, 3), "no topic is close")
