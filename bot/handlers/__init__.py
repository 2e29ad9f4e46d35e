"""Importing this package registers every handler on bot.router.router."""
from . import actions, capture, commands, contacts, drafts, duplicates, reminders  # noqa: F401
