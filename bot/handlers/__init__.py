"""Importing this package registers every handler on bot.router.router."""
from . import actions, capture, commands, contacts, deals, drafts, handover, reminders  # noqa: F401
