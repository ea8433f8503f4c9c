"""Telegram handlers: each parses an update, calls a service and sends what the renderer made."""
