"""Services: what the bot does, independent of Telegram. Each takes its dependencies in its constructor."""
