"""Finding papers: lookups by any arXiv spelling, ranked search, topics with counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.catalogue.model import Paper
from bot.catalogue.topics import Taxonomy, Topic
from bot.model import SearchHit, TopicCount
from bot.storage.papers import PaperStore
from bot.text.arxiv import find_arxiv_id, parse_arxiv_id
from bot.text.normalize import strip_invisible

# Telegram caps inline queries at 256 characters; a longer /search is cut to the same length.
MAX_QUERY_CHARS = 256


class LookupStatus(StrEnum):
    """How a /paper argument resolved."""

    FOUND = "found"
    NOT_IN_CATALOGUE = "not_in_catalogue"  # a valid arXiv ID we do not have
    INVALID = "invalid"  # not an arXiv ID in any accepted form


@dataclass(frozen=True)
class Lookup:
    """The answer to /paper."""

    status: LookupStatus
    arxiv_id: str | None = None
    paper: Paper | None = None
    related: list[Paper] = field(default_factory=list)


@dataclass(frozen=True)
class SearchResult:
    """One page of /search, with what to suggest when nothing matched."""

    query: str
    page: int
    hits: list[SearchHit]
    has_more: bool
    broadened: bool = False
    suggestions: list[Topic] = field(default_factory=list)


def clean_query(text: str) -> str:
    """User words as searched: no invisible characters, single spaces, at most MAX_QUERY_CHARS."""
    return " ".join(strip_invisible(text).split())[:MAX_QUERY_CHARS]


class CatalogueService:
    """Read-side use cases of the catalogue."""

    def __init__(self, papers: PaperStore, taxonomy: Taxonomy) -> None:
        self._papers = papers
        self.taxonomy = taxonomy

    async def lookup(self, text: str, *, related: int = 3) -> Lookup:
        """A paper by any accepted spelling of its arXiv ID or link."""
        arxiv_id = parse_arxiv_id(strip_invisible(text))
        if arxiv_id is None:
            return Lookup(LookupStatus.INVALID)
        paper = await self._papers.get(arxiv_id)
        if paper is None:
            return Lookup(LookupStatus.NOT_IN_CATALOGUE, arxiv_id)
        return Lookup(LookupStatus.FOUND, arxiv_id, paper, await self._papers.related(arxiv_id, limit=related))

    async def paper(self, arxiv_id: str) -> Paper | None:
        """A catalogued paper by canonical ID."""
        return await self._papers.get(arxiv_id)

    async def search(self, text: str, *, page: int = 0, page_size: int = 5, broaden: bool = False) -> SearchResult:
        """Ranked results; a paper whose arXiv ID is the query comes first; suggestions when empty."""
        query = clean_query(text)
        page = max(page, 0)
        found = await self._papers.search(query, offset=page * page_size, limit=page_size, broaden=broaden)
        hits = found.hits
        exact_id = (parse_arxiv_id(query) or find_arxiv_id(query)) if page == 0 else None
        if exact_id and all(hit.paper.arxiv_id != exact_id for hit in hits):
            exact = await self._papers.get(exact_id)
            if exact is not None:
                hits = [SearchHit(exact, True), *hits][:page_size]
        suggestions = [] if hits else self.suggest(query)
        return SearchResult(query, page, hits, found.has_more, found.broadened, suggestions)

    def suggest(self, query: str) -> list[Topic]:
        """Topics close to the words of a query that found nothing."""
        seen: dict[str, Topic] = {}
        for word in [query, *query.split()]:
            for topic in self.taxonomy.closest(word, 3):
                seen.setdefault(topic.name, topic)
        return list(seen.values())[:3]

    async def topics(self) -> list[TopicCount]:
        """Every topic with its paper count, in taxonomy order."""
        return await self._papers.topic_counts()

    async def topic_size(self, name: str) -> int:
        """How many papers carry a topic (0 for an unknown name)."""
        return await self._papers.topic_size(name)

    async def topic_papers(self, name: str, *, limit: int = 5) -> list[Paper]:
        """A topic's newest papers."""
        return await self._papers.papers_of_topic(name, limit=limit)

    async def all_papers(self) -> list[Paper]:
        """Every paper in the catalogue."""
        return await self._papers.all_papers()

    async def count(self) -> int:
        """Number of papers in the catalogue."""
        return await self._papers.count()
