"""Loading seed files into the catalogue: parse, merge, tag by rules, write in one transaction."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.catalogue.merge import merge
from bot.catalogue.model import Reject, SeedEntry
from bot.catalogue.parse import parse_file
from bot.catalogue.topics import Taxonomy
from bot.storage.papers import CatalogueWriter

Progress = Callable[[str], None]
_NOT_SEEDS = {"readme.md", "readme", "readme.txt"}


@dataclass
class IngestReport:
    """What one ingest read, changed and rejected."""

    files: list[str] = field(default_factory=list)
    entries: int = 0
    papers: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates_merged: int = 0
    rule_tagged: int = 0
    unknown_topics: dict[str, int] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)

    def format(self) -> str:
        """The report printed by `python -m bot ingest`."""
        lines = [
            f"files read: {len(self.files)} ({', '.join(self.files) or 'none'})",
            f"entries: {self.entries}, distinct papers: {self.papers}, duplicates merged: {self.duplicates_merged}",
            f"papers new: {self.new}, updated: {self.updated}, unchanged: {self.unchanged}",
            f"papers tagged by topic rules: {self.rule_tagged}",
            *(
                [f"topics not in config/topics.toml (kept as written): {self.unknown_topics}"]
                if self.unknown_topics
                else []
            ),
            f"rejected: {len(self.rejects)}",
        ]
        lines.extend(f"  {reject}" for reject in self.rejects)
        return "\n".join(lines)


def seed_files(paths: Iterable[Path]) -> list[Path]:
    """The files to read: the given files, and every file directly inside given directories."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.iterdir())
                if p.is_file() and not p.name.startswith(".") and p.name.lower() not in _NOT_SEEDS
            )
        else:
            found.append(path)
    return found


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes ("" when unreadable, so it never matches a recorded hash)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()


def needs_ingest(conn: sqlite3.Connection, paths: Sequence[Path]) -> bool:
    """True when a seed file is new or changed since the last successful ingest."""
    recorded = CatalogueWriter(conn).seed_hashes()
    return any(recorded.get(str(path)) != file_hash(path) for path in seed_files(paths))


def ingest(
    conn: sqlite3.Connection,
    paths: Sequence[Path],
    taxonomy: Taxonomy,
    *,
    progress: Progress | None = None,
) -> IngestReport:
    """Read seed files and upsert their papers. Bad entries and files are reported and skipped.

    Every write happens in one transaction: an exception leaves the previous catalogue intact.
    """
    say = progress or (lambda _message: None)
    report = IngestReport()
    entries: list[SeedEntry] = []
    hashes: dict[str, str] = {}
    files = seed_files(paths)
    if not files:
        report.rejects.append(Reject(", ".join(map(str, paths)) or "(none)", 0, "no seed files found"))
    for path in files:
        say(f"reading {path} ...")
        if not path.exists():
            report.rejects.append(Reject(str(path), 0, "file not found"))
            continue
        result = parse_file(path)
        entries.extend(result.entries)
        report.rejects.extend(result.rejects)
        report.files.append(path.name)
        hashes[str(path)] = file_hash(path)
        say(f"  {len(result.entries)} entries, {len(result.rejects)} rejected")
    report.entries = len(entries)
    say(f"merging {len(entries)} entries ...")
    merged = merge(entries)
    # Topic names written in another script or as an alias are stored under the canonical name.
    canonical, unknown_topics = taxonomy.canonicalize(merged.papers)
    report.unknown_topics = unknown_topics
    untagged = sum(1 for paper in canonical if not paper.topics)
    papers = taxonomy.apply_rules(canonical)
    report.rule_tagged = untagged - sum(1 for paper in papers if not paper.topics)
    report.papers = len(papers)
    report.duplicates_merged = merged.duplicates_merged
    say(f"writing {len(papers)} papers ...")
    counts = CatalogueWriter(conn).write(papers, [topic.name for topic in taxonomy.topics], hashes)
    report.new, report.updated, report.unchanged = counts.new, counts.updated, counts.unchanged
    return report
