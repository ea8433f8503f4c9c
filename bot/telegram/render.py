"""Pure rendering: data in, (HTML text, inline keyboard) out, in the chat's script.

Every catalogue and user string is escaped; every message fits Telegram's 4,096 characters
(UTF-16 code units, after entity parsing); every button's callback data fits 64 bytes. Interface
strings are written in simplified script and converted once per message with OpenCC.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.catalogue.model import MachineTranslation, Paper
from bot.model import SearchHit, Subscription, SubscriptionKind, TopicCount
from bot.telegram import callbacks
from bot.telegram.callbacks import Action
from bot.text.arxiv import abs_url, pdf_url
from bot.text.normalize import Script, fold, to_script

MAX_TEXT = 4096
ABSTRACT_BUDGET = 3000  # a card's abstract is cut here at most, leaving room for the rest
SNIPPET_CHARS = 90
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Reply:
    """A message to send or an edit to make."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None


@dataclass(frozen=True)
class CommandHelp:
    """One command as /help, setMyCommands and the README describe it."""

    name: str
    description: str  # simplified script; shown converted
    example: str


COMMANDS: tuple[CommandHelp, ...] = (
    CommandHelp("start", "介绍与快速开始", "/start"),
    CommandHelp("help", "所有命令与示例", "/help"),
    CommandHelp("topics", "全部主题与论文数，一键订阅", "/topics"),
    CommandHelp("subscribe", "订阅主题或关键词", "/subscribe 多模态LLM"),
    CommandHelp("unsubscribe", "取消订阅", "/unsubscribe 量化"),
    CommandHelp("subscriptions", "我的订阅与推送时间", "/subscriptions"),
    CommandHelp("paper", "按 arXiv ID 或链接查看论文", "/paper 2404.07965"),
    CommandHelp("search", "搜索论文（中文或英文）", "/search 量化"),
    CommandHelp("today", "立即推送今天的论文", "/today"),
    CommandHelp("time", "设置每日推送时间与时区", "/time 08:30 Asia/Taipei"),
    CommandHelp("lang", "切换繁体（台湾 / 香港）/ 简体", "/lang"),
    CommandHelp("stats", "运行统计（仅管理员）", "/stats"),
)


def esc(text: str) -> str:
    """Escape a catalogue or user string for HTML parse mode."""
    return html.escape(text, quote=True)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


def visible_len(html_text: str) -> int:
    """UTF-16 length of our own HTML after entity parsing (tags removed, entities decoded)."""
    return utf16_len(html.unescape(_TAG.sub("", html_text)))


def cut(text: str, limit: int, ellipsis: str = "…") -> str:
    """`text` shortened to at most `limit` UTF-16 units, never splitting a surrogate pair."""
    if utf16_len(text) <= limit:
        return text
    out: list[str] = []
    used = utf16_len(ellipsis)
    for char in text:
        size = 2 if ord(char) > 0xFFFF else 1
        if used + size > limit:
            break
        out.append(char)
        used += size
    return "".join(out).rstrip() + ellipsis


def _kb(rows: Iterable[Sequence[InlineKeyboardButton]]) -> InlineKeyboardMarkup | None:
    rows = [list(row) for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


def _button(
    text: str, script: Script, action: Action, arg: str = "", *, page: int | None = None, flag: bool = False
) -> InlineKeyboardButton | None:
    """A callback button, or None when its data would not fit in 64 bytes (the caller drops it)."""
    if not callbacks.fits(action, arg):
        return None
    data = callbacks.encode(action, arg, page=page, flag=flag)
    return InlineKeyboardButton(cut(to_script(text, script), 60), callback_data=data)


def _rows(buttons: Iterable[InlineKeyboardButton | None], per_row: int) -> list[list[InlineKeyboardButton]]:
    kept = [b for b in buttons if b is not None]
    return [kept[i : i + per_row] for i in range(0, len(kept), per_row)]


def _finish(text: str, script: Script, keyboard: InlineKeyboardMarkup | None = None) -> Reply:
    converted = to_script(text, script)
    if visible_len(converted) > MAX_TEXT:
        # Our templates keep under the limit; this is the last line of defence for hostile data.
        plain = html.unescape(_TAG.sub("", converted))
        converted = esc(cut(plain, MAX_TEXT))
    return Reply(converted, keyboard)


def paper_date(paper: Paper) -> str:
    """`2024-04-30`, or `2024-04` when only the submission month is known."""
    return paper.published.isoformat() if paper.date_is_exact else paper.published.strftime("%Y-%m")


def topic_list(names: Sequence[str]) -> str:
    """Topic names joined for display (escaped)."""
    return "、".join(esc(n) for n in names)


def short_title(paper: Paper, limit: int = 40) -> str:
    """A paper's English title cut for a button."""
    return cut(" ".join(paper.title_en.split()) or paper.arxiv_id, limit)


# --- paper card -------------------------------------------------------------------------------


def machine_text(paper: Paper) -> MachineTranslation | None:
    """The machine translation a card shows: none when curated Chinese exists (curated always wins)."""
    return None if paper.abstract_zh else paper.machine


def chinese_title(paper: Paper) -> str:
    """The curated Chinese title, else the machine one, else ""."""
    machine = machine_text(paper)
    return paper.title_zh or (machine.title_zh if machine else "")


def paper_card(
    paper: Paper,
    script: Script,
    *,
    related: Sequence[Paper] = (),
    subscribed: frozenset[str] = frozenset(),
    via: Subscription | None = None,
    original: bool = False,
    translating: bool = False,
) -> Reply:
    """The card for one paper: titles, date, topics, abstract, links, topic and related buttons.

    Curated Chinese first; else a machine translation, marked, with its English original a button
    away (`original=True` shows that original); else the English abstract, with a note when a
    translation is being written (`translating`).
    """
    machine = machine_text(paper)
    original = original and machine is not None
    head = [f"<b>{esc(paper.title_en)}</b>"]
    title_zh = "" if original else chinese_title(paper)
    if title_zh:
        head.append(esc(title_zh))
    meta = f"📅 {paper_date(paper)}"
    if paper.topics:
        meta += f"  🏷 {topic_list(paper.topic_names)}"
    head.append(meta)
    if via is not None:
        label = via.value if via.kind is SubscriptionKind.TOPIC else f"关键词「{via.value}」"
        head.append(f"📬 来自订阅：{esc(label)}")
    if original:
        head.append("🔤 英文原文（中文为机器翻译）")
    elif machine is not None:
        head.append("🤖 机器翻译 · 英文原文见下方按钮")
        if machine.key_point:
            head.append(f"💡 要点：{esc(machine.key_point)}")
    elif translating and not paper.abstract_zh:
        head.append("⏳ 正在生成中文翻译，稍后自动更新…")
    links = (
        f'🔗 <a href="{esc(abs_url(paper.arxiv_id))}">arXiv {esc(paper.arxiv_id)}</a>'
        f' · <a href="{esc(pdf_url(paper.arxiv_id))}">PDF</a>'
    )
    frame = "\n".join(head) + "\n\n{abstract}\n\n" + links
    budget = min(ABSTRACT_BUDGET, MAX_TEXT - visible_len(frame.replace("{abstract}", "")) - 40)
    shown = paper.abstract_en if original or (machine is None and not paper.abstract_zh) else paper.abstract_zh
    if machine is not None and not original:
        shown = machine.abstract_zh
    abstract = " ".join(shown.split()) or "（暂无摘要）"
    trimmed = cut(abstract, max(budget, 50))
    body = esc(trimmed)
    if trimmed != abstract:
        body += f'\n<a href="{esc(abs_url(paper.arxiv_id))}">阅读全文 ›</a>'
    text = frame.replace("{abstract}", f"<blockquote expandable>{body}</blockquote>")
    rows: list[list[InlineKeyboardButton]] = []
    topic_buttons = []
    for name in paper.topic_names:
        if name in subscribed:
            topic_buttons.append(_button(f"✅ {name}", script, Action.TOPIC_VIEW, name))
        else:
            topic_buttons.append(_button(f"➕ 订阅 {name}", script, Action.TOPIC_SUBSCRIBE, name))
    rows += _rows(topic_buttons, 2)
    rows += _rows((_button(f"📄 {short_title(p, 28)}", script, Action.PAPER, p.arxiv_id) for p in related), 1)
    if machine is not None:
        toggle = (
            _button("🀄 中文翻译", script, Action.TRANSLATED, paper.arxiv_id)
            if original
            else _button("🔤 英文原文", script, Action.ORIGINAL, paper.arxiv_id)
        )
        rows.insert(0, [b for b in [toggle] if b is not None])
    return _finish(text, script, _kb(rows))


def not_in_catalogue(arxiv_id: str, script: Script) -> Reply:
    """A valid arXiv ID that the catalogue does not hold."""
    text = (
        f"目录中没有 <code>{esc(arxiv_id)}</code> 这篇论文。\n"
        f'可以直接在 arXiv 查看：<a href="{esc(abs_url(arxiv_id))}">{esc(abs_url(arxiv_id))}</a>\n\n'
        "也可以用 /search 搜索目录中的论文。"
    )
    return _finish(text, script)


def fetching(arxiv_id: str, wait: float, script: Script) -> Reply:
    """The immediate answer to /paper of a paper we do not hold: it is being fetched."""
    queue = f"\n前面还有请求在排队，大约需要 {round(wait)} 秒（arXiv 要求每次请求间隔 3 秒）。" if wait >= 1 else ""
    return _finish(f"⏳ 正在从 arXiv 获取 <code>{esc(arxiv_id)}</code>…{queue}", script)


def arxiv_unknown(arxiv_id: str, script: Script) -> Reply:
    """arXiv answered that it has no such paper."""
    text = (
        f"arXiv 上没有 <code>{esc(arxiv_id)}</code> 这篇论文。\n"
        "请检查编号是否写对（例如 2404.07965），或用 /search 按关键词搜索。"
    )
    return _finish(text, script)


def arxiv_unreachable(arxiv_id: str, script: Script) -> Reply:
    """arXiv could not be reached or refused us: nothing is lost, try again later."""
    text = (
        f"暂时无法连接 arXiv，未能获取 <code>{esc(arxiv_id)}</code>。请稍后再试。\n"
        f'也可以直接在 arXiv 查看：<a href="{esc(abs_url(arxiv_id))}">{esc(abs_url(arxiv_id))}</a>'
    )
    return _finish(text, script)


def arxiv_slow(arxiv_id: str, script: Script) -> Reply:
    """arXiv is slow: the fetch goes on and the paper will be there next time."""
    text = f"arXiv 响应较慢，<code>{esc(arxiv_id)}</code> 仍在获取中。\n请一分钟后再发送 /paper {esc(arxiv_id)}。"
    return _finish(text, script)


def paper_usage(script: Script, given: str = "") -> Reply:
    """How to call /paper (no or unusable argument)."""
    intro = f"「{esc(cut(given, 60))}」不是有效的 arXiv ID。\n\n" if given.strip() else ""
    text = (
        f"{intro}用法：/paper &lt;arXiv ID 或链接&gt;\n"
        "支持的写法：\n"
        "• <code>2404.07965</code>\n"
        "• <code>arXiv:2404.07965v2</code>\n"
        "• <code>https://arxiv.org/abs/2404.07965</code>\n"
        "• <code>https://arxiv.org/pdf/2404.07965.pdf</code>\n"
        "• 旧式 ID：<code>hep-th/9901001</code>"
    )
    return _finish(text, script)


# --- search -----------------------------------------------------------------------------------


def snippet(text: str, query: str, limit: int = SNIPPET_CHARS) -> str:
    """A short window of `text` around the first query word it contains (unescaped)."""
    flat = " ".join(text.split())
    folded = fold(flat)
    start = 0
    if len(folded) == len(flat):
        positions = [folded.find(w) for w in fold(query).split() if w]
        found = [p for p in positions if p >= 0]
        if found:
            start = max(min(found) - 15, 0)
    window = flat[start:]
    prefix = "…" if start else ""
    return prefix + cut(window, limit)


def search_page(
    query: str,
    query_id: int,
    page: int,
    hits: Sequence[SearchHit],
    has_more: bool,
    script: Script,
    *,
    broadened: bool = False,
    page_size: int = 5,
) -> Reply:
    """One page of results with numbered open buttons and ◀ ▶ paging."""
    lines = [f"🔎 「{esc(cut(query, 80))}」 · 第 {page + 1} 页"]
    if broadened:
        lines.append("<i>没有同时包含所有词的论文，以下结果包含其中任一词。</i>")
    first = page * page_size
    for number, hit in enumerate(hits, start=first + 1):
        paper = hit.paper
        entry = [f"\n<b>{number}. {esc(cut(paper.title_en, 200))}</b>"]
        if chinese_title(paper):
            entry.append(esc(cut(chinese_title(paper), 120)))
        entry.append(f"<code>{esc(paper.arxiv_id)}</code> · {paper_date(paper)}")
        machine = machine_text(paper)
        summary = paper.abstract_zh or (machine.abstract_zh if machine else paper.abstract_en)
        entry.append(f"<i>{esc(snippet(summary, query))}</i>")
        lines.append("\n".join(entry))
    open_row = [_button(str(n), script, Action.PAPER, h.paper.arxiv_id) for n, h in enumerate(hits, first + 1)]
    nav: list[InlineKeyboardButton | None] = []
    if page > 0:
        nav.append(_button("◀ 上一页", script, Action.SEARCH, str(query_id), page=page - 1, flag=broadened))
    if has_more:
        nav.append(_button("下一页 ▶", script, Action.SEARCH, str(query_id), page=page + 1, flag=broadened))
    return _finish("\n".join(lines), script, _kb([*_rows(open_row, 5), *_rows(nav, 2)]))


def search_empty(query: str, suggestions: Sequence[str], script: Script) -> Reply:
    """No result: say so, suggest topics and better spellings."""
    text = f"没有找到与「{esc(cut(query, 80))}」相关的论文。\n\n试试：\n"
    text += "• 更短或更常见的词，例如 <code>量化</code>、<code>agent</code>\n"
    text += "• 英文关键词或 arXiv ID\n• 浏览 /topics"
    if suggestions:
        text += "\n\n相近的主题："
    buttons = [_button(f"🏷 {name}", script, Action.TOPIC_VIEW, name) for name in suggestions]
    return _finish(text, script, _kb(_rows(buttons, 3)))


def search_usage(script: Script) -> Reply:
    """/search without words."""
    return _finish(
        "用法：/search &lt;关键词&gt;\n例如：<code>/search 量化</code>、<code>/search mixture of experts</code>、"
        "<code>/search 2404.07965</code>",
        script,
    )


# --- topics and subscriptions -----------------------------------------------------------------


def topics_list(counts: Sequence[TopicCount], subscribed: frozenset[str], script: Script) -> Reply:
    """/topics: each topic with its paper count and a subscribe toggle."""
    lines = ["🏷 <b>全部主题</b>（按下按钮订阅或取消）\n"]
    for topic in counts:
        mark = "✅" if topic.name in subscribed else "▫️"
        lines.append(f"{mark} {esc(topic.name)} · {topic.papers} 篇")
    if not counts:
        lines.append("目录还是空的。")
    buttons = [
        _button(f"{'✅' if t.name in subscribed else '➕'} {t.name}", script, Action.TOPIC_TOGGLE, t.name)
        for t in counts
    ]
    return _finish("\n".join(lines), script, _kb(_rows(buttons, 2)))


def topic_view(name: str, total: int, papers: Sequence[Paper], subscribed: bool, script: Script) -> Reply:
    """One topic: its count, newest papers and a subscribe toggle."""
    lines = [f"🏷 <b>{esc(name)}</b> · {total} 篇论文"]
    for number, paper in enumerate(papers, 1):
        lines.append(f"{number}. {esc(cut(paper.title_en, 120))} (<code>{esc(paper.arxiv_id)}</code>)")
    toggle = (
        _button(f"❌ 取消订阅 {name}", script, Action.TOPIC_UNSUBSCRIBE, name)
        if subscribed
        else _button(f"➕ 订阅 {name}", script, Action.TOPIC_SUBSCRIBE, name)
    )
    opens = [_button(str(n), script, Action.PAPER, p.arxiv_id) for n, p in enumerate(papers, 1)]
    return _finish("\n".join(lines), script, _kb([*_rows(opens, 5), *_rows([toggle], 1)]))


def subscribed(subscription: Subscription, status: str, script: Script, *, limit: int = 0) -> Reply:
    """The answer to a subscribe or unsubscribe request."""
    label = esc(subscription.value)
    what = f"主题「{label}」" if subscription.kind is SubscriptionKind.TOPIC else f"关键词「{label}」"
    texts = {
        "added": f"✅ 已订阅{what}。每天会按你设置的时间推送一篇新论文；/today 可以立即查看。",
        "already": f"你已经订阅了{what}。",
        "limit": f"订阅数量已达上限（{limit} 个）。请先用 /unsubscribe 取消一些订阅。",
        "removed": f"已取消订阅{what}。",
        "not_subscribed": f"你没有订阅{what}。",
    }
    return _finish(texts[status], script)


def unknown_topic(name: str, suggestions: Sequence[str], keyword_query_id: int | None, script: Script) -> Reply:
    """An unknown topic name: closest topics and an offer to follow the words as a keyword."""
    text = f"没有名为「{esc(cut(name, 60))}」的主题。"
    if suggestions:
        text += "\n你是不是想订阅："
    buttons = [_button(f"➕ {s}", script, Action.TOPIC_SUBSCRIBE, s) for s in suggestions]
    rows = _rows(buttons, 3)
    if keyword_query_id is not None:
        text += "\n\n也可以把它作为关键词关注：每天推送一篇包含这些词的新论文。"
        rows += _rows(
            [_button(f"🔔 关注关键词「{cut(name, 20)}」", script, Action.KEYWORD_SUBSCRIBE, str(keyword_query_id))], 1
        )
    rows += _rows([_button("🏷 全部主题", script, Action.TOPICS)], 1)
    return _finish(text, script, _kb(rows))


def subscribe_usage(script: Script) -> Reply:
    """/subscribe without a name (the topic list follows)."""
    return _finish("请选择要订阅的主题，或发送 <code>/subscribe 主题名或关键词</code>。", script)


def unsubscribe_menu(subs: Sequence[tuple[Subscription, int | None]], script: Script) -> Reply:
    """/unsubscribe without a name: a button per current subscription."""
    if not subs:
        return _finish(
            "你还没有任何订阅。用 /topics 选择主题。",
            script,
            _kb(_rows([_button("🏷 全部主题", script, Action.TOPICS)], 1)),
        )
    buttons = []
    for sub, query_id in subs:
        if sub.kind is SubscriptionKind.TOPIC:
            buttons.append(_button(f"❌ {sub.value}", script, Action.TOPIC_UNSUBSCRIBE, sub.value))
        elif query_id is not None:
            buttons.append(_button(f"❌ 关键词「{sub.value}」", script, Action.KEYWORD_UNSUBSCRIBE, str(query_id)))
    return _finish("选择要取消的订阅：", script, _kb(_rows(buttons, 2)))


def subscriptions_overview(
    subs: Sequence[Subscription],
    push_time: time,
    timezone: str,
    next_push_at: int | None,
    script: Script,
    *,
    active: bool = True,
) -> Reply:
    """/subscriptions: what the chat follows, when and where pushes arrive."""
    lines = ["📚 <b>我的订阅</b>"]
    topics = [s.value for s in subs if s.kind is SubscriptionKind.TOPIC]
    keywords = [s.value for s in subs if s.kind is SubscriptionKind.KEYWORD]
    lines.append(f"主题：{topic_list(topics) if topics else '（无）'}")
    if keywords:
        lines.append("关键词：" + "、".join(f"「{esc(k)}」" for k in keywords))
    lines.append(f"⏰ 每天 {push_time.strftime('%H:%M')}（{esc(timezone)}）推送")
    if next_push_at is not None and subs:
        when = datetime.fromtimestamp(next_push_at, ZoneInfo(timezone))
        lines.append(f"下一次推送：{when.strftime('%Y-%m-%d %H:%M')}")
    if not active:
        lines.append("⚠️ 推送已暂停（之前无法送达）。")
    if not subs:
        lines.append("\n还没有订阅：在下方选择主题，或发送 /subscribe 主题名。")
    lines.append("\n修改时间：/time 08:30 Asia/Taipei")
    rows = _rows([_button("🏷 管理主题", script, Action.TOPICS)], 1)
    return _finish("\n".join(lines), script, _kb(rows))


# --- settings ---------------------------------------------------------------------------------


def time_set(push_time: time, timezone: str, next_push_at: int | None, script: Script) -> Reply:
    """Confirmation of /time."""
    text = f"⏰ 推送时间已设为每天 {push_time.strftime('%H:%M')}（{esc(timezone)}）。"
    if next_push_at is not None:
        when = datetime.fromtimestamp(next_push_at, ZoneInfo(timezone))
        text += f"\n下一次推送：{when.strftime('%Y-%m-%d %H:%M')}"
    else:
        text += "\n订阅主题后开始推送：/topics"
    return _finish(text, script)


def time_error(kind: str, given: str, current: tuple[time, str] | None, script: Script) -> Reply:
    """What is wrong with a /time request, with examples."""
    if kind == "bad_timezone":
        head = (
            f"不认识时区「{esc(cut(given, 60))}」。请使用 IANA 时区名，"
            "例如 Asia/Shanghai、Asia/Taipei、Asia/Hong_Kong、America/New_York。"
        )
    elif given.strip():
        head = f"「{esc(cut(given, 60))}」不是有效的时间。请用 24 小时制 HH:MM，例如 08:30。"
    else:
        head = "用法：/time HH:MM [时区]"
    text = head + "\n\n例如：<code>/time 08:30</code> 或 <code>/time 21:00 Asia/Taipei</code>"
    if current:
        text += f"\n\n当前：每天 {current[0].strftime('%H:%M')}（{esc(current[1])}）"
    return _finish(text, script)


# Each script's name, written in simplified like every template (it is converted with the reply).
SCRIPT_NAMES = {Script.SIMPLIFIED: "简体中文", Script.TRADITIONAL: "繁体中文", Script.HONG_KONG: "繁体（香港）"}
# The /lang buttons: each written in its own script, so a reader finds theirs whatever the chat shows.
_LANG_BUTTONS = ((Script.TRADITIONAL, "繁體中文"), (Script.HONG_KONG, "繁體（香港）"), (Script.SIMPLIFIED, "简体中文"))


def lang_menu(script: Script) -> Reply:
    """/lang: choose the script."""
    buttons = [
        InlineKeyboardButton(label, callback_data=callbacks.encode(Action.LANG, choice.value))
        for choice, label in _LANG_BUTTONS
    ]
    return _finish(f"当前使用：{SCRIPT_NAMES[script]}\n请选择文字：", script, _kb([buttons]))


def lang_set(script: Script) -> Reply:
    """Confirmation of a script switch, in the new script."""
    return _finish(f"好的，以后使用{SCRIPT_NAMES[script]}。", script)


# --- start, help, misc ------------------------------------------------------------------------


def start(script: Script, counts: Sequence[TopicCount], subscribed: frozenset[str], papers: int) -> Reply:
    """/start: what the bot does, how to begin, topic buttons."""
    text = (
        "👋 你好！我每天为你推送一篇 AI 论文的中文摘要。\n\n"
        f"目录中现有 {papers} 篇近期 arXiv 论文（大模型、多模态、智能体……）。\n\n"
        "<b>开始：</b>\n"
        "1. 在下方选择感兴趣的主题（或 /subscribe 多模态LLM）\n"
        "2. 用 /time 08:30 Asia/Taipei 设置推送时间\n"
        "3. 想马上看：/today\n\n"
        "查论文：/paper 2404.07965　搜索：/search 量化　全部命令：/help"
    )
    buttons = [
        _button(f"{'✅' if t.name in subscribed else '➕'} {t.name}", script, Action.TOPIC_TOGGLE, t.name)
        for t in counts
    ]
    return _finish(text, script, _kb(_rows(buttons, 3)))


def help_text(script: Script) -> Reply:
    """/help: every command with an example."""
    lines = ["<b>命令</b>"]
    for command in COMMANDS:
        lines.append(f"/{command.name} — {esc(command.description)}\n   例：<code>{esc(command.example)}</code>")
    lines.append(
        "\n<b>更多</b>\n• 在任何聊天中输入 <code>@机器人用户名 关键词</code> 即可分享论文（内联模式）\n"
        "• 群组中只有管理员可以修改订阅、时间和文字设置"
    )
    return _finish("\n".join(lines), script)


def today_empty(script: Script, *, has_subscriptions: bool) -> Reply:
    """/today with nothing to send."""
    if not has_subscriptions:
        return _finish(
            "你还没有订阅任何主题。先选择一个吧：",
            script,
            _kb(_rows([_button("🏷 全部主题", script, Action.TOPICS)], 1)),
        )
    return _finish("今天没有新的论文了：你订阅的主题都已读完。有新论文时会继续推送。", script)


def today_busy(script: Script) -> Reply:
    """/today while this chat's daily push is still being sent."""
    return _finish("今天的推送正在发送中，稍后再试 /today。", script)


def exhausted(subscription: Subscription, total: int, script: Script) -> Reply:
    """Told once when a subscription has nothing new left."""
    label = subscription.value if subscription.kind is SubscriptionKind.TOPIC else f"关键词「{subscription.value}」"
    return _finish(f"已读完 {esc(label)} 的全部 {total} 篇，有新论文时会继续推送。", script)


def throttled(script: Script) -> Reply:
    """A chat sending commands too fast."""
    return _finish("⏳ 操作太频繁了，请稍等片刻再试。", script)


def apology(script: Script) -> Reply:
    """An unexpected error in a handler."""
    return _finish("抱歉，处理你的请求时出错了。请稍后再试；问题已记录。", script)


def admins_only(script: Script) -> str:
    """Short answer (callback alert or message) when a group member is not an admin."""
    return to_script("只有群组管理员可以修改本群的设置。", script)


def stale_button(script: Script) -> str:
    """Answer to a button this bot does not recognise (old, forged or expired)."""
    return to_script("这个按钮已失效，请重新发送命令。", script)


def not_admin_command(script: Script) -> Reply:
    """/stats from someone who is not a configured admin."""
    return _finish("这个命令仅限机器人管理员使用。", script)


def unknown_command(script: Script) -> Reply:
    """A command this bot does not have."""
    return _finish("不认识这个命令。发送 /help 查看全部命令。", script)


def plain(text: str, script: Script) -> Reply:
    """A preformatted HTML text in the chat's script (operators' reports)."""
    return _finish(text, script)


def deep_link_payload(arxiv_id: str) -> str:
    """`/start` payload for a paper (letters, digits, `_` and `-` only): 2404.07965 -> p_2404_07965."""
    return "p_" + arxiv_id.replace("/", "__").replace(".", "_")


def parse_deep_link(payload: str) -> str:
    """The arXiv ID text inside a /start payload (validated by the caller)."""
    body = payload[2:] if payload.startswith("p_") else payload
    return body.replace("__", "/").replace("_", ".")
