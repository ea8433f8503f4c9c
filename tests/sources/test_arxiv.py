"""Parsing arXiv's real answers (recorded fixtures) and refusing unsafe or broken XML."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.sources.arxiv import AnnounceType, clean_text, parse_api, parse_listing
from bot.sources.http import ErrorKind, SourceError
from tests.sources.fakes import BOMB

FIXTURES = Path(__file__).parent / "fixtures"


def test_api_single_entry() -> None:
    result = parse_api((FIXTURES / "api_2104.12255v1.xml").read_bytes())
    (record,) = result.records
    assert (record.arxiv_id, record.version, record.title) == ("2104.12255", 1, "0")
    assert record.abstract.startswith("What is the funniest number in cryptography? 0.")
    assert record.authors == ("Quan Thoi Minh Nguyen",)
    assert record.categories == ("cs.CR",)
    assert record.published == date(2021, 4, 20)
    assert result.total == 1


def test_api_two_ids_one_unknown() -> None:
    result = parse_api((FIXTURES / "api_two_ids.xml").read_bytes())
    assert [r.arxiv_id for r in result.records] == ["1707.08567"]
    assert len(result.records[0].authors) > 20
    assert result.records[0].categories[0] == "cs.IT"


def test_api_unknown_id_is_an_empty_feed() -> None:
    result = parse_api((FIXTURES / "api_unknown_0000.0000.xml").read_bytes())
    assert (result.records, result.total) == ([], 0)


def test_api_error_feed_is_a_client_error() -> None:
    with pytest.raises(SourceError) as caught:
        parse_api((FIXTURES / "api_error_abc.xml").read_bytes(), 400)
    assert caught.value.kind is ErrorKind.CLIENT
    assert caught.value.status == 400
    assert "incorrect id format for abc" in caught.value.message


def test_listing_entries() -> None:
    records = parse_listing((FIXTURES / "listing_cs.AI.xml").read_bytes())
    assert [r.arxiv_id for r in records][:2] == ["2508.13426", "2508.13428"]
    first = records[0]
    assert first.announce is AnnounceType.CROSS
    assert first.categories == ("cs.CL", "cs.AI")
    assert first.authors == ("Chunhua Liu", "Kabir Manandhar Shrestha", "Sukai Huang")
    assert first.abstract.startswith("As large language models (LLMs) increasingly mediate")
    assert "Announce Type" not in first.abstract
    assert first.published == date(2025, 8, 20)
    assert {r.announce for r in records} == {AnnounceType.CROSS, AnnounceType.NEW}
    assert "Paulo André Lima de Castro" in records[2].authors  # Andr\'e made a letter


def test_clean_text_folds_line_breaks_and_keeps_latex_readable() -> None:
    assert clean_text("A  title\n  over two\tlines") == "A title over two lines"
    assert clean_text('$1.13\\times$ faster, G\\"odel') == "$1.13\\times$ faster, Gödel"


@pytest.mark.parametrize(
    "body",
    [BOMB, b"<feed xmlns='http://www.w3.org/2005/Atom'><entry>", b"not xml at all", b"<html><body>503</body></html>"],
)
def test_unsafe_or_broken_xml_is_refused(body: bytes) -> None:
    with pytest.raises(SourceError) as caught:
        parse_listing(body)
    assert caught.value.kind is ErrorKind.MALFORMED


def test_external_entity_is_refused() -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY x SYSTEM "file:///etc/passwd">]><feed>&x;</feed>'
    with pytest.raises(SourceError) as caught:
        parse_api(body)
    assert "unsafe" in caught.value.message
