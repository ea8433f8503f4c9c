"""Local fake servers (aiohttp) for arXiv's listing feed and API, digest lists and Hugging Face.

Formats follow recorded real answers (tests/sources/fixtures/README.md cites each):
- API entries are shaped like `api_2104.12255v1.xml`; an unknown well-formed ID gives the empty feed
  of `api_unknown_0000.0000.xml` (200, totalResults 0); a malformed ID gives the 400 error feed of
  `api_error_abc.xml`.
- Listing entries are shaped like `listing_cs.AI.xml` (id `oai:arXiv.org:<id>v<N>`, summary
  "arXiv:<id>vN Announce Type: X \\nAbstract: ...", `arxiv:announce_type`, `dc:creator`).
- Digest lists answer 304 to a matching If-None-Match or an If-Modified-Since not older than the
  list (RFC 9110 sections 13.1.2 and 13.1.3; GitHub's raw file server sends both validators).
- Hugging Face `daily_papers` answers a JSON array of {"paper": {...}, "numComments": N}
  (shared/paper-sources.md).

Faults are switched on per test through `FakeSources.fault`.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from dataclasses import dataclass, field
from datetime import date
from email.utils import formatdate
from html import escape
from pathlib import Path

from aiohttp import web

FIXTURES = Path(__file__).parent / "fixtures"
SPACE = " "  # the recorded listing has a space at the end of the "Announce Type" line
_ID_RE = re.compile(r"^(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})(v\d+)?$")

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol4;</title></feed>
"""


@dataclass
class FakePaper:
    """A paper the fake arXiv knows."""

    arxiv_id: str
    title: str
    abstract: str
    authors: tuple[str, ...] = ("Ada Lovelace", "Alan Turing")
    categories: tuple[str, ...] = ("cs.CL", "cs.AI")
    version: int = 1
    published: date = date(2026, 12, 1)
    announce: str = "new"


def api_entry(p: FakePaper) -> str:
    authors = "".join(f"\n    <author>\n      <name>{escape(a)}</name>\n    </author>" for a in p.authors)
    cats = "".join(f'\n    <category term="{c}" scheme="http://arxiv.org/schemas/atom"/>' for c in p.categories)
    return f"""  <entry>
    <id>http://arxiv.org/abs/{p.arxiv_id}v{p.version}</id>
    <title>{escape(p.title)}</title>
    <updated>{p.published.isoformat()}T16:07:14Z</updated>
    <link href="https://arxiv.org/abs/{p.arxiv_id}v{p.version}" rel="alternate" type="text/html"/>
    <link href="https://arxiv.org/pdf/{p.arxiv_id}v{p.version}" rel="related" type="application/pdf" title="pdf"/>
    <summary>{escape(p.abstract)}</summary>{cats}
    <published>{p.published.isoformat()}T16:07:14Z</published>
    <arxiv:primary_category term="{p.categories[0]}"/>{authors}
  </entry>
"""


def api_feed(entries: list[FakePaper], query: str) -> bytes:
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom"'
        ' xmlns="http://www.w3.org/2005/Atom">\n'
        "  <id>https://arxiv.org/api/fake</id>\n"
        f"  <title>arXiv Query: {escape(query)}</title>\n"
        "  <updated>2026-12-01T22:09:25Z</updated>\n"
        f"  <opensearch:itemsPerPage>{max(len(entries), 1)}</opensearch:itemsPerPage>\n"
        f"  <opensearch:totalResults>{len(entries)}</opensearch:totalResults>\n"
        "  <opensearch:startIndex>0</opensearch:startIndex>\n" + "".join(api_entry(p) for p in entries) + "</feed>\n"
    ).encode()


def api_error(bad: str) -> bytes:
    return (FIXTURES / "api_error_abc.xml").read_bytes().replace(b"abc", escape(bad).encode())


def listing_entry(p: FakePaper) -> str:
    cats = "".join(f'\n    <category term="{c}"/>' for c in p.categories)
    return f"""  <entry>
    <id>oai:arXiv.org:{p.arxiv_id}v{p.version}</id>
    <title>{escape(p.title)}</title>
    <updated>{p.published.isoformat()}T04:00:19.899254+00:00</updated>
    <link href="https://arxiv.org/abs/{p.arxiv_id}" rel="alternate" type="text/html"/>
    <summary>arXiv:{p.arxiv_id}v{p.version} Announce Type: {p.announce}{SPACE}
Abstract: {escape(p.abstract)}</summary>{cats}
    <published>{p.published.isoformat()}T00:00:00-05:00</published>
    <arxiv:announce_type>{p.announce}</arxiv:announce_type>
    <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>
    <dc:creator>{escape(", ".join(p.authors))}</dc:creator>
  </entry>
"""


def listing_feed(papers: list[FakePaper], categories: str) -> bytes:
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns="http://www.w3.org/2005/Atom" xml:lang="en-us">\n'
        f"  <id>http://rss.arxiv.org/atom/{categories}</id>\n"
        f"  <title>{categories} updates on arXiv.org</title>\n"
        "  <updated>2026-12-01T04:00:19.866337+00:00</updated>\n"
        f'  <link href="http://rss.arxiv.org/atom/{categories}" rel="self" type="application/atom+xml"/>\n'
        + "".join(listing_entry(p) for p in papers)
        + "</feed>\n"
    ).encode()


@dataclass
class Digest:
    """A digest list the fake serves."""

    text: str
    etag: str = '"v1"'
    modified: float = 1_764_000_000.0


@dataclass
class FakeSources:
    """The state behind the fake servers: papers, lists, faults and a log of requests."""

    papers: dict[str, FakePaper] = field(default_factory=dict)
    listing: list[FakePaper] = field(default_factory=list)
    digests: dict[str, Digest] = field(default_factory=dict)
    hf: list[dict[str, object]] = field(default_factory=list)
    fault: str | None = None  # timeout | 429 | 429-long | 503 | 500 | truncated | malformed | bomb | huge | reset
    fault_times: int = 1_000_000  # how many requests the fault hits before the server recovers
    retry_after: str = "1"
    delay: float = 0.0
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def add(self, paper: FakePaper, *, listed: bool = False) -> None:
        self.papers[paper.arxiv_id] = paper
        if listed:
            self.listing.append(paper)

    async def _faulty(self, request: web.Request) -> web.StreamResponse | None:
        if self.fault is None or self.fault_times <= 0:
            return None
        self.fault_times -= 1
        fault = self.fault
        if fault == "timeout":
            await asyncio.sleep(30)
        if fault in ("429", "503"):
            return web.Response(status=int(fault), headers={"Retry-After": self.retry_after}, text="slow down")
        if fault == "429-long":
            return web.Response(status=429, headers={"Retry-After": "86400"}, text="slow down")
        if fault == "500":
            return web.Response(status=500, text="internal error")
        if fault == "malformed":
            return web.Response(body=b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><id>", content_type="text/xml")
        if fault == "bomb":
            return web.Response(body=BOMB, content_type="application/atom+xml")
        if fault == "huge":
            response = web.StreamResponse(headers={"Content-Type": "application/atom+xml"})
            await response.prepare(request)
            for _ in range(64):
                await response.write(b"<!-- padding -->" * 4096)
            await response.write_eof()
            return response
        if fault == "truncated":
            response = web.StreamResponse(headers={"Content-Type": "application/atom+xml", "Content-Length": "5000"})
            await response.prepare(request)
            await response.write(b"<?xml version='1.0'?><feed")
            assert request.transport is not None
            request.transport.close()  # the body ends before its Content-Length
            return response
        if fault == "reset":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        return None

    def _log(self, request: web.Request) -> None:
        self.requests.append((request.path, request.query_string, dict(request.headers)))

    async def listing_handler(self, request: web.Request) -> web.StreamResponse:
        self._log(request)
        if (faulty := await self._faulty(request)) is not None:
            return faulty
        if self.delay:
            await asyncio.sleep(self.delay)
        categories = request.match_info["categories"]
        wanted = set(categories.split("+"))
        papers = [p for p in self.listing if wanted & set(p.categories)]
        return web.Response(body=listing_feed(papers, categories), content_type="application/atom+xml")

    async def api_handler(self, request: web.Request) -> web.StreamResponse:
        self._log(request)
        if (faulty := await self._faulty(request)) is not None:
            return faulty
        if self.delay:
            await asyncio.sleep(self.delay)
        ids = [i for i in request.query.get("id_list", "").split(",") if i]
        for raw in ids:
            if not _ID_RE.match(raw):
                return web.Response(status=400, body=api_error(raw), content_type="application/atom+xml")
        found = [self.papers[i.split("v")[0]] for i in ids if i.split("v")[0] in self.papers]
        return web.Response(body=api_feed(found, request.query_string), content_type="application/atom+xml")

    async def digest_handler(self, request: web.Request) -> web.StreamResponse:
        self._log(request)
        if (faulty := await self._faulty(request)) is not None:
            return faulty
        digest = self.digests.get(request.match_info["name"])
        if digest is None:
            return web.Response(status=404, text="404: Not Found")
        last_modified = formatdate(digest.modified, usegmt=True)
        headers = {"ETag": digest.etag, "Last-Modified": last_modified}
        if request.headers.get("If-None-Match") == digest.etag:
            return web.Response(status=304, headers=headers)
        return web.Response(text=digest.text, headers=headers, content_type="text/plain", charset="utf-8")

    async def hf_handler(self, request: web.Request) -> web.StreamResponse:
        self._log(request)
        if (faulty := await self._faulty(request)) is not None:
            return faulty
        return web.Response(text=json.dumps(self.hf), content_type="application/json")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/atom/{categories}", self.listing_handler)
        app.router.add_get("/api/query", self.api_handler)
        app.router.add_get("/lists/{name}", self.digest_handler)
        app.router.add_get("/hf/api/daily_papers", self.hf_handler)
        return app


async def start(fake: FakeSources) -> tuple[web.AppRunner, str]:
    """Serve the fake on a free loopback port; (runner, base URL)."""
    runner = web.AppRunner(fake.app(), handle_signals=False, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    return runner, f"http://127.0.0.1:{sock.getsockname()[1]}"
