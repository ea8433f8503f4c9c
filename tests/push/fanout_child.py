"""A bot process doing one push fan-out, for the kill -9 test: `python -m tests.push.fanout_child DB PORT`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from telegram import Bot

from bot.config import PushSettings, load_settings
from bot.push.service import PushService
from bot.storage.db import Database
from bot.telegram.local import LOCAL_TOKEN
from bot.telegram.sender import TelegramSender

ROOT = Path(__file__).resolve().parents[2]
# Slow enough that the test can kill the process in the middle of the fan-out.
PACE = PushSettings(global_rate=40.0, per_chat_interval=0.0, concurrency=4, max_attempts=2)


async def main(db: Path, port: int) -> None:
    settings = load_settings(ROOT / "config" / "bot.toml", {}).with_overrides(database=db, papers_per_push=3, push=PACE)
    bot = Bot(LOCAL_TOKEN, base_url=f"http://127.0.0.1:{port}/bot")
    await bot.initialize()
    conn = await Database.open(db)
    await PushService(conn, settings, TelegramSender(bot)).tick()
    print("finished without being killed", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
