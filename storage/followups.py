"""Follow-ups: one tap on playbook tags (+ a short note) updates the customer's scan columns,
moves its lead to contacted and closes the tasks the contact answers."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.playbook import Playbook

from . import audit, tasks
from .customers import get_customer
from .errors import InvalidInput
from .models import FollowUp, Lead, Opportunity, User

CHANNELS = ("chat", "voice", "sidebar", "card", "app")


@dataclass
class FollowUpInput:
    customer_id: int
    tags: list[str] = field(default_factory=list)  # playbook keys or labels
    note: str | None = None
    channel: str = "chat"
    next_followup: date | datetime | None = None
    pause_reason: str | None = None
    amount: Decimal | int | None = None
    opportunity_id: int | None = None
    transcript: str | None = None
    occurred_at: datetime | None = None
    source_event_id: str | None = None


def resolve_tags(playbook: Playbook, names: list[str]) -> list[str]:
    keys: list[str] = []
    for name in names:
        tag = playbook.tag(name.strip().lstrip("#＃"))
        if tag is None:
            labels = "、".join(t.label for t in playbook.tags)
            raise InvalidInput("tags", f"没有“{name}”这个标签，可用标签：{labels}")
        if tag.key not in keys:
            keys.append(tag.key)
    return keys


def note_rule(playbook: Playbook) -> str:
    """The one rule for the short note, said the same way in chat and in the mini-app."""
    return f"备注{playbook.followup.note_max_chars}字以内显示在卡片上，更长的内容会完整保存为跟进记录"


def split_note(playbook: Playbook, text: str | None) -> tuple[str | None, str | None]:
    """(short note, full record): a note over the playbook's limit is never cut, it is kept whole
    as the follow-up's record (`transcript`), which timelines show in full."""
    text = (text or "").strip() or None
    if text is None or len(text) <= playbook.followup.note_max_chars:
        return text, None
    return None, text


def due_at(playbook: Playbook, value: date | datetime | None, now: datetime) -> datetime:
    """A date-only follow-up is due at the playbook's default time of that day, org time."""
    tz = playbook.tz
    if value is None:
        value = now.astimezone(tz).date() + timedelta(days=playbook.followup.default_next_days)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    return datetime.combine(value, playbook.followup.default_time, tzinfo=tz)


def log_followup(session: Session, actor: User, data: FollowUpInput, playbook: Playbook,
                 *, now: datetime) -> FollowUp:
    """Record a follow-up. Idempotent on `source_event_id`: a retried event returns the first row."""
    if data.source_event_id:
        existing = session.scalars(select(FollowUp).where(
            FollowUp.org_id == actor.org_id, FollowUp.source_event_id == data.source_event_id)).first()
        if existing is not None:
            return existing
    customer = get_customer(session, actor, data.customer_id)
    if data.channel not in CHANNELS:
        raise InvalidInput("channel", "未知的跟进渠道")
    tag_keys = resolve_tags(playbook, data.tags)
    note = (data.note or "").strip() or None
    limit = playbook.followup.note_max_chars
    if note and len(note) > limit:
        raise InvalidInput("note", f"备注最多{limit}个字，现在是{len(note)}个字")
    if not tag_keys and not note and not data.transcript:
        raise InvalidInput("tags", "请至少选择一个标签或写一句备注")
    pause_reason = _pause_reason(playbook, tag_keys, data.pause_reason)
    opportunity_id = _opportunity_of(session, customer.id, data.opportunity_id)
    occurred = data.occurred_at or now
    next_at = due_at(playbook, data.next_followup, now)
    if next_at < occurred - timedelta(minutes=1):
        raise InvalidInput("next_followup", "下次跟进时间不能早于现在")

    followup = FollowUp(
        org_id=customer.org_id, customer_id=customer.id, opportunity_id=opportunity_id,
        author_id=actor.id, channel=data.channel, tags=tag_keys, note=note,
        transcript=data.transcript, pause_reason=pause_reason,
        amount=Decimal(data.amount) if data.amount is not None else None,
        occurred_at=occurred, next_followup_at=next_at, source_event_id=data.source_event_id)
    session.add(followup)
    before = audit.snapshot(customer, ("last_interaction_at", "next_followup_at", "status"))
    if customer.last_interaction_at is None or occurred >= customer.last_interaction_at:
        customer.last_interaction_at = occurred
        customer.last_interaction_summary = summary(playbook, tag_keys, note or data.transcript)
    customer.next_followup_at = next_at
    if customer.status == "lost":
        customer.status = "active" if customer.identifier else "incomplete"
    audit.record(session, actor, "followup.create", followup)
    audit.record(session, actor, "customer.touch", customer, before)
    _mark_leads_contacted(session, actor, customer.id, occurred)
    tasks.close_answered_tasks(session, actor, customer.id, now=now)
    return followup


def summary(playbook: Playbook, tag_keys: list[str], text: str | None) -> str:
    labels = [playbook.tag(k).label for k in tag_keys if playbook.tag(k)]
    parts = ["、".join(labels)] if labels else []
    if text:
        parts.append(text[:60])
    return "：".join(parts)[:200]


def _pause_reason(playbook: Playbook, tag_keys: list[str], given: str | None) -> str | None:
    reasons = {r for key in tag_keys for r in playbook.tag(key).reasons}
    if not reasons:
        return None
    if not given:
        raise InvalidInput("pause_reason", "选择“暂缓”时请选一个暂缓原因：" + "、".join(sorted(reasons)))
    if given not in reasons:
        raise InvalidInput("pause_reason", "暂缓原因无效，可选：" + "、".join(sorted(reasons)))
    return given


def _opportunity_of(session: Session, customer_id: int, opportunity_id: int | None) -> int | None:
    if opportunity_id is None:
        return None
    opportunity = session.get(Opportunity, opportunity_id)
    if opportunity is None or opportunity.customer_id != customer_id:
        raise InvalidInput("opportunity_id", "商机不属于该客户")
    return opportunity.id


def _mark_leads_contacted(session: Session, actor: User, customer_id: int, at: datetime) -> None:
    for lead in session.scalars(select(Lead).where(Lead.customer_id == customer_id,
                                                   Lead.status.in_(("assigned", "claimed")))):
        before = audit.snapshot(lead, ("status", "contacted_at"))
        lead.status, lead.contacted_at = "contacted", at
        audit.record(session, actor, "lead.contacted", lead, before)


def recent_followups(session: Session, customer_id: int, limit: int = 20) -> list[FollowUp]:
    return list(session.scalars(select(FollowUp).where(FollowUp.customer_id == customer_id)
                                .order_by(FollowUp.occurred_at.desc()).limit(limit)))

