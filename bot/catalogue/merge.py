"""Merging seed entries into papers: one `Paper` per arXiv ID, whatever the order of the entries.

Rules, each chosen so nothing known about a paper is lost and the result never depends on the order
in which files or lines were read:

* topics: the union of every entry's topics (TagSource.CATALOGUE), in the order of the entries sorted
  by (source, line), each name once (names equal after `fold` count as one, the first spelling wins);
* date: the earliest date any entry gives (exact); with none, the month of the arXiv ID (not exact);
* abstract: a complete abstract beats a truncated one (ends in "..."/"…", or without closing
  punctuation, or is a prefix of another); then the longest; then the smallest in code-point order;
* Chinese title: a non-empty one beats "" ; then the longest; then the smallest;
* English title: the longest, then the smallest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from bot.catalogue.model import Paper, SeedEntry, TagSource
from bot.text.arxiv import month_of
from bot.text.normalize import fold, fold_cached

__all__ = ["MergeResult", "looks_truncated", "merge"]

# What a finished Chinese or English abstract ends with: sentence punctuation, possibly followed by
# closing quotes or brackets.
_COMPLETE_END = re.compile(r"[。．.！!？?；;][\"'”’」』）)\]】》]*$")
_ELLIPSIS_END = re.compile(r"(?:\.{2,}|…+|⋯+)[\"'”’」』）)\]】》]*$")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class MergeResult:
    """The merged papers sorted by arXiv ID, and how many entries were folded into another one."""

    papers: list[Paper]
    duplicates_merged: int


def merge(entries: Iterable[SeedEntry]) -> MergeResult:
    """One paper per arXiv ID; see the module docstring for how duplicates are combined."""
    groups: dict[str, list[SeedEntry]] = {}
    count = 0
    for entry in entries:
        count += 1
        group = groups.get(entry.arxiv_id)
        if group is None:
            groups[entry.arxiv_id] = [entry]
        else:
            group.append(entry)
    papers = [
        _single(group[0]) if len(group) == 1 else _combine(arxiv_id, group)
        for arxiv_id, group in sorted(groups.items())
    ]
    return MergeResult(papers, count - len(papers))


def looks_truncated(abstract: str) -> bool:
    """True when an abstract visibly stops mid-way: an ellipsis, or no closing punctuation."""
    text = abstract.rstrip()
    return not text or _ELLIPSIS_END.search(text) is not None or _COMPLETE_END.search(text) is None


def _single(entry: SeedEntry) -> Paper:
    published, exact = (entry.published, True) if entry.published else (month_of(entry.arxiv_id), False)
    return Paper(
        arxiv_id=entry.arxiv_id,
        title_en=entry.title_en,
        title_zh=entry.title_zh,
        abstract_zh=entry.abstract_zh,
        published=published,
        date_is_exact=exact,
        topics=_topics([entry]),
    )


def _combine(arxiv_id: str, group: list[SeedEntry]) -> Paper:
    group = sorted(group, key=_entry_key)
    dates = [e.published for e in group if e.published is not None]
    published, exact = (min(dates), True) if dates else (month_of(arxiv_id), False)
    return Paper(
        arxiv_id=arxiv_id,
        title_en=_longest(e.title_en for e in group),
        title_zh=_longest(e.title_zh for e in group),
        abstract_zh=_best_abstract([e.abstract_zh for e in group]),
        published=published,
        date_is_exact=exact,
        topics=_topics(group),
    )


def _entry_key(entry: SeedEntry) -> tuple[str, int, str, str, str, date, tuple[str, ...]]:
    # Every field takes part so that two entries with the same source and line still sort one way.
    return (
        entry.source,
        entry.line,
        entry.title_en,
        entry.title_zh,
        entry.abstract_zh,
        entry.published or date.min,
        entry.topics,
    )


def _topics(group: list[SeedEntry]) -> tuple[tuple[str, TagSource], ...]:
    seen: set[str] = set()
    topics: list[tuple[str, TagSource]] = []
    for entry in group:
        for name in entry.topics:
            key = fold_cached(name)
            if key not in seen:
                seen.add(key)
                topics.append((name, TagSource.CATALOGUE))
    return tuple(topics)


def _longest(texts: Iterable[str]) -> str:
    """The longest text, ties broken by code-point order; "" only when every text is empty."""
    return min(texts, key=lambda t: (-len(t), t))


def _best_abstract(abstracts: list[str]) -> str:
    distinct = sorted(set(abstracts))
    if len(distinct) == 1:
        return distinct[0]
    # Compare without script, case or spacing differences, so a traditional copy of a simplified
    # abstract's beginning is recognised as its prefix.
    keys = [_SPACE.sub("", fold(a)).rstrip(".…⋯") for a in distinct]

    def truncated(index: int) -> bool:
        if looks_truncated(distinct[index]):
            return True
        key = keys[index]
        return any(other != key and other.startswith(key) for other in keys)

    ranked = sorted(range(len(distinct)), key=lambda i: (truncated(i), -len(distinct[i]), distinct[i]))
    return distinct[ranked[0]]
