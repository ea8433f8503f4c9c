"""Outbound HTTP for the sources: one polite client shared by the refresh job and /paper fetches.

arXiv's terms of use (arXiv/arxiv-docs `source/help/api/tou.md`): no more than one request every
three seconds, one connection at a time, across the API and the listing feeds together. `Politeness`
enforces that in code: requests to a host group go one at a time through a lock, and each starts at
least `delay` seconds after the previous one ended. The delay against arxiv.org hosts is never below
`ARXIV_MIN_DELAY`, whatever the configuration says; only other hosts (test fakes, mirrors) may be
faster.

Every failure becomes a `SourceError` with a kind an operator can read (timeout, refused, rate
limited, server error, too large, truncated...); nothing here raises anything else for network
trouble. Bodies are read in chunks and refused past `max_bytes`, so a hostile server cannot fill the
memory.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import httpx

ARXIV_MIN_DELAY = 3.0
DEFAULT_MAX_BYTES = 20_000_000
# Longest Retry-After we wait for inside one fetch; longer ones fail the fetch (retried on the next run).
MAX_RETRY_WAIT = 120.0


class ErrorKind(StrEnum):
    """Why a fetch failed."""

    TIMEOUT = "timeout"
    REFUSED = "refused"  # connection refused or reset, DNS failure
    RATE_LIMITED = "rate_limited"  # 429 or 503 with a Retry-After beyond what we wait
    SERVER = "server_error"  # 5xx
    CLIENT = "client_error"  # other 4xx
    TOO_LARGE = "too_large"
    TRUNCATED = "truncated"  # the body ended before its Content-Length
    MALFORMED = "malformed"  # the body is not what the format promises


class SourceError(Exception):
    """A fetch or parse failure of a source, with its kind and a short operator-readable message."""

    def __init__(self, kind: ErrorKind, message: str, *, status: int | None = None, retry_after: float = 0.0):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised in the refresh worker process too (a malformed listing) and pickled back to the bot:
        # rebuilt from its fields, since the default rebuilds from `args` (the formatted text only).
        return (_source_error, (self.kind, self.message, self.status, self.retry_after))


def _source_error(kind: ErrorKind, message: str, status: int | None, retry_after: float) -> SourceError:
    return SourceError(kind, message, status=status, retry_after=retry_after)


@dataclass(frozen=True)
class Response:
    """A successful (2xx) or not-modified (304) answer."""

    status: int
    body: bytes
    headers: Mapping[str, str]
    url: str

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def is_arxiv_host(url: str) -> bool:
    """True for arxiv.org and its subdomains (export., rss., www.)."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host == "arxiv.org" or host.endswith(".arxiv.org")


def retry_after_seconds(value: str | None, now: float) -> float:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date); 0 when absent or bad."""
    if not value:
        return 0.0
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


@dataclass
class _Lane:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_end: float = float("-inf")
    waiting: int = 0
    not_before: float = float("-inf")  # a Retry-After pushes every later request back


class Politeness:
    """One request at a time per host group, `delay` seconds apart (>= 3 s for arxiv.org)."""

    def __init__(
        self,
        delay: float = ARXIV_MIN_DELAY,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._delay = max(0.0, delay)
        self.clock = clock
        self.sleep = sleep
        self._lanes: dict[str, _Lane] = {}

    def delay_for(self, url: str) -> float:
        """The spacing applied to requests to this URL's host."""
        return max(self._delay, ARXIV_MIN_DELAY) if is_arxiv_host(url) else self._delay

    @staticmethod
    def _group(url: str) -> str:
        # Every arxiv.org host shares one lane: the terms count API and feeds together.
        return "arxiv.org" if is_arxiv_host(url) else (urlsplit(url).hostname or "").lower()

    def _lane(self, url: str) -> _Lane:
        return self._lanes.setdefault(self._group(url), _Lane())

    def queue_length(self, url: str) -> int:
        """Requests to this URL's host waiting or running now."""
        return self._lane(url).waiting

    def expected_wait(self, url: str) -> float:
        """About how long a request made now waits for its turn (queue times the delay)."""
        lane = self._lane(url)
        base = max(0.0, lane.last_end + self.delay_for(url) - self.clock(), lane.not_before - self.clock())
        return base + lane.waiting * self.delay_for(url)

    def push_back(self, url: str, seconds: float) -> None:
        """No request to this host before `seconds` from now (a Retry-After)."""
        lane = self._lane(url)
        lane.not_before = max(lane.not_before, self.clock() + seconds)

    async def run(self, url: str, request: Callable[[], Awaitable[Response]]) -> Response:
        """Run `request` when this host's turn comes, then mark when it ended."""
        lane = self._lane(url)
        lane.waiting += 1
        try:
            async with lane.lock:
                wait = max(lane.last_end + self.delay_for(url), lane.not_before) - self.clock()
                if wait > 0:
                    await self.sleep(wait)
                try:
                    return await request()
                finally:
                    lane.last_end = self.clock()
        finally:
            lane.waiting -= 1


class Fetcher:
    """GET with politeness, a User-Agent, timeouts, a body cap, conditional requests and Retry-After."""

    def __init__(
        self,
        politeness: Politeness,
        *,
        user_agent: str,
        timeout: float = 30.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        retries: int = 2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.politeness = politeness
        self.max_bytes = max_bytes
        self.retries = retries
        # One connection per host at a time: the politeness lock already serialises requests.
        self._client = httpx.AsyncClient(
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip"},
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=2),
            follow_redirects=True,
            transport=transport,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Response:
        """The answer to a GET (2xx or 304), after at most `retries` waits on 429/503/5xx; SourceError otherwise."""
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        attempt = 0
        while True:
            try:
                return await self.politeness.run(url, lambda: self._once(url, params, headers))
            except SourceError as exc:
                retryable = exc.kind in (ErrorKind.RATE_LIMITED, ErrorKind.SERVER)
                if not retryable or attempt >= self.retries:
                    raise
                wait = exc.retry_after or self.politeness.delay_for(url) * (2**attempt)
                if wait > MAX_RETRY_WAIT:
                    raise
                attempt += 1
                self.politeness.push_back(url, wait)

    async def _once(self, url: str, params: Mapping[str, str] | None, headers: dict[str, str]) -> Response:
        answered = False  # headers received: a broken connection after this is a truncated body
        try:
            async with self._client.stream("GET", url, params=params, headers=headers) as reply:
                answered = True
                status = reply.status_code
                if status in (429, 503):
                    wait = retry_after_seconds(reply.headers.get("Retry-After"), datetime.now(UTC).timestamp())
                    after = f", Retry-After {wait:.0f} s" if wait else ""
                    raise SourceError(
                        ErrorKind.RATE_LIMITED,
                        f"HTTP {status} from {urlsplit(url).hostname}{after}",
                        status=status,
                        retry_after=wait,
                    )
                if status >= 500:
                    raise SourceError(ErrorKind.SERVER, f"HTTP {status} from {urlsplit(url).hostname}", status=status)
                declared = reply.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise SourceError(ErrorKind.TOO_LARGE, f"body of {int(declared):,} bytes, over {self.max_bytes:,}")
                chunks: list[bytes] = []
                size = 0
                async for chunk in reply.aiter_raw():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise SourceError(ErrorKind.TOO_LARGE, f"body over {self.max_bytes:,} bytes")
                    chunks.append(chunk)
                body = b"".join(chunks)
                encoding = reply.headers.get("Content-Encoding", "identity")
                if encoding.lower() != "identity":
                    body = _decode(encoding, body, self.max_bytes)
                if 400 <= status < 500 and status != 400:
                    raise SourceError(ErrorKind.CLIENT, f"HTTP {status} from {urlsplit(url).hostname}", status=status)
                return Response(status, body, dict(reply.headers), str(reply.url))
        except SourceError:
            raise
        except httpx.TimeoutException as exc:
            raise SourceError(ErrorKind.TIMEOUT, f"no answer from {urlsplit(url).hostname} in time") from exc
        except httpx.RemoteProtocolError as exc:
            if not answered:
                raise SourceError(ErrorKind.REFUSED, f"{urlsplit(url).hostname} dropped the connection") from exc
            raise SourceError(ErrorKind.TRUNCATED, f"connection closed mid-answer ({exc})") from exc
        except (httpx.ConnectError, httpx.ReadError, httpx.WriteError) as exc:
            raise SourceError(ErrorKind.REFUSED, f"cannot reach {urlsplit(url).hostname}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise SourceError(ErrorKind.REFUSED, f"{type(exc).__name__}: {exc}") from exc


def _decode(encoding: str, raw: bytes, cap: int) -> bytes:
    """A gzip/deflate body decoded, refusing a decompression bomb past `cap` bytes."""
    encoding = encoding.lower().strip()
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise SourceError(ErrorKind.MALFORMED, f"unsupported Content-Encoding {encoding!r}")
    try:
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
        out = inflater.decompress(raw, cap + 1)
    except zlib.error as exc:
        raise SourceError(ErrorKind.MALFORMED, f"bad compressed body: {exc}") from exc
    if len(out) > cap or inflater.unconsumed_tail:
        raise SourceError(ErrorKind.TOO_LARGE, f"decompressed body over {cap:,} bytes")
    return out
