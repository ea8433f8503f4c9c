"""Plain-text views for the operator command line (no Telegram, no HTML)."""

from __future__ import annotations

import textwrap

from bot.catalogue.model import Paper
from bot.services.catalogue import SearchResult
from bot.text.arxiv import abs_url, pdf_url


def format_paper(paper: Paper) -> str:
    """A paper as the terminal shows it, abstract in full."""
    date = paper.published.isoformat() if paper.date_is_exact else paper.published.strftime("%Y-%m") + " (month)"
    topics = ", ".join(f"{name} ({source})" for name, source in paper.topics) or "-"
    lines = [
        f"{paper.arxiv_id}  {paper.title_en}",
        f"  {paper.title_zh}" if paper.title_zh else "",
        f"  date: {date}",
        f"  topics: {topics}",
        f"  {abs_url(paper.arxiv_id)}  {pdf_url(paper.arxiv_id)}",
        "",
        textwrap.fill(paper.abstract_zh, width=60, initial_indent="  ", subsequent_indent="  "),
    ]
    text = "\n".join(line for i, line in enumerate(lines) if line or i == 5)
    machine = None if paper.abstract_zh else paper.machine
    if machine is not None:  # a machine translation, marked, with the English it came from
        text = text.rstrip() + f"\n  [machine translation, {machine.model}] {machine.title_zh}\n"
        text += textwrap.fill(machine.abstract_zh, width=60, initial_indent="  ", subsequent_indent="  ")
        if machine.key_point:
            text += f"\n  要点: {machine.key_point}"
    if not paper.abstract_zh and paper.abstract_en:
        english = textwrap.fill(paper.abstract_en, width=80, initial_indent="  ", subsequent_indent="  ")
        text = text.rstrip() + "\n\n" + english
    return text


def format_search(result: SearchResult) -> str:
    """Search results as the terminal shows them."""
    if not result.hits:
        suggestions = ", ".join(t.name for t in result.suggestions)
        return f"no results for {result.query!r}" + (f"; related topics: {suggestions}" if suggestions else "")
    lines = [f"results for {result.query!r}, page {result.page + 1}" + (" (any word)" if result.broadened else "")]
    for hit in result.hits:
        paper = hit.paper
        where = "title" if hit.in_title else "abstract"
        lines.append(f"  {paper.arxiv_id:<16} {paper.published.isoformat()}  [{where}]  {paper.title_en}")
        if paper.title_zh:
            lines.append(f"  {'':<16} {paper.title_zh}")
    if result.has_more:
        lines.append(f"  ... more: --page {result.page + 2}")
    return "\n".join(lines)


class NoSender:
    """A push Sender for commands that never send (stats)."""

    async def send_paper(self, *_: object) -> None:
        raise RuntimeError("this command does not send messages")

    async def send_exhausted(self, *_: object) -> None:
        raise RuntimeError("this command does not send messages")
