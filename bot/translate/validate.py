"""Never trust the model: parse its answer and check it before anything is stored or shown.

A valid translation is non-empty, mostly Han characters (acronyms and names stay Latin), Chinese
rather than Japanese or Korean, plausibly as long as the source, free of chatter and of the
instructions' own words, and carries no URL the source does not contain. What passes is written in
traditional script (OpenCC) like the catalogue, whitespace collapsed, invisible characters removed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from bot.catalogue.model import MachineTranslation
from bot.text.normalize import strip_invisible, to_traditional
from bot.translate.prompt import RULES

_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile("[A-Za-z]")
_KANA = re.compile("[\u3040-\u30ff]")
_HANGUL = re.compile("[\uac00-\ud7af\u1100-\u11ff]")
_URL = re.compile(
    r"(?i)\b(?:https?://|www\.)[^\s<>\"'，。）)\]]+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|ai|cn|ly|me|gg)\b"
)
_THINK = re.compile(r"(?s)<think>.*?</think>")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")

# Answers that talk to the reader instead of translating (in either script, checked before OpenCC).
_CHATTER = (
    "as an ai",
    "i cannot",
    "i can't",
    "sure, here",
    "here is the translation",
    "system prompt",
    "以下是",
    "作为一个",
    "作為一個",
    "作为ai",
    "作為ai",
    "我无法",
    "我無法",
    "翻译如下",
    "翻譯如下",
    "系统提示",
    "系統提示",
    "好的，",
    "好的,",
)
# Runs of words from our own instructions: an answer containing one repeats the prompt.
_RULE_WORDS = re.findall(r"[a-z]+", RULES.lower())
_ECHO_WINDOW = 5
_ECHOES = frozenset(" ".join(_RULE_WORDS[i : i + _ECHO_WINDOW]) for i in range(len(_RULE_WORDS) - _ECHO_WINDOW + 1))

MIN_HAN_SHARE_ABSTRACT = 0.5  # Han / (Han + Latin letters)
MIN_HAN_SHARE_TITLE = 0.25
# Chinese characters per source character: a faithful translation lands around 0.3-0.5.
MIN_RATIO, MAX_RATIO = 0.12, 1.2
MAX_KEY_POINT = 150


class Rejected(ValueError):
    """The model's answer is not a usable translation; the reason is short and safe to store."""


@dataclass(frozen=True)
class Parsed:
    """The fields of the model's JSON answer, unchecked."""

    title: str
    abstract: str
    key_point: str


def parse(content: str) -> Parsed:
    """The JSON object in an answer (code fences and reasoning blocks tolerated); Rejected otherwise."""
    text = _FENCE.sub("", _THINK.sub("", content).strip()).strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise Rejected("no JSON object in the answer")
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        raise Rejected(f"malformed JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise Rejected("the answer is not a JSON object")
    title, abstract, key = data.get("title"), data.get("abstract"), data.get("key_point", "")
    if not isinstance(title, str) or not isinstance(abstract, str):
        raise Rejected("title or abstract missing")
    return Parsed(title, abstract, key if isinstance(key, str) else "")


def _clean(text: str) -> str:
    return " ".join(strip_invisible(text).split())


def _han_share(text: str) -> float:
    han = len(_HAN.findall(text))
    latin = len(_LATIN.findall(text))
    return han / (han + latin) if han + latin else 0.0


def _urls(text: str) -> set[str]:
    return {u.rstrip(".,;:").lower() for u in _URL.findall(text)}


def _problem(text: str, source: str, min_share: float) -> str | None:
    """Why a translated field is not acceptable, or None."""
    if not text:
        return "empty"
    if len(_KANA.findall(text)) > 3 or len(_HANGUL.findall(text)) > 3:
        return "not Chinese (kana or hangul)"
    lowered = text.lower()
    source_lowered = source.lower()
    for phrase in _CHATTER:
        if phrase in lowered and phrase not in source_lowered:
            return "chatter instead of a translation"
    words = re.findall(r"[a-z]+", lowered)
    for i in range(len(words) - _ECHO_WINDOW + 1):
        window = " ".join(words[i : i + _ECHO_WINDOW])
        if window in _ECHOES and window not in " ".join(re.findall(r"[a-z]+", source_lowered)):
            return "repeats the instructions"
    extra = _urls(text) - _urls(source)
    if extra:
        return "a URL the source does not contain"
    if _han_share(text) < min_share:
        return "not mostly Chinese"
    return None


def validate(title_en: str, abstract_en: str, parsed: Parsed, model: str = "") -> MachineTranslation:
    """The checked translation in traditional script; Rejected with the first problem found."""
    title, abstract = _clean(parsed.title), _clean(parsed.abstract)
    source = f"{title_en}\n{abstract_en}"
    for name, text, source_text, share in (
        ("title", title, title_en, MIN_HAN_SHARE_TITLE),
        ("abstract", abstract, abstract_en, MIN_HAN_SHARE_ABSTRACT),
    ):
        problem = _problem(text, source, share)
        if problem:
            raise Rejected(f"{name}: {problem}")
        ratio = len(text) / max(len(" ".join(source_text.split())), 1)
        if len(source_text) >= 40 and not MIN_RATIO <= ratio <= MAX_RATIO:
            raise Rejected(f"{name}: implausible length ({ratio:.2f} of the source)")
    if len(_HAN.findall(title)) < 2:
        raise Rejected("title: not mostly Chinese")
    key = _clean(parsed.key_point)
    # The key point is optional: a bad one is dropped, the translation kept.
    if key and (len(key) > MAX_KEY_POINT or _problem(key, source, MIN_HAN_SHARE_ABSTRACT)):
        key = ""
    return MachineTranslation(to_traditional(title), to_traditional(abstract), to_traditional(key), model)
