"""How the bot is started against real Telegram: polling by default, a webhook when configured."""

from __future__ import annotations

from typing import Any

import pytest
from telegram.ext import Application

from bot.config import Settings
from bot.telegram.runner import run_bot

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_long_polling_by_default(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: dict[str, Any] = {}
    monkeypatch.setattr(Application, "run_polling", lambda self, **kw: calls.update(kw))
    run_bot(settings.with_overrides(token=TOKEN))
    assert "allowed_updates" in calls


def test_webhook_when_configured_keeps_the_token_out_of_the_url(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: dict[str, Any] = {}
    monkeypatch.setattr(Application, "run_webhook", lambda self, **kw: calls.update(kw))
    run_bot(settings.with_overrides(token=TOKEN, webhook_url="https://bot.example.org/hook/"))
    assert calls["webhook_url"].startswith("https://bot.example.org/hook/")
    assert calls["webhook_url"].endswith(calls["url_path"])
    assert TOKEN.split(":")[1] not in calls["webhook_url"]
    assert calls["secret_token"] and TOKEN.split(":")[1] not in calls["secret_token"]
