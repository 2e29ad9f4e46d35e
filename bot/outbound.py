"""The one way out: everything that tells a person something — a handler's reply, a capture
result, a rule's task card, a digest, an escalation, a DingTalk work notice — is written here.

`Outbound` works inside the caller's transaction: it resolves the recipient's platform, applies
pacing, records the card (so a click finds what it was about) and writes the outbox row. The rows
it wrote are in `outbox_ids`; `deliver_after_commit` hands them to the delivery job once the
caller's transaction has committed (`jobs.outbound.deliver`, which sends through `sender_for`).

Why a message is sent decides how it is paced (`Purpose`):
- REPLY: the answer to what a person just wrote or tapped. Never held.
- DIRECT: a person sends it on purpose (催办, 转交, an approval). No per-hour cap; quiet hours
  still hold it, and the result says until when, so the sender can be told.
- REMINDER: proactive traffic (rules, digests). Quiet hours and the per-hour cap hold it; held
  messages for one person are merged into one digest when released (jobs/pacing.py).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from types import ModuleType
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cards import builders
from cards.model import Card
from config.playbook import Playbook, QuietHours
from config.settings import Settings
from storage import messaging
from storage.models import CardRecord, OutboxMessage, User
from storage.users import platform_userid

from .dingtalk import sender as dingtalk_sender
from .services import JobQueue
from .wecom import sender as wecom_sender

log = logging.getLogger(__name__)

DELIVER_JOB = "jobs.outbound.deliver"
SENDERS: dict[str, ModuleType] = {"wecom": wecom_sender, "dingtalk": dingtalk_sender}
# Outbox dedupe keys say why a message was sent; pacing counts only reminders.
REMINDER_PREFIX = "rule:"
BULK_QUEUE = "crmbot-default"
HELD = "held"


class Purpose(StrEnum):
    REPLY = "reply"
    DIRECT = "direct"
    REMINDER = "reminder"


@dataclass(frozen=True)
class Queued:
    """What happened to one message: its outbox row (None when nobody can be reached or the same
    message was already queued) and, when it is held, until when and why."""
    outbox_id: int | None
    held_until: datetime | None = None
    reason: str | None = None        # quiet_hours | rate | later


def sender_for(platform: str) -> ModuleType:
    try:
        return SENDERS[platform]
    except KeyError:
        raise ValueError(f"unknown platform {platform!r}") from None


def user_platform(user: User) -> str | None:
    """Where to reach a user: where they last talked to the bot, else the platform they have an id on."""
    if user.preferred_platform and platform_userid(user, user.preferred_platform):
        return user.preferred_platform
    if user.wecom_userid:
        return "wecom"
    if user.dingtalk_userid:
        return "dingtalk"
    return None


# ------------------------------------------------------------------ quiet hours and caps


def in_quiet_hours(local: time, quiet: QuietHours) -> bool:
    start, end = quiet.start, quiet.end
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end  # spans midnight, e.g. 22:00 → 08:00


def quiet_end_after(now: datetime, playbook: Playbook) -> datetime:
    """The next time quiet hours end, as an aware datetime."""
    local = now.astimezone(playbook.tz)
    end = datetime.combine(local.date(), playbook.quiet_hours.end, tzinfo=playbook.tz)
    if end <= local:
        end += timedelta(days=1)
    return end


def hold_for_quiet_hours(playbook: Playbook, at: datetime) -> datetime | None:
    """When a message due at `at` may go out, if quiet hours hold it; None when it may go now."""
    if in_quiet_hours(at.astimezone(playbook.tz).time(), playbook.quiet_hours):
        return quiet_end_after(at, playbook)
    return None


def held_note(playbook: Playbook, held_until: datetime | None, now: datetime) -> str:
    """What the sender of a DIRECT message is told when it is held ("" when it is not)."""
    if held_until is None:
        return ""
    local = held_until.astimezone(playbook.tz)
    day = "" if local.date() == now.astimezone(playbook.tz).date() else \
        ("明天" if (local.date() - now.astimezone(playbook.tz).date()).days == 1 else f"{local:%m-%d} ")
    return f"对方处于免打扰时段，将在{day}{local:%H:%M}送达"


def recent_reminders(session: Session, user_id: int, now: datetime) -> tuple[int, datetime | None]:
    """How many reminders `user_id` got in the hour before `now`, and when the oldest of them was."""
    # recipient + created_at is indexed; the hour's rows for one person are few
    count, oldest = session.execute(
        select(func.count(), func.min(OutboxMessage.created_at)).where(
            OutboxMessage.recipient_user_id == user_id, OutboxMessage.created_at > now - timedelta(hours=1),
            OutboxMessage.created_at <= now, OutboxMessage.dedupe_key.like(f"{REMINDER_PREFIX}%"),
            OutboxMessage.status.in_(("pending", "sending", "sent")))).one()
    return count, oldest


# ------------------------------------------------------------------ the one way out


@dataclass
class Outbound:
    session: Session
    playbook: Playbook
    settings: Settings
    now: datetime
    # bulk senders (rule scans, releases of held reminders) deliver on the bulk queue, so a catch-up
    # scan's thousands of cards never queue in front of a rep's reply
    bulk: bool = False
    outbox_ids: list[int] = field(default_factory=list)
    # per recipient: [reminders in the last hour, oldest of them], read once per transaction
    _recent: dict[int, list] = field(default_factory=dict)

    # ---- to a crmbot user, on the platform they use
    def card(self, user: User, card: Card, *, subject_type: str, subject_id: int, dedupe_key: str,
             purpose: Purpose = Purpose.REMINDER, not_before: datetime | None = None,
             work_notice: bool = False) -> Queued:
        """`work_notice`: also raise it where a manager cannot miss it (a DingTalk 工作通知 beside
        the robot's card; a WeCom app message already is one). Held cards get none: their digest
        arrives at the end of quiet hours."""
        platform = user_platform(user)
        if platform is None:
            log.warning("user %s has no platform id: card %s not sent", user.id, card.card_id)
            return Queued(None)
        self.record_card(card, user, platform, subject_type, subject_id)
        queued = self._to_user(user, platform, {"card": card.to_dict()}, dedupe_key, purpose,
                               card_id=card.card_id, not_before=not_before)
        if work_notice and queued.outbox_id and queued.held_until is None and sender_for(platform).SEPARATE_NOTICE:
            self._write(user, platform, {"card": card.to_dict()}, f"{self._key(dedupe_key, purpose)}:notice",
                        action="notice")
        return queued

    def text(self, user: User, text: str, *, dedupe_key: str, purpose: Purpose = Purpose.REMINDER,
             not_before: datetime | None = None) -> Queued:
        platform = user_platform(user)
        if platform is None:
            return Queued(None)
        return self._to_user(user, platform, {"text": text}, dedupe_key, purpose, not_before=not_before)

    def image(self, user: User, media_asset_id: int, *, dedupe_key: str, caption: str,
              purpose: Purpose = Purpose.REMINDER) -> Queued:
        """An image kept as a media asset (a report's chart); the sender uploads it at delivery.
        `caption` is what a digest of held messages lists for it."""
        platform = user_platform(user)
        if platform is None:
            return Queued(None)
        return self._to_user(user, platform, {"image": {"media_asset_id": media_asset_id, "filename": "chart.png"},
                                              "text": caption}, dedupe_key, purpose)

    # ---- answers in the chat a person wrote in (1:1 or group)
    def reply(self, *, platform: str, recipient: str, payload: dict[str, Any], dedupe_key: str,
              user: User | None, context: dict[str, Any], card_id: str | None = None) -> int:
        outbox_id, created = messaging.enqueue_outbox(
            self.session, dedupe_key=dedupe_key, platform=platform, recipient=recipient, payload=payload,
            card_id=card_id, context=context, org_id=user.org_id if user else None,
            recipient_user_id=user.id if user else None, now=self.now)
        if created:
            self.outbox_ids.append(outbox_id)
        return outbox_id

    def update_card(self, record: CardRecord, card: Card, *, recipient: str, dedupe_key: str,
                    context: dict[str, Any]) -> int:
        """Change a card already sent (WeCom: with the click's single-use response code)."""
        record.card, record.status = card.to_dict(), "done" if card.done_note else "open"
        outbox_id, created = messaging.enqueue_outbox(
            self.session, dedupe_key=dedupe_key, platform=record.platform, recipient=recipient,
            payload={"card": card.to_dict()}, action="update", card_id=card.card_id, org_id=record.org_id,
            recipient_user_id=record.recipient_user_id, context=context, now=self.now)
        if created:
            self.outbox_ids.append(outbox_id)
        return outbox_id

    def close_cards(self, subject_type: str, subject_id: int, recipient: User, note: str, dedupe_key: str) -> int:
        """The recipient's open cards about a subject stop offering their buttons: updated in place
        to say what happened instead (a lead reassigned, an approval moved up). WeCom needs the
        response code its send reply gave (usable once, within 72 h; past that the update is recorded
        as spent); DingTalk interactive cards update by outTrackId; a classic ActionCard cannot
        change, so the caller also tells the person in a line. Returns the number of cards closed."""
        records = self.session.scalars(select(CardRecord).where(
            CardRecord.subject_type == subject_type, CardRecord.subject_id == subject_id,
            CardRecord.recipient_user_id == recipient.id, CardRecord.status == "open")).all()
        closed = 0
        for record in records:
            card = Card.from_dict(record.card)
            if not any(b.key for b in card.buttons):
                continue  # a copy: nothing to click
            sent = self.session.scalars(select(OutboxMessage).where(
                OutboxMessage.card_id == record.card_id, OutboxMessage.action == "send")
                .order_by(OutboxMessage.id.desc())).first()
            if sent is None:
                continue
            self.update_card(record, builders.done(card, note), recipient=sent.recipient,
                             dedupe_key=f"{dedupe_key}:close:{record.card_id}",
                             context={"response_code": (sent.result or {}).get("response_code")})
            closed += 1
        return closed

    def record_card(self, card: Card, user: User, platform: str, subject_type: str, subject_id: int) -> None:
        messaging.save_card(self.session, card_id=card.card_id, org_id=user.org_id, platform=platform,
                            recipient_user_id=user.id, subject_type=subject_type, subject_id=subject_id,
                            card=card.to_dict())

    # ---- after commit
    def deliver_after_commit(self, queue: JobQueue) -> None:
        enqueue_delivery(queue, self.outbox_ids, on=BULK_QUEUE if self.bulk else None)

    # ---- pacing
    def _key(self, dedupe_key: str, purpose: Purpose) -> str:
        if purpose == Purpose.REMINDER and not dedupe_key.startswith(REMINDER_PREFIX):
            return REMINDER_PREFIX + dedupe_key
        return dedupe_key

    def _to_user(self, user: User, platform: str, payload: dict, dedupe_key: str, purpose: Purpose, *,
                 card_id: str | None = None, not_before: datetime | None = None) -> Queued:
        held_until, reason = self._hold(user, purpose, not_before)
        outbox_id, created = self._write(user, platform, payload, self._key(dedupe_key, purpose),
                                         card_id=card_id, held_until=held_until)
        if not created:
            return Queued(None)
        if held_until is None and purpose == Purpose.REMINDER:
            counted = self._recent[user.id]
            counted[0] += 1
            counted[1] = counted[1] or self.now
        return Queued(outbox_id, held_until, reason)

    def _hold(self, user: User, purpose: Purpose, not_before: datetime | None) -> tuple[datetime | None, str | None]:
        if not_before is not None and not_before > self.now:  # a message for later, then paced as of then
            return hold_for_quiet_hours(self.playbook, not_before) or not_before, "later"
        if purpose == Purpose.REPLY:
            return None, None
        quiet_end = hold_for_quiet_hours(self.playbook, self.now)
        if quiet_end is not None:
            return quiet_end, "quiet_hours"
        if purpose == Purpose.DIRECT:
            return None, None
        if user.id not in self._recent:
            self._recent[user.id] = list(recent_reminders(self.session, user.id, self.now))
        count, oldest = self._recent[user.id]
        if count >= self.playbook.delivery.max_cards_per_hour:
            return (oldest or self.now) + timedelta(hours=1), "rate"
        return None, None

    def _write(self, user: User, platform: str, payload: dict, dedupe_key: str, *, action: str = "send",
               card_id: str | None = None, held_until: datetime | None = None) -> tuple[int, bool]:
        outbox_id, created = messaging.enqueue_outbox(
            self.session, dedupe_key=dedupe_key, platform=platform, recipient=platform_userid(user, platform),
            payload=payload, card_id=card_id, org_id=user.org_id, recipient_user_id=user.id, action=action,
            not_before=held_until, status=HELD if held_until else "pending", now=self.now)
        if created and held_until is None:
            self.outbox_ids.append(outbox_id)
        return outbox_id, created


def enqueue_delivery(queue: JobQueue, outbox_ids, delay_s: float = 0, on: str | None = None) -> None:
    """`on`: the queue to use (default: the delivery job's own, ahead of everything else)."""
    for outbox_id in outbox_ids:
        queue.enqueue(DELIVER_JOB, outbox_id, job_id=f"deliver-{outbox_id}", delay_s=delay_s, queue=on)
