"""SQLite storage: the only package that writes SQL. Catalogue, chats, subscriptions and the delivery log."""
