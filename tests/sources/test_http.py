"""The polite client against faulty servers: every failure becomes a SourceError, nothing hangs."""

from __future__ import annotations

import itertools
import socket

import pytest

from bot.sources.http import ARXIV_MIN_DELAY, ErrorKind, Fetcher, Politeness, SourceError, retry_after_seconds
from tests.sources.conftest import Clock
from tests.sources.fakes import FakeSources


def fetcher(clock: Clock, *, timeout: float = 2.0, max_bytes: int = 200_000) -> Fetcher:
    politeness = Politeness(0.0, clock=clock.monotonic, sleep=clock.sleep)
    return Fetcher(
        politeness, user_agent="paper-digest-bot/0.1 (+https://example.org/bot)", timeout=timeout, max_bytes=max_bytes
    )


async def test_politeness_spaces_arxiv_requests_at_least_three_seconds(clock: Clock) -> None:
    polite = Politeness(0.0, clock=clock.monotonic, sleep=clock.sleep)
    starts: list[float] = []

    async def request():  # type: ignore[no-untyped-def]
        starts.append(clock.mono)
        clock.mono += 0.5  # the request itself takes half a second

    for url in ["https://export.arxiv.org/api/query", "https://rss.arxiv.org/atom/cs.CL", "https://arxiv.org/abs/1"]:
        await polite.run(url, request)
    # One lane for every arxiv.org host, each request >= 3 s after the previous one ended.
    assert [b - (a + 0.5) for a, b in itertools.pairwise(starts)] == [ARXIV_MIN_DELAY] * 2
    assert polite.delay_for("https://export.arxiv.org/api/query") == ARXIV_MIN_DELAY
    assert polite.delay_for("http://127.0.0.1:9999/api/query") == 0.0


async def test_lower_delay_applies_to_other_hosts_only(clock: Clock) -> None:
    polite = Politeness(0.5, clock=clock.monotonic, sleep=clock.sleep)
    starts: list[float] = []

    async def request():  # type: ignore[no-untyped-def]
        starts.append(clock.mono)

    await polite.run("http://127.0.0.1:1/a", request)
    await polite.run("http://127.0.0.1:1/b", request)
    assert starts[1] - starts[0] == 0.5
    assert Politeness(10.0).delay_for("https://export.arxiv.org/api/query") == 10.0


async def test_user_agent_names_the_bot_and_a_contact(fake: tuple[FakeSources, str], clock: Clock) -> None:
    server, url = fake
    client = fetcher(clock)
    try:
        reply = await client.get(f"{url}/hf/api/daily_papers")
    finally:
        await client.close()
    assert reply.status == 200
    assert server.requests[0][2]["User-Agent"] == "paper-digest-bot/0.1 (+https://example.org/bot)"


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("timeout", ErrorKind.TIMEOUT),
        ("429-long", ErrorKind.RATE_LIMITED),
        ("500", ErrorKind.SERVER),
        ("truncated", ErrorKind.TRUNCATED),
        ("huge", ErrorKind.TOO_LARGE),
        ("reset", ErrorKind.REFUSED),
    ],
)
async def test_faults_become_source_errors(
    fake: tuple[FakeSources, str], clock: Clock, fault: str, kind: ErrorKind
) -> None:
    server, url = fake
    server.fault = fault
    client = fetcher(clock, timeout=0.3)
    try:
        with pytest.raises(SourceError) as caught:
            await client.get(f"{url}/atom/cs.CL")
    finally:
        await client.close()
    assert caught.value.kind is kind


async def test_refused_connection(clock: Clock) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    client = fetcher(clock)
    try:
        with pytest.raises(SourceError) as caught:
            await client.get(f"http://127.0.0.1:{port}/atom/cs.CL")
    finally:
        await client.close()
    assert caught.value.kind is ErrorKind.REFUSED


@pytest.mark.parametrize("status", ["429", "503"])
async def test_retry_after_is_honoured_then_the_request_succeeds(
    fake: tuple[FakeSources, str], clock: Clock, status: str
) -> None:
    server, url = fake
    server.fault, server.fault_times, server.retry_after = status, 1, "7"
    client = fetcher(clock)
    before = clock.mono
    try:
        reply = await client.get(f"{url}/atom/cs.CL")
    finally:
        await client.close()
    assert reply.status == 200
    assert len(server.requests) == 2
    assert clock.mono - before >= 7  # waited what the server asked (on the injected clock)


async def test_server_errors_are_retried_a_bounded_number_of_times(fake: tuple[FakeSources, str], clock: Clock) -> None:
    server, url = fake
    server.fault = "500"
    client = fetcher(clock)
    try:
        with pytest.raises(SourceError):
            await client.get(f"{url}/atom/cs.CL")
    finally:
        await client.close()
    assert len(server.requests) == 3


def test_retry_after_header_forms() -> None:
    assert retry_after_seconds("120", 0) == 120
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0 - 60) == 60
    assert retry_after_seconds("soon", 0) == 0
    assert retry_after_seconds(None, 0) == 0
