"""Webhook mode end to end: the real `run_bot` -> run_webhook registers with the local Bot API (running like
telegram-bot-api --local, which allows a plain-HTTP webhook on 127.0.0.1), the server POSTs updates with
X-Telegram-Bot-Api-Secret-Token as Telegram does, and a POST without the right secret is refused."""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Iterator

import httpx
import pytest

from bot.config import Settings
from bot.localapi import LocalBotApi
from bot.telegram.local import LOCAL_TOKEN
from bot.telegram.runner import run_bot, webhook_path_and_secret
from tests.telegram.contract import violations
from tests.telegram.threaded import ServerThread

USER = 5150


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server() -> Iterator[ServerThread]:
    with ServerThread(LocalBotApi(LOCAL_TOKEN, local_mode=True)) as running:
        yield running


def test_webhook_end_to_end(server: ServerThread, settings: Settings) -> None:
    api = server.api
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    path, secret = webhook_path_and_secret(LOCAL_TOKEN)
    seen: dict[str, object] = {}
    refused: list[int] = []
    seen["refused"] = refused

    async def wait_for_webhook() -> None:
        await api._wait_until(lambda: True if api.webhook_wakeup is not None else None, 20, lambda: "no webhook")

    async def converse() -> None:
        await api.wait_webhook(20)
        api.add_private_chat(USER, "Wen")
        await api.send_text(USER, USER, "/paper 2404.07965")
        [card] = await api.wait_for_messages(USER, 1, timeout=10)
        seen["card"] = card.text
        async with httpx.AsyncClient() as http:
            info = (await http.get(f"{api.root}/bot{LOCAL_TOKEN}/getWebhookInfo")).json()["result"]
            seen["url"] = info["url"]
            forged = {
                "update_id": 999,
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "chat": {"id": USER, "type": "private"},
                    "from": {"id": USER, "is_bot": False, "first_name": "Mallory"},
                    "text": "/help",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
                },
            }
            for header in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                response = await http.post(
                    f"{base}/{path}", content=json.dumps(forged), headers={"Content-Type": "application/json", **header}
                )
                refused.append(response.status_code)
        await api.wait_idle()
        seen["after_forgery"] = len(api.messages(USER))

    def drive() -> None:
        try:
            server.call(converse(), timeout=30)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    helper = server.soon(drive)
    status = run_bot(
        settings.with_overrides(
            token=LOCAL_TOKEN, api_url=api.root, webhook_url=base, webhook_listen="127.0.0.1", webhook_port=port
        )
    )
    helper.join(10)
    assert status == 0
    assert seen["url"] == f"{base}/{path}"
    assert "Rho-1" in str(seen["card"])
    assert seen["refused"] == [403, 403]
    assert seen["after_forgery"] == 1  # the forged /help got no answer
    assert api.errors() == []
    problems, used = violations(e for e in api.journal if e.method != "getWebhookInfo")  # (the test's own call)
    assert problems == []
    assert {("setWebhook", "url"), ("setWebhook", "secret_token"), ("setWebhook", "allowed_updates")} <= used
    assert secret and LOCAL_TOKEN.split(":")[1] not in str(seen["url"])
