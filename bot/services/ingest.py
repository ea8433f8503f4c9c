"""Loading seed files into the catalogue: parse, merge, tag by rules, write; file by file, in one transaction."""

from __future__ import annotations

import hashlib
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.catalogue.merge import merge
from bot.catalogue.model import Paper, Reject, SeedEntry
from bot.catalogue.names import Resolution
from bot.catalogue.parse import parse_file
from bot.catalogue.topics import Taxonomy
from bot.services.tagging import Settlement, settle_topics
from bot.storage.papers import WRITE_BATCH, CatalogueWriter

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
    topics: Settlement = field(default_factory=Settlement)

    def format(self) -> str:
        """The report printed by `python -m bot ingest`."""
        lines = [
            f"files read: {len(self.files)} ({', '.join(self.files) or 'none'})",
            f"entries: {self.entries}, distinct papers: {self.papers}, duplicates merged: {self.duplicates_merged}",
            f"papers new: {self.new}, updated: {self.updated}, unchanged: {self.unchanged}",
            f"papers tagged by topic rules: {self.rule_tagged}",
            *(
                [f"topic names not in config/topics.toml (papers per name): {self.unknown_topics}"]
                if self.unknown_topics
                else []
            ),
            *self.topics.lines(),
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

    Streaming: one file at a time is parsed, merged and written (in batches of WRITE_BATCH), so
    memory holds one file (at most 20 MB), not the whole input. A paper listed in several files is
    merged from all of its entries once every file is read (its first file is read again). Every
    write happens in one transaction: an exception leaves the previous catalogue intact.
    """
    say = progress or (lambda _message: None)
    report = IngestReport()
    hashes: dict[str, str] = {}
    unknown: Counter[str] = Counter()
    variants: dict[str, tuple[Resolution, list[str]]] = {}
    files = seed_files(paths)
    if not files:
        report.rejects.append(Reject(", ".join(map(str, paths)) or "(none)", 0, "no seed files found"))
    # A paper also listed in an earlier file: the index of that file, and its entries from later ones.
    first_file: dict[str, int] = {}
    later: dict[str, list[SeedEntry]] = {}
    with CatalogueWriter(conn).run() as run:
        for index, path in enumerate(files):
            say(f"reading {path} ...")
            if not path.exists():
                report.rejects.append(Reject(str(path), 0, "file not found"))
                continue
            result = parse_file(path)
            report.rejects.extend(result.rejects)
            report.files.append(path.name)
            hashes[str(path)] = file_hash(path)
            report.entries += len(result.entries)
            earlier = run.written({entry.arxiv_id for entry in result.entries})
            fresh: list[SeedEntry] = []
            for entry in result.entries:
                if entry.arxiv_id in earlier:
                    first_file[entry.arxiv_id] = earlier[entry.arxiv_id]
                    later.setdefault(entry.arxiv_id, []).append(entry)
                else:
                    fresh.append(entry)
            papers, tagged = _prepare(fresh, taxonomy, unknown, variants=variants)
            report.rule_tagged += tagged
            for start in range(0, len(papers), WRITE_BATCH):
                run.add(papers[start : start + WRITE_BATCH], tag=index)
            say(f"  {len(result.entries)} entries, {len(result.rejects)} rejected")
        if later:
            say(f"merging {len(later)} papers listed in more than one file ...")
            # What the first file alone gave these papers is replaced by the merge of all their entries.
            first = [
                entry
                for index in sorted(set(first_file.values()))
                for entry in parse_file(files[index]).entries
                if entry.arxiv_id in later
            ]
            _papers, tagged = _prepare(first, taxonomy, unknown, sign=-1)
            report.rule_tagged -= tagged
            for entry in first:
                later[entry.arxiv_id].append(entry)
            papers, tagged = _prepare(
                [e for group in later.values() for e in group], taxonomy, unknown, variants=variants
            )
            report.rule_tagged += tagged
            for start in range(0, len(papers), WRITE_BATCH):
                run.add(papers[start : start + WRITE_BATCH], tag=-1)
        say("writing topics ...")
        counts = run.finish([topic.name for topic in taxonomy.topics], hashes)
        say("settling topic names and tagging papers without topics ...")
        report.topics = settle_topics(conn, taxonomy, variants=variants)
    report.new, report.updated, report.unchanged = counts.new, counts.updated, counts.unchanged
    report.papers = counts.new + counts.updated + counts.unchanged
    report.duplicates_merged = report.entries - report.papers
    report.unknown_topics = {name: n for name, n in unknown.items() if n > 0}
    return report


def _prepare(
    entries: list[SeedEntry],
    taxonomy: Taxonomy,
    unknown: Counter[str],
    *,
    sign: int = 1,
    variants: dict[str, tuple[Resolution, list[str]]] | None = None,
) -> tuple[list[Paper], int]:
    """Merge entries, file topic names under topics (counting unfiled ones into `unknown`, times
    `sign`; names filed automatically with their papers into `variants`), tag untagged papers by
    rules; the papers and how many the rules tagged."""
    # Topic names written in another script, as an alias or a variant are stored under the topic's name.
    merged = merge(entries).papers
    canonical, resolutions, names = taxonomy.file_names(merged)
    for name, n in names.items():
        unknown[name] += sign * n
    if variants is not None:
        for paper in merged:
            for name, _source in paper.topics:
                found = resolutions[name]
                if found.status == "variant":
                    variants.setdefault(name, (found, []))[1].append(paper.arxiv_id)
    untagged = sum(1 for paper in canonical if not paper.topics)
    papers = taxonomy.apply_rules(canonical)
    return papers, untagged - sum(1 for paper in papers if not paper.topics)
