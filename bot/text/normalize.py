"""Script- and case-insensitive text: OpenCC conversion and the fold used by search and topic matching.

One OpenCC converter per configuration is created lazily and reused: building one reads
dictionary files and costs milliseconds, converting a sentence costs microseconds.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from enum import StrEnum
from functools import lru_cache
from typing import Any

import opencc


class Script(StrEnum):
    """The Chinese scripts a chat can choose (the values are stored in `chats.script`)."""

    SIMPLIFIED = "hans"
    TRADITIONAL = "hant"  # as Taiwan writes it
    HONG_KONG = "hant-hk"  # traditional as Hong Kong writes it


_converters: dict[str, Any] = {}
_lock = threading.Lock()

# Zero-width and bidi control characters: invisible, so they must never split or hide a match.
# The zero-width joiner (U+200D) is kept when it joins emoji (👩‍💻), where it is part of the glyph.
_INVISIBLE = re.compile(
    "[\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]"
    "|\u200d(?![\u2600-\u27bf\U0001f000-\U0001faff])"
)


def _converter(config: str) -> Any:
    conv = _converters.get(config)
    if conv is None:
        with _lock:
            conv = _converters.get(config)
            if conv is None:
                conv = opencc.OpenCC(config)
                _converters[config] = conv
    return conv


def to_simplified(text: str) -> str:
    """Convert traditional characters to simplified ones (other text unchanged)."""
    return str(_converter("t2s").convert(text)) if text else text


# Traditional text is shown as Taiwan writes it: OpenCC's `s2twp` (Taiwan variants plus Taiwan
# phrases: 為 not 爲, 連結 not 鏈接, 支援 not 支持, 軟體, 資訊). Plain `s2t` is OpenCC's own standard,
# which no reader writes. Text that is already traditional goes through the same table, so a
# catalogue abstract and an interface string read alike.
TRADITIONAL_CONFIG = "s2twp"


def to_traditional(text: str) -> str:
    """Convert to traditional script as written in Taiwan, with Taiwan phrasing (other text unchanged)."""
    return str(_converter(TRADITIONAL_CONFIG).convert(text)) if text else text


# Hong Kong forms: OpenCC's `s2hk` (啓, 羣, 裏, 訂閲). There is no Hong Kong phrase table in OpenCC,
# so words stay as the text has them.
HONG_KONG_CONFIG = "s2hk"


def to_hongkong(text: str) -> str:
    """Convert to traditional script as written in Hong Kong (other text unchanged)."""
    # Through simplified first: catalogue text and machine translations are stored in Taiwan forms
    # (裡, 啟, 著), which s2hk alone would leave as they are.
    return str(_converter(HONG_KONG_CONFIG).convert(to_simplified(text))) if text else text


def to_script(text: str, script: Script) -> str:
    """Render `text` in the chat's script."""
    if script is Script.TRADITIONAL:
        return to_traditional(text)
    if script is Script.HONG_KONG:
        return to_hongkong(text)
    return to_simplified(text)


def strip_invisible(text: str) -> str:
    """Remove zero-width and bidi control characters."""
    return _INVISIBLE.sub("", text)


# Characters whose NFKC form matters to matching: full-width Latin letters and digits, the ideographic
# space, Latin ligatures, enclosed and squared compatibility forms, and the invisible characters.
_NEEDS_NFKC = re.compile(
    "[\u3000\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\ufb00-\ufb06\u2460-\u24ff\u3300-\u33ff\uf900-\ufaff"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]+"
)


def _nfkc(match: re.Match[str]) -> str:
    return _INVISIBLE_ALL.sub("", unicodedata.normalize("NFKC", match.group()))


_INVISIBLE_ALL = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]")


def fold(text: str) -> str:
    """The comparison key for search and topic names: simplified script, casefolded, with full-width
    letters and digits (ＬＬＭ) made ASCII and invisible characters removed.

    NFKC is applied only to the characters that can change a match: on Chinese text full NFKC mostly
    rewrites full-width punctuation, which is a separator either way, and costs more than the rest.
    """
    if _NEEDS_NFKC.search(text) is not None:
        text = _NEEDS_NFKC.sub(_nfkc, text)
    return to_simplified(text).casefold()


@lru_cache(maxsize=4096)
def fold_cached(text: str) -> str:
    """`fold` for short strings seen again and again (topic names, aliases)."""
    return fold(text)


def script_for_language(language_code: str | None) -> Script:
    """Default script from a Telegram `language_code`: zh-hk and zh-mo are Hong Kong traditional,
    zh-hant and zh-tw Taiwan traditional, anything else simplified."""
    code = (language_code or "").lower().replace("_", "-")
    if code in {"zh-hk", "zh-mo", "zh-hant-hk", "zh-hant-mo"}:
        return Script.HONG_KONG
    if code in {"zh-hant", "zh-tw"} or code.startswith("zh-hant"):
        return Script.TRADITIONAL
    return Script.SIMPLIFIED
