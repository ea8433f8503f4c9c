"""The daily push: schedule (when), planner (what), dispatcher (sending), service (the API the bot uses)."""
