"""The Telegram front end: application wiring, handlers (parse, call a service, render), rendering."""
