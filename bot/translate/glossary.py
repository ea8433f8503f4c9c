"""The translation glossary (config/glossary.toml): catalogue terms and acronyms kept in English."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Glossary:
    """English term -> the catalogue's Chinese for it, and words that stay in English."""

    terms: tuple[tuple[str, str], ...] = ()
    keep: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: Path) -> Glossary:
        """Read the TOML file; a missing file is an empty glossary (the prompt still works)."""
        if not path.exists():
            return cls()
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        terms = tuple((str(k), str(v)) for k, v in dict(data.get("terms", {})).items())
        keep = tuple(str(a) for a in dict(data.get("keep", {})).get("acronyms", []))
        return cls(terms, keep)

    def relevant(self, text: str) -> Glossary:
        """Only the entries that occur in `text`: a short prompt costs fewer tokens on every paper."""
        lowered = text.lower()
        terms = tuple((en, zh) for en, zh in self.terms if _occurs(en.lower(), lowered))
        keep = tuple(word for word in self.keep if _occurs(word, text))
        return Glossary(terms, keep)


def _occurs(word: str, text: str) -> bool:
    return re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", text) is not None
