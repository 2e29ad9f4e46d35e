"""What a handler receives (bolt-python's `say`/`ack`/`body`, for crmbot): the event, the acting
user, a database session inside the event's transaction, the clock's "now", and ways to answer.

Answers go through the one way out (`bot.outbound.Outbound`) in the same transaction as the
handler's changes, so a handler that fails leaves neither a half record nor a message about it.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cards import builders
from cards.model import Card
from config.playbook import Playbook
from config.settings import Settings
from storage.models import CardRecord, User

from .events import Chat, Event
from .outbound import Outbound, Purpose, Queued


CHAT_KEY = "chat_id"   # a card posted into a group chat keeps the group's id in its `extra`


def tapped_in(event: Event, record: CardRecord) -> Event:
    """The event of a tap on the card `record`, placed in the chat the card was posted in. A tap on
    a DingTalk interactive card names the card and the user, not the chat (platforms.md 2.6), yet a
    tap on a card in a group happened in that group: answers go there, and the handler acts on that
    group (not on another one an action text was pasted into)."""
    chat_id = (record.card.get("extra") or {}).get(CHAT_KEY)
    if not chat_id or event.chat.conversation_id == chat_id:
        return event
    return replace(event, chat=Chat(conversation_id=chat_id, is_group=True))


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

    def _recipient(self) -> str:
        chat = self.event.chat
        return chat.conversation_id if chat.is_group else self.event.sender

    def _chat_context(self) -> dict[str, Any]:
        chat = self.event.chat
        return {"reply_webhook": chat.reply_webhook, "is_group": chat.is_group,
                "reply_webhook_expires_ms": chat.reply_webhook_expires_ms}

    def _reply(self, payload: dict[str, Any], card_id: str | None = None) -> None:
        self.out.reply(platform=str(self.event.platform), recipient=self._recipient(),
                       payload=payload, dedupe_key=self._dedupe(), user=self.user, card_id=card_id,
                       context=self._chat_context())

    def say(self, text: str) -> None:
        self._reply({"text": text})

    def send_card(self, card: Card, subject_type: str, subject_id: int) -> None:
        chat = self.event.chat
        if chat.is_group:  # where a tap on it happens (see tapped_in)
            card = replace(card, extra={**card.extra, CHAT_KEY: chat.conversation_id})
        self.out.record_card(card, self.user, str(self.event.platform), subject_type, subject_id)
        self._reply({"card": card.to_dict()}, card.card_id)

    def update_card(self, card: Card) -> None:
        """Update the clicked card in place (WeCom: with the click's single-use response code). A
        card that cannot change (DingTalk's ActionCard) is answered where it was tapped: the group
        for a card in a group chat."""
        context = {"response_code": self.event.payload.get("response_code")}
        if self.event.chat.is_group:
            context.update(self._chat_context())
        self.out.update_card(self.card_record, card, recipient=self._recipient(), dedupe_key=self._dedupe(),
                             context=context)

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
