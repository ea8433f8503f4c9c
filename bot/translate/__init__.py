"""Chinese for English-only papers through any OpenAI-compatible chat-completions API."""
