"""Plain data the catalogue is made of: entries parsed from seed files and the merged papers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class TagSource(StrEnum):
    """Where a paper's topic tag came from."""

    CATALOGUE = "catalogue"  # written in the seed file
    RULE = "rule"  # inferred by a keyword rule of config/topics.toml
    MODEL = "model"  # predicted by the classifier trained on the catalogue's own tags (bot.catalogue.tagger)


@dataclass(frozen=True, slots=True)
class SeedEntry:
    """One paper as one seed file writes it (before merging duplicates)."""

    source: str  # file name, for reports
    line: int  # 1-based line where the entry starts
    arxiv_id: str  # canonical (bot.text.arxiv.parse_arxiv_id)
    title_en: str
    title_zh: str  # "" when the format has no Chinese title
    abstract_zh: str
    published: date | None  # None when the format carries no date
    topics: tuple[str, ...] = ()  # canonical topic names, as the file writes them


@dataclass(frozen=True, slots=True)
class Reject:
    """An entry or file that ingest skipped, with the reason shown to the operator."""

    source: str
    line: int  # 0 for a whole-file problem
    reason: str
    non_arxiv: bool = False  # a row about a blog post, repository or other page, not an arXiv paper

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class MachineTranslation:
    """Chinese written by a language model for a paper that has only English (traditional script)."""

    title_zh: str
    abstract_zh: str
    key_point: str = ""  # one sentence, optional
    model: str = ""


@dataclass(frozen=True, slots=True)
class Paper:
    """A catalogue paper after merging every entry that names its arXiv ID."""

    arxiv_id: str
    title_en: str
    title_zh: str
    abstract_zh: str
    published: date
    date_is_exact: bool  # False when the date is the month encoded in the arXiv ID
    topics: tuple[tuple[str, TagSource], ...] = field(default=())
    # What arXiv itself says (empty for papers known only from a seed list).
    abstract_en: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # arXiv categories, primary first
    version: int = 0  # arXiv version number; 0 when unknown
    sources: tuple[str, ...] = ()  # names of the sources that contributed the paper
    # How sure the tagger is of each tag, aligned with `topics`; empty means certain (catalogue tags).
    topic_confidence: tuple[float, ...] = ()
    # A validated machine translation of this version, when there is no curated Chinese abstract.
    machine: MachineTranslation | None = None

    @property
    def topic_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.topics)

    def confidence(self, index: int) -> float:
        """The confidence of the tag `topics[index]` (1.0 when none was recorded)."""
        return self.topic_confidence[index] if index < len(self.topic_confidence) else 1.0
