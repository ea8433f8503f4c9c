"""Hugging Face daily papers (`GET <api>/daily_papers?date=YYYY-MM-DD`): a JSON array of items whose
`paper` holds `id` (arXiv ID), `title`, `summary`, `authors` [{name}], `publishedAt`, `upvotes`
(shared/paper-sources.md; the API's own documentation at huggingface.co/docs/hub/api)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.catalogue.model import Paper
from bot.sources.arxiv import clean_text
from bot.sources.http import ErrorKind, Fetcher, SourceError
from bot.text.arxiv import parse_arxiv_id


@dataclass(frozen=True)
class HfPaper:
    """A paper of the day and its upvotes."""

    paper: Paper
    upvotes: int


def parse_daily(body: bytes, source: str, day: date) -> tuple[list[HfPaper], int]:
    """Papers of a daily_papers answer, and how many items were skipped as unusable."""
    try:
        items = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(ErrorKind.MALFORMED, f"not JSON: {exc}") from exc
    if not isinstance(items, list):
        raise SourceError(ErrorKind.MALFORMED, "expected a JSON array of papers")
    papers: list[HfPaper] = []
    skipped = 0
    for item in items:
        raw: Any = item.get("paper") if isinstance(item, dict) else None
        if not isinstance(raw, dict):
            skipped += 1
            continue
        arxiv_id = parse_arxiv_id(str(raw.get("id", "")))
        title = clean_text(str(raw.get("title") or ""))
        if arxiv_id is None or not title:
            skipped += 1
            continue
        authors = raw.get("authors")
        authors = authors if isinstance(authors, list) else []
        names = tuple(clean_text(str(a.get("name", ""))) for a in authors if isinstance(a, dict) and a.get("name"))
        published = _day(raw.get("publishedAt")) or day
        upvotes = raw.get("upvotes", 0)
        paper = Paper(
            arxiv_id=arxiv_id,
            title_en=title,
            title_zh="",
            abstract_zh="",
            published=published,
            date_is_exact=True,
            abstract_en=clean_text(str(raw.get("summary") or "")),
            authors=names,
            sources=(source,),
        )
        papers.append(HfPaper(paper, upvotes if isinstance(upvotes, int) and upvotes >= 0 else 0))
    return papers, skipped


async def fetch_daily(fetcher: Fetcher, api_url: str, day: date, source: str) -> tuple[list[HfPaper], int]:
    """The day's papers; SourceError on failure."""
    reply = await fetcher.get(f"{api_url}/daily_papers", params={"date": day.isoformat()})
    if reply.status != 200:
        raise SourceError(ErrorKind.CLIENT, f"HTTP {reply.status}", status=reply.status)
    return parse_daily(reply.body, source, day)


def _day(value: Any) -> date | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
    except ValueError:
        return None
