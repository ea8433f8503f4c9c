"""`python -m bot [command]`: run the bot (default), ingest seeds, refresh sources and show their state,
look up (fetching from arXiv when needed) and search papers, evaluate topic rules, show push and
translation statistics, translate English-only papers."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from bot.catalogue.tagger import (
    Method,
    catalogue_truth,
    evaluate_held_out,
    evaluate_method,
    format_evaluation,
    load_labelled,
)
from bot.catalogue.topics import Taxonomy
from bot.config import ConfigError, Settings, limit_native_threads, load_settings
from bot.logs import setup_logging
from bot.push.report import format_stats
from bot.push.service import PushService
from bot.services.catalogue import CatalogueService, LookupStatus
from bot.services.ingest import ingest
from bot.services.refresh import FetchStatus, RefreshService, build_fetcher
from bot.services.tagging import format_names
from bot.sources.config import load_sources
from bot.storage.db import Database, connect
from bot.storage.papers import PaperStore
from bot.storage.topic_names import load_names
from bot.storage.translations import TranslationStore
from bot.terminal import NoSender, format_paper, format_search
from bot.translate.report import format_translation_stats, translation_stats
from bot.translate.service import RunReport, build_translation

NO_TOKEN = (
    "TELEGRAM_BOT_TOKEN is not set and there is no terminal for the console mode.\n"
    "Set the token from @BotFather:  export TELEGRAM_BOT_TOKEN=123456:ABC...  and run `make run` again,\n"
    "or run `make run` in a terminal to try the bot in console mode."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Daily AI-paper digest bot")
    parser.add_argument("--config", type=Path, help="TOML configuration (default: BOT_CONFIG or config/bot.toml)")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="start the bot (console mode without TELEGRAM_BOT_TOKEN)")
    ingest_cmd = sub.add_parser("ingest", help="load seed files into the database")
    ingest_cmd.add_argument("paths", nargs="*", type=Path, help="files or directories (default: seeds/)")
    paper = sub.add_parser("paper", help="show a paper by arXiv ID or link")
    paper.add_argument("id")
    search = sub.add_parser("search", help="search the catalogue")
    search.add_argument("words", nargs="+")
    search.add_argument("--page", type=int, default=1)
    topics = sub.add_parser("topics", help="list topics, evaluate the taggers, or list unfiled topic names")
    topics.add_argument(
        "--evaluate", action="store_true", help="precision/recall of rules, model and hybrid on catalogue-tagged papers"
    )
    topics.add_argument(
        "--papers",
        type=Path,
        action="append",
        metavar="FILE",
        help="with --evaluate: also score the taggers on papers kept apart from them (TOML with their topics)",
    )
    topics.add_argument(
        "--unmapped", action="store_true", help="topic names from catalogue lists that are not filed, with their papers"
    )
    sub.add_parser("stats", help="chats, subscribers, today's pushes and translation tokens")
    translate = sub.add_parser("translate", help="translate English-only papers now (needs BOT_LLM_URL)")
    translate.add_argument("--limit", type=int, default=None, help="at most this many papers (default: all)")
    refresh = sub.add_parser("refresh", help="run sources now (default: every enabled one) and report")
    refresh.add_argument("names", nargs="*", help="source names from the sources file")
    sub.add_parser("sources", help="each source's last success, last error, next run and papers")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = _parser().parse_args(argv)
    limit_native_threads()
    setup_logging()
    try:
        settings = load_settings(args.config, os.environ)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    command = args.command or "run"
    if command == "run":
        return _run(settings)
    if command == "ingest":
        return _ingest(settings, args.paths or [settings.seeds])
    if command == "paper":
        return asyncio.run(_paper(settings, args.id))
    if command == "search":
        return asyncio.run(_search(settings, " ".join(args.words), args.page))
    if command == "refresh":
        return asyncio.run(_refresh(settings, args.names))
    if command == "sources":
        return asyncio.run(_sources(settings))
    if command == "topics":
        if args.unmapped:
            return _unmapped(settings)
        if args.papers and not args.evaluate:
            print("--papers goes with --evaluate", file=sys.stderr)
            return 2
        return asyncio.run(_topics(settings, evaluate_rules=args.evaluate, held_out=args.papers or []))
    if command == "translate":
        return asyncio.run(_translate(settings, args.limit))
    return asyncio.run(_stats(settings))


def _run(settings: Settings) -> int:
    # Imported here so the operator commands do not load the Telegram stack.
    if settings.token:
        from bot.telegram.runner import run_bot

        return run_bot(settings)
    if sys.stdin.isatty() and sys.stdout.isatty():
        from bot.telegram.console import run_console_mode

        setup_logging(logging.WARNING)  # the terminal is the chat: keep it for messages

        return run_console_mode(settings)
    print(NO_TOKEN, file=sys.stderr)
    return 2


def _ingest(settings: Settings, paths: list[Path]) -> int:
    conn = connect(settings.database)
    try:
        report = ingest(
            conn, paths, Taxonomy.load(settings.topics), progress=lambda m: print(m, file=sys.stderr, flush=True)
        )
    finally:
        conn.close()
    print(report.format())
    return 0 if report.files else 1


@asynccontextmanager
async def _catalogue(settings: Settings) -> AsyncIterator[CatalogueService]:
    db = await Database.open(settings.database)
    try:
        yield CatalogueService(PaperStore(db), Taxonomy.load(settings.topics))
    finally:
        await db.close()


async def _paper(settings: Settings, text: str) -> int:
    async with _catalogue(settings) as catalogue:
        lookup = await catalogue.lookup(text)
    if lookup.status is LookupStatus.FOUND and lookup.paper is not None:
        print(format_paper(lookup.paper))
        return 0
    if lookup.status is LookupStatus.NOT_IN_CATALOGUE and lookup.arxiv_id:
        print(f"{lookup.arxiv_id}: not in the catalogue, fetching from arXiv ...", file=sys.stderr, flush=True)
        async with _refresher(settings) as refresher:
            fetched = await refresher.fetch_paper(lookup.arxiv_id)
        if fetched.status is FetchStatus.FOUND and fetched.paper is not None:
            print(format_paper(fetched.paper))
            return 0
        if fetched.status is FetchStatus.UNKNOWN:
            print(f"arXiv has no paper {lookup.arxiv_id} (https://arxiv.org/abs/{lookup.arxiv_id})")
            return 1
        if fetched.status is FetchStatus.INVALID:
            print(f"arXiv says {lookup.arxiv_id!r} is not a valid arXiv ID: {fetched.detail}")
            return 2
        print(f"arXiv cannot be reached right now; try again later ({fetched.detail})")
        return 1
    print(f"{text!r} is not an arXiv ID or link (e.g. 2404.07965, arXiv:2404.07965v2, an abs or pdf URL)")
    return 2


@asynccontextmanager
async def _refresher(settings: Settings) -> AsyncIterator[RefreshService]:
    db = await Database.open(settings.database)
    fetcher = build_fetcher(settings)
    service: RefreshService | None = None
    try:
        specs = load_sources(settings.sources.file)
        service = RefreshService(db, settings, Taxonomy.load(settings.topics), specs, fetcher)
        yield service
    finally:
        await (service.close() if service else fetcher.close())  # the service's close ends its worker too
        await db.close()


async def _refresh(settings: Settings, names: list[str]) -> int:
    try:
        async with _refresher(settings) as refresher:
            unknown = [n for n in names if refresher.spec(n) is None]
            if unknown:
                known = ", ".join(s.name for s in refresher.specs) or "none"
                print(f"unknown source {', '.join(unknown)} (configured: {known})", file=sys.stderr)
                return 2
            reports = await refresher.run(names, progress=lambda m: print(m, file=sys.stderr, flush=True))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    for report in reports:
        print(report.format())
    if not reports:
        print("no source enabled (see the sources file)")
    return 0 if all(r.ok for r in reports) else 1


async def _sources(settings: Settings) -> int:
    try:
        async with _refresher(settings) as refresher:
            statuses = await refresher.status()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(s.format() for s in statuses) or "no sources configured")
    return 0


async def _search(settings: Settings, query: str, page: int) -> int:
    async with _catalogue(settings) as catalogue:
        result = await catalogue.search(query, page=max(page - 1, 0), page_size=settings.search_page_size)
    print(format_search(result))
    return 0 if result.hits else 1


async def _topics(settings: Settings, *, evaluate_rules: bool, held_out: Sequence[Path] = ()) -> int:
    async with _catalogue(settings) as catalogue:
        if evaluate_rules:
            try:
                kept_apart = [(path, load_labelled(path)) for path in held_out]
            except ValueError as exc:
                print(exc, file=sys.stderr)
                return 2
            papers = await catalogue.all_papers()
            taxonomy = catalogue.taxonomy
            if not any(catalogue_truth(p, taxonomy) for p in papers):
                print("no catalogue-tagged papers to measure: run `python -m bot ingest` first", file=sys.stderr)
                return 1
            reports = [format_evaluation(evaluate_method(papers, taxonomy, m)) for m in Method]
            for path, labelled in kept_apart:
                reports.extend(
                    f"[{path}]\n" + format_evaluation(evaluate_held_out(labelled, taxonomy, m, papers)) for m in Method
                )
            print("\n\n".join(reports))
            return 0
        for topic in await catalogue.topics():
            print(f"{topic.papers:6d}  {topic.name}")
    return 0


def _unmapped(settings: Settings) -> int:
    conn = connect(settings.database)
    try:
        print(format_names(load_names(conn), Taxonomy.load(settings.topics)))
    finally:
        conn.close()
    return 0


async def _stats(settings: Settings) -> int:
    db = await Database.open(settings.database)
    try:
        print(format_stats(await PushService(db, settings, NoSender()).stats()))
        store = TranslationStore(db)
        print(format_translation_stats(await translation_stats(store, settings.translation, datetime.now(UTC).date())))
    finally:
        await db.close()
    return 0


NO_MODEL = (
    "No model to translate with: set BOT_LLM_URL (an OpenAI-compatible base URL, e.g. http://localhost:11434/v1\n"
    'for Ollama) and BOT_LLM_MODEL, plus BOT_LLM_API_KEY for a hosted API. See README, "Translation".'
)


async def _translate(settings: Settings, limit: int | None) -> int:
    if not settings.translation.enabled:
        print(NO_MODEL, file=sys.stderr)
        return 2
    if limit is not None and limit < 1:
        print("--limit must be at least 1", file=sys.stderr)
        return 2
    db = await Database.open(settings.database)
    service = build_translation(settings, db)
    assert service is not None
    try:
        waiting = await service.store.waiting()
        target = waiting if limit is None else min(limit, waiting)
        print(
            f"{waiting} English-only papers without Chinese; translating {target} with {service.model}", file=sys.stderr
        )

        def progress(report: RunReport) -> None:
            print(f"  [{report.attempted}/{target}] {report.summary()}", file=sys.stderr, flush=True)

        report = await service.backfill(limit, progress)
    finally:
        await service.close()
        await db.close()
    print(report.summary())
    if report.stopped == "budget":
        print("stopped by today's budget ([translation] daily_tokens / daily_papers in config/bot.toml)")
    return 0 if report.translated or not report.attempted else 1
