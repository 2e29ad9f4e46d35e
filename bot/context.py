"""What a handler receives (bolt-python's `say`/`ack`/`body`, for crmbot): the event, the acting
user, a database session inside the event's transaction, and ways to answer.

Answers are written to the outbox in the same transaction as the handler's changes, so a handler
that fails leaves neither a half record nor a message about it.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cards import builders
from cards.model import Card
from config.playbook import Playbook
from config.settings import Settings
from storage import messaging
from storage.models import CardRecord, User

from .events import Event


def new_card_id(kind: str, subject_id: int) -> str:
    """Unique forever (WeCom task_id), only [0-9A-Za-z_-], short enough for every platform."""
    return f"{kind}-{subject_id}-{secrets.token_hex(4)}"


@dataclass
class Context:
    session: Session
    event: Event
    user: User | None
    playbook: Playbook
    settings: Settings
    now: datetime
    inbox_id: int
    card_record: CardRecord | None = None
    outbox_ids: list[int] = field(default_factory=list)
    deferred: list[tuple[str, tuple, str]] = field(default_factory=list)

    # ---- answers
    def _dedupe(self) -> str:
        return f"reply:{self.inbox_id}:{len(self.outbox_ids)}"

    def _queue(self, payload: dict[str, Any], card_id: str | None = None) -> None:
        """An answer to the person who wrote, or to the group they wrote in."""
        chat = self.event.chat
        outbox_id, _ = messaging.enqueue_outbox(
            self.session, dedupe_key=self._dedupe(), platform=str(self.event.platform),
            recipient=chat.conversation_id if chat.is_group else self.event.sender,
            payload=payload, card_id=card_id,
            context={"reply_webhook": chat.reply_webhook, "is_group": chat.is_group,
                     "reply_webhook_expires_ms": chat.reply_webhook_expires_ms},
            org_id=self.user.org_id if self.user else None,
            recipient_user_id=self.user.id if self.user else None)
        self.outbox_ids.append(outbox_id)

    def say(self, text: str) -> None:
        self._queue({"text": text})

    def send_card(self, card: Card, subject_type: str, subject_id: int) -> None:
        messaging.save_card(self.session, card_id=card.card_id, org_id=self.user.org_id,
                            platform=str(self.event.platform), recipient_user_id=self.user.id,
                            subject_type=subject_type, subject_id=subject_id, card=card.to_dict())
        self._queue({"card": card.to_dict()}, card.card_id)

    def update_card(self, card: Card) -> None:
        """Update the clicked card in place (WeCom: with the click's single-use response code)."""
        record = self.card_record
        record.card, record.status = card.to_dict(), "done" if card.done_note else "open"
        outbox_id, _ = messaging.enqueue_outbox(
            self.session, dedupe_key=self._dedupe(), platform=record.platform,
            recipient=self.event.sender, payload={"card": card.to_dict()}, action="update",
            card_id=card.card_id, org_id=record.org_id, recipient_user_id=record.recipient_user_id,
            context={"response_code": self.event.payload.get("response_code")})
        self.outbox_ids.append(outbox_id)

    def finish_card(self, what: str) -> None:
        """The clicked card, updated to say what was done, by whom and when; its buttons go."""
        stamp = f"{what} · {self.user.name} {self.now.astimezone(self.playbook.tz):%m-%d %H:%M}"
        self.update_card(builders.done(Card.from_dict(self.card_record.card), stamp))

    def card_is_done(self) -> bool:
        """True (and the rep is told) when the clicked card was already acted upon: a DingTalk
        ActionCard cannot be greyed out, so a second tap must not do the work again."""
        if self.card_record.status != "done":
            return False
        note = Card.from_dict(self.card_record.card).done_note or "已处理"
        self.say(f"这张卡片已经处理过了：{note}")
        return True

    def defer(self, job_path: str, *args: Any, queue: str = "crmbot-default") -> None:
        """Slow work (media download, OCR, ASR) runs as its own job after this transaction commits."""
        self.deferred.append((job_path, args, queue))
