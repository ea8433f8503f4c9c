import os
from datetime import time
from pathlib import Path

import pytest

from bot.config import FIELDS, ConfigError, PushSettings, limit_native_threads, load_settings
from tests.conftest import ROOT

CONFIG = ROOT / "config" / "bot.toml"


def test_file_values_and_environment_overrides() -> None:
    settings = load_settings(
        CONFIG,
        {
            "TELEGRAM_BOT_TOKEN": "123:secret-token-value",
            "TELEGRAM_API_URL": "http://127.0.0.1:8081/",
            "BOT_DATABASE": "/tmp/x.sqlite3",
            "BOT_ADMIN_IDS": "1, 2",
        },
    )
    assert settings.api_url == "http://127.0.0.1:8081"
    assert settings.database == Path("/tmp/x.sqlite3")
    assert settings.admin_ids == frozenset({1, 2})
    assert settings.default_time == time(8, 0)
    assert "secret-token-value" not in repr(settings)


def test_defaults_without_environment() -> None:
    settings = load_settings(CONFIG, {})
    assert settings.token == "" and settings.api_url == "https://api.telegram.org"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BOT_DEFAULT_TIME": "25:00"}, "invalid time"),
        ({"BOT_DEFAULT_TIMEZONE": "Mars/Olympus"}, "unknown timezone"),
        ({"BOT_ADMIN_IDS": "alice"}, "BOT_ADMIN_IDS: expected a list of integers"),
        ({"BOT_CONFIG": "/nonexistent/bot.toml"}, "does not exist"),
    ],
)
def test_invalid_configuration_is_explained(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None if "BOT_CONFIG" in env else CONFIG, env)


def test_broken_toml_is_explained(tmp_path: Path) -> None:
    broken = tmp_path / "bot.toml"
    broken.write_text("[bot\nadmin_ids = ", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bot\.toml"):
        load_settings(broken, {})


def test_every_setting_reads_its_environment_variable_and_its_file_key(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text(
        '[bot]\npapers_per_push = 3\ndefault_time = "07:30"\n[push]\nconcurrency = 2\n[storage]\nseeds = "x"\n',
        encoding="utf-8",
    )
    settings = load_settings(config, {"BOT_SEEDS": "/srv/seeds", "BOT_WEBHOOK_PORT": "9000", "BOT_TOPICS": "t.toml"})
    assert settings.papers_per_push == 3 and settings.default_time == time(7, 30)
    assert settings.push == PushSettings(concurrency=2)  # the other [push] keys keep their defaults
    assert settings.seeds == Path("/srv/seeds")  # the environment wins over the file
    assert settings.webhook_port == 9000 and settings.topics == Path("t.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[push]\nconcurency = 2\n", r"unknown setting 'push.concurency' \(did you mean 'push.concurrency'\?\)"),
        ("[bot]\npapers_per_push = 3\ncolour = 'red'\n", r"unknown setting 'bot.colour'"),
        ("[telegarm]\napi_url = 'x'\n", r"unknown setting 'telegarm' \(did you mean 'telegram'\?\)"),
        ("admin_ids = [1]\n", r"unknown setting 'admin_ids'"),
        ("[bot]\npapers_per_push = 0\n", r"bot.papers_per_push: must be at least 1"),
        ("[bot]\npapers_per_push = 'five'\n", r"bot.papers_per_push: expected an integer"),
        ("[push]\nglobal_rate = true\n", r"push.global_rate: expected a number"),
        ("[telegram]\nwebhook_url = 5\n", r"telegram.webhook_url: expected a string"),
    ],
)
def test_unknown_or_invalid_keys_in_the_file_are_refused_by_name(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "bot.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(config, {})


def test_the_shipped_file_lists_every_file_setting() -> None:
    import tomllib

    data = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    listed = {f"{name}.{key}" for name, table in data.items() for key in table}
    assert listed == {f.toml for f in FIELDS if f.toml}


def test_the_token_is_never_read_from_the_file(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text("[telegram]\ntoken = '123:abc'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown setting 'telegram\.token'"):
        load_settings(config, {})


def test_native_threads_default_to_one_but_the_operator_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    limit_native_threads()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1" and os.environ["OMP_NUM_THREADS"] == "4"
