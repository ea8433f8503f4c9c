"""The one configuration object: `config/bot.toml` plus environment overrides, built once at start-up.

Each setting is declared ONCE, as a field of `Settings` (or of a section such as `PushSettings`) made
with `setting(default, toml="section.key", env="BOT_...")`: its type (from the annotation) says how a
value is parsed, and the loader, the unknown-key check and the documentation test all read that table.
Adding a setting is one line:

    refresh_hours: int = setting(6, toml="sources.refresh_hours", env="BOT_REFRESH_HOURS", check=_positive)

then a commented line in config/bot.toml and, if it has an `env`, a row in the README's table (tests
fail otherwise). Supported types: str, int, float, bool, Path, time ("HH:MM"), frozenset[int] and
tuple[str, ...] (TOML lists, or comma-separated in the environment), and a nested settings dataclass
made with `section(...)`.

Nothing reads `os.environ` at import time: `load_settings(environ=...)` receives the environment
explicitly, so tests build settings without touching the process environment.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from typing import Any, TypeVar, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_CONFIG = Path("config/bot.toml")
CONFIG_ENV = "BOT_CONFIG"  # read by load_settings itself: which file to load
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

T = TypeVar("T")
Check = Callable[[Any], Any]


class ConfigError(ValueError):
    """The configuration file or an environment override is invalid."""


def setting(
    default: T,
    *,
    toml: str | None,
    env: str | None = None,
    parse: Callable[[Any], T] | None = None,
    check: Check | None = None,
    secret: bool = False,
) -> T:
    """Declare one setting: its default, its "section.key" in the TOML file (None: environment only, for
    secrets), its environment variable, an optional parser (default: by the field's type) and check
    (raises ConfigError or ValueError). Secrets are left out of repr() so they never reach a log."""
    meta = {"toml": toml, "env": env, "parse": parse, "check": check}
    return field(default=default, repr=not secret, metadata=meta)


def section(cls: Callable[[], T]) -> T:
    """Declare a nested settings dataclass (one TOML table), e.g. `push: PushSettings = section(PushSettings)`."""
    return field(default_factory=cls, metadata={"section": True})


# -- parsers and checks ------------------------------------------------------------------------------


def parse_time(text: str) -> time:
    """`HH:MM` (24-hour) to a time; ConfigError otherwise."""
    match = _TIME.match(str(text).strip())
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


def _positive(value: float) -> None:
    if value < 1:
        raise ConfigError(f"must be at least 1, got {value}")


def _not_negative(value: float) -> None:
    if value < 0:
        raise ConfigError(f"must not be negative, got {value}")


def _url(value: Any) -> str:
    return _str(value).strip().rstrip("/")


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"expected a string, got {value!r}")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f"expected an integer, got {value!r}")
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigError(f"expected an integer, got {value!r}") from exc


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"expected a number, got {value!r}")
    try:
        return float(value)
    except ValueError as exc:
        raise ConfigError(f"expected a number, got {value!r}") from exc


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"expected true or false, got {value!r}")


def _list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [v for v in re.split(r"[,\s]+", value) if v]
    if isinstance(value, list):
        return value
    raise ConfigError(f"expected a list, got {value!r}")


def _int_set(value: Any) -> frozenset[int]:
    try:
        return frozenset(int(v) for v in _list(value))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"expected a list of integers, got {value!r}") from exc


def _str_tuple(value: Any) -> tuple[str, ...]:
    return tuple(_str(v).strip() for v in _list(value))


_PARSERS: dict[Any, Callable[[Any], Any]] = {
    str: _str,
    int: _int,
    float: _float,
    bool: _bool,
    Path: lambda v: Path(_str(v)),
    time: parse_time,
    frozenset[int]: _int_set,
    tuple[str, ...]: _str_tuple,
}


# -- the settings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushSettings:
    """How the daily fan-out paces itself ([push] in the file)."""

    global_rate: float = setting(25.0, toml="push.global_rate")  # <= 0: no global limit
    per_chat_interval: float = setting(1.0, toml="push.per_chat_interval", check=_not_negative)
    concurrency: int = setting(8, toml="push.concurrency", check=_positive)
    max_attempts: int = setting(4, toml="push.max_attempts", check=_positive)


def _share(value: float) -> None:
    if not 0 <= value < 1:
        raise ConfigError(f"must be at least 0 and below 1, got {value}")


def _seconds(value: float) -> None:
    if value <= 0:
        raise ConfigError(f"must be more than 0 seconds, got {value}")


@dataclass(frozen=True)
class TranslationSettings:
    """The model that writes Chinese for English-only papers ([translation]; off without a url)."""

    # OpenAI-compatible base URL, e.g. http://localhost:11434/v1 (Ollama).
    url: str = setting("", toml="translation.url", env="BOT_LLM_URL", parse=_url)
    model: str = setting("", toml="translation.model", env="BOT_LLM_MODEL", parse=lambda v: _str(v).strip())
    api_key: str = setting("", toml=None, env="BOT_LLM_API_KEY", parse=lambda v: _str(v).strip(), secret=True)
    # Requests in flight for background work (a /paper request has slots of its own).
    concurrency: int = setting(4, toml="translation.concurrency", check=_positive)
    timeout: float = setting(60.0, toml="translation.timeout", check=_seconds)  # seconds for one request
    daily_tokens: int = setting(3_000_000, toml="translation.daily_tokens", check=_positive)  # per UTC day
    daily_papers: int = setting(1500, toml="translation.daily_papers", check=_positive)
    # Share of the budget only papers about to be pushed (and /paper) may use.
    push_reserve: float = setting(0.3, toml="translation.push_reserve", check=_share)
    interval: float = setting(300.0, toml="translation.interval", check=_seconds)  # between background runs
    batch: int = setting(100, toml="translation.batch", check=_positive)  # papers per background run
    wait: float = setting(45.0, toml="translation.wait", check=_seconds)  # /paper waits this long to edit
    glossary: Path = setting(Path("config/glossary.toml"), toml="translation.glossary")

    @property
    def enabled(self) -> bool:
        return bool(self.url)


@dataclass(frozen=True)
class SourcesSettings:
    """Where new papers come from and how politely they are fetched ([sources] in the file)."""

    file: Path = setting(Path("config/sources.toml"), toml="sources.file", env="BOT_SOURCES")
    arxiv_feed_url: str = setting(
        "https://rss.arxiv.org/atom", toml="sources.arxiv_feed_url", env="BOT_ARXIV_FEED_URL", parse=_url
    )
    arxiv_api_url: str = setting(
        "https://export.arxiv.org/api/query", toml="sources.arxiv_api_url", env="BOT_ARXIV_API_URL", parse=_url
    )
    # Seconds between two requests to one host; never below 3 against arxiv.org (enforced in bot.sources.http).
    arxiv_delay: float = setting(3.0, toml="sources.arxiv_delay", env="BOT_ARXIV_DELAY", check=_not_negative)
    hf_api_url: str = setting("https://huggingface.co/api", toml="sources.hf_api_url", env="BOT_HF_API_URL", parse=_url)
    # Named in the User-Agent of every request, so a service can reach the operator.
    contact_url: str = setting("https://github.com/paper-digest-bot/paper-digest-bot", toml="sources.contact_url")
    timeout: float = setting(30.0, toml="sources.timeout", check=_positive)
    max_bytes: int = setting(20_000_000, toml="sources.max_bytes", check=_positive)


@dataclass(frozen=True)
class Settings:
    """Everything the bot needs to know about its deployment."""

    token: str = setting("", toml=None, env="TELEGRAM_BOT_TOKEN", parse=lambda v: _str(v).strip(), secret=True)
    api_url: str = setting("https://api.telegram.org", toml="telegram.api_url", env="TELEGRAM_API_URL", parse=_url)
    webhook_url: str = setting("", toml="telegram.webhook_url", env="BOT_WEBHOOK_URL")
    webhook_listen: str = setting("0.0.0.0", toml="telegram.webhook_listen")
    webhook_port: int = setting(8443, toml="telegram.webhook_port", env="BOT_WEBHOOK_PORT")
    admin_ids: frozenset[int] = setting(frozenset(), toml="bot.admin_ids", env="BOT_ADMIN_IDS")
    default_time: time = setting(time(8, 0), toml="bot.default_time", env="BOT_DEFAULT_TIME")
    default_timezone: str = setting(
        "Asia/Shanghai", toml="bot.default_timezone", env="BOT_DEFAULT_TIMEZONE", check=check_timezone
    )
    papers_per_push: int = setting(5, toml="bot.papers_per_push", check=_positive)
    max_subscriptions: int = setting(20, toml="bot.max_subscriptions", check=_positive)
    search_page_size: int = setting(5, toml="bot.search_page_size", check=_positive)
    commands_per_minute: int = setting(30, toml="bot.commands_per_minute", check=_positive)
    push: PushSettings = section(PushSettings)
    translation: TranslationSettings = section(TranslationSettings)
    sources: SourcesSettings = section(SourcesSettings)
    database: Path = setting(Path("data/bot.sqlite3"), toml="storage.database", env="BOT_DATABASE")
    seeds: Path = setting(Path("seeds"), toml="storage.seeds", env="BOT_SEEDS")
    topics: Path = setting(Path("config/topics.toml"), toml="storage.topics", env="BOT_TOPICS")

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests and benchmarks)."""
        return replace(self, **changes)


# -- the loader --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One declared setting, as the loader sees it."""

    path: tuple[str, ...]  # attribute path from Settings, e.g. ("push", "concurrency")
    toml: str | None
    env: str | None
    parse: Callable[[Any], Any]
    check: Check | None
    default: Any


def _fields(cls: type[Any], prefix: tuple[str, ...] = ()) -> Iterator[Field]:
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("section"):
            yield from _fields(hints[f.name], (*prefix, f.name))
            continue
        if "toml" not in f.metadata:
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with setting()")
        parse = f.metadata["parse"] or _PARSERS.get(hints[f.name])
        if parse is None:
            raise TypeError(f"{cls.__name__}.{f.name}: no parser for {hints[f.name]}; pass parse=")
        yield Field((*prefix, f.name), f.metadata["toml"], f.metadata["env"], parse, f.metadata["check"], f.default)


FIELDS: tuple[Field, ...] = tuple(_fields(Settings))


def environment_variables() -> list[str]:
    """Every environment variable the configuration reads (the README documents each one)."""
    return [CONFIG_ENV, *(f.env for f in FIELDS if f.env)]


def _unknown_keys(data: Mapping[str, Any]) -> list[str]:
    known = {f.toml for f in FIELDS if f.toml}
    sections = {key.partition(".")[0] for key in known}
    found: list[str] = []
    for name, table in data.items():
        if name not in sections or not isinstance(table, dict):
            found.append(name)
            continue
        found += [f"{name}.{key}" for key in table if f"{name}.{key}" not in known]
    return found


def _explain_unknown(path: Path, keys: list[str]) -> str:
    keys_known = {f.toml for f in FIELDS if f.toml}
    known = sorted(keys_known | {key.partition(".")[0] for key in keys_known})
    parts = []
    for key in keys:  # a misspelt key is the usual cause: name the closest real one
        close = difflib.get_close_matches(key, known, n=1)
        parts.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return f"{path}: unknown setting {', '.join(parts)}"


def _build(cls: type[T], values: Mapping[tuple[str, ...], Any], prefix: tuple[str, ...] = ()) -> T:
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        key = (*prefix, f.name)
        if f.metadata.get("section"):
            kwargs[f.name] = _build(hints[f.name], values, key)
        elif key in values:
            kwargs[f.name] = values[key]
    return cls(**kwargs)


def limit_native_threads() -> None:
    """One OpenBLAS / OpenMP thread each, unless the operator set them: the libraries under the topic
    model (numpy, scikit-learn) keep a thread per core spinning between calls, and the bot's models are
    small while its event loop shares the machine's cores with them (the spinning made the tagging tests
    cost 5-10x their CPU time on two cores). Call before anything imports numpy; spawned processes (the
    refresh worker) inherit it."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(name, "1")


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (default: BOT_CONFIG or config/bot.toml) and apply environment overrides."""
    env = dict(environ or {})
    path = path or Path(env.get(CONFIG_ENV, DEFAULT_CONFIG))
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    elif CONFIG_ENV in env:
        raise ConfigError(f"{CONFIG_ENV} points to {path}, which does not exist")
    unknown = _unknown_keys(data)
    if unknown:
        raise ConfigError(_explain_unknown(path, unknown))
    values: dict[tuple[str, ...], Any] = {}
    for f in FIELDS:
        raw: Any
        if f.env and f.env in env:
            raw, origin = env[f.env], f.env
        elif f.toml:
            section_name, _, key = f.toml.partition(".")
            if key not in data.get(section_name, {}):
                continue
            raw, origin = data[section_name][key], f"{path}: {f.toml}"
        else:
            continue
        try:
            value = f.parse(raw)
            if f.check is not None:
                f.check(value)
        except (ConfigError, TypeError, ValueError) as exc:
            raise ConfigError(f"{origin}: {exc}") from exc
        values[f.path] = value
    settings = _build(Settings, values)
    if settings.translation.enabled and not settings.translation.model:
        raise ConfigError("BOT_LLM_URL is set but BOT_LLM_MODEL is not: name the model to translate with")
    return settings
