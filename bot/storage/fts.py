"""What the FTS5 index stores and how a user's words become a safe MATCH expression.

SQLite's unicode61 tokenizer treats a run of Han characters as one token, and the trigram tokenizer
cannot match two-character words (量化, 對齊). So indexed text is folded (simplified script, casefold,
NFKC) and every run of Han characters is rewritten as its overlapping bigrams: 大语言模型 ->
大语 语言 言模 模型. A query gets the same treatment and each of its words becomes a quoted phrase of
tokens, so FTS syntax in user input (quotes, parentheses, AND/OR/NOT, `*`, `:`, `-`) is only text.
"""

from __future__ import annotations

import re
from enum import StrEnum

from bot.text.normalize import fold

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
    # split() with a capturing group puts the Han runs at the odd positions.
    for i in range(1, len(parts), 2):
        run = parts[i]
        parts[i] = f" {run} " if len(run) == 1 else " " + " ".join(map(str.__add__, run, run[1:])) + " "
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


def _phrase(tokens: list[str]) -> str:
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


def match_expression(query: str, mode: Match = Match.PHRASES) -> str | None:
    """An FTS5 MATCH expression for `query`, or None if it has no words."""
    terms = query_terms(query)
    if not terms:
        return None
    if mode is Match.ANY:
        return " OR ".join(_phrase(t) for t in terms)
    if mode is Match.TOKENS:
        # Latin words stay phrases (gpt-4 is "gpt 4"). A Han word is loosened to every other bigram
        # plus the last one: each character is still required, with half the tokens to intersect.
        parts = [[[tok] for tok in _cover(t)] if _HAN_RUN.fullmatch(t[0]) else [t] for t in terms]
        return " AND ".join(_phrase(p) for part in parts for p in part)
    return " AND ".join(_phrase(t) for t in terms)
