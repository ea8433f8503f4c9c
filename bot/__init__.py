"""Daily AI-paper digest bot: catalogue, storage, Telegram front end and daily push."""
