"""BOT_LLM_* settings: off by default, the key only from the environment and never printed."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings
from tests.conftest import ROOT

CONFIG = ROOT / "config" / "bot.toml"


def test_translation_is_off_without_a_url() -> None:
    settings = load_settings(CONFIG, {})
    assert not settings.translation.enabled
    assert settings.translation.daily_tokens > 0 and 0 <= settings.translation.push_reserve < 1


def test_environment_configures_the_model_and_hides_the_key() -> None:
    env = {
        "BOT_LLM_URL": "http://localhost:11434/v1/",
        "BOT_LLM_MODEL": "qwen2.5:7b",
        "BOT_LLM_API_KEY": "sk-live-abcdefghijklmnop",
    }
    settings = load_settings(CONFIG, env)
    assert settings.translation.enabled
    assert settings.translation.url == "http://localhost:11434/v1"
    assert settings.translation.model == "qwen2.5:7b"
    assert settings.translation.api_key == "sk-live-abcdefghijklmnop"
    assert "sk-live" not in repr(settings) and "sk-live" not in str(settings.translation)


def test_a_url_without_a_model_is_an_error() -> None:
    with pytest.raises(ConfigError, match="BOT_LLM_MODEL"):
        load_settings(CONFIG, {"BOT_LLM_URL": "http://localhost:8000/v1"})
