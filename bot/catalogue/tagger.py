"""Tagging papers that come without topics, and measuring taggers honestly.

Three ways to tag a paper the catalogue left untagged (arXiv papers, heading-format seed lists):

- `rules`: the keyword rules of config/topics.toml, ranked (Taxonomy.rule_tags). Written by hand,
  they need no training data; measured on the seed papers they are in-sample (they were written
  with those papers in view), which flatters them.
- `model`: a one-vs-rest logistic regression over word and character n-grams of the English title,
  the Chinese title and abstract, the English abstract and the arXiv categories, trained on the
  papers the catalogue tagged (TopicModel), plus one description per topic made of the taxonomy's
  own words for it (name, English label, aliases, rule keywords), so a topic the catalogue tags
  once or never is still known. Retrained at every ingest, so it grows with the catalogue;
  measured by k-fold cross-validation (never on a paper it was trained on).
- `hybrid`: the rules, and the model for papers no rule matches, so every paper is reachable
  through some topic.

`evaluate_method` scores any of them against the catalogue's own tags; `python -m bot topics
--evaluate` prints all three. `evaluate_held_out` scores them on papers written down with their topics
apart from the catalogue (`load_labelled`, `topics --evaluate --papers FILE`), which neither the rules'
author nor the model saw: the honest figure for the rules. Tags record their source (TagSource.RULE /
MODEL) and a confidence.

Public API for other parts of the bot (e.g. arXiv sources): `Tagger.train(taxonomy, tagged_papers)`
then `tagger.tag(paper)` / `tagger.apply(papers)`.
"""

from __future__ import annotations

import dataclasses
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from bot.catalogue.model import Paper, TagSource
from bot.catalogue.topics import Taxonomy, Topic, _decide, match_fold

__all__ = [
    "MODEL_MAX_TAGS",
    "MODEL_RELATIVE",
    "Evaluation",
    "Method",
    "Tag",
    "Tagger",
    "TopicModel",
    "TopicScore",
    "catalogue_truth",
    "evaluate_held_out",
    "evaluate_method",
    "format_evaluation",
    "load_labelled",
]

MIN_EXAMPLES = 2  # a topic with fewer catalogue papers and no description is not learned
# Weight of a topic's description (its taxonomy words, together) against one catalogue paper. With 3 the
# model's cross-validated precision/recall on the seeds went from 0.27/0.25 (no descriptions) to
# 0.44/0.40, and on the 24 held-out papers from 0.25/0.21 to 0.54/0.46 (README "## Topics").
DESCRIPTION_WEIGHT = 3.0
MODEL_RELATIVE = 0.7  # like the rules: keep topics scoring at least this share of the best one
MODEL_MAX_TAGS = 1  # the model is weak on a small catalogue: its single best guess only
FOLDS = 5


class Method(StrEnum):
    """How untagged papers get topics."""

    RULES = "rules"
    MODEL = "model"
    HYBRID = "hybrid"


@dataclass(frozen=True, slots=True)
class Tag:
    """One topic given to a paper by a tagger."""

    topic: str
    source: TagSource
    confidence: float


def _description(topic: Topic) -> list[str]:
    """What the taxonomy says a topic's papers talk about, one short document per term for the model
    (none if nothing beyond the name: an adopted topic is learned from its papers alone).

    One document per term, not one for all: in a single long document each term's tf-idf weight is
    diluted among a hundred others, while each term alone is evidence for the topic (as the rules
    read it). Seeds, 5-fold CV: 0.42/0.38 as one document, 0.50/0.46 one per term (README).
    """
    words = (
        *topic.aliases,
        *topic.keywords,
        *topic.words,
        *topic.title_keywords,
        *topic.title_words,
        *(f"cat_{c.replace('.', '_').replace('-', '_')}" for c in topic.categories),
    )
    if not words and not topic.english:
        return []
    terms = dict.fromkeys(match_fold(term) for term in (topic.name, topic.english or "", *words) if term.strip())
    return list(terms)


def _document(paper: Paper) -> str:
    """Everything the model reads of a paper, folded (simplified script, lower case)."""
    categories = " ".join(f"cat_{c.replace('.', '_').replace('-', '_')}" for c in paper.categories)
    text = f"{paper.title_en}\n{paper.title_zh}\n{paper.abstract_zh}\n{paper.abstract_en}"
    return f"{match_fold(text)}\n{categories.lower()}"


class TopicModel:
    """One-vs-rest logistic regression over tf-idf word (1-2) and character (1-3) n-grams.

    scikit-learn is imported on first use, so the bot's other commands do not pay for it.
    """

    def __init__(self, topics: Sequence[str], vectorizers: Sequence[Any], classifiers: Sequence[Any]) -> None:
        self.topics = tuple(topics)  # the topics learned, one classifier each
        self._vectorizers = tuple(vectorizers)
        self._classifiers = tuple(classifiers)

    @classmethod
    def train(cls, papers: Iterable[Paper], taxonomy: Taxonomy) -> TopicModel | None:
        """Fit on the papers' catalogue tags; None when no topic has MIN_EXAMPLES papers."""
        from scipy.sparse import hstack
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        docs: list[str] = []
        labels: list[set[str]] = []
        for paper in papers:
            truth = catalogue_truth(paper, taxonomy)
            if truth:
                docs.append(_document(paper))
                labels.append(truth)
        if len(docs) < 3:
            return None  # the model learns from the catalogue; descriptions alone are the rules' job
        counts = Counter(name for truth in labels for name in truth)
        weights = [1.0] * len(docs)
        for topic in taxonomy.topics:
            terms = _description(topic)
            for term in terms:
                docs.append(term)
                labels.append({topic.name})
                weights.append(DESCRIPTION_WEIGHT / len(terms))  # the topic's description weighs the same
            if terms:
                counts[topic.name] += MIN_EXAMPLES
        topics = [name for name in taxonomy.names if counts[name] >= MIN_EXAMPLES]
        vectorizers = [
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, max_features=60_000),
            TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, max_features=60_000),
        ]
        features = hstack([v.fit_transform(docs) for v in vectorizers]).tocsr()
        classifiers = []
        for name in topics:
            target = [name in truth for truth in labels]
            if all(target):
                # Every training paper has it: nothing to tell apart; skip rather than always say yes.
                continue
            classifier = LogisticRegression(C=10.0, class_weight="balanced", solver="liblinear")
            classifiers.append((name, classifier.fit(features, target, sample_weight=weights)))
        if not classifiers:
            return None
        return cls([n for n, _ in classifiers], vectorizers, [c for _, c in classifiers])

    def probabilities(self, papers: Sequence[Paper]) -> list[dict[str, float]]:
        """Per paper, each learned topic's probability."""
        from scipy.sparse import hstack

        if not papers:
            return []
        docs = [_document(p) for p in papers]
        features = hstack([v.transform(docs) for v in self._vectorizers]).tocsr()
        columns = [c.predict_proba(features)[:, 1] for c in self._classifiers]
        return [
            {name: float(column[row]) for name, column in zip(self.topics, columns, strict=True)}
            for row in range(len(papers))
        ]

    def tags(self, papers: Sequence[Paper]) -> list[tuple[tuple[str, float], ...]]:
        """Per paper, the topics the model tags it with, strongest first, with their probability.

        The most probable topic is always kept (so a paper is reachable), and others close to it.
        """
        return [_decide(probs, MODEL_RELATIVE, MODEL_MAX_TAGS) for probs in self.probabilities(papers)]


class Tagger:
    """Tags papers the catalogue left without topics, by rules, the model, or both (hybrid)."""

    def __init__(self, taxonomy: Taxonomy, method: Method = Method.HYBRID, model: TopicModel | None = None) -> None:
        self.taxonomy = taxonomy
        self.method = method
        self.model = model

    @classmethod
    def train(cls, taxonomy: Taxonomy, tagged: Iterable[Paper], method: Method = Method.HYBRID) -> Tagger:
        """A tagger whose model (for `model` and `hybrid`) learns from the catalogue-tagged papers given."""
        model = None if method is Method.RULES else TopicModel.train(tagged, taxonomy)
        return cls(taxonomy, method, model)

    def tag_many(self, papers: Sequence[Paper]) -> list[tuple[Tag, ...]]:
        """Tags for each paper, strongest first (catalogue tags of the papers are ignored here)."""
        rules: list[tuple[tuple[str, float], ...]] = (
            [self.taxonomy.rule_tags_of(p) for p in papers] if self.method is not Method.MODEL else [() for _ in papers]
        )
        # The hybrid asks the model only where no rule matched.
        need_model = [i for i, found in enumerate(rules) if self.method is not Method.RULES and not found]
        predicted: dict[int, tuple[tuple[str, float], ...]] = {}
        if self.model is not None and need_model:
            for i, tags in zip(need_model, self.model.tags([papers[i] for i in need_model]), strict=True):
                predicted[i] = tags
        result: list[tuple[Tag, ...]] = []
        for i in range(len(papers)):
            if rules[i]:
                result.append(tuple(Tag(name, TagSource.RULE, c) for name, c in rules[i]))
            else:
                # Stored confidences are in (0, 1]: a tiny probability still records as 0.001.
                tags = predicted.get(i, ())
                result.append(tuple(Tag(name, TagSource.MODEL, max(round(c, 3), 0.001)) for name, c in tags))
        return result

    def tag(self, paper: Paper) -> tuple[Tag, ...]:
        """Tags for one paper."""
        return self.tag_many([paper])[0]

    def apply(self, papers: Sequence[Paper]) -> list[Paper]:
        """Papers with tags filled in where the catalogue gave none; catalogue-tagged papers untouched.

        Earlier rule/model tags are recomputed, so applying twice changes nothing.
        """
        todo = [i for i, p in enumerate(papers) if not self.taxonomy.has_filed_catalogue_tags(p)]
        tags = self.tag_many([papers[i] for i in todo])
        result = list(papers)
        for i, found in zip(todo, tags, strict=True):
            paper = papers[i]
            # Catalogue names no topic answers to (yet) stay on the paper, beside the tagger's tags.
            kept = tuple((n, s) for n, s in paper.topics if s is TagSource.CATALOGUE)
            topics = kept + tuple((t.topic, t.source) for t in found)
            confidence = (1.0,) * len(kept) + tuple(t.confidence for t in found) if found else ()
            if topics != paper.topics or confidence != paper.topic_confidence:
                result[i] = dataclasses.replace(paper, topics=topics, topic_confidence=confidence)
        return result


# -- evaluation ------------------------------------------------------------------------------------


def catalogue_truth(paper: Paper, taxonomy: Taxonomy) -> set[str]:
    """The canonical topics the catalogue (people) gave a paper; names no topic answers to are left out."""
    truth: set[str] = set()
    for name, source in paper.topics:
        if source is TagSource.CATALOGUE:
            topic = taxonomy.resolve(name)
            if topic is not None:
                truth.add(topic.name)
    return truth


@dataclass(frozen=True, slots=True)
class TopicScore:
    """How a tagger's tags for one topic agree with the catalogue's."""

    name: str
    support: int  # papers the catalogue tags with the topic
    predicted: int  # papers the tagger tags with it
    true_positives: int  # papers both tag with it

    @property
    def precision(self) -> float | None:
        """Share of the tagger's tags the catalogue agrees with; None when it never tags the topic."""
        return self.true_positives / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        """Share of the catalogue's tags the tagger finds; None when the catalogue never uses the topic."""
        return self.true_positives / self.support if self.support else None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A tagger measured against the catalogue, on the papers the catalogue tagged."""

    method: str
    protocol: str  # how the papers scored were kept from the tagger (or that they were not)
    papers: int  # papers with at least one catalogue topic
    scores: tuple[TopicScore, ...]  # taxonomy order
    hit_rate: float  # share of papers where the tagger finds at least one of their catalogue topics
    exact_rate: float  # share where it finds exactly the catalogue's topics
    silent_rate: float  # share left without any topic (not reachable through a topic)
    micro_precision: float | None
    micro_recall: float | None
    unknown_topics: dict[str, int]  # catalogue names the taxonomy does not know, ignored above


Predict = Callable[[Sequence[Paper], Sequence[Paper]], list[set[str]]]


def _score(
    method: str,
    protocol: str,
    taxonomy: Taxonomy,
    truths: list[set[str]],
    guesses: list[set[str]],
    unknown: dict[str, int],
) -> Evaluation:
    support: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    hits = exact = silent = 0
    for truth, guess in zip(truths, guesses, strict=True):
        support.update(truth)
        predicted.update(guess)
        agreed.update(truth & guess)
        hits += bool(truth & guess)
        exact += truth == guess
        silent += not guess
    n = len(truths)
    scores = tuple(TopicScore(t.name, support[t.name], predicted[t.name], agreed[t.name]) for t in taxonomy.topics)
    total_predicted, total_support, total_agreed = sum(predicted.values()), sum(support.values()), sum(agreed.values())
    return Evaluation(
        method=method,
        protocol=protocol,
        papers=n,
        scores=scores,
        hit_rate=hits / n if n else 0.0,
        exact_rate=exact / n if n else 0.0,
        silent_rate=silent / n if n else 0.0,
        micro_precision=total_agreed / total_predicted if total_predicted else None,
        micro_recall=total_agreed / total_support if total_support else None,
        unknown_topics=unknown,
    )


def _labelled(papers: Sequence[Paper], taxonomy: Taxonomy) -> tuple[list[Paper], list[set[str]], dict[str, int]]:
    """The papers with catalogue topics, stripped of all tags, with those topics; and unknown names."""
    unknown: Counter[str] = Counter()
    labelled: list[Paper] = []
    truths: list[set[str]] = []
    for paper in papers:
        for name, source in paper.topics:
            if source is TagSource.CATALOGUE and taxonomy.resolve(name) is None:
                unknown[name] += 1
        truth = catalogue_truth(paper, taxonomy)
        if truth:
            labelled.append(dataclasses.replace(paper, topics=(), topic_confidence=()))
            truths.append(truth)
    return labelled, truths, dict(unknown)


def evaluate_method(papers: Sequence[Paper], taxonomy: Taxonomy, method: Method, folds: int = FOLDS) -> Evaluation:
    """Tag every catalogue-tagged paper as if it had no tags and compare with the catalogue.

    The model (alone or in the hybrid) is scored by k-fold cross-validation: each paper is tagged by
    a model trained on the other folds only. The rules need no training; on the seed papers they
    were written beside, their score is in-sample and says so.
    """
    labelled, truths, unknown = _labelled(papers, taxonomy)
    guesses: list[set[str]] = [set() for _ in labelled]
    if method is Method.RULES:
        protocol = "in-sample: the rules were written with these papers in view; unseen lists will score lower"
        for i, tags in enumerate(Tagger(taxonomy, Method.RULES).tag_many(labelled)):
            guesses[i] = {t.topic for t in tags}
    else:
        k = max(2, min(folds, len(labelled)))
        protocol = f"{k}-fold cross-validation: each paper tagged by a model trained without it"
        if method is Method.HYBRID:
            protocol += "; the rules part is in-sample"
        for fold in range(k):
            test = [i for i in range(len(labelled)) if i % k == fold]
            train = [
                dataclasses.replace(labelled[i], topics=tuple((n, TagSource.CATALOGUE) for n in sorted(truths[i])))
                for i in range(len(labelled))
                if i % k != fold
            ]
            tagger = Tagger.train(taxonomy, train, method)
            for i, tags in zip(test, tagger.tag_many([labelled[i] for i in test]), strict=True):
                guesses[i] = {t.topic for t in tags}
    return _score(str(method), protocol, taxonomy, truths, guesses, unknown)


def evaluate_held_out(
    papers: Sequence[Paper], taxonomy: Taxonomy, method: Method, training: Iterable[Paper] = ()
) -> Evaluation:
    """Score a tagger on papers kept apart from it: the rules were not written with them in view and
    the model (trained on `training`, the catalogue) never saw them. Their topics are the truth."""
    labelled, truths, unknown = _labelled(papers, taxonomy)
    tagger = Tagger.train(taxonomy, training, method)
    guesses = [{t.topic for t in tags} for tags in tagger.tag_many(labelled)]
    protocol = "held out: papers the rules were not written with"
    if method is not Method.RULES:
        protocol += ", the model trained on the catalogue without them"
    return _score(str(method), protocol, taxonomy, truths, guesses, unknown)


def load_labelled(path: Path) -> list[Paper]:
    """Papers written down with the topics a reader would give them, for `evaluate_held_out`.

    TOML: one `[[paper]]` per paper with `id`, `title` (English), `abstract` (Chinese, either script),
    `topics` (list of names), and optionally `title_zh`, `abstract_en`, `categories`. ValueError says
    what is wrong and where.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    rows = data.get("paper")
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{path}: no [[paper]] tables")
    papers: list[Paper] = []
    for number, row in enumerate(rows, 1):
        where = f"{path}: paper #{number}"
        if not isinstance(row, dict):
            raise ValueError(f"{where} is not a table")
        text = {key: row.get(key, "") for key in ("id", "title", "title_zh", "abstract", "abstract_en")}
        if not all(isinstance(v, str) for v in text.values()) or not text["id"] or not text["title"]:
            raise ValueError(f"{where}: id and title are required; id, title(_zh), abstract(_en) must be strings")
        topics, categories = row.get("topics", []), row.get("categories", [])
        for key, value in (("topics", topics), ("categories", categories)):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{where}: {key!r} must be a list of strings")
        if not topics:
            raise ValueError(f"{where}: no topics")
        papers.append(
            Paper(
                text["id"],
                text["title"],
                text["title_zh"],
                text["abstract"],
                date(1970, 1, 1),
                False,
                tuple((name, TagSource.CATALOGUE) for name in topics),
                abstract_en=text["abstract_en"],
                categories=tuple(categories),
            )
        )
    return papers


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def format_evaluation(ev: Evaluation) -> str:
    """A plain-text table for a terminal or a monospace chat message."""
    header = ("topic", "support", "tagged", "agree", "precision", "recall")
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

    out = [f"method: {ev.method} ({ev.protocol})", line(header), "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in rows)
    out.append("support: papers the catalogue tags with the topic; tagged: papers the tagger tags; agree: both")
    out.append("")
    out.append(f"papers with catalogue topics: {ev.papers}")
    out.append(f"papers where the tagger finds a catalogue topic: {ev.hit_rate:.0%}")
    out.append(f"papers where it finds exactly the catalogue topics: {ev.exact_rate:.0%}")
    out.append(f"papers left without any topic (unreachable): {ev.silent_rate:.0%}")
    if ev.unknown_topics:
        names = ", ".join(f"{name} ({count})" for name, count in sorted(ev.unknown_topics.items()))
        out.append(f"catalogue topics missing from the taxonomy (ignored): {names}")
    return "\n".join(out)
