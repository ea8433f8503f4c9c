"""The paper catalogue: seed-file parsing, merging, topic taxonomy. Knows nothing of Telegram or SQL."""
