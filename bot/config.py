"""The one configuration object: `config/bot.toml` plus environment overrides, built once at start-up.

Nothing reads `os.environ` at import time: `load_settings(environ=...)` receives the environment
explicitly, so tests build settings without touching the process environment.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_CONFIG = Path("config/bot.toml")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class ConfigError(ValueError):
    """The configuration file or an environment override is invalid."""


@dataclass(frozen=True)
class PushSettings:
    """How the daily fan-out paces itself."""

    global_rate: float = 25.0
    per_chat_interval: float = 1.0
    concurrency: int = 8
    max_attempts: int = 4


@dataclass(frozen=True)
class Settings:
    """Everything the bot needs to know about its deployment."""

    token: str = field(default="", repr=False)  # never printed: repr=False keeps it out of logs
    api_url: str = "https://api.telegram.org"
    webhook_url: str = ""
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    admin_ids: frozenset[int] = frozenset()
    default_time: time = time(8, 0)
    default_timezone: str = "Asia/Shanghai"
    papers_per_push: int = 5
    max_subscriptions: int = 20
    search_page_size: int = 5
    commands_per_minute: int = 30
    push: PushSettings = PushSettings()
    database: Path = Path("data/bot.sqlite3")
    seeds: Path = Path("seeds")
    topics: Path = Path("config/topics.toml")

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests and benchmarks)."""
        return replace(self, **changes)


def parse_time(text: str) -> time:
    """`HH:MM` (24-hour) to a time; ConfigError otherwise."""
    match = _TIME.match(text.strip())
    if not match:
        raise ConfigError(f"invalid time {text!r}: expected HH:MM, 00:00-23:59")
    return time(int(match.group(1)), int(match.group(2)))


def check_timezone(name: str) -> str:
    """The IANA timezone name, if it exists; ConfigError otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown timezone {name!r}") from exc
    return name


def _int_list(value: Any, name: str) -> frozenset[int]:
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value) if v]
    try:
        return frozenset(int(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a list of integer Telegram user ids") from exc


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (default: BOT_CONFIG or config/bot.toml) and apply environment overrides."""
    env = dict(environ or {})
    path = path or Path(env.get("BOT_CONFIG", DEFAULT_CONFIG))
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    elif "BOT_CONFIG" in env:
        raise ConfigError(f"BOT_CONFIG points to {path}, which does not exist")
    bot = data.get("bot", {})
    tg = data.get("telegram", {})
    push = data.get("push", {})
    storage = data.get("storage", {})
    try:
        settings = Settings(
            token=env.get("TELEGRAM_BOT_TOKEN", "").strip(),
            api_url=env.get("TELEGRAM_API_URL", tg.get("api_url", Settings.api_url)).rstrip("/"),
            webhook_url=env.get("BOT_WEBHOOK_URL", tg.get("webhook_url", "")),
            webhook_listen=tg.get("webhook_listen", Settings.webhook_listen),
            webhook_port=int(env.get("BOT_WEBHOOK_PORT", tg.get("webhook_port", Settings.webhook_port))),
            admin_ids=_int_list(env.get("BOT_ADMIN_IDS", bot.get("admin_ids", [])), "admin_ids"),
            default_time=parse_time(env.get("BOT_DEFAULT_TIME", bot.get("default_time", "08:00"))),
            default_timezone=check_timezone(
                env.get("BOT_DEFAULT_TIMEZONE", bot.get("default_timezone", Settings.default_timezone))
            ),
            papers_per_push=int(bot.get("papers_per_push", Settings.papers_per_push)),
            max_subscriptions=int(bot.get("max_subscriptions", Settings.max_subscriptions)),
            search_page_size=int(bot.get("search_page_size", Settings.search_page_size)),
            commands_per_minute=int(bot.get("commands_per_minute", Settings.commands_per_minute)),
            push=PushSettings(
                global_rate=float(push.get("global_rate", PushSettings.global_rate)),
                per_chat_interval=float(push.get("per_chat_interval", PushSettings.per_chat_interval)),
                concurrency=int(push.get("concurrency", PushSettings.concurrency)),
                max_attempts=int(push.get("max_attempts", PushSettings.max_attempts)),
            ),
            database=Path(env.get("BOT_DATABASE", storage.get("database", str(Settings.database)))),
            seeds=Path(env.get("BOT_SEEDS", storage.get("seeds", str(Settings.seeds)))),
            topics=Path(env.get("BOT_TOPICS", storage.get("topics", str(Settings.topics)))),
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{path}: {exc}") from exc
    if settings.papers_per_push < 1 or settings.search_page_size < 1 or settings.max_subscriptions < 1:
        raise ConfigError("papers_per_push, search_page_size and max_subscriptions must be at least 1")
    return settings
