"""Seed-file parsing: turns the catalogue's Markdown files into `SeedEntry`s and `Reject`s.

Two formats exist and a file may mix them block by block:

* heading format: a `#`/`##` English title, then a `[中文标题](arXiv URL)` line, then the Chinese
  abstract (one or more paragraphs, up to the next heading or table); no date, no topics;
* table format: a `| 日期 | 標題 | 摘要 | 主題 |` header (any column order, simplified or traditional
  or English column names, and the other words maintainers use for them: 發布日期, Paper, 簡介,
  TL;DR, 標籤, Tags …), an optional `|:---|` separator, then one row per paper with
  `[English title](arXiv URL)` in 標題, a date such as `2024年4月30日` (or 2024-04-30, Apr 30, 2024,
  4月30日 …), and topics separated by `，` `,` `、` `;` `/` or written as `#hashtags`. Date and topic
  columns are optional. When the header words are unknown (or there is no header), each column is
  inferred from its content: the cell linking to arXiv, the date cell, the long text, the short
  word lists.

Parsing never raises on bad input: every skipped entry or file becomes a `Reject` whose reason an
operator can act on. Text is kept verbatim (HTML, SQL, emoji included) because escaping is the
renderer's job; only invisible characters are removed and absurd field lengths are refused.

Decisions worth knowing:

* a non-empty date cell that is not a valid date rejects the row (a corrupted cell says the row cannot
  be trusted), while an empty date cell keeps the row without a date, like the heading format;
* a row with an empty topic cell is kept, with no topics;
* `<br>` in a table's abstract cell is the Markdown way to break a line inside a cell, so it becomes
  a newline;
* a title cell with several links (`[Title](abs) [[code](github)]`) takes the arXiv link's ID and the
  first link text that names the paper; a row linking only to a blog or GitHub is rejected with
  `non_arxiv` set, so reports count such rows instead of losing them silently;
* rows of a table whose columns can be neither named nor inferred are each rejected, so nothing
  vanishes silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bot.catalogue.model import Reject, SeedEntry
from bot.text.arxiv import looks_like_arxiv_link, month_of, parse_arxiv_id
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
# Every link of a cell holding several (`[Title](abs) [[code](github)]`): text with one level of nested
# brackets, a URL that may hold balanced parentheses.
_LINKS = re.compile(
    r"\[(?P<text>(?:[^\[\]]|\[[^\[\]]*\])*)\]"
    r"\(\s*<?(?P<url>[^\s<>()]*(?:\([^\s<>()]*\)[^\s<>()]*)*)>?(?:\s+\"[^\"]*\")?\s*\)"
)
_BARE_URL = re.compile(r"https?://[^\s<>()\[\]|]+", re.IGNORECASE)
_ARXIV_REF = re.compile(r"\barxiv:\s*\S+", re.IGNORECASE)
_EMPHASIS = re.compile(r"\*\*(?P<stars>[^*]+)\*\*|__(?P<unders>[^_]+)__")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_SEPARATOR_CELL = re.compile(r":?-+:?")
_DATE_ZH = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号號]?")
_DATE_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?\S*)?")
_DATE_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_DATE_US = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_DATE_EN_MDY = re.compile(r"([a-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})", re.IGNORECASE)
_DATE_EN_DMY = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]{3,9})\.?,?\s+(\d{4})", re.IGNORECASE)
_DATE_NO_YEAR = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号號]?")
_MONTH_NAMES = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_MONTHS = {
    **{name: number for number, name in enumerate(_MONTH_NAMES, 1)},
    **{
        name: number
        for number, name in enumerate(
            [
                "january",
                "february",
                "march",
                "april",
                "may",
                "june",
                "july",
                "august",
                "september",
                "october",
                "november",
                "december",
            ],
            1,
        )
    },
    "sept": 9,
}
_TOPIC_SPLIT = re.compile(r"[，,、;；/｜|·•]|<br\s*/?>", re.IGNORECASE)
_TOPIC_TRIM = "#`*_[]【】()（）「」 \t"
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)

# Header words (folded: simplified script, lower case, no spaces or emphasis) -> the field they name.
# Maintainers rename columns from month to month; these are the words such lists use.
_COLUMNS = {
    **dict.fromkeys(
        [
            "日期",
            "date",
            "发布日期",
            "发表日期",
            "提交日期",
            "更新日期",
            "发布时间",
            "时间",
            "published",
            "publishdate",
            "pubdate",
            "publicationdate",
            "day",
            "time",
            "submitted",
        ],
        "date",
    ),
    **dict.fromkeys(
        [
            "标题",
            "title",
            "题目",
            "论文",
            "论文标题",
            "论文名称",
            "文章",
            "名称",
            "paper",
            "papers",
            "papertitle",
            "name",
            "英文标题",
        ],
        "title",
    ),
    **dict.fromkeys(
        [
            "摘要",
            "abstract",
            "简介",
            "概要",
            "内容",
            "总结",
            "中文摘要",
            "摘要翻译",
            "summary",
            "tl;dr",
            "tldr",
            "description",
            "说明",
            "介绍",
            "概述",
            "内容简介",
        ],
        "abstract",
    ),
    **dict.fromkeys(
        [
            "主题",
            "topic",
            "topics",
            "标签",
            "分类",
            "类别",
            "关键词",
            "关键字",
            "领域",
            "方向",
            "tag",
            "tags",
            "category",
            "categories",
            "keywords",
            "keyword",
            "field",
            "area",
            "areas",
            "label",
            "labels",
        ],
        "topics",
    ),
    **dict.fromkeys(["链接", "link", "links", "arxiv", "url", "pdf", "地址", "论文链接", "paperlink"], "link"),
}
# Words a header cell may contain when it is not exactly one of the above ("论文标题（英文）").
_COLUMN_HINTS = tuple(
    (word, name)
    for name, words in [
        ("abstract", "摘要 summary abstract"),
        ("title", "标题 title 论文 paper"),
        ("date", "日期 date"),
        ("topics", "主题 标签 tag topic"),
        ("link", "链接 link url"),
    ]
    for word in words.split()
)
_REQUIRED = ("title", "abstract")
# Link texts that name the kind of link rather than the paper.
_GENERIC_LINK_TEXT = set(
    [
        "pdf",
        "arxiv",
        "abs",
        "html",
        "paper",
        "code",
        "github",
        "project",
        "projectpage",
        "page",
        "homepage",
        "website",
        "blog",
        "link",
        "demo",
        "data",
        "dataset",
        "model",
        "models",
        "huggingface",
        "hf",
        "video",
        "slides",
        "论文",
        "代码",
        "项目",
        "主页",
        "链接",
        "项目主页",
        "原文",
        "全文",
    ]
)
_EXPECTED_HEADER = "| 日期 | 標題 | 摘要 | 主題 |"
# Rows of a table whose header words are unknown are kept until the table ends, to infer its columns.
_MAX_PENDING_ROWS = 50_000


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
    """The table being read: its header line, column positions (None while unknown) and, for a header
    whose words are unknown, the rows kept until the table ends so their content tells the columns."""

    __slots__ = ("columns", "header", "line", "pending", "width")

    def __init__(self, line: int, columns: dict[str, int] | None, width: int, header: list[str]) -> None:
        self.line = line
        self.columns = columns
        self.width = width
        self.header = header
        self.pending: list[tuple[int, list[str]]] = []


def iter_parse_lines(lines: Iterable[str], source: str) -> Iterator[SeedEntry | Reject]:
    """Entries and rejects in file order, from lines with or without their line endings.

    Streams: memory stays bounded by one entry (or by one table whose header words are unknown, kept
    until it ends so its columns can be inferred), so a caller may pass an open text file.
    File-level checks (size, encoding, NUL bytes, emptiness) belong to `parse_file`/`parse_text`.
    """
    heading: _Heading | None = None  # the heading entry being read
    awaiting_link = False  # heading seen, its link line not yet
    table: _Table | None = None

    for lineno, raw in enumerate(lines, 1):
        if "\ufeff" in raw:  # a BOM left inside by concatenating files
            raw = raw.replace("\ufeff", "")
        stripped = raw.strip()
        if not stripped:
            if heading is not None and not awaiting_link and heading.paragraphs and heading.paragraphs[-1]:
                heading.paragraphs.append([])
            if table is not None:  # a blank line ends a Markdown table
                yield from _end_table(table, source)
                table = None
            continue
        first = stripped[0]

        if first == "#":
            match = _HEADING.fullmatch(stripped)
            if match is not None:
                if heading is not None:
                    yield _finish_heading(heading, awaiting_link, source)
                if table is not None:
                    yield from _end_table(table, source)
                    table = None
                heading = _Heading(lineno, _clean_title(match.group(1) or ""))
                awaiting_link = True
                continue

        if first == "|":
            if heading is not None:
                # A heading right above a table is the table's section title ("# 2024年5月"), not a paper.
                if not (awaiting_link and table is None):
                    yield _finish_heading(heading, awaiting_link, source)
                heading = None
            cells = _split_row(stripped)
            if table is None:
                table = _start_table(cells, lineno)
                continue
            if all(_SEPARATOR_CELL.fullmatch(c) for c in cells):
                continue
            if table.columns is None:
                if len(table.pending) < _MAX_PENDING_ROWS:
                    table.pending.append((lineno, cells))
                else:
                    yield Reject(source, lineno, f"row of a table whose header (line {table.line}) was rejected")
                continue
            yield _parse_row(cells, table, source, lineno)
            continue

        # Any other line: a link line, abstract text, or prose outside every entry (ignored: a file may
        # have an introduction, and the lines of a rejected heading block must not leak anywhere).
        if table is not None:
            yield from _end_table(table, source)
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
    if table is not None:
        yield from _end_table(table, source)


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


def _header_field(cell: str) -> str | None:
    key = "".join(_clean_title(cell).strip("*_`:：").split())
    key = fold_cached(key)
    found = _COLUMNS.get(key)
    if found is not None:
        return found
    for hint, name in _COLUMN_HINTS:
        if hint in key:
            return name
    return None


def _start_table(cells: list[str], lineno: int) -> _Table:
    """A table from its first row: columns named by the header words, or left to infer from content."""
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = _header_field(cell)
        if name is not None and name not in columns:
            columns[name] = index
    table = _Table(lineno, None, len(cells), cells)
    if all(name in columns for name in _REQUIRED):
        table.columns = columns
    elif any(_row_arxiv_id(cell) for cell in cells):
        # No header at all: the first row is a paper already.
        table.pending.append((lineno, cells))
    return table


def _end_table(table: _Table, source: str) -> Iterator[SeedEntry | Reject]:
    """The rows of a table kept for inference, parsed with the inferred columns or each rejected."""
    if table.columns is not None:
        return
    rows = table.pending
    columns = _infer_columns([cells for _, cells in rows], table.width)
    headerless = bool(rows) and rows[0][0] == table.line
    if columns is None:
        yield Reject(
            source,
            table.line,
            f"table header not recognised: expected {_EXPECTED_HEADER}, found {_preview(' | '.join(table.header))!r}"
            " (and the columns could not be told from the rows)",
        )
        for lineno, _ in rows[1:] if headerless else rows:
            yield Reject(source, lineno, f"row of a table whose header (line {table.line}) was rejected")
        return
    table.columns = columns
    for lineno, cells in rows:
        yield _parse_row(cells, table, source, lineno)


def _row_arxiv_id(cell: str) -> str | None:
    """The arXiv ID a cell links to (a Markdown link, a bare URL or `arXiv:ID`), if any."""
    if "arxiv" not in cell.lower():
        return None
    for match in _LINKS.finditer(cell):
        found = parse_arxiv_id(match.group("url"))
        if found:
            return found
    for match in _BARE_URL.finditer(cell):
        found = parse_arxiv_id(match.group().rstrip(".,;，。"))
        if found:
            return found
    for match in _ARXIV_REF.finditer(cell):
        found = parse_arxiv_id(match.group().rstrip(".,;，。)）]"))
        if found:
            return found
    return None


def _infer_columns(rows: list[list[str]], width: int) -> dict[str, int] | None:
    """Columns told by their content: the link cell, the date cell, the long text, the short word lists."""
    rows = [cells for cells in rows if len(cells) == width]
    if not rows:
        return None

    def share(index: int, test: Callable[[str], bool]) -> float:
        values = [cells[index] for cells in rows if cells[index]]
        return sum(1 for v in values if test(v)) / len(values) if values else 0.0

    def mean_length(index: int) -> float:
        return sum(len(cells[index]) for cells in rows) / len(rows)

    free = list(range(width))
    links = {i: share(i, lambda v: _row_arxiv_id(v) is not None) for i in free}
    title = max(free, key=lambda i: links[i])
    if links[title] < 0.5:
        return None
    free.remove(title)
    columns = {"title": title}
    if free:
        dates = {i: share(i, lambda v: _parse_date(v) is not None) for i in free}
        best = max(free, key=lambda i: dates[i])
        if dates[best] >= 0.5:
            columns["date"] = best
            free.remove(best)
    text = [i for i in free if share(i, lambda v: "](" in v or v.isdigit()) < 0.5]
    if not text:
        return None
    abstract = max(text, key=mean_length)
    if mean_length(abstract) < 20:
        return None
    columns["abstract"] = abstract
    text.remove(abstract)
    short = [i for i in text if 0 < mean_length(i) <= 80]
    if short:
        columns["topics"] = max(short, key=lambda i: share(i, lambda v: _TOPIC_SPLIT.search(v) is not None))
    return columns


def _title_and_id(cells: list[str], columns: dict[str, int]) -> tuple[str, str] | str:
    """(English title, arXiv ID) of a table row, or the reason it is refused.

    The title cell is usually `[Title](arXiv URL)`; maintainers also write several links
    (`[Title](abs) [[code](github)]`, `**Title** [pdf](arXiv URL)`), a bare title with the link in a
    link column, or a title linking to a blog or GitHub (refused: not an arXiv paper).
    """
    cell = cells[columns["title"]]
    if len(cell) > _MAX_LINK_CHARS:
        return f"title cell is {len(cell):,} characters long, over {_MAX_LINK_CHARS:,}"
    single = _LINK.fullmatch(cell)
    if single is not None:
        arxiv_id = parse_arxiv_id(single.group("url"))
        if arxiv_id is not None:
            return _clean_title(single.group("text")), arxiv_id
    links = [(m.group("text"), m.group("url")) for m in _LINKS.finditer(cell)]
    if not links and single is not None:
        links = [(single.group("text"), single.group("url"))]
    arxiv_id = _row_arxiv_id(cell)
    if arxiv_id is None:
        # A link column, or any column the header did not name, may hold the arXiv link.
        named = {columns.get("date"), columns.get("abstract"), columns.get("topics"), columns["title"]}
        others = [columns["link"]] if "link" in columns else []
        others += [i for i in range(len(cells)) if i not in named and i not in others]
        arxiv_id = next((found for i in others if (found := _row_arxiv_id(cells[i]))), None)
    if arxiv_id is None:
        if links:
            return _link_id(links[0][1])[1]
        if not cell:
            return "empty title cell"
        return f"title cell is not a [title](arXiv URL) link: {_preview(cell)!r}"
    for text, _url in links:
        if not _generic_link_text(text):
            return _clean_title(text), arxiv_id
    # No link names the paper: the title is the cell's own text around the links.
    outside = _LINKS.sub(" ", cell)
    outside = _BARE_URL.sub(" ", outside)
    outside = _ARXIV_REF.sub(" ", outside)
    return _clean_title(" ".join(outside.strip(" []()|·-–—:：,，").split())), arxiv_id


def _generic_link_text(text: str) -> bool:
    key = fold_cached("".join(text.strip(" []()【】*_`📄🔗💻").split()))
    return not key or key in _GENERIC_LINK_TEXT or parse_arxiv_id(key) is not None or key.startswith("arxiv")


def _parse_row(cells: list[str], table: _Table, source: str, lineno: int) -> SeedEntry | Reject:
    columns = table.columns
    assert columns is not None  # rows of a refused table never get here
    if len(cells) != table.width:
        # A trailing empty cell (`| a | b | |`) or a missing empty one is the same row.
        while len(cells) > table.width and not cells[-1]:
            cells = cells[:-1]
        if len(cells) != table.width:
            return Reject(source, lineno, f"table row has {len(cells)} cells, expected {table.width}")

    found = _title_and_id(cells, columns)
    if isinstance(found, str):
        return Reject(source, lineno, found, non_arxiv=found.startswith("link is not an arXiv link"))
    title_en, arxiv_id = found

    published: date | None = None
    date_cell = cells[columns["date"]].strip("*_` ") if "date" in columns else ""
    if date_cell:
        parsed = _parse_date(date_cell, arxiv_id)
        if parsed is None:
            return Reject(source, lineno, f"unparseable date {_preview(date_cell)!r}")
        published = parsed

    topics: list[str] = []
    topic_cell = cells[columns["topics"]] if "topics" in columns else ""
    parts = _TOPIC_SPLIT.split(topic_cell)
    if len(parts) == 1 and topic_cell.count("#") > 1:  # "#量化 #PEFT"
        parts = topic_cell.split("#")
    for raw in parts:
        name = strip_invisible(raw).strip(_TOPIC_TRIM)
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
        title_en,
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


def _parse_date(cell: str, arxiv_id: str = "") -> date | None:
    """A date in any spelling these lists use; a date without a year takes it from the arXiv ID."""
    cell = cell.strip()
    year = month = day = 0
    if match := _DATE_ZH.fullmatch(cell) or _DATE_ISO.fullmatch(cell) or _DATE_COMPACT.fullmatch(cell):
        year, month, day = (int(g) for g in match.groups())
    elif match := _DATE_US.fullmatch(cell):
        first, second, year = (int(g) for g in match.groups())
        month, day = (first, second) if first <= 12 else (second, first)
    elif match := _DATE_EN_MDY.fullmatch(cell):
        month, day, year = _MONTHS.get(match.group(1).lower(), 0), int(match.group(2)), int(match.group(3))
    elif match := _DATE_EN_DMY.fullmatch(cell):
        day, month, year = int(match.group(1)), _MONTHS.get(match.group(2).lower(), 0), int(match.group(3))
    elif (match := _DATE_NO_YEAR.fullmatch(cell)) and arxiv_id:
        month, day = int(match.group(1)), int(match.group(2))
        submitted = month_of(arxiv_id)
        # Listed in the submission month or soon after it (a December paper in a January list).
        year = submitted.year + (1 if month < submitted.month else 0)
    else:
        return None
    # arXiv started in 1991; a year far outside its life is a typo, not a date.
    if not 1991 <= year <= 2100:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _preview(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
