"""The neutral event every platform adapter produces (design.md, "How an event flows").

Past the adapters nothing knows which platform an event came from, except to address replies.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    TEXT = "text"                  # payload: {"text"}
    IMAGE = "image"                # payload: {"media_ref"}  (WeCom MediaId / DingTalk downloadCode)
    VOICE = "voice"                # payload: {"media_ref", "format", "recognition"?, "duration_ms"?}
    FILE = "file"                  # payload: {"media_ref", "file_name"}
    CARD_ACTION = "card_action"    # payload: {"card_ref", "action", "params", "response_code"?}
    MENU_CLICK = "menu_click"      # payload: {"key"}
    ENTER = "enter"                # a member opened the app; payload: {}
    CONTACT_ADDED = "contact_added"      # payload: {"external_userid", "state"?, "welcome_code"?}
    CONTACT_REMOVED = "contact_removed"  # payload: {"external_userid", "by": "rep"|"customer"}
    UNKNOWN = "unknown"            # stored and acknowledged, never an error; payload: {"type"}


class Platform(StrEnum):
    WECOM = "wecom"
    DINGTALK = "dingtalk"


@dataclass(frozen=True)
class Chat:
    """Where a reply goes. `conversation_id` is None for the 1:1 chat with the bot."""
    conversation_id: str | None = None
    is_group: bool = False
    title: str | None = None         # a group's name (DingTalk conversationTitle), for display only
    # DingTalk's sessionWebhook (valid ~90 min) lets a reply skip the token; None elsewhere.
    reply_webhook: str | None = None
    reply_webhook_expires_ms: int | None = None


@dataclass(frozen=True)
class Event:
    platform: Platform
    event_id: str          # the dedupe key within the platform (MsgId, msgId, derived event key)
    org: str               # platform corp id
    sender: str            # platform user id of the member who caused it
    chat: Chat
    kind: Kind
    payload: dict[str, Any] = field(default_factory=dict)
    created_at: int | None = None  # unix seconds, as the platform stamped it

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": str(self.platform), "event_id": self.event_id, "org": self.org,
            "sender": self.sender, "kind": str(self.kind), "payload": self.payload,
            "created_at": self.created_at,
            "chat": {"conversation_id": self.chat.conversation_id, "is_group": self.chat.is_group,
                     "title": self.chat.title,
                     "reply_webhook": self.chat.reply_webhook,
                     "reply_webhook_expires_ms": self.chat.reply_webhook_expires_ms},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Event":
        return cls(platform=Platform(data["platform"]), event_id=data["event_id"], org=data["org"],
                   sender=data["sender"], chat=Chat(**data.get("chat") or {}),
                   kind=Kind(data["kind"]), payload=data.get("payload") or {},
                   created_at=data.get("created_at"))
