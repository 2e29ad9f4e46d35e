"""Inbox (every platform event, once) and outbox (every message to a person, once per dedupe key),
plus the card records that let a click find what its card was about."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .models import CardRecord, InboxEvent, OutboxMessage


def _insert(bind, model):
    """INSERT … ON CONFLICT for the bind's dialect, on the table (the Core path: the callback's
    hot path pays no ORM unit-of-work for a row it never reads back)."""
    dialect = bind.dialect.name if hasattr(bind, "dialect") else bind.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model.__table__)


def record_inbox(bind: Session | Connection, platform: str, event_id: str, kind: str,
                 event: dict[str, Any], raw: dict[str, Any], *, now: datetime,
                 status: str = "received") -> tuple[int, bool]:
    """Store an event; a platform retry of the same event is recognised here and changes nothing.
    Takes a Session or a Core Connection. Returns (inbox id, created)."""
    table = InboxEvent.__table__
    result = bind.execute(
        _insert(bind, InboxEvent).values(platform=platform, event_id=event_id, kind=kind,
                                         event=event, raw=raw, status=status, attempts=0,
                                         received_at=now)
        .on_conflict_do_nothing(index_elements=["platform", "event_id"]).returning(table.c.id))
    new_id = result.scalar()
    if new_id is not None:
        return new_id, True
    existing = bind.execute(select(table.c.id).where(table.c.platform == platform,
                                                     table.c.event_id == event_id)).scalar()
    return existing, False


def claim_inbox(session: Session, inbox_id: int) -> InboxEvent | None:
    """Take an inbox row for processing unless it is finished; counts the attempt."""
    row = session.get(InboxEvent, inbox_id)
    if row is None or row.status in ("done", "ignored"):
        return None
    row.attempts += 1
    return row


def finish_inbox(session: Session, inbox_id: int, *, now: datetime, status: str = "done",
                 error: str | None = None) -> None:
    session.execute(update(InboxEvent).where(InboxEvent.id == inbox_id)
                    .values(status=status, last_error=(error or "")[:500] or None, processed_at=now))


def enqueue_outbox(session: Session, *, now: datetime, dedupe_key: str, platform: str, recipient: str,
                   payload: dict[str, Any], org_id: int | None = None,
                   recipient_user_id: int | None = None, action: str = "send",
                   card_id: str | None = None, context: dict[str, Any] | None = None,
                   not_before: datetime | None = None, status: str = "pending") -> tuple[int, bool]:
    """Queue a message; the same dedupe key twice is one message. Returns (outbox id, created)."""
    result = session.execute(
        _insert(session, OutboxMessage).values(
            dedupe_key=dedupe_key, org_id=org_id, platform=platform, recipient=recipient,
            recipient_user_id=recipient_user_id, action=action, card_id=card_id, payload=payload,
            context=context or {}, status=status, attempts=0,
            next_attempt_at=not_before or now, result={}, created_at=now)
        .on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(OutboxMessage.__table__.c.id))
    new_id = result.scalar()
    if new_id is not None:
        return new_id, True
    return session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)), False


def lease_outbox(session: Session, outbox_id: int, *, now: datetime, lease_s: int = 60) -> OutboxMessage | None:
    """Compare-and-set a due message to 'sending' so two workers never deliver it at once.
    A worker killed mid-delivery leaves the lease to expire; the sweeper picks it up again."""
    changed = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id,
               ((OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now))
               | ((OutboxMessage.status == "sending") & (OutboxMessage.next_attempt_at <= now)))
        .values(status="sending", attempts=OutboxMessage.attempts + 1,
                next_attempt_at=now + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        return None
    row = session.get(OutboxMessage, outbox_id)
    session.refresh(row)
    return row


def due_outbox_ids(session: Session, now: datetime, limit: int = 500) -> list[int]:
    return list(session.scalars(select(OutboxMessage.id).where(
        OutboxMessage.status.in_(("pending", "sending")), OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at).limit(limit)))


def stuck_inbox_ids(session: Session, older_than: timedelta, now: datetime,
                    max_attempts: int = 5, limit: int = 500) -> list[int]:
    return list(session.scalars(select(InboxEvent.id).where(
        InboxEvent.status.in_(("received", "failed")), InboxEvent.received_at <= now - older_than,
        InboxEvent.attempts < max_attempts).order_by(InboxEvent.id).limit(limit)))


class CardMessage(NamedTuple):
    """One send or update of a card, as it was sent; `sent_in` orders messages from two queries."""
    card_id: str
    card: dict[str, Any]
    sent_in: tuple[datetime, int]   # (created_at, outbox id): newer is larger


def cards_shown_to(session: Session, user_id: int, platform: str, limit: int) -> list[CardMessage]:
    """The newest `limit` card messages sent to a person on a platform (in 1:1 or any group chat
    where they caused the card), newest first. Uses the outbox's (recipient_user_id, created_at) index."""
    return _card_messages(session, OutboxMessage.recipient_user_id == user_id, platform, limit)


def cards_shown_in(session: Session, conversation_id: str, platform: str, limit: int) -> list[CardMessage]:
    """The newest `limit` card messages posted into a group chat on a platform, whoever caused them,
    newest first. Uses the outbox's (recipient, created_at) index."""
    return _card_messages(session, OutboxMessage.recipient == conversation_id, platform, limit)


def _card_messages(session: Session, sent_to: ColumnElement[bool], platform: str, limit: int) -> list[CardMessage]:
    """Every send and every update of a card that reached them or is on its way (held ones have not
    been seen yet)."""
    rows = session.execute(
        select(OutboxMessage.card_id, OutboxMessage.payload, OutboxMessage.created_at, OutboxMessage.id).where(
            sent_to, OutboxMessage.platform == platform,
            OutboxMessage.card_id.is_not(None), OutboxMessage.action.in_(("send", "update")),
            OutboxMessage.status.in_(("pending", "sending", "sent")))
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit))
    return [CardMessage(card_id, payload["card"], (created_at, outbox_id))
            for card_id, payload, created_at, outbox_id in rows if isinstance(payload.get("card"), dict)]


def save_card(session: Session, *, card_id: str, org_id: int, platform: str, recipient_user_id: int,
              subject_type: str, subject_id: int, card: dict[str, Any]) -> CardRecord:
    record = session.get(CardRecord, card_id)
    if record is None:
        record = CardRecord(card_id=card_id, org_id=org_id, platform=platform,
                            recipient_user_id=recipient_user_id, subject_type=subject_type,
                            subject_id=subject_id, card=card, status="open")
        session.add(record)
    else:
        record.card = card
    return record
