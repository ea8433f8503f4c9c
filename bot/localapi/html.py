"""Telegram message-text parsing for the local Bot API: HTML, MarkdownV2, legacy Markdown, UTF-16 helpers.

This module owns turning a `text` + `parse_mode` pair into what Telegram stores: the plain text and a list of
MessageEntity dicts whose offsets/lengths are in UTF-16 code units.  The HTML scanner is hand-written after
tdlib's `parse_html` so that it is exactly as strict as Telegram (and reports the same messages with UTF-8 byte
offsets), instead of the forgiving stdlib `html.parser`.  One deliberate extra strictness, on by default: a bare
`&` that does not start `&lt; &gt; &amp; &quot;` or a numeric reference terminated by `;` is rejected.  Telegram
would keep it verbatim, but a bot that escapes its text (html.escape) never produces one, so it reveals a bug.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Entity = dict[str, Any]

__all__ = [
    "Entity",
    "EntityParseError",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "parse_text",
    "trim_text",
    "utf16_len",
]


class EntityParseError(ValueError):
    """The text cannot be parsed; str(err) is what follows "Bad Request: can't parse entities: "."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: how Telegram measures offsets, lengths and the 4096 limit."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    # Telegram reports positions as offsets into the UTF-8 request; only computed on the error path.
    return len(text[:index].encode("utf-8", "surrogatepass"))


_SPACES = frozenset(" \t\r\n\v\f")
_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPECIAL = re.compile(r"[<&]")


def _decode_entity(text: str, pos: int, *, need_semicolon: bool) -> tuple[str, int] | None:
    """Decode the character reference at text[pos] == '&'; return (char, end index) or None if it is not one."""
    n = len(text)
    end = pos + 1
    if end < n and text[end] == "#":
        end += 1
        if end < n and text[end] == "x":
            end += 1
            start = end
            while end < n and text[end] in "0123456789abcdefABCDEF":
                end += 1
            digits, base = text[start:end], 16
        else:
            start = end
            while end < n and text[end].isascii() and text[end].isdigit():
                end += 1
            digits, base = text[start:end], 10
        # tdlib gives up on over-long references and on code points outside Unicode.
        if not digits or end - pos >= 10:
            return None
        code = int(digits, base)
        if code == 0 or code >= 0x10FFFF:
            return None
        char = chr(code)
    else:
        while end < n and text[end].isascii() and text[end].isalpha():
            end += 1
        named = _NAMED.get(text[pos + 1 : end])
        if named is None:
            return None
        char = named
    if end < n and text[end] == ";":
        return char, end + 1
    return None if need_semicolon else (char, end)


@dataclass(slots=True)
class _Open:
    tag: str
    argument: str
    offset: int  # UTF-16 offset in the result where the tag opened
    piece: int  # index into the result pieces, to recover the text of <a> without href


def _check_url(url: str) -> str | None:
    """The URL a text_link would get, or None when Telegram silently drops the link (as tdlib's check_url)."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        # Telegram prepends http:// to a bare domain; anything else (javascript:, mailto:) is dropped.
        return f"http://{url}" if "." in url and " " not in url and ":" not in url else None
    if scheme.lower() in {"http", "https", "ftp", "tg", "ton"} and rest:
        return url
    return None


def parse_html(source: str, *, strict_ampersand: bool = True) -> tuple[str, list[Entity]]:
    """Parse Telegram-flavoured HTML into (plain text, entities); raise EntityParseError like Telegram does."""
    pieces: list[str] = []
    entities: list[Entity] = []
    stack: list[_Open] = []
    u16 = 0
    i = 0
    n = len(source)
    while i < n:
        match = _SPECIAL.search(source, i)
        j = n if match is None else match.start()
        if j > i:
            chunk = source[i:j]
            pieces.append(chunk)
            u16 += utf16_len(chunk)
            i = j
            if i >= n:
                break
        if source[i] == "&":
            decoded = _decode_entity(source, i, need_semicolon=strict_ampersand)
            if decoded is None:
                if strict_ampersand:
                    raise EntityParseError(
                        f"Can't find end of the entity starting at byte offset {_byte_offset(source, i)}"
                    )
                pieces.append("&")
                u16 += 1
                i += 1
                continue
            char, i = decoded
            if 0xD800 <= ord(char) <= 0xDFFF:
                raise EntityParseError(
                    "Text contains invalid Unicode characters after decoding HTML entities, "
                    "check for unmatched surrogate code units"
                )
            pieces.append(char)
            u16 += utf16_len(char)
            continue
        begin = i
        i += 1
        if i < n and source[i] == "/":
            i = _close_tag(source, begin, stack, entities, pieces, u16)
        else:
            tag, argument, i = _open_tag(source, begin)
            stack.append(_Open(tag, argument, u16, len(pieces)))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    for entity in entities:
        # A language is only kept on a <code> that spans a whole <pre>; a lone <code class=...> loses it.
        if entity["type"] == "code":
            entity.pop("language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(pieces), entities


def _open_tag(source: str, begin: int) -> tuple[str, str, int]:
    """Scan a start tag beginning at source[begin] == '<'; return (tag, argument, index after '>')."""
    n = len(source)
    i = begin + 1
    while i < n and source[i] not in _SPACES and source[i] != ">":
        i += 1
    if i >= n:
        raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")
    tag = source[begin + 1 : i].lower()
    where = _byte_offset(source, begin)
    if tag not in _TAGS:
        raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {where}')
    argument = ""
    while source[i] != ">":
        while i < n and source[i] in _SPACES:
            i += 1
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {where}")
        if source[i] == ">":
            break
        name_start = i
        while i < n and source[i] not in _SPACES and source[i] not in "=>":
            i += 1
        name = source[name_start:i]
        if not name:
            raise EntityParseError(f'Empty attribute name in the tag "{tag}" at byte offset {where}')
        while i < n and source[i] in _SPACES:
            i += 1
        if i >= n:
            raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {where}')
        if source[i] != "=":
            if tag == "blockquote" and name == "expandable":  # the one valueless attribute Telegram knows
                argument = "expandable"
                continue
            raise EntityParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" at byte offset {where}'
            )
        i += 1
        while i < n and source[i] in _SPACES:
            i += 1
        if i >= n:
            raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {where}')
        if source[i] not in "'\"":
            token_start = i
            while i < n and ((source[i].isascii() and source[i].isalnum()) or source[i] in ".-"):
                i += 1
            value = source[token_start:i].lower()
            if i < n and source[i] not in _SPACES and source[i] != ">":
                raise EntityParseError(
                    f"Unexpected end of name token at byte offset {_byte_offset(source, token_start)}"
                )
        else:
            quote = source[i]
            i += 1
            chars: list[str] = []
            while i < n and source[i] != quote:
                # Attribute values (URLs with query strings) keep a bare '&' verbatim, exactly as Telegram.
                decoded = _decode_entity(source, i, need_semicolon=False) if source[i] == "&" else None
                if decoded is not None:
                    chars.append(decoded[0])
                    i = decoded[1]
                else:
                    chars.append(source[i])
                    i += 1
            if i < n:
                i += 1
            value = "".join(chars)
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {where}")
        if tag == "a" and name == "href":
            argument = value
        elif tag == "code" and name == "class" and value.startswith("language-"):
            argument = value[len("language-") :]
        elif tag == "span" and name == "class" and value.startswith("tg-"):
            argument = value[len("tg-") :]
        elif tag == "tg-emoji" and name == "emoji-id":
            argument = value
    if tag == "span" and argument != "spoiler":
        raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {where}')
    return tag, argument, i + 1


def _close_tag(source: str, begin: int, stack: list[_Open], entities: list[Entity], pieces: list[str], u16: int) -> int:
    """Handle an end tag at source[begin:]; append the finished entity; return the index after '>'."""
    n = len(source)
    where = _byte_offset(source, begin)
    if not stack:
        raise EntityParseError(f"Unexpected end tag at byte offset {where}")
    i = begin + 2
    while i < n and source[i] not in _SPACES and source[i] != ">":
        i += 1
    end_name = source[begin + 2 : i]
    while i < n and source[i] in _SPACES:
        i += 1
    if i >= n or source[i] != ">":
        raise EntityParseError(f"Unclosed end tag at byte offset {where}")
    top = stack.pop()
    if end_name and end_name != top.tag:
        raise EntityParseError(
            f'Unmatched end tag at byte offset {where}, expected "</{top.tag}>", found "</{end_name}>"'
        )
    length = u16 - top.offset
    if length > 0:
        _finish(top, length, entities, pieces, stack)
    return i + 1


def _finish(top: _Open, length: int, entities: list[Entity], pieces: list[str], stack: list[_Open]) -> None:
    offset = top.offset
    kind = _SIMPLE.get(top.tag)
    if kind is not None:
        entities.append({"type": kind, "offset": offset, "length": length})
    elif top.tag == "tg-emoji":
        if not top.argument.isdigit() or int(top.argument) == 0:
            raise EntityParseError("Invalid custom emoji identifier specified")
        entities.append({"type": "custom_emoji", "offset": offset, "length": length, "custom_emoji_id": top.argument})
    elif top.tag == "a":
        url = top.argument or "".join(pieces[top.piece :])
        checked = _check_url(url)
        if checked is not None:
            entities.append({"type": "text_link", "offset": offset, "length": length, "url": checked})
    elif top.tag == "pre":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "code"
            and last["offset"] == offset
            and last["length"] == length
            and last.get("language")
        ):
            last["type"] = "pre"
        else:
            entities.append({"type": "pre", "offset": offset, "length": length})
    elif top.tag == "code":
        entity: Entity = {"type": "code", "offset": offset, "length": length}
        if top.argument:
            entity["language"] = top.argument
        entities.append(entity)
    else:  # blockquote
        kind = "expandable_blockquote" if top.argument == "expandable" else "blockquote"
        entities.append({"type": kind, "offset": offset, "length": length})


# --- MarkdownV2 -----------------------------------------------------------------------------------------

_MD2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MD2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
}


def parse_markdown_v2(source: str) -> tuple[str, list[Entity]]:
    """Parse MarkdownV2 (bold, italic, underline, strike, spoiler, code, pre, links, escapes, reserved chars)."""
    out: list[str] = []
    u16 = 0
    entities: list[Entity] = []
    stack: list[tuple[str, int, int]] = []  # (type, utf16 offset, source index)
    i = 0
    n = len(source)

    def emit(chunk: str) -> None:
        nonlocal u16
        out.append(chunk)
        u16 += utf16_len(chunk)

    while i < n:
        c = source[i]
        if c == "\\" and i + 1 < n and 0 < ord(source[i + 1]) <= 126:
            emit(source[i + 1])
            i += 2
            continue
        if c not in _MD2_RESERVED:
            emit(c)
            i += 1
            continue
        if c == "`":
            fence = source.startswith("```", i)
            delim = "```" if fence else "`"
            start = i
            i += len(delim)
            language = ""
            if fence:
                line_end = source.find("\n", i)
                first = source[i:line_end] if line_end >= 0 else ""
                if line_end >= 0 and first and " " not in first and "`" not in first:
                    language, i = first, line_end + 1
            begin = u16
            while True:
                if i >= n:
                    raise EntityParseError(
                        f"Can't find end of {'Pre' if fence else 'Code'} entity at byte offset "
                        f"{_byte_offset(source, start)}"
                    )
                if source[i] == "\\" and i + 1 < n and source[i + 1] in "`\\":
                    emit(source[i + 1])
                    i += 2
                elif source.startswith(delim, i):
                    i += len(delim)
                    break
                else:
                    emit(source[i])
                    i += 1
            if u16 > begin:
                entity: Entity = {"type": "pre" if fence else "code", "offset": begin, "length": u16 - begin}
                if language:
                    entity["language"] = language
                entities.append(entity)
            continue
        kind: str | None = None
        width = 1
        if c == "*":
            kind = "bold"
        elif c == "~":
            kind = "strikethrough"
        elif c == "_":
            if source.startswith("__", i) and not (stack and stack[-1][0] == "italic"):
                kind, width = "underline", 2
            else:
                kind = "italic"
        elif c == "|" and source.startswith("||", i):
            kind, width = "spoiler", 2
        elif c == "[":
            stack.append(("text_link", u16, i))
            i += 1
            continue
        elif c == "]" and stack and stack[-1][0] == "text_link":
            _, begin, _ = stack.pop()
            i += 1
            url = ""
            if i < n and source[i] == "(":
                close = i + 1
                chars: list[str] = []
                while close < n and source[close] != ")":
                    if source[close] == "\\" and close + 1 < n:
                        close += 1
                    chars.append(source[close])
                    close += 1
                if close >= n:
                    raise EntityParseError(f"Can't find end of a url at byte offset {_byte_offset(source, i)}")
                url, i = "".join(chars), close + 1
            checked = _check_url(url) if url else None
            if checked is not None and u16 > begin:
                entities.append({"type": "text_link", "offset": begin, "length": u16 - begin, "url": checked})
            continue
        if kind is None:
            raise EntityParseError(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
        if stack and stack[-1][0] == kind:
            _, begin, _ = stack.pop()
            if u16 > begin:
                entities.append({"type": kind, "offset": begin, "length": u16 - begin})
        else:
            stack.append((kind, u16, i))
        i += width
    if stack:
        kind, _, where = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_MD2_NAMES[kind]} entity at byte offset {_byte_offset(source, where)}"
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


# --- legacy Markdown ------------------------------------------------------------------------------------


def parse_markdown(source: str) -> tuple[str, list[Entity]]:
    """Legacy Markdown: *bold* _italic_ `code` ```pre``` [text](url); no nesting, as Telegram."""
    out: list[str] = []
    u16 = 0
    entities: list[Entity] = []
    i = 0
    n = len(source)
    marks = {"*": "bold", "_": "italic", "`": "code"}
    while i < n:
        c = source[i]
        if c == "\\" and i + 1 < n and source[i + 1] in "_*`[":
            out.append(source[i + 1])
            u16 += 1
            i += 2
            continue
        if c not in "*_`[":
            out.append(c)
            u16 += utf16_len(c)
            i += 1
            continue
        start = i
        delim = "```" if source.startswith("```", i) else ("]" if c == "[" else c)
        i += 1 if delim != "```" else 3
        end = source.find(delim, i)
        if end < 0:
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(source, start)}"
            )
        inner = source[i:end]
        i = end + len(delim)
        url = ""
        if c == "[" and i < n and source[i] == "(":
            close = source.find(")", i)
            if close < 0:
                raise EntityParseError(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(source, start)}"
                )
            url, i = source[i + 1 : close], close + 1
        length = utf16_len(inner)
        if length:
            if delim == "```":
                entities.append({"type": "pre", "offset": u16, "length": length})
            elif c == "[":
                checked = _check_url(url) if url else None
                if checked is not None:
                    entities.append({"type": "text_link", "offset": u16, "length": length, "url": checked})
            else:
                entities.append({"type": marks[c], "offset": u16, "length": length})
        out.append(inner)
        u16 += length
    return "".join(out), entities


# --- trimming and the single entry point ----------------------------------------------------------------


def trim_text(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Strip leading/trailing whitespace as Telegram does, moving and clipping the entities to match
    (which also clips explicit `entities` that run past the end of the text)."""
    stripped = text.strip(" \t\r\n")
    if stripped == text and not entities:
        return text, entities
    if not stripped:
        return "", []
    shift = len(text) - len(text.lstrip(" \t\r\n"))  # whitespace is BMP: chars == UTF-16 units
    total = utf16_len(stripped)
    fixed: list[Entity] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, total)
        if end > start:
            fixed.append({**entity, "offset": start, "length": end - start})
    return stripped, fixed


def parse_text(
    text: str, parse_mode: str | None, entities: list[Entity] | None = None, *, strict_ampersand: bool = True
) -> tuple[str, list[Entity]]:
    """Apply parse_mode (HTML, MarkdownV2, Markdown or none) and Telegram's trimming; return (text, entities).

    Raises EntityParseError for malformed markup and ValueError for an unknown parse_mode.
    """
    mode = (parse_mode or "").lower()
    if mode == "html":
        plain, found = parse_html(text, strict_ampersand=strict_ampersand)
    elif mode == "markdownv2":
        plain, found = parse_markdown_v2(text)
    elif mode == "markdown":
        plain, found = parse_markdown(text)
    elif mode == "":
        plain, found = text, [dict(e) for e in entities or []]
    else:
        raise ValueError(f"unsupported parse_mode {parse_mode!r}")
    return trim_text(plain, found)
