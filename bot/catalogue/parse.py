"""Seed-file parsing: turns the catalogue's Markdown files into `SeedEntry`s and `Reject`s.

Two formats exist and a file may mix them block by block:

* heading format: a `#`/`##` English title, then a `[中文标题](arXiv URL)` line, then the Chinese
  abstract (one or more paragraphs, up to the next heading or table); no date, no topics;
* table format: a `| 日期 | 標題 | 摘要 | 主題 |` header (any column order, simplified or traditional
  or English column names), an optional `|:---|` separator, then one row per paper with
  `[English title](arXiv URL)` in 標題, a date such as `2024年4月30日`, and topics separated by
  `，` `,` or `、`.

Parsing never raises on bad input: every skipped entry or file becomes a `Reject` whose reason an
operator can act on. Text is kept verbatim (HTML, SQL, emoji included) because escaping is the
renderer's job; only invisible characters are removed and absurd field lengths are refused.

Decisions worth knowing:

* a non-empty date cell that is not a valid date rejects the row (a corrupted cell says the row cannot
  be trusted), while an empty date cell keeps the row without a date, like the heading format;
* a row with an empty topic cell is kept, with no topics;
* `<br>` in a table's abstract cell is the Markdown way to break a line inside a cell, so it becomes
  a newline;
* rows of a table whose header is not recognised are each rejected, so nothing vanishes silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bot.catalogue.model import Reject, SeedEntry
from bot.text.arxiv import looks_like_arxiv_link, parse_arxiv_id
from bot.text.normalize import fold_cached, strip_invisible

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_ABSTRACT_CHARS",
    "MAX_TITLE_CHARS",
    "MAX_TOPICS",
    "MAX_TOPIC_CHARS",
    "ParseResult",
    "iter_parse_lines",
    "parse_file",
    "parse_text",
]

DEFAULT_MAX_BYTES = 20_000_000
# Real titles stay under 300 characters and abstracts under 3,000; these caps only stop garbage
# (a whole file glued into one cell) from reaching the database and the chats.
MAX_TITLE_CHARS = 1_000
MAX_ABSTRACT_CHARS = 20_000
MAX_TOPIC_CHARS = 100
MAX_TOPICS = 20
# Longest link ("[title](url)") worth matching: a title at its cap plus a generous URL. Checking the
# length first keeps the link regex linear on hostile lines full of "](".
_MAX_LINK_CHARS = MAX_TITLE_CHARS + 3_000

_HEADING = re.compile(r"#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?")
# Greedy text so a title containing `]` still finds the last `](`; an optional "link title" is allowed.
_LINK = re.compile(r"\[(?P<text>.*)\]\(\s*<?(?P<url>[^\s<>]*?)>?(?:\s+\"[^\"]*\")?\s*\)")
_EMPHASIS = re.compile(r"\*\*(?P<stars>[^*]+)\*\*|__(?P<unders>[^_]+)__")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_SEPARATOR_CELL = re.compile(r":?-+:?")
_DATE_ZH = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?")
_DATE_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_TOPIC_SPLIT = re.compile(r"[，,、]")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)

# Folded column names (simplified, lower case) -> the field they hold.
_COLUMNS = {
    "日期": "date",
    "date": "date",
    "标题": "title",
    "title": "title",
    "摘要": "abstract",
    "abstract": "abstract",
    "主题": "topics",
    "topic": "topics",
    "topics": "topics",
}
_EXPECTED_HEADER = "| 日期 | 標題 | 摘要 | 主題 |"


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What one file or text yielded: the entries in file order and the rejects in file order."""

    entries: list[SeedEntry]
    rejects: list[Reject]


def parse_file(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ParseResult:
    """Parse one seed file; a file that cannot be read, decoded or is too large is one line-0 reject."""
    source = path.name
    try:
        if not path.is_file():
            return _whole_file(source, "not a regular file")
        size = path.stat().st_size
        if size > max_bytes:
            return _whole_file(source, f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
        with path.open("rb") as fh:
            # One byte more than allowed catches a file that grew after stat().
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        return _whole_file(source, f"cannot read file: {exc.strerror or exc}")
    if len(data) > max_bytes:
        return _whole_file(source, f"file is over the {max_bytes:,}-byte limit")
    if b"\x00" in data:
        return _whole_file(source, "binary file (contains NUL bytes); expected UTF-8 text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return _whole_file(
            source, f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at line {line}, byte {exc.start})"
        )
    return parse_text(text, source)


def parse_text(text: str, source: str) -> ParseResult:
    """Parse the content of one seed file; `source` names it in entries and rejects."""
    if "\x00" in text:
        return _whole_file(source, "binary content (contains NUL characters); expected text")
    text = text.removeprefix("\ufeff")
    if "\r" in text:  # Windows and old Mac line endings
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return _whole_file(source, "empty file")
    entries: list[SeedEntry] = []
    rejects: list[Reject] = []
    for item in iter_parse_lines(text.split("\n"), source):
        if isinstance(item, SeedEntry):
            entries.append(item)
        else:
            rejects.append(item)
    if not entries and not rejects:
        return _whole_file(
            source, f"no catalogue entries found (expected '# title' headings or a {_EXPECTED_HEADER} table)"
        )
    return ParseResult(entries, rejects)


def _whole_file(source: str, reason: str) -> ParseResult:
    return ParseResult([], [Reject(source, 0, reason)])


class _Heading:
    """A heading-format entry being read: its title line, link line and abstract paragraphs."""

    __slots__ = ("arxiv_id", "chars", "line", "paragraphs", "title_en", "title_zh")

    def __init__(self, line: int, title_en: str) -> None:
        self.line = line
        self.title_en = title_en
        self.title_zh = ""
        self.arxiv_id = ""
        self.paragraphs: list[list[str]] = []
        self.chars = 0  # abstract characters seen, kept or not


class _Table:
    """The table being read: its header line and column positions (None when the header was refused)."""

    __slots__ = ("columns", "line", "width")

    def __init__(self, line: int, columns: dict[str, int] | None, width: int) -> None:
        self.line = line
        self.columns = columns
        self.width = width


def iter_parse_lines(lines: Iterable[str], source: str) -> Iterator[SeedEntry | Reject]:
    """Entries and rejects in file order, from lines with or without their line endings.

    Streams: memory stays bounded by one entry, so a caller may pass an open text file.
    File-level checks (size, encoding, NUL bytes, emptiness) belong to `parse_file`/`parse_text`.
    """
    heading: _Heading | None = None  # the heading entry being read
    awaiting_link = False  # heading seen, its link line not yet
    table: _Table | None = None

    for lineno, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if not stripped:
            if heading is not None and not awaiting_link and heading.paragraphs and heading.paragraphs[-1]:
                heading.paragraphs.append([])
            table = None  # a blank line ends a Markdown table
            continue
        first = stripped[0]

        if first == "#":
            match = _HEADING.fullmatch(stripped)
            if match is not None:
                if heading is not None:
                    yield _finish_heading(heading, awaiting_link, source)
                table = None
                heading = _Heading(lineno, _clean_title(match.group(1) or ""))
                awaiting_link = True
                continue

        if first == "|":
            if heading is not None:
                yield _finish_heading(heading, awaiting_link, source)
                heading = None
            cells = _split_row(stripped)
            if table is None:
                table = _start_table(cells, lineno)
                if table.columns is None:
                    yield Reject(
                        source,
                        lineno,
                        f"table header not recognised: expected {_EXPECTED_HEADER}, found "
                        f"{_preview(' | '.join(cells))!r}",
                    )
                continue
            if all(_SEPARATOR_CELL.fullmatch(c) for c in cells):
                continue
            if table.columns is None:
                yield Reject(source, lineno, f"row of a table whose header (line {table.line}) was rejected")
                continue
            yield _parse_row(cells, table, source, lineno)
            continue

        # Any other line: a link line, abstract text, or prose outside every entry (ignored: a file may
        # have an introduction, and the lines of a rejected heading block must not leak anywhere).
        table = None
        if heading is None:
            continue
        if awaiting_link:
            link = _parse_heading_link(stripped)
            if isinstance(link, str):
                yield Reject(source, lineno, link)
                heading = None
                continue
            heading.title_zh, heading.arxiv_id = link
            awaiting_link = False
            heading.paragraphs.append([])
        else:
            heading.chars += len(stripped)
            # Past the cap the entry is rejected anyway: stop keeping lines so memory stays bounded.
            if heading.chars <= MAX_ABSTRACT_CHARS:
                heading.paragraphs[-1].append(stripped)

    if heading is not None:
        yield _finish_heading(heading, awaiting_link, source)


def _finish_heading(heading: _Heading, awaiting_link: bool, source: str) -> SeedEntry | Reject:
    if awaiting_link:
        return Reject(source, heading.line, "heading has no [中文标题](arXiv URL) link line after it")
    if heading.chars > MAX_ABSTRACT_CHARS:
        return Reject(source, heading.line, f"abstract is {heading.chars:,} characters, over {MAX_ABSTRACT_CHARS:,}")
    abstract = "\n\n".join("\n".join(p) for p in heading.paragraphs if p)
    return _entry(
        source,
        heading.line,
        heading.arxiv_id,
        heading.title_en,
        heading.title_zh,
        strip_invisible(abstract).strip(),
        None,
        (),
        chinese_title_required=True,
    )


def _parse_heading_link(line: str) -> tuple[str, str] | str:
    """(Chinese title, arXiv ID) of a heading's link line, or the reason it is refused."""
    if len(line) > _MAX_LINK_CHARS:
        return f"link line is {len(line):,} characters long, over {_MAX_LINK_CHARS:,}"
    match = _LINK.fullmatch(line)
    if match is None:
        return f"expected a [中文标题](arXiv URL) line after the heading, found {_preview(line)!r}"
    arxiv_id, problem = _link_id(match.group("url"))
    if arxiv_id is None:
        return problem
    return _clean_title(match.group("text")), arxiv_id


def _link_id(url: str) -> tuple[str | None, str]:
    """(canonical arXiv ID, "") for an arXiv link, else (None, the reason the link is refused)."""
    arxiv_id = parse_arxiv_id(url)
    if arxiv_id is not None:
        return arxiv_id, ""
    if not url:
        return None, "link has no URL"
    if looks_like_arxiv_link(url):
        return None, f"arXiv link has no valid arXiv ID: {_preview(url)!r}"
    return None, f"link is not an arXiv link: {_preview(url)!r}"


def _split_row(stripped: str) -> list[str]:
    body = stripped[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    if "\\|" not in body:
        return [cell.strip() for cell in body.split("|")]
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT.split(body)]


def _start_table(cells: list[str], lineno: int) -> _Table:
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        field = _COLUMNS.get(fold_cached(cell))
        if field is None or field in columns:
            return _Table(lineno, None, len(cells))
        columns[field] = index
    if len(columns) != len(set(_COLUMNS.values())):
        return _Table(lineno, None, len(cells))
    return _Table(lineno, columns, len(cells))


def _parse_row(cells: list[str], table: _Table, source: str, lineno: int) -> SeedEntry | Reject:
    if len(cells) != table.width:
        return Reject(source, lineno, f"table row has {len(cells)} cells, expected {table.width}")
    columns = table.columns
    assert columns is not None  # rows of a refused table never get here

    title_cell = cells[columns["title"]]
    if len(title_cell) > _MAX_LINK_CHARS:
        return Reject(source, lineno, f"title cell is {len(title_cell):,} characters long, over {_MAX_LINK_CHARS:,}")
    match = _LINK.fullmatch(title_cell)
    if match is None:
        if not title_cell:
            return Reject(source, lineno, "empty title cell")
        return Reject(source, lineno, f"title cell is not a [title](arXiv URL) link: {_preview(title_cell)!r}")
    arxiv_id, problem = _link_id(match.group("url"))
    if arxiv_id is None:
        return Reject(source, lineno, problem)

    published: date | None = None
    date_cell = cells[columns["date"]]
    if date_cell:
        parsed = _parse_date(date_cell)
        if parsed is None:
            return Reject(source, lineno, f"unparseable date {_preview(date_cell)!r}")
        published = parsed

    topics: list[str] = []
    for raw in _TOPIC_SPLIT.split(cells[columns["topics"]]):
        name = strip_invisible(raw).strip()
        if not name or name in topics:
            continue
        if len(name) > MAX_TOPIC_CHARS:
            return Reject(source, lineno, f"topic name is {len(name):,} characters, over {MAX_TOPIC_CHARS}")
        topics.append(name)
    if len(topics) > MAX_TOPICS:
        return Reject(source, lineno, f"row has {len(topics)} topics, over {MAX_TOPICS}")

    abstract = cells[columns["abstract"]]
    if "<" in abstract:
        abstract = _BR.sub("\n", abstract)
    return _entry(
        source,
        lineno,
        arxiv_id,
        _clean_title(match.group("text")),
        "",
        strip_invisible(abstract).strip(),
        published,
        tuple(topics),
        chinese_title_required=False,
    )


def _entry(
    source: str,
    line: int,
    arxiv_id: str,
    title_en: str,
    title_zh: str,
    abstract_zh: str,
    published: date | None,
    topics: tuple[str, ...],
    *,
    chinese_title_required: bool,
) -> SeedEntry | Reject:
    if not title_en:
        return Reject(source, line, "empty English title")
    if len(title_en) > MAX_TITLE_CHARS:
        return Reject(source, line, f"English title is {len(title_en):,} characters, over {MAX_TITLE_CHARS:,}")
    if chinese_title_required and not title_zh:
        return Reject(source, line, "empty Chinese title in the link line")
    if len(title_zh) > MAX_TITLE_CHARS:
        return Reject(source, line, f"Chinese title is {len(title_zh):,} characters, over {MAX_TITLE_CHARS:,}")
    if not abstract_zh:
        return Reject(source, line, "empty abstract")
    if len(abstract_zh) > MAX_ABSTRACT_CHARS:
        return Reject(source, line, f"abstract is {len(abstract_zh):,} characters, over {MAX_ABSTRACT_CHARS:,}")
    return SeedEntry(source, line, arxiv_id, title_en, title_zh, abstract_zh, published, topics)


def _clean_title(text: str) -> str:
    text = strip_invisible(text).strip()
    # A whole title in bold or italics is formatting, not part of the title.
    match = _EMPHASIS.fullmatch(text)
    if match is not None:
        text = (match.group("stars") or match.group("unders")).strip()
    return text


def _parse_date(cell: str) -> date | None:
    match = _DATE_ZH.fullmatch(cell) or _DATE_ISO.fullmatch(cell)
    if match is None:
        return None
    year, month, day = (int(g) for g in match.groups())
    # arXiv started in 1991; a year far outside its life is a typo, not a date.
    if not 1991 <= year <= 2100:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _preview(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
