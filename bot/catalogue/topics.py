"""The topic taxonomy (config/topics.toml): names users may type, and keyword rules that tag papers.

Owns: loading and validating the taxonomy, resolving what a user typed to a topic (any script,
case, width, alias), "did you mean" suggestions, tagging papers the catalogue left without topics
(TagSource.RULE), and measuring how well the rules agree with the catalogue's own tags.

Matching works on `match_fold`ed text (simplified script, casefolded, full-width letters made ASCII).
The keywords and words of all topics are compiled into trie-shaped regexes searched once per paper,
which keeps tagging at tens of thousands of papers per second whatever the number of keywords;
regex patterns are searched one by one, so keep them few and starting with a literal.

Run `python -m bot.catalogue.topics [seeds-dir] [topics.toml]` to print the rules' evaluation.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import sys
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.catalogue.model import Paper, TagSource
from bot.text.normalize import fold, fold_cached, to_simplified

__all__ = [
    "Evaluation",
    "Taxonomy",
    "Topic",
    "TopicScore",
    "evaluate",
    "format_evaluation",
    "match_fold",
]

_RULE_KEYS = ("keywords", "words", "patterns", "title_keywords", "title_words", "title_patterns")
_KEYS = frozenset({"name", "english", "aliases", *_RULE_KEYS})
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

    @property
    def label(self) -> str:
        """The name with its English label, for menus and help: `多模態LLM (Multimodal LLMs)`."""
        return f"{self.name} ({self.english})" if self.english else self.name


def _key(name: str) -> str:
    """The lookup key of a topic name or alias: folded, with inner runs of spaces collapsed."""
    return _SPACES.sub(" ", fold_cached(name)).strip()


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

    def find(self, text: str, into: set[int]) -> None:
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
                    into |= topics
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

    def __init__(self, topics: Iterable[Topic], *, source: str = "taxonomy") -> None:
        self.topics: tuple[Topic, ...] = tuple(topics)
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
        unknown = set(data) - {"topic"}
        if unknown:
            raise ValueError(f"{source}: unknown top-level keys {sorted(unknown)} (expected [[topic]] tables)")
        raw_topics = data.get("topic")
        if not isinstance(raw_topics, list) or not raw_topics:
            raise ValueError(f"{source}: no [[topic]] tables")
        return cls((_topic_from_mapping(raw, source, n) for n, raw in enumerate(raw_topics, 1)), source=source)

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

    def tag(self, title_en: str, title_zh: str, abstract_zh: str) -> tuple[str, ...]:
        """Names of the topics whose rules match the paper, in taxonomy order."""
        titles = match_fold(f"{title_en}\n{title_zh}")
        text = f"{titles}\n{match_fold(abstract_zh)}"
        hits: set[int] = set()
        self._title_literals.find(titles, hits)
        self._text_literals.find(text, hits)
        for index, patterns, title_patterns in self._patterns:
            if index in hits:
                continue
            if any(p.search(text) for p in patterns) or any(p.search(titles) for p in title_patterns):
                hits.add(index)
        return tuple(self.topics[i].name for i in sorted(hits))

    def apply_rules(self, papers: Iterable[Paper]) -> list[Paper]:
        """Papers with rule tags added where the catalogue gave none; catalogue tags are never touched.

        Earlier rule tags are recomputed, so applying the rules twice changes nothing.
        """
        result: list[Paper] = []
        for paper in papers:
            if any(source is TagSource.CATALOGUE for _, source in paper.topics):
                result.append(paper)
                continue
            names = self.tag(paper.title_en, paper.title_zh, paper.abstract_zh)
            topics = tuple((name, TagSource.RULE) for name in names)
            result.append(paper if topics == paper.topics else dataclasses.replace(paper, topics=topics))
        return result

    def canonicalize(self, papers: Iterable[Paper]) -> tuple[list[Paper], dict[str, int]]:
        """Papers whose topic names are replaced by canonical ones (多模态llm -> 多模態LLM).

        Also returns the names no topic answers to, with how many papers carry each: they are kept
        as written so nothing is lost, and the operator decides whether to add them to topics.toml.
        """
        unknown: Counter[str] = Counter()
        result: list[Paper] = []
        for paper in papers:
            topics: list[tuple[str, TagSource]] = []
            seen: set[str] = set()
            for name, source in paper.topics:
                topic = self.resolve(name)
                if topic is None:
                    unknown[name] += 1
                canonical = topic.name if topic is not None else name
                if canonical not in seen:
                    seen.add(canonical)
                    topics.append((canonical, source))
            new = tuple(topics)
            result.append(paper if new == paper.topics else dataclasses.replace(paper, topics=new))
        return result, dict(unknown)


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


# -- evaluation ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopicScore:
    """How the rules of one topic agree with the catalogue's tags."""

    name: str
    support: int  # papers the catalogue tags with the topic
    predicted: int  # papers the rules tag with it
    true_positives: int  # papers both tag with it

    @property
    def precision(self) -> float | None:
        """Share of the rules' tags the catalogue agrees with; None when the rules never fire."""
        return self.true_positives / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        """Share of the catalogue's tags the rules find; None when the catalogue never uses the topic."""
        return self.true_positives / self.support if self.support else None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The rules measured against the catalogue, on the papers the catalogue tagged."""

    papers: int  # papers with at least one catalogue topic
    scores: tuple[TopicScore, ...]  # taxonomy order
    hit_rate: float  # share of papers where the rules find at least one of their catalogue topics
    exact_rate: float  # share where the rules find exactly the catalogue's topics
    silent_rate: float  # share where the rules find no topic at all
    micro_precision: float | None
    micro_recall: float | None
    unknown_topics: dict[str, int]  # catalogue names the taxonomy does not know, ignored above


def evaluate(papers: Sequence[Paper], taxonomy: Taxonomy) -> Evaluation:
    """Apply the rules to every catalogue-tagged paper as if it had no tags, and compare."""
    support: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    evaluated = hits = exact = silent = 0
    for paper in papers:
        truth: set[str] = set()
        for name, source in paper.topics:
            if source is not TagSource.CATALOGUE:
                continue
            topic = taxonomy.resolve(name)
            if topic is None:
                unknown[name] += 1
            else:
                truth.add(topic.name)
        if not truth:
            continue
        evaluated += 1
        guess = set(taxonomy.tag(paper.title_en, paper.title_zh, paper.abstract_zh))
        support.update(truth)
        predicted.update(guess)
        agreed.update(truth & guess)
        hits += bool(truth & guess)
        exact += truth == guess
        silent += not guess
    scores = tuple(TopicScore(t.name, support[t.name], predicted[t.name], agreed[t.name]) for t in taxonomy.topics)
    total_predicted = sum(predicted.values())
    total_support = sum(support.values())
    total_agreed = sum(agreed.values())
    return Evaluation(
        papers=evaluated,
        scores=scores,
        hit_rate=hits / evaluated if evaluated else 0.0,
        exact_rate=exact / evaluated if evaluated else 0.0,
        silent_rate=silent / evaluated if evaluated else 0.0,
        micro_precision=total_agreed / total_predicted if total_predicted else None,
        micro_recall=total_agreed / total_support if total_support else None,
        unknown_topics=dict(unknown),
    )


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def format_evaluation(ev: Evaluation) -> str:
    """A plain-text table for a terminal or a monospace chat message."""
    header = ("topic", "support", "rules", "agree", "precision", "recall")
    rows = [
        (s.name, str(s.support), str(s.predicted), str(s.true_positives), _ratio(s.precision), _ratio(s.recall))
        for s in ev.scores
    ]
    rows.append(
        (
            "all (micro)",
            str(sum(s.support for s in ev.scores)),
            str(sum(s.predicted for s in ev.scores)),
            str(sum(s.true_positives for s in ev.scores)),
            _ratio(ev.micro_precision),
            _ratio(ev.micro_recall),
        )
    )
    widths = [max(_width(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(_pad(cell, widths[i], right=i > 0) for i, cell in enumerate(row)).rstrip()

    out = [line(header), "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in rows)
    out.append("support: papers the catalogue tags with the topic; rules: papers the rules tag; agree: both")
    out.append("")
    out.append(f"papers with catalogue topics: {ev.papers}")
    out.append(f"rules find at least one catalogue topic: {ev.hit_rate:.0%}")
    out.append(f"rules find exactly the catalogue topics: {ev.exact_rate:.0%}")
    out.append(f"rules find no topic at all: {ev.silent_rate:.0%}")
    if ev.unknown_topics:
        names = ", ".join(f"{name} ({count})" for name, count in sorted(ev.unknown_topics.items()))
        out.append(f"catalogue topics missing from the taxonomy (ignored): {names}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the rules' evaluation on the seed files."""
    from bot.catalogue.merge import merge
    from bot.catalogue.parse import parse_file

    args = list(sys.argv[1:] if argv is None else argv)
    seeds = Path(args[0]) if args else Path("seeds")
    taxonomy = Taxonomy.load(Path(args[1]) if len(args) > 1 else Path("config/topics.toml"))
    entries = [e for f in sorted(seeds.glob("*.txt")) for e in parse_file(f).entries]
    print(format_evaluation(evaluate(merge(entries).papers, taxonomy)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
