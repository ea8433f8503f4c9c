"""Wiring the python-telegram-bot Application: defaults, handlers, start-up and shutdown, the push clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.catalogue.topics import Taxonomy
from bot.config import Settings
from bot.logs import quiet_libraries
from bot.push.service import PushService, utcnow
from bot.services.catalogue import CatalogueService
from bot.services.chats import ChatService
from bot.services.ingest import ingest, needs_ingest
from bot.storage.chats import ChatStore
from bot.storage.db import Database, connect
from bot.storage.papers import PaperStore
from bot.storage.threads import PushThreads
from bot.storage.topic_names import adopted_names
from bot.telegram.context import SERVICES_KEY, Context, Services, services
from bot.telegram.handlers import admin, digest, papers, settings, start, subscriptions, translation
from bot.telegram.handlers.buttons import on_button
from bot.telegram.handlers.errors import on_error
from bot.telegram.sender import TelegramSender
from bot.telegram.sources import build_refresh, schedule_refresh
from bot.telegram.startup import apply_cosmetics
from bot.telegram.throttle import Throttle
from bot.text.normalize import Script, to_script
from bot.translate.service import build_translation

log = logging.getLogger(__name__)
PUSH_JOB = "daily-push-tick"
CLOCK_KEY = "push-clock"
Clock = Callable[[], datetime]
TRANSLATE_JOB = "translate-ahead"

# Command name -> handler. /help and the README list exactly these (a test checks).
HANDLERS = {
    "start": start.start,
    "help": start.help_command,
    "topics": subscriptions.topics,
    "subscribe": subscriptions.subscribe,
    "unsubscribe": subscriptions.unsubscribe,
    "subscriptions": subscriptions.subscriptions,
    "paper": papers.paper,
    "search": papers.search,
    "today": digest.today,
    "time": settings.set_time,
    "lang": settings.lang,
    "stats": admin.stats,
}


def _ingest_if_changed(settings: Settings, taxonomy: Taxonomy) -> None:
    conn = connect(settings.database)
    try:
        if needs_ingest(conn, [settings.seeds]):
            report = ingest(conn, [settings.seeds], taxonomy)
            log.info("seed files changed: ingested\n%s", report.format())
        # Topic names adopted from catalogue lists are topics too: subscribable, resolvable.
        taxonomy.adopt(adopted_names(conn))
    finally:
        conn.close()


async def _post_init(application: Application) -> None:  # type: ignore[type-arg]
    """Open the database, ingest changed seeds, build the services, register commands, start the clock."""
    settings: Settings = application.bot_data["settings"]
    taxonomy = Taxonomy.load(settings.topics)
    await asyncio.to_thread(_ingest_if_changed, settings, taxonomy)
    # Load OpenCC's dictionaries now, not in the first traditional-script reply (tens of milliseconds).
    for script in Script:
        await asyncio.to_thread(to_script, "简体", script)
    database = await Database.open(settings.database)
    threads = PushThreads(database)
    clock: Clock = application.bot_data.get(CLOCK_KEY, utcnow)
    push = PushService(database, settings, TelegramSender(application.bot, threads), clock=clock)
    await push.recover()
    application.bot_data[SERVICES_KEY] = Services(
        settings=settings,
        catalogue=CatalogueService(PaperStore(database), taxonomy),
        chats=ChatService(ChatStore(database), taxonomy, settings, push),
        push=push,
        database=database,
        translation=build_translation(settings, database),
        refresh=build_refresh(settings, database, taxonomy),
        threads=threads,
    )
    # Cosmetic (menus): a failure is logged and retried in the background, never fatal.
    await apply_cosmetics(application)
    if application.job_queue is not None:
        now = datetime.now(UTC)
        # Tick on each minute boundary; the first tick soon after start catches up missed pushes.
        # Overlapping ticks are safe (chats being served are claimed), so a long fan-out must not make
        # APScheduler skip the next minutes' ticks.
        application.job_queue.run_repeating(
            _push_tick,
            interval=60,
            first=max(1.0, 60 - now.second - now.microsecond / 1e6),
            name=PUSH_JOB,
            job_kwargs={"max_instances": 4, "misfire_grace_time": 30},
        )
        application.job_queue.run_once(_push_tick, when=1.0, name=f"{PUSH_JOB}-catch-up")
        refresh = application.bot_data[SERVICES_KEY].refresh
        if refresh is not None:
            await schedule_refresh(application, refresh)
        if settings.translation.enabled:
            # Translate ahead of the push; a slow model delays only this job (one run at a time).
            application.job_queue.run_repeating(
                translation.translate_tick, interval=settings.translation.interval, first=5.0, name=TRANSLATE_JOB
            )


async def _post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
    """Close the database."""
    found = application.bot_data.pop(SERVICES_KEY, None)
    if isinstance(found, Services):
        if found.translation is not None:
            await found.translation.close()
        if found.refresh is not None:
            await found.refresh.close()  # its HTTP client and worker process
        await found.database.close()


async def _push_tick(context: Context) -> None:
    """One minute of the daily push: send to every chat whose local time has come."""
    await services(context).push.tick()


def build_application(settings: Settings, *, clock: Clock | None = None) -> Application:  # type: ignore[type-arg]
    """The bot: handlers, defaults, database lifecycle and the push clock (`clock`: the push's idea of
    now, for tests that run the push's job at a chosen minute instead of waiting for it)."""
    quiet_libraries()
    defaults = Defaults(
        parse_mode=ParseMode.HTML,
        tzinfo=ZoneInfo(settings.default_timezone),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    application = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(f"{settings.api_url}/bot")
        .base_file_url(f"{settings.api_url}/file/bot")
        .defaults(defaults)
        # Enough for the push fan-out plus replies; a bigger httpcore pool costs time on every request.
        .connection_pool_size(settings.push.concurrency + 8)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    application.bot_data["settings"] = settings
    if clock is not None:
        application.bot_data[CLOCK_KEY] = clock
    application.add_handler(TypeHandler(Update, Throttle(settings.commands_per_minute)), group=-1)
    for name, callback in HANDLERS.items():
        application.add_handler(CommandHandler(name, callback))
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(InlineQueryHandler(papers.inline_query))
    application.add_handler(MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, start.unknown))
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, _on_migrate))
    application.add_error_handler(on_error)
    return application


async def _on_migrate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A group became a supergroup: move its settings and history to the new id."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        await services(context).chats.migrate(message.chat_id, message.migrate_to_chat_id)
    elif message.migrate_from_chat_id:
        await services(context).chats.migrate(message.migrate_from_chat_id, message.chat_id)
