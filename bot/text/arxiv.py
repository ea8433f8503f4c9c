"""arXiv identifiers: every accepted spelling of an ID or link becomes one canonical ID.

Accepted: `2404.07965`, `2404.07965v2`, `arXiv:2404.07965`, abs / pdf / html URLs (with or without
`.pdf`, `www.`, `export.`, http or https), and old-style IDs such as `hep-th/9901001` or
`math.GT/0309136`. The canonical form drops the version and keeps the archive in lower case.
"""

from __future__ import annotations

import re
from datetime import date

_NEW = r"(?P<new>\d{4}\.\d{4,5})"
_OLD = r"(?P<old>[a-z][a-z\-]*(?:\.[a-z]{2})?/\d{7})"
_ID = rf"(?:{_NEW}|{_OLD})(?:v\d+)?"

_BARE = re.compile(rf"^(?:arxiv:\s*)?{_ID}$", re.IGNORECASE)
_URL = re.compile(
    rf"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html|format)/{_ID}(?:\.pdf)?/?(?:[?#].*)?$",
    re.IGNORECASE,
)
_ANYWHERE = re.compile(
    rf"(?:arxiv\.org/(?:abs|pdf|html)/|arxiv:\s*|\b){_ID}(?:\.pdf)?",
    re.IGNORECASE,
)


def _canonical(match: re.Match[str]) -> str | None:
    new = match.group("new")
    if new is not None:
        yymm = new.split(".")[0]
        month = int(yymm[2:])
        # New-style IDs exist from 0704 on; five-digit sequence numbers from 1501 on.
        if not 1 <= month <= 12 or int(yymm) < 704:
            return None
        if len(new.split(".")[1]) == 5 and int(yymm) < 1501:
            return None
        return new
    old = match.group("old")
    if old is not None:
        archive, number = old.split("/")
        month = int(number[2:4])
        if not 1 <= month <= 12:
            return None
        # The archive is lower case, a subject class upper case: math.GT/0309136.
        name, _, subject = archive.partition(".")
        return f"{name.lower()}.{subject.upper()}/{number}" if subject else f"{name.lower()}/{number}"
    return None


def parse_arxiv_id(text: str) -> str | None:
    """The canonical arXiv ID of `text` when the whole of it is an ID or an arXiv link, else None."""
    text = text.strip().strip("<>")
    match = _BARE.match(text) or _URL.match(text)
    return _canonical(match) if match else None


def find_arxiv_id(text: str) -> str | None:
    """The first arXiv ID found anywhere in `text` (for queries that mix an ID with other words)."""
    for match in _ANYWHERE.finditer(text):
        found = _canonical(match)
        if found:
            return found
    return None


def looks_like_arxiv_link(text: str) -> bool:
    """True for any arxiv.org URL, valid ID or not (used to explain why a link was rejected)."""
    return "arxiv.org" in text.lower()


def month_of(arxiv_id: str) -> date:
    """The first day of the month encoded in an arXiv ID (the submission month)."""
    digits = arxiv_id.split("/")[-1] if "/" in arxiv_id else arxiv_id.split(".")[0]
    yy, mm = int(digits[:2]), int(digits[2:4])
    # Old-style IDs start in 1991; new-style ones in 2007: two-digit years below 91 are 20xx.
    year = 1900 + yy if yy >= 91 else 2000 + yy
    return date(year, mm, 1)


def abs_url(arxiv_id: str) -> str:
    """The abstract page of a paper."""
    return f"https://arxiv.org/abs/{arxiv_id}"


def pdf_url(arxiv_id: str) -> str:
    """The PDF of a paper."""
    return f"https://arxiv.org/pdf/{arxiv_id}"
