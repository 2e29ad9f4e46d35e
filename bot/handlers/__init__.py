"""Importing this package registers every handler on bot.router.router."""
from . import (actions, capture, chat_links, commands, contacts, deals, drafts, duplicates,  # noqa: F401
               handover, reminders)
