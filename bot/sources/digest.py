"""Markdown digest lists by URL: conditional GET, then the seed parser (bot.catalogue.parse)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from bot.catalogue.model import Reject, SeedEntry
from bot.catalogue.parse import parse_text
from bot.sources.http import ErrorKind, Fetcher, SourceError


@dataclass
class DigestFetch:
    """One list's answer: its entries (empty when not modified), rejects and new validators."""

    url: str
    not_modified: bool
    entries: list[SeedEntry] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None


def entry_digest(entry: SeedEntry) -> str:
    """What a row says, to tell rows new or changed since the last fetch from unchanged ones."""
    payload = [entry.title_en, entry.title_zh, entry.abstract_zh, str(entry.published), list(entry.topics)]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()[:32]


async def fetch_digest(fetcher: Fetcher, url: str, *, etag: str | None, last_modified: str | None) -> DigestFetch:
    """GET a list (If-None-Match / If-Modified-Since) and parse it; SourceError on failure."""
    reply = await fetcher.get(url, etag=etag, last_modified=last_modified)
    if reply.not_modified:
        return DigestFetch(url, True, etag=etag, last_modified=last_modified)
    if reply.status != 200:
        raise SourceError(ErrorKind.CLIENT, f"HTTP {reply.status} from {url}", status=reply.status)
    try:
        text = reply.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(ErrorKind.MALFORMED, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    name = url.rstrip("/").rsplit("/", 1)[-1] or url
    result = parse_text(text, name)
    if not result.entries and result.rejects and result.rejects[0].line == 0:
        raise SourceError(ErrorKind.MALFORMED, result.rejects[0].reason)
    return DigestFetch(
        url,
        False,
        result.entries,
        result.rejects,
        etag=reply.headers.get("etag"),
        last_modified=reply.headers.get("last-modified"),
    )
