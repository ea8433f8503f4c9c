"""What the FTS5 index stores and how a user's words become a safe MATCH expression.

SQLite's unicode61 tokenizer treats a run of Han characters as one token, and the trigram tokenizer
cannot match two-character words (量化, 對齊). So indexed text is folded (simplified script, casefold,
NFKC) and every run of Han characters is rewritten as its overlapping bigrams: 大语言模型 ->
大语 语言 言模 模型. A query gets the same treatment and each of its words becomes a quoted phrase of
tokens, so FTS syntax in user input (quotes, parentheses, AND/OR/NOT, `*`, `:`, `-`) is only text.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.text.normalize import fold

# Bump when index_text() or bot.text.normalize.fold() would turn some text into other tokens: the index
# records the folding it was built with and is rebuilt at start-up when it differs (bot.storage.index).
FOLDING_VERSION = 1

# Han ideographs (with extension A and compatibility ideographs); kana and hangul are rare here and
# unicode61 already splits them per character class.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_RUN = re.compile(f"[{_HAN}]+")
_SPLIT = re.compile(f"([{_HAN}]+)")
# A word for unicode61 is a run of letters and digits; everything else separates tokens.
_WORD = re.compile(rf"[^\W{_HAN}_]+")


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return list(map(str.__add__, run, run[1:]))


def index_text(text: str | None) -> str:
    """The form of `text` stored in the FTS index (ingest calls this for every paper: keep it lean)."""
    if not text:
        return ""
    parts = _SPLIT.split(fold(text))
    # split() with a capturing group puts the Han runs at the odd positions. Slicing is about twice
    # as fast as pairing characters with map(str.__add__, ...), and this runs for every paper.
    for i in range(1, len(parts), 2):
        run = parts[i]
        parts[i] = f" {run} " if len(run) == 1 else " " + " ".join([run[j : j + 2] for j in range(len(run) - 1)]) + " "
    return "".join(parts)


def query_terms(query: str) -> list[list[str]]:
    """A query's words, each as the list of index tokens that must appear consecutively."""
    terms: list[list[str]] = []
    for word in fold(query).split():
        tokens: list[str] = []
        for part in _SPLIT.split(word):
            if not part:
                continue
            if _HAN_RUN.fullmatch(part):
                tokens.extend(_bigrams(part))
            else:
                tokens.extend(_WORD.findall(part))
        if tokens:
            terms.append(tokens)
    return terms


def _cover(bigrams: list[str]) -> list[str]:
    picked = bigrams[::2]
    if len(bigrams) % 2 == 0:
        picked.append(bigrams[-1])
    return picked


def _phrase(tokens: Sequence[str]) -> str:
    # Tokens hold only letters, digits and Han characters, so quoting cannot be broken out of;
    # doubling quotes anyway keeps that true if _WORD ever changes.
    phrase = '"' + " ".join(t.replace('"', '""') for t in tokens) + '"'
    # A lone Han character is a prefix of the bigrams that start with it.
    if len(tokens) == 1 and len(tokens[0]) == 1 and _HAN_RUN.fullmatch(tokens[0]):
        phrase += " *"
    return phrase


class Match(StrEnum):
    """How strictly a query's words must appear, from strictest to broadest."""

    PHRASES = "phrases"  # every word, a Chinese word as consecutive characters
    TOKENS = "tokens"  # every word, a Chinese word's character pairs anywhere
    ANY = "any"  # any word


@dataclass(frozen=True)
class Query:
    """A user's words as FTS5 phrases (each a tuple of index tokens), all required or any of them."""

    phrases: tuple[tuple[str, ...], ...]
    any: bool = False

    @property
    def expression(self) -> str:
        """The MATCH expression."""
        return (" OR " if self.any else " AND ").join(_phrase(p) for p in self.phrases)

    @property
    def tokens(self) -> list[str]:
        """Every distinct index token, in order."""
        return list(dict.fromkeys(t for p in self.phrases for t in p))


def parse_query(query: str, mode: Match = Match.PHRASES) -> Query | None:
    """The phrases `query` asks for in `mode`, or None if it has no words."""
    terms = query_terms(query)
    if not terms:
        return None
    if mode is Match.ANY:
        return Query(tuple(map(tuple, terms)), any=True)
    if mode is Match.TOKENS:
        # Latin words stay phrases (gpt-4 is "gpt 4"). A Han word is loosened to every other bigram
        # plus the last one: each character is still required, with half the tokens to intersect.
        loose: list[tuple[str, ...]] = []
        for t in terms:
            loose.extend([(tok,) for tok in _cover(t)] if _HAN_RUN.fullmatch(t[0]) else [tuple(t)])
        return Query(tuple(dict.fromkeys(loose)))
    return Query(tuple(map(tuple, terms)))


def match_expression(query: str, mode: Match = Match.PHRASES) -> str | None:
    """An FTS5 MATCH expression for `query`, or None if it has no words."""
    parsed = parse_query(query, mode)
    return parsed.expression if parsed else None


# -- Bounded search ---------------------------------------------------------------------------------
#
# A search's cost must not grow with the catalogue. Two things made it grow:
#
# * bm25() counts every row holding each phrase to weigh it (FTS5's xQueryPhrase over the whole
#   table), so a query with a common word (模型) cost O(catalogue) even when only a page is shown.
#   Ranking here needs no global count: phrase weights come from a sample of the newest rows.
# * proving that a phrase of common characters occurs nowhere (大语言模型的上下文长度) walks the
#   position lists of all its character pairs across the whole index. Each query therefore gets a
#   budget of index entries it may read; its rows-to-scan follow from how dense its tokens are in a
#   sample. A query with a rare token (an arXiv ID, a method name) reads little per row and still
#   searches the whole catalogue; one made only of common pairs searches the newest part of it,
#   and when that holds no match the search loosens as it would on a miss.
#
# Matches are taken newest-first (rowid order, no sort) and at most RANK_WINDOW of them are ranked.

RANK_WINDOW = 200  # newest matches ranked per query
SCAN_BUDGET = 60_000  # index entries (postings) a query may read: a few ms
SAMPLE_ROWS = 1_000  # newest rows sampled to estimate how dense each token is
# FTS5 intersects an AND by seeking every list to the next candidate of the others, skipping whole
# pages of a common token's list: a common token costs at most about this many times the rarest one.
SKIP = 16
PER_PHRASE_QUERIES = 4  # up to this many phrases are weighed one by one; longer queries by title only
TITLE_WEIGHT = 10.0
COMMON = 0.25  # a token in at least this share of the newest papers is a common word


@dataclass(frozen=True)
class Ranked:
    """One ranked match: the paper's rowid and whether a query word is in its title."""

    rowid: int
    in_title: bool


class Densities:
    """How dense each token is among the newest SAMPLE_ROWS rows, remembered until that many more
    papers have arrived (one per database; used from one thread)."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._known: dict[str, tuple[int, float]] = {}

    def __call__(self, conn: sqlite3.Connection, token: str, top: int) -> float:
        known = self._known.get(token)
        if known is not None and 0 <= top - known[0] < SAMPLE_ROWS:
            return known[1]
        rows = min(SAMPLE_ROWS, top)
        (hits,) = conn.execute(
            "SELECT count(*) FROM papers_fts WHERE papers_fts MATCH ? AND rowid > ?", (_phrase([token]), top - rows)
        ).fetchone()
        # Half a hit for a token absent from the sample: it may be common further back.
        density = (int(hits) + 0.5) / max(rows, 1)
        if len(self._known) >= self._size:
            del self._known[next(iter(self._known))]
        self._known[token] = (top, density)
        return density


def _and_cost(densities: list[float]) -> float:
    rarest = min(densities)
    return sum(min(d, SKIP * rarest) for d in densities)


def _rows(conn: sqlite3.Connection, expression: str, low: int) -> set[int]:
    sql = "SELECT rowid FROM papers_fts WHERE papers_fts MATCH ? AND rowid >= ?"
    return {rowid for (rowid,) in conn.execute(sql, (expression, low))}


def newest_matches(
    conn: sqlite3.Connection, query: Query, densities: Densities, want: int = RANK_WINDOW
) -> tuple[list[int], dict[str, float]]:
    """Rowids of the newest `want` matches of `query` within its scan budget, newest first; and the
    density of each of its tokens."""
    top = conn.execute("SELECT max(id) FROM papers").fetchone()[0]
    if top is None:
        return [], {}
    density = {token: densities(conn, token, int(top)) for token in query.tokens}
    if query.any:
        cost = sum(_and_cost([density[t] for t in p]) for p in query.phrases)
    else:
        cost = _and_cost(list(density.values()))
    floor = max(0, int(top) - int(SCAN_BUDGET / cost))
    # Newest first, window by window, in ascending order inside each: FTS5 ignores a lower rowid
    # bound when it walks a multi-token phrase backwards (ORDER BY rowid DESC), so a phrase that
    # matches nothing would read the whole index. Each window costs a fixed seek in every segment,
    # so they are few: the first would hold `want` matches at a quarter of the rarest token's
    # density; the next is sized from the matches found so far (twice what they predict), or eight
    # times wider when there were none. (Sizing it blindly read 2-3x the rows needed: the words of a
    # loosened query appear together far less often than the rarest of them appears at all.)
    densest = min(1.0, sum(min(density[t] for t in p) for p in query.phrases)) if query.any else min(density.values())
    width = max(64, int(4 * want / densest))
    ids: list[int] = []
    high = int(top)
    while high > floor and len(ids) < want:
        low = max(floor, high - width)
        found = [
            rowid
            for (rowid,) in conn.execute(
                "SELECT rowid FROM papers_fts WHERE papers_fts MATCH ? AND rowid > ? AND rowid <= ?",
                (query.expression, low, high),
            )
        ]
        ids.extend(reversed(found))
        scanned = int(top) - low
        width = max(64, 2 * (want - len(ids)) * scanned // len(ids)) if ids else width * 8
        high = low
    return ids[:want], density


def ranked_matches(conn: sqlite3.Connection, query: Query, densities: Densities) -> list[Ranked]:
    """The newest RANK_WINDOW matches of `query` (within its scan budget), best first.

    Title matches come first; then the sum over matched phrases of the phrase's weight (rarer is
    heavier), a title match counting TITLE_WEIGHT times an abstract one; then the newest.
    """
    ids, density = newest_matches(conn, query, densities)
    if not ids:
        return []
    # Sub-queries read only the rows from the oldest candidate up, and are intersected with the
    # candidates here (FTS5 does not use `rowid IN (...)`: a list of rowids costs a query each).
    low = ids[-1]
    # A word in most papers (of, 模型) says little about a title and its title matches are many rows
    # to read: it is looked for in titles only when every word of the query is that common.
    rare = [min(density[t] for t in p) < COMMON for p in query.phrases]
    if len(query.phrases) > PER_PHRASE_QUERIES:
        wanted = [p for p, r in zip(query.phrases, rare, strict=True) if r or not any(rare)]
        titled = _rows(conn, f"title : ({' OR '.join(_phrase(p) for p in wanted)})", low)
        return sorted((Ranked(r, r in titled) for r in ids), key=lambda m: (not m.in_title, -m.rowid))
    weights = [math.log(1.0 + 1.0 / min(density[t] for t in p)) for p in query.phrases]
    in_title = [
        _rows(conn, f"title : ({_phrase(p)})", low) if r or not any(rare) else set()
        for p, r in zip(query.phrases, rare, strict=True)
    ]
    present = [_rows(conn, _phrase(p), low) for p in query.phrases] if query.any else None
    # Which phrases each candidate holds (bit i: phrase i in the title; bit n + i: phrase i anywhere),
    # found by set intersections; the score is then computed once per distinct pattern, not per row.
    n = len(query.phrases)
    marks = dict.fromkeys(ids, 0 if present is not None else ((1 << n) - 1) << n)
    for i, rows in enumerate(in_title):
        for rowid in rows.intersection(marks):
            marks[rowid] |= 1 << i
    for i, rows in enumerate(present or ()):
        for rowid in rows.intersection(marks):
            marks[rowid] |= 1 << (n + i)
    scores: dict[int, tuple[bool, float]] = {}
    for mark in set(marks.values()):
        scores[mark] = (
            mark & ((1 << n) - 1) != 0,
            sum(w * (TITLE_WEIGHT * bool(mark >> i & 1) + bool(mark >> (n + i) & 1)) for i, w in enumerate(weights)),
        )
    scored = [(*scores[marks[rowid]], rowid) for rowid in ids]
    scored.sort(key=lambda s: (not s[0], -s[1], -s[2]))
    return [Ranked(rowid, titled) for titled, _score, rowid in scored]
