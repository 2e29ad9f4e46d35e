"""What a handler receives (bolt-python's `say`/`ack`/`body`, for crmbot): the event, the acting
user, a database session inside the event's transaction, the clock's "now", and ways to answer.

Answers go through the one way out (`bot.outbound.Outbound`) in the same transaction as the
handler's changes, so a handler that fails leaves neither a half record nor a message about it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cards import builders
from cards.model import Card
from config.playbook import Playbook
from config.settings import Settings
from storage.models import CardRecord, User

from .events import Event
from .outbound import Outbound, Purpose, Queued


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
    deferred: list[tuple[str, tuple, str]] = field(default_factory=list)
    out: Outbound = field(init=False)

    def __post_init__(self) -> None:
        self.out = Outbound(self.session, self.playbook, self.settings, self.now)

    @property
    def outbox_ids(self) -> list[int]:
        return self.out.outbox_ids

    @property
    def public_url(self) -> str:
        return self.settings.crmbot_public_url

    # ---- answers in the chat the person wrote in
    def _dedupe(self) -> str:
        return f"reply:{self.inbox_id}:{len(self.outbox_ids)}"

    def _reply(self, payload: dict[str, Any], card_id: str | None = None) -> None:
        chat = self.event.chat
        self.out.reply(platform=str(self.event.platform),
                       recipient=chat.conversation_id if chat.is_group else self.event.sender,
                       payload=payload, dedupe_key=self._dedupe(), user=self.user, card_id=card_id,
                       context={"reply_webhook": chat.reply_webhook, "is_group": chat.is_group,
                                "reply_webhook_expires_ms": chat.reply_webhook_expires_ms})

    def say(self, text: str) -> None:
        self._reply({"text": text})

    def send_card(self, card: Card, subject_type: str, subject_id: int) -> None:
        self.out.record_card(card, self.user, str(self.event.platform), subject_type, subject_id)
        self._reply({"card": card.to_dict()}, card.card_id)

    def update_card(self, card: Card) -> None:
        """Update the clicked card in place (WeCom: with the click's single-use response code)."""
        self.out.update_card(self.card_record, card, recipient=self.event.sender, dedupe_key=self._dedupe(),
                             context={"response_code": self.event.payload.get("response_code")})

    def finish_card(self, what: str, *, link: str | None = None) -> None:
        """The clicked card, updated to say what was done, by whom and when; its buttons go.
        `link`: where 打开 leads now (a claimed lead opens its customer)."""
        stamp = f"{what} · {self.user.name} {builders.when(self.now, self.playbook.tz)}"
        self.update_card(builders.done(Card.from_dict(self.card_record.card), stamp, link=link))

    # ---- to someone else (a colleague, a manager): on purpose, so never capped
    def tell(self, user: User, card: Card, *, subject_type: str, subject_id: int, key: str) -> Queued:
        """A card a person sends on purpose (催办, 转交, approvals): the recipient's quiet hours may
        hold it, never their reminder cap; `held_note` says what to tell the sender."""
        return self.out.card(user, card, subject_type=subject_type, subject_id=subject_id,
                             dedupe_key=f"direct:{self.inbox_id}:{key}", purpose=Purpose.DIRECT)

    def defer(self, job_path: str, *args: Any, queue: str = "crmbot-default") -> None:
        """Slow work (media download, OCR, ASR) runs as its own job after this transaction commits."""
        self.deferred.append((job_path, args, queue))
