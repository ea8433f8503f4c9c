"""What handlers reach through `context.bot_data`: the services, built once in post_init."""

from __future__ import annotations

from dataclasses import dataclass

from telegram.ext import ContextTypes

from bot.config import Settings
from bot.push.service import PushService
from bot.services.catalogue import CatalogueService
from bot.services.chats import ChatService
from bot.services.refresh import RefreshService
from bot.storage.db import Database
from bot.storage.threads import PushThreads
from bot.translate.service import TranslationService

SERVICES_KEY = "services"


@dataclass
class Services:
    """Everything a handler may call; handlers hold no other state."""

    settings: Settings
    catalogue: CatalogueService
    chats: ChatService
    push: PushService
    database: Database
    translation: TranslationService | None = None  # None without BOT_LLM_URL
    refresh: RefreshService | None = None  # sources and /paper fetches from arXiv
    threads: PushThreads | None = None  # forum chats' push topic


Context = ContextTypes.DEFAULT_TYPE


def services(context: Context) -> Services:
    """The services of the running application."""
    found = context.bot_data.get(SERVICES_KEY)
    if not isinstance(found, Services):
        raise RuntimeError("services are not initialised (post_init did not run)")
    return found
