"""Start-up against a Bot API that validates like Telegram's: it comes up; cosmetic failures never stop it;
only 401 and 409 do, with one line. These run the real `run_bot` (run_polling, signals and all)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Iterator

import httpx
import pytest

from bot.config import Settings
from bot.localapi import ApiError, LocalBotApi
from bot.telegram import startup
from bot.telegram.local import LOCAL_TOKEN, running_locally
from bot.telegram.runner import CONFLICT, UNAUTHORIZED, run_bot
from tests.telegram.threaded import ServerThread


@pytest.fixture
def server() -> Iterator[ServerThread]:
    with ServerThread(LocalBotApi(LOCAL_TOKEN)) as running:
        yield running


def _stop_when_polling(server: ServerThread) -> None:
    try:
        # Generous: start-up on a loaded machine took over 10 s (the old call timeout) and the test hung.
        server.call(server.api.wait_polling(60), timeout=65)
    finally:
        # What `docker stop` or systemd sends. Sent also when the wait failed, or the bot would poll
        # forever and the test hang; the helper's exception then fails the test.
        os.kill(os.getpid(), signal.SIGTERM)


def test_run_bot_comes_up_against_real_validation(server: ServerThread, settings: Settings) -> None:
    helper = server.soon(lambda: _stop_when_polling(server))
    status = run_bot(settings.with_overrides(token=LOCAL_TOKEN, api_url=server.api.root))
    helper.join(5)
    assert status == 0
    assert set(server.api.commands) == {("default", ""), ("default", "zh")}
    assert set(server.api.descriptions) == {
        (kind, language) for kind in ("description", "short_description") for language in ("", "zh")
    }
    assert server.api.errors() == []


def test_wrong_token_stops_with_one_line(
    server: ServerThread, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "123456789:not-the-token"
    with caplog.at_level(logging.ERROR):
        status = run_bot(settings.with_overrides(token=wrong, api_url=server.api.root))
    assert status == 1
    assert caplog.records[-1].getMessage() == UNAUTHORIZED


def test_another_instance_polling_stops_with_one_line(
    server: ServerThread, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async def other_instance() -> None:
        await server.api.wait_polling(60)
        async with httpx.AsyncClient() as http:
            # A second process long-polls with the same token: the bot's pending poll is answered 409.
            await http.post(f"{server.api.root}/bot{LOCAL_TOKEN}/getUpdates", json={"timeout": 1}, timeout=5)

    def helper_body() -> None:
        try:
            server.call(other_instance(), timeout=70)
        except BaseException:
            os.kill(os.getpid(), signal.SIGTERM)  # else the bot polls forever: stop it, the test fails
            raise

    helper = server.soon(helper_body)
    with caplog.at_level(logging.ERROR):
        status = run_bot(settings.with_overrides(token=LOCAL_TOKEN, api_url=server.api.root))
    helper.join(5)
    assert status == 1
    assert caplog.records[-1].getMessage() == CONFLICT
    assert "409" in CONFLICT


async def test_a_failing_menu_call_is_retried_in_the_background(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(startup, "FIRST_RETRY_SECONDS", 0.05)
    api_error = ApiError(400, "Bad Request: invalid language code specified")
    with caplog.at_level(logging.WARNING):
        # The start-up attempt and the first retry fail; the bot comes up and serves meanwhile.
        async with running_locally(
            settings, before_start=lambda api: api.fail_next("setMyCommands", api_error, 2)
        ) as local:
            assert local.api.commands == {}
            local.api.add_private_chat(77, "Ann")
            await local.api.send_text(77, 77, "/help")
            await local.api.wait_for_messages(77, 1)
            for _ in range(200):
                if len(local.api.commands) == 2:
                    break
                await asyncio.sleep(0.01)
            assert set(local.api.commands) == {("default", ""), ("default", "zh")}
    warnings = [r.getMessage() for r in caplog.records if "command menus" in r.getMessage()]
    assert len(warnings) >= 2 and "retrying" in warnings[0]
