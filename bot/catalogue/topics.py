"""The topic taxonomy (config/topics.toml): names users may type, and keyword rules that tag papers.

Owns: loading and validating the taxonomy, resolving what a user typed to a topic (any script,
case, width, alias), "did you mean" suggestions, ranked rule tags with a confidence for papers the
catalogue left without topics (TagSource.RULE), and topics adopted from catalogue lists. Filing
catalogue names (variants): bot.catalogue.names; the learned model and evaluation: bot.catalogue.tagger.

Matching works on `match_fold`ed text (simplified script, casefolded, full-width letters made ASCII).
The keywords and words of all topics are compiled into trie-shaped regexes searched once per paper,
which keeps tagging at tens of thousands of papers per second whatever the number of keywords;
regex patterns are searched one by one, so keep them few and starting with a literal.

Run `python -m bot.catalogue.topics [seeds-dir] [topics.toml]` to print the taggers' evaluation
(bot.catalogue.tagger).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import sys
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.catalogue.model import Paper, TagSource
from bot.text.normalize import fold, fold_cached, to_simplified

if TYPE_CHECKING:
    from bot.catalogue.names import NameResolver, Resolution

__all__ = [
    "RULE_MAX_TAGS",
    "RULE_RELATIVE",
    "Taxonomy",
    "Topic",
    "confidence_of",
    "has_catalogue_tags",
    "match_fold",
]

_RULE_KEYS = ("keywords", "words", "patterns", "title_keywords", "title_words", "title_patterns")
_KEYS = frozenset({"name", "english", "aliases", "categories", *_RULE_KEYS})
_SPACES = re.compile(r"\s+")
_ESCAPE = re.compile(r"\\.|\(\?P<[^>]*>")


@dataclass(frozen=True, slots=True)
class Topic:
    """One topic: its canonical name, the other names it answers to, and its tagging rules.

    Rules are searched in the folded titles + abstract, or with the `title_` prefix in the folded
    titles only. Keywords are substrings; words are whole words (not inside a longer Latin word, so
    `vit` does not fire on "activity"); patterns are regular expressions.
    """

    name: str
    english: str | None = None
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()
    title_keywords: tuple[str, ...] = ()
    title_words: tuple[str, ...] = ()
    title_patterns: tuple[re.Pattern[str], ...] = ()
    categories: tuple[str, ...] = ()  # arXiv categories that count as one mention (lower case: cs.cv)

    @property
    def label(self) -> str:
        """The name with its English label, for menus and help: `多模態LLM (Multimodal LLMs)`."""
        return f"{self.name} ({self.english})" if self.english else self.name


def _key(name: str) -> str:
    """The lookup key of a topic name or alias: folded, with inner runs of spaces collapsed."""
    return _SPACES.sub(" ", fold_cached(name)).strip()


# The rules' decision (Taxonomy.rule_tags): keep topics scoring at least this share of the best one.
RULE_RELATIVE = 0.8
RULE_MAX_TAGS = 2


def has_catalogue_tags(paper: Paper) -> bool:
    """Whether people (the catalogue) tagged the paper: then taggers leave it alone."""
    return any(source is TagSource.CATALOGUE for _, source in paper.topics)


def confidence_of(score: float) -> float:
    """A rule score mapped to (0, 1): one abstract mention ~0.4, a title hit plus mentions ~0.75."""
    return round(score / (score + 1.0), 3)


def _decide(scores: Mapping[str, float], relative: float, limit: int) -> tuple[tuple[str, float], ...]:
    """The best-scoring topic, and the next ones scoring at least `relative` of it, up to `limit`."""
    ranked = sorted(((score, name) for name, score in scores.items() if score > 0), key=lambda sn: -sn[0])
    if not ranked:
        return ()
    best = ranked[0][0]
    return tuple((name, confidence_of(score)) for score, name in ranked[:limit] if score >= relative * best)


def match_fold(text: str) -> str:
    """The fold used for rule matching (normalize.fold: script, case, width, invisible characters)."""
    return fold(text)


def _is_word_char(char: str) -> bool:
    return char.isascii() and char.isalnum()


class _LiteralMatcher:
    """Which topics' keywords and words occur in a text, scanning it once or twice.

    Literals are compiled into trie-shaped regexes (one for those starting with an ASCII character,
    one for the rest), so each text position costs one character test instead of one per keyword.
    A greedy trie reports the longest literal starting at a position; any shorter literal starting
    there is a prefix of it, so each literal carries the rules of all its prefixes. Restarting the
    search one character after each hit finds overlapping literals.
    """

    __slots__ = ("_at", "_regexes")

    def __init__(self, keywords: Mapping[str, set[int]], words: Mapping[str, set[int]]) -> None:
        # literal -> [(length, topics, is_word)] for the literal and each of its prefixes
        literals = set(keywords) | set(words)
        self._at: dict[str, list[tuple[int, frozenset[int], bool]]] = {}
        for literal in literals:
            found: list[tuple[int, frozenset[int], bool]] = []
            for other in literals:
                if literal.startswith(other):
                    if other in keywords:
                        found.append((len(other), frozenset(keywords[other]), False))
                    if other in words:
                        found.append((len(other), frozenset(words[other]), True))
            self._at[literal] = found
        ascii_first = [lit for lit in literals if lit[0].isascii()]
        other_first = [lit for lit in literals if not lit[0].isascii()]
        self._regexes = tuple(re.compile(_trie_pattern(group)) for group in (ascii_first, other_first) if group)

    def find(self, text: str, into: Counter[int], head: Counter[int] | None = None, head_end: int = 0) -> None:
        """Add one to `into[topic]` for every occurrence of one of the topic's literals, and to
        `head[topic]` too for those starting before `head_end` (the titles at the start of the text)."""
        at = self._at
        for regex in self._regexes:
            search = regex.search
            pos = 0
            while (match := search(text, pos)) is not None:
                start = match.start()
                for length, topics, is_word in at[match.group()]:
                    if is_word and (
                        (start > 0 and _is_word_char(text[start - 1]))
                        or (start + length < len(text) and _is_word_char(text[start + length]))
                    ):
                        continue
                    for topic in topics:
                        into[topic] += 1
                    if head is not None and start < head_end:
                        for topic in topics:
                            head[topic] += 1
                pos = start + 1


def _trie_pattern(literals: Iterable[str]) -> str:
    """A regex matching the longest of `literals` at a position, shaped as a trie of characters."""
    root: dict[str, Any] = {}
    for literal in literals:
        node = root
        for char in literal:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        # A literal ending here: the rest is optional, and greedy so the longest literal wins.
        return f"(?:{body})?" if "" in node else body

    return build(root)


class Taxonomy:
    """The ordered topics, with name resolution and keyword tagging."""

    def __init__(
        self,
        topics: Iterable[Topic],
        *,
        source: str = "taxonomy",
        name_threshold: float = 0.8,
        adopt_after: int = 3,
        tagging: str = "hybrid",
    ) -> None:
        self.topics: tuple[Topic, ...] = tuple(topics)
        # [names] and [tagging] of topics.toml (see there); used by bot.catalogue.names / tagger.
        self.name_threshold = name_threshold
        self.adopt_after = adopt_after
        self.tagging = tagging
        self._resolver: NameResolver | None = None
        self._by_key: dict[str, Topic] = {}
        self._by_name: dict[str, Topic] = {}
        for topic in self.topics:
            if not topic.name.strip():
                raise ValueError(f"{source}: a topic has an empty name")
            if topic.name in self._by_name:
                raise ValueError(f"{source}: topic {topic.name!r} is defined twice")
            self._by_name[topic.name] = topic
            for alias in (topic.name, *topic.aliases):
                key = _key(alias)
                if not key:
                    raise ValueError(f"{source}: topic {topic.name!r} has an empty alias")
                owner = self._by_key.get(key)
                if owner is not None and owner is not topic:
                    raise ValueError(
                        f"{source}: {alias!r} of topic {topic.name!r} is also a name or alias of topic "
                        f"{owner.name!r} (names are compared ignoring script, case and width)"
                    )
                self._by_key[key] = topic
        literals: dict[str, dict[str, set[int]]] = {key: {} for key in _RULE_KEYS}
        for index, topic in enumerate(self.topics):
            for key in ("keywords", "words", "title_keywords", "title_words"):
                for literal in getattr(topic, key):
                    # Folded again so a Topic built in code matches like one loaded from TOML.
                    folded = match_fold(literal)
                    if not folded.strip():
                        raise ValueError(f"{source}: topic {topic.name!r} has an empty entry in {key!r}")
                    literals[key].setdefault(folded, set()).add(index)
        self._text_literals = _LiteralMatcher(literals["keywords"], literals["words"])
        self._title_literals = _LiteralMatcher(literals["title_keywords"], literals["title_words"])
        self._by_category: dict[str, list[int]] = {}
        for index, topic in enumerate(self.topics):
            for category in topic.categories:
                self._by_category.setdefault(category.strip().lower(), []).append(index)
        self._patterns = [
            (i, t.patterns, t.title_patterns) for i, t in enumerate(self.topics) if t.patterns or t.title_patterns
        ]

    # -- loading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> Taxonomy:
        """Read and validate a topics.toml; ValueError says what is wrong and where."""
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: invalid TOML: {exc}") from exc
        return cls.from_mapping(data, source=str(path))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "taxonomy") -> Taxonomy:
        """Build from parsed TOML: `{"topic": [{"name": ..., ...}, ...]}`."""
        unknown = set(data) - {"topic", "names", "tagging"}
        if unknown:
            raise ValueError(
                f"{source}: unknown top-level keys {sorted(unknown)} (expected [[topic]] tables, [names], [tagging])"
            )
        raw_topics = data.get("topic")
        if not isinstance(raw_topics, list) or not raw_topics:
            raise ValueError(f"{source}: no [[topic]] tables")
        names = _table(data, "names", {"threshold", "adopt_after"}, source)
        threshold = names.get("threshold", 0.8)
        if not isinstance(threshold, int | float) or isinstance(threshold, bool) or not 0.0 < threshold <= 1.0:
            raise ValueError(f"{source}: [names] threshold must be a number in (0, 1]")
        adopt_after = names.get("adopt_after", 3)
        if not isinstance(adopt_after, int) or isinstance(adopt_after, bool) or adopt_after < 1:
            raise ValueError(f"{source}: [names] adopt_after must be a whole number of papers, at least 1")
        tagging = _table(data, "tagging", {"method"}, source).get("method", "hybrid")
        if tagging not in ("rules", "model", "hybrid"):
            raise ValueError(f"{source}: [tagging] method must be one of rules, model, hybrid")
        return cls(
            (_topic_from_mapping(raw, source, n) for n, raw in enumerate(raw_topics, 1)),
            source=source,
            name_threshold=float(threshold),
            adopt_after=adopt_after,
            tagging=tagging,
        )

    def adopt(self, names: Iterable[str]) -> list[str]:
        """Make new topic names (adopted from catalogue lists) topics of their own, after the
        configured ones: subscribable, listed, resolvable in any script. Returns those added."""
        added: list[str] = []
        for name in names:
            name = name.strip()
            if not name or self.resolve(name) is not None or name in self._by_name:
                continue
            topic = Topic(name)
            self.topics = (*self.topics, topic)
            self._by_name[name] = topic
            self._by_key[_key(name)] = topic
            added.append(name)
        if added:
            self._resolver = None
        return added

    def resolve_name(self, written: str) -> Resolution:
        """How a topic name written in a catalogue list is filed (bot.catalogue.names.Resolution):
        exactly, as an automatic variant, or not (new / doubtful)."""
        if self._resolver is None:
            from bot.catalogue.names import NameResolver

            self._resolver = NameResolver(self, self.name_threshold)
        return self._resolver.resolve(written)

    def has_filed_catalogue_tags(self, paper: Paper) -> bool:
        """Whether people tagged the paper with a topic of this taxonomy (then taggers leave it alone)."""
        return any(source is TagSource.CATALOGUE and name in self._by_name for name, source in paper.topics)

    # -- names ---------------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.topics)

    def get(self, name: str) -> Topic | None:
        """The topic with exactly this canonical name."""
        return self._by_name.get(name)

    def resolve(self, name: str) -> Topic | None:
        """The topic a user meant: any script, case, width, surrounding spaces, or an alias."""
        return self._by_key.get(_key(name))

    def closest(self, name: str, n: int = 3) -> list[Topic]:
        """Up to `n` topics whose names or aliases look like `name`, best first ("did you mean")."""
        query = _key(name)
        if not query or n <= 0:
            return []
        best: dict[str, float] = {}
        matcher = difflib.SequenceMatcher(autojunk=False)
        matcher.set_seq2(query)
        for key, topic in self._by_key.items():
            matcher.set_seq1(key)
            score = matcher.ratio()
            # One containing the other ("多模态" in "多模态llm") is a strong hint even when the
            # lengths differ a lot; single characters are too common to count.
            if min(len(key), len(query)) >= 2 and (query in key or key in query):
                score += 0.5
            if key == query:
                score += 1.0
            if score >= 0.5 and score > best.get(topic.name, 0.0):
                best[topic.name] = score
        order = {t.name: i for i, t in enumerate(self.topics)}
        ranked = sorted(best, key=lambda topic_name: (-best[topic_name], order[topic_name]))
        return [self._by_name[topic_name] for topic_name in ranked[:n]]

    # -- rules ---------------------------------------------------------------------------------

    def _hits(
        self, title_en: str, title_zh: str, abstract: str, categories: Iterable[str] = ()
    ) -> tuple[Counter[int], Counter[int]]:
        """Rule hits per topic index: (in the titles, anywhere in titles + abstract)."""
        titles = match_fold(f"{title_en}\n{title_zh}")
        text = f"{titles}\n{match_fold(abstract)}"
        in_title: Counter[int] = Counter()
        anywhere: Counter[int] = Counter()
        self._title_literals.find(titles, in_title)
        self._text_literals.find(text, anywhere, in_title, len(titles))
        for index, patterns, title_patterns in self._patterns:
            for pattern in title_patterns:
                in_title[index] += pattern.search(titles) is not None
            for pattern in patterns:
                # One search over the text first: most patterns match nothing, and that is the cheap answer.
                if pattern.search(text) is not None:
                    in_title[index] += pattern.search(titles) is not None
                    anywhere[index] += len(pattern.findall(text))
        for category in categories:
            for index in self._by_category.get(category.strip().lower(), ()):
                anywhere[index] += 1
        return +in_title, +anywhere

    def tag(
        self, title_en: str, title_zh: str, abstract_zh: str, abstract_en: str = "", categories: Iterable[str] = ()
    ) -> tuple[str, ...]:
        """Names of every topic whose rules match the paper at all, in taxonomy order.

        This is the raw evidence; `rule_tags` decides which of these a paper is tagged with.
        """
        in_title, anywhere = self._hits(title_en, title_zh, f"{abstract_zh}\n{abstract_en}", categories)
        return tuple(self.topics[i].name for i in sorted(set(in_title) | set(anywhere)))

    def rule_scores(
        self, title_en: str, title_zh: str, abstract_zh: str, abstract_en: str = "", categories: Iterable[str] = ()
    ) -> dict[str, float]:
        """How strongly each matching topic's rules speak for the paper (topics with no hit absent).

        A hit in a title says more than one in the abstract, and one more occurrence in the abstract
        says less than the one before: score = min(title hits, 2) + ln(1 + hits anywhere).
        """
        in_title, anywhere = self._hits(title_en, title_zh, f"{abstract_zh}\n{abstract_en}", categories)
        return {
            self.topics[i].name: min(in_title[i], 2) + math.log1p(anywhere[i])
            for i in sorted(set(in_title) | set(anywhere))
        }

    def rule_tags(
        self, title_en: str, title_zh: str, abstract_zh: str, abstract_en: str = "", categories: Iterable[str] = ()
    ) -> tuple[tuple[str, float], ...]:
        """The topics the rules tag a paper with, strongest first, each with a confidence in (0, 1).

        A paper is about one or two things: the strongest topic is kept, and others only when their
        evidence is close to it (RULE_RELATIVE) — a passing mention of "agent" in a quantization
        paper does not make it an agent paper. At most RULE_MAX_TAGS topics.
        """
        scores = self.rule_scores(title_en, title_zh, abstract_zh, abstract_en, categories)
        return _decide(scores, RULE_RELATIVE, RULE_MAX_TAGS)

    def rule_tags_of(self, paper: Paper) -> tuple[tuple[str, float], ...]:
        """`rule_tags` for a Paper (English abstract and arXiv categories included)."""
        return self.rule_tags(paper.title_en, paper.title_zh, paper.abstract_zh, paper.abstract_en, paper.categories)

    def apply_rules(self, papers: Iterable[Paper]) -> list[Paper]:
        """Papers with rule tags added where the catalogue gave none; catalogue tags are never touched.

        Earlier rule tags are recomputed, so applying the rules twice changes nothing.
        """
        result: list[Paper] = []
        for paper in papers:
            if self.has_filed_catalogue_tags(paper):
                result.append(paper)
                continue
            tags = self.rule_tags_of(paper)
            # Catalogue names no topic answers to (yet) stay on the paper, beside the rule tags.
            kept = tuple((n, s) for n, s in paper.topics if s is TagSource.CATALOGUE)
            topics = kept + tuple((name, TagSource.RULE) for name, _ in tags)
            confidence = (1.0,) * len(kept) + tuple(c for _, c in tags) if tags else ()
            if topics == paper.topics and confidence == paper.topic_confidence:
                result.append(paper)
            else:
                result.append(dataclasses.replace(paper, topics=topics, topic_confidence=confidence))
        return result

    def canonicalize(self, papers: Iterable[Paper]) -> tuple[list[Paper], dict[str, int]]:
        """Papers whose topic names are filed under canonical ones (多模态llm, 多模態大型語言模型 -> 多模態LLM).

        Also returns the names no topic answers to, with how many papers carry each: they are kept
        as written so nothing is lost; bot.services.tagging.settle_topics adopts or sets them aside.
        """
        result, _resolutions, unknown = self.file_names(papers)
        return result, dict(unknown)

    def file_names(self, papers: Iterable[Paper]) -> tuple[list[Paper], dict[str, Resolution], Counter[str]]:
        """`canonicalize`, also returning how every distinct written name was resolved
        (name -> bot.catalogue.names.Resolution) and how many papers carry each unfiled name."""
        unknown: Counter[str] = Counter()
        resolutions: dict[str, Resolution] = {}
        result: list[Paper] = []
        for paper in papers:
            topics: list[tuple[str, TagSource]] = []
            seen: set[str] = set()
            for name, source in paper.topics:
                found = resolutions.get(name)
                if found is None:
                    found = resolutions[name] = self.resolve_name(name)
                canonical = found.topic if found.filed and found.topic is not None else name
                if not found.filed:
                    unknown[name] += 1
                if canonical not in seen:
                    seen.add(canonical)
                    topics.append((canonical, source))
            new = tuple(topics)
            result.append(paper if new == paper.topics else dataclasses.replace(paper, topics=new))
        return result, resolutions, unknown


def _table(data: Mapping[str, Any], key: str, allowed: set[str], source: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ValueError(f"{source}: [{key}] must be a table")
    unknown = set(value) - allowed
    if unknown:
        raise ValueError(f"{source}: unknown keys {sorted(unknown)} in [{key}] (allowed: {sorted(allowed)})")
    return value


def _topic_from_mapping(raw: Any, source: str, number: int) -> Topic:
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: topic #{number} is not a table")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{source}: topic #{number} has no name")
    where = f"{source}: topic {name!r}"
    unknown = set(raw) - _KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(_KEYS)})")
    english = raw.get("english")
    if english is not None and not isinstance(english, str):
        raise ValueError(f"{where}: 'english' must be a string")
    if english is not None:
        english = english.strip() or None
    return Topic(
        name=name.strip(),
        english=english,
        aliases=tuple(a.strip() for a in _strings(raw, "aliases", where)),
        keywords=_keywords(raw, "keywords", where),
        words=_keywords(raw, "words", where),
        patterns=_patterns(raw, "patterns", where),
        title_keywords=_keywords(raw, "title_keywords", where),
        title_words=_keywords(raw, "title_words", where),
        title_patterns=_patterns(raw, "title_patterns", where),
        categories=tuple(c.strip().lower() for c in _strings(raw, "categories", where) if c.strip()),
    )


def _strings(raw: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: {key!r} must be a list of strings")
    return value


def _keywords(raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    keywords: list[str] = []
    for value in _strings(raw, key, where):
        folded = match_fold(value)
        # An empty keyword would match every paper.
        if not folded.strip():
            raise ValueError(f"{where}: {key!r} contains an empty keyword")
        if folded not in keywords:
            keywords.append(folded)
    return tuple(keywords)


def _patterns(raw: Mapping[str, Any], key: str, where: str) -> tuple[re.Pattern[str], ...]:
    patterns: list[re.Pattern[str]] = []
    for value in _strings(raw, key, where):
        # The text is casefolded, so an upper-case letter could never match; IGNORECASE would fix that
        # but costs the regex engine its fast literal-prefix scan.
        if any(c.isupper() for c in _ESCAPE.sub("", value)):
            raise ValueError(f"{where}: pattern {value!r} in {key!r} has upper-case letters; write it in lower case")
        try:
            pattern = re.compile(to_simplified(value))
        except re.error as exc:
            raise ValueError(f"{where}: invalid regular expression {value!r} in {key!r}: {exc}") from exc
        if pattern.search(""):
            raise ValueError(f"{where}: pattern {value!r} in {key!r} matches the empty string")
        patterns.append(pattern)
    return tuple(patterns)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the evaluation of every tagging method on the seed files."""
    from bot.catalogue.merge import merge
    from bot.catalogue.parse import parse_file
    from bot.catalogue.tagger import Method, evaluate_method, format_evaluation

    args = list(sys.argv[1:] if argv is None else argv)
    seeds = Path(args[0]) if args else Path("seeds")
    taxonomy = Taxonomy.load(Path(args[1]) if len(args) > 1 else Path("config/topics.toml"))
    entries = [e for f in sorted(seeds.glob("*.txt")) for e in parse_file(f).entries]
    papers = merge(entries).papers
    print("\n\n".join(format_evaluation(evaluate_method(papers, taxonomy, m)) for m in Method))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
