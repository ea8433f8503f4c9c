"""Text helpers that know nothing of Telegram or storage: script folding and arXiv identifiers."""
