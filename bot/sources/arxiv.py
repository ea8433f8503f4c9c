"""arXiv: the daily listing feed (which papers were announced) and the API (details by ID).

Wire formats, as recorded from the real services:
- API (`export.arxiv.org/api/query?id_list=...`): an Atom feed; each `entry` has `id`
  `http://arxiv.org/abs/<id>v<N>`, `title`, `summary`, `published` (v1), `updated`, `author/name`,
  `category term=`, `arxiv:primary_category term=`. A well-formed unknown ID answers 200 with
  `opensearch:totalResults` 0 and no entry; a malformed one answers 400 with one entry whose `id`
  ends in `/api/errors#incorrect_id_format_for_<id>` (lukasschwab/arxiv.py tests/fixtures:
  id_2104.12255v1_*.json, id_0000.0000_*.json, id_abc_*.json).
- Listing (`rss.arxiv.org/atom/cs.CL+cs.CV`): an Atom feed; each `entry` has `id`
  `oai:arXiv.org:<id>v<N>`, `title`, `summary` "arXiv:<id>vN Announce Type: new \\nAbstract: ...",
  `category term=` (several), `published` (the announcement day), `arxiv:announce_type`
  (new | cross | replace | replace-cross) and `dc:creator` (authors joined by commas)
  (TideDra/zotero-arxiv-daily tests/retriever/arxiv_rss_example.xml).

XML is parsed with defusedxml: entity declarations (the "billion laughs" bomb) and external entities
are refused, never expanded.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from bot.catalogue.model import Paper
from bot.sources.http import ErrorKind, Fetcher, SourceError
from bot.text.arxiv import parse_arxiv_id

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
DC = "{http://purl.org/dc/elements/1.1/}"
ID_LIST_BATCH = 100  # IDs per API request (the API allows 2,000 results; small pages answer faster)
_VERSION = re.compile(r"v(\d+)$")
_ANNOUNCE = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*\S+\s*", re.IGNORECASE)
_ABSTRACT_LABEL = re.compile(r"^\s*Abstract:\s*", re.IGNORECASE)
# The accent macros authors type in names and titles (Andr\'e), made into the letters they mean.
_ACCENTS = {"'": "\u0301", "`": "\u0300", '"': "\u0308", "^": "\u0302", "~": "\u0303", "c": "\u0327", "=": "\u0304"}
_ACCENT = re.compile(r"\\([`'\"^~=c])\{?([A-Za-z])\}?")


class AnnounceType(StrEnum):
    """How a listing entry was announced."""

    NEW = "new"
    CROSS = "cross"
    REPLACE = "replace"
    REPLACE_CROSS = "replace-cross"


@dataclass(frozen=True)
class ArxivRecord:
    """One paper as arXiv describes it."""

    arxiv_id: str  # canonical, without version
    version: int
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]  # primary first
    published: date  # v1 submission (API) or announcement day (listing)
    announce: AnnounceType | None = None  # listing entries only

    def to_paper(self, source: str) -> Paper:
        """The catalogue paper this record describes (no Chinese text yet, no topics yet)."""
        return Paper(
            arxiv_id=self.arxiv_id,
            title_en=self.title,
            title_zh="",
            abstract_zh="",
            published=self.published,
            date_is_exact=True,
            abstract_en=self.abstract,
            authors=self.authors,
            categories=self.categories,
            version=self.version,
            sources=(source,),
        )


def clean_text(text: str) -> str:
    """arXiv text for Telegram: hard line breaks and runs of spaces folded, accent macros made letters;
    other LaTeX ($x^2$, \\emph{...}) is left as written, which reads fine."""
    text = _ACCENT.sub(lambda m: unicodedata.normalize("NFC", m.group(2) + _ACCENTS[m.group(1)]), text)
    return " ".join(text.split())


_FEED_PIECE = 32_768  # bytes handed to the parser at a time: the GIL is released between pieces


def _parse_xml(body: bytes) -> Element:
    try:
        # Fed piece by piece: expat holds the GIL for the whole of one call, and a day's listing is
        # megabytes, so one call would stall the event loop's thread for a tenth of a second.
        parser = SafeET.XMLParser()
        for start in range(0, len(body), _FEED_PIECE):
            parser.feed(body[start : start + _FEED_PIECE])
        root = parser.close()
    except DefusedXmlException as exc:
        raise SourceError(ErrorKind.MALFORMED, f"refused unsafe XML ({type(exc).__name__})") from exc
    except SafeET.ParseError as exc:
        raise SourceError(ErrorKind.MALFORMED, f"not well-formed XML: {exc}") from exc
    if root.tag != f"{ATOM}feed":
        raise SourceError(ErrorKind.MALFORMED, f"expected an Atom feed, found <{root.tag}>")
    return root


def _text(entry: Element, tag: str) -> str:
    found = entry.find(tag)
    return (found.text or "") if found is not None else ""


def _day(text: str) -> date | None:
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _split_id(raw: str) -> tuple[str | None, int]:
    """(canonical ID, version) from `http://arxiv.org/abs/2104.12255v1` or `oai:arXiv.org:2508.13426v1`."""
    tail = raw.strip()
    for prefix in ("oai:arXiv.org:", "http://arxiv.org/abs/", "https://arxiv.org/abs/"):
        if tail.startswith(prefix):
            tail = tail[len(prefix) :]
            break
    match = _VERSION.search(tail)
    return parse_arxiv_id(tail), int(match.group(1)) if match else 0


def _categories(entry: Element) -> tuple[str, ...]:
    primary = entry.find(f"{ARXIV}primary_category")
    terms = [c.get("term", "") for c in entry.findall(f"{ATOM}category")]
    first = primary.get("term", "") if primary is not None else ""
    ordered = [first, *terms] if first else terms
    return tuple(dict.fromkeys(t.strip() for t in ordered if t and t.strip()))


@dataclass(frozen=True)
class ApiResult:
    """An API answer: the records, and the IDs it was asked for that arXiv does not know."""

    records: list[ArxivRecord]
    total: int


def parse_api(body: bytes, status: int = 200) -> ApiResult:
    """Records of an API answer; SourceError for an error feed (400) or a body that is not one."""
    root = _parse_xml(body)
    records: list[ArxivRecord] = []
    for entry in root.findall(f"{ATOM}entry"):
        raw_id = _text(entry, f"{ATOM}id")
        if "/api/errors" in raw_id:
            message = clean_text(_text(entry, f"{ATOM}summary")) or "error"
            raise SourceError(ErrorKind.CLIENT, f"arXiv API: {message}", status=status)
        record = _record(entry, raw_id, authors=[_text(a, f"{ATOM}name") for a in entry.findall(f"{ATOM}author")])
        if record is not None:
            records.append(record)
    if status == 400:
        raise SourceError(ErrorKind.CLIENT, "arXiv API answered 400", status=400)
    total_text = _text(root, f"{OPENSEARCH}totalResults").strip()
    total = int(total_text) if total_text.isdigit() else len(records)
    return ApiResult(records, total)


def parse_listing(body: bytes) -> list[ArxivRecord]:
    """Records of a daily listing feed (entries without an ID or title are skipped)."""
    root = _parse_xml(body)
    records: list[ArxivRecord] = []
    for entry in root.findall(f"{ATOM}entry"):
        creators = _text(entry, f"{DC}creator")
        record = _record(entry, _text(entry, f"{ATOM}id"), authors=creators.split(","))
        if record is not None:
            records.append(record)
    return records


def _record(entry: Element, raw_id: str, *, authors: Iterable[str]) -> ArxivRecord | None:
    arxiv_id, version = _split_id(raw_id)
    title = clean_text(_text(entry, f"{ATOM}title"))
    published = _day(_text(entry, f"{ATOM}published")) or _day(_text(entry, f"{ATOM}updated"))
    if arxiv_id is None or not title or published is None:
        return None
    summary = _text(entry, f"{ATOM}summary")
    summary = _ABSTRACT_LABEL.sub("", _ANNOUNCE.sub("", summary.lstrip()))
    announce_text = _text(entry, f"{ARXIV}announce_type").strip().lower()
    try:
        announce = AnnounceType(announce_text) if announce_text else None
    except ValueError:
        announce = None
    return ArxivRecord(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=clean_text(summary),
        authors=tuple(name for name in (clean_text(a) for a in authors) if name),
        categories=_categories(entry),
        published=published,
        announce=announce,
    )


class ArxivClient:
    """The listing feed and the API, through the shared polite `Fetcher`."""

    def __init__(self, fetcher: Fetcher, *, feed_url: str, api_url: str) -> None:
        self._fetcher = fetcher
        self.feed_url = feed_url.rstrip("/")
        self.api_url = api_url

    def listing_url(self, categories: Sequence[str]) -> str:
        return f"{self.feed_url}/{'+'.join(categories)}"

    async def listing_body(self, categories: Sequence[str]) -> bytes:
        """Today's announcement of these categories, unparsed (the refresh parses it in its worker process)."""
        reply = await self._fetcher.get(self.listing_url(categories))
        return reply.body

    async def listing(self, categories: Sequence[str]) -> list[ArxivRecord]:
        """Today's announcement of these categories."""
        body = await self.listing_body(categories)
        # A day's listing is megabytes of XML: parsed off the event loop so handlers keep answering.
        return await asyncio.to_thread(parse_listing, body)

    def query_key(self, arxiv_ids: Sequence[str]) -> str:
        """The API query for these IDs, as the daily query cache records it."""
        return f"{self.api_url}?id_list={','.join(arxiv_ids)}"

    async def by_ids(self, arxiv_ids: Sequence[str]) -> ApiResult:
        """Details of up to ID_LIST_BATCH papers (IDs arXiv does not know are simply absent)."""
        params = {"id_list": ",".join(arxiv_ids), "start": "0", "max_results": str(len(arxiv_ids))}
        reply = await self._fetcher.get(self.api_url, params=params)
        return await asyncio.to_thread(parse_api, reply.body, reply.status)
