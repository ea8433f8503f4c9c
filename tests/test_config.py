from datetime import time
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
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
        ({"BOT_ADMIN_IDS": "alice"}, "admin_ids"),
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
