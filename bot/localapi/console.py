"""Terminal chat with the bot through LocalBotApi: the human plays the Telegram user.

This module owns reading the user's lines (in a daemon thread, so the event loop keeps serving the bot and
scheduled pushes print while the user is idle), sending them as messages or button presses, and rendering
every bot message (sent or edited) as readable terminal text: entities become ANSI styles on a tty, links are
shown as `text <url>`, inline buttons are numbered `[1] ▶  [2] 量化`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from typing import Any, TextIO

from bot.localapi.server import LocalBotApi
from bot.localapi.state import SentMessage

BANNER = (
    "── 本地 Telegram 控制台 · local Telegram console ──\n"
    "输入 /start 等命令或任意文字发给机器人；输入数字按下最新消息上的按钮；/quit 或 Ctrl-D 退出。\n"
    "Type commands like /start or any text; a number presses that button of the latest message with buttons;\n"
    "/quit or Ctrl-D exits.\n"
)
_STYLES = {
    "bold": ("\x1b[1m", "\x1b[22m"),
    "italic": ("\x1b[3m", "\x1b[23m"),
    "underline": ("\x1b[4m", "\x1b[24m"),
    "strikethrough": ("\x1b[9m", "\x1b[29m"),
    "spoiler": ("\x1b[7m", "\x1b[27m"),
    "code": ("\x1b[36m", "\x1b[39m"),
    "pre": ("\x1b[36m", "\x1b[39m"),
}
_QUIT = frozenset({"/quit", "/exit"})


def render_text(text: str, entities: list[dict[str, Any]], *, ansi: bool) -> str:
    """Plain text + entities (UTF-16 offsets) -> terminal text; links always show their URL."""
    opens: dict[int, list[str]] = {}
    closes: dict[int, list[str]] = {}
    for entity in entities:
        start, end = entity["offset"], entity["offset"] + entity["length"]
        style = _STYLES.get(entity["type"])
        if ansi and style is not None:
            opens.setdefault(start, []).append(style[0])
            closes.setdefault(end, []).insert(0, style[1])
        if entity["type"] == "text_link":
            closes.setdefault(end, []).append(f" <{entity['url']}>")
    if not opens and not closes:
        return text
    out: list[str] = []
    position = 0
    for char in text:
        out.extend(closes.pop(position, ()))
        out.extend(opens.pop(position, ()))
        out.append(char)
        position += 2 if ord(char) > 0xFFFF else 1
    out.extend(closes.pop(position, ()))
    return "".join(out)


def render_buttons(buttons: list[list[dict[str, Any]]]) -> str:
    """Inline keyboard rows, numbered across rows in reading order."""
    lines: list[str] = []
    number = 0
    for row in buttons:
        cells: list[str] = []
        for button in row:
            number += 1
            mark = " ↗" if "url" in button else ""
            cells.append(f"[{number}] {button.get('text', '')}{mark}")
        lines.append("   " + "  ".join(cells))
    return "\n".join(lines)


def render_message(msg: SentMessage, *, ansi: bool) -> str:
    """A bot message as the console prints it: header line, text, numbered buttons."""
    header = f"🤖 #{msg.message_id}"
    if msg.edited:
        header += " (已编辑 edited)"
    if msg.via_bot:
        header += " (via bot)"
    parts = [header, render_text(msg.text, msg.entities, ansi=ansi)]
    rows = (msg.reply_markup or {}).get("inline_keyboard")
    if rows:
        parts.append(render_buttons(rows))
    return "\n".join(parts) + "\n"


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _read_lines(stdin: TextIO, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """Thread body: forward lines to the loop, then None at end of input."""
    try:
        for line in iter(stdin.readline, ""):
            loop.call_soon_threadsafe(queue.put_nowait, line)
    except (OSError, ValueError):  # stdin closed under us: treat as end of input
        pass
    with contextlib.suppress(RuntimeError):  # the loop is already gone when the console quit first
        loop.call_soon_threadsafe(queue.put_nowait, None)


async def run_console(
    api: LocalBotApi,
    *,
    chat_id: int,
    user_id: int,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    idle_timeout: float = 10.0,
) -> None:
    """Chat with the bot in a terminal until /quit or end of input.

    After each line the console waits for the bot to go idle, so piped input (tests, scripts) sees the
    bot's answer before the next line is handled.
    """
    ansi = _is_tty(stdout)
    echo = not _is_tty(stdin)  # piped input is echoed so the transcript reads like a conversation
    if chat_id == user_id:
        api.add_private_chat(user_id)
    with_buttons: dict[int, list[dict[str, Any]]] = {}

    def write(text: str) -> None:
        stdout.write(text if text.endswith("\n") else text + "\n")
        stdout.flush()

    previous = api.on_message

    def on_message(cid: int, msg: SentMessage) -> None:
        if previous is not None:
            previous(cid, msg)
        if cid != chat_id:
            return
        if msg.buttons():
            with_buttons[msg.message_id] = msg.buttons()
        else:
            with_buttons.pop(msg.message_id, None)
        write(render_message(msg, ansi=ansi))

    async def settle() -> None:
        try:
            await api.wait_idle(timeout=idle_timeout)
        except TimeoutError:
            write("(机器人没有回应 · the bot is not responding)")

    async def press(number: int) -> None:
        if not with_buttons:
            write("(没有可按的按钮 · no buttons to press)")
            return
        message_id = max(with_buttons)
        buttons = with_buttons[message_id]
        if not 1 <= number <= len(buttons):
            write(f"(没有按钮 {number} · no button {number}; 1..{len(buttons)})")
            return
        button = buttons[number - 1]
        if "url" in button:
            write(f"🔗 {button['url']}")
            return
        if button.get("callback_data") is None:
            write("(控制台不支持这种按钮 · this kind of button is not simulated)")
            return
        try:
            query_id = await api.press_button(
                chat_id, message_id, text=button.get("text"), data=button["callback_data"], user_id=user_id
            )
        except LookupError as err:
            write(f"({err})")
            return
        await settle()
        answer = api.callback_answers.get(query_id) or {}
        if answer.get("text"):
            write(f"{'⚠' if answer.get('show_alert') else '💬'} {answer['text']}")

    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    threading.Thread(target=_read_lines, args=(stdin, loop, lines), name="console-stdin", daemon=True).start()
    api.on_message = on_message
    write(BANNER)
    try:
        while (line := await lines.get()) is not None:
            text = line.strip()
            if not text:
                continue
            if echo:
                write(f"› {text}")
            if text in _QUIT:
                break
            if text.isascii() and text.isdigit():
                await press(int(text))
            else:
                await api.send_text(chat_id, user_id, text)
            await settle()
    finally:
        api.on_message = previous
    write("再见 · bye")
