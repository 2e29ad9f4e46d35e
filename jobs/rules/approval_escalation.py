"""Rule — approval escalation: a discount or stage-skip request nobody answered within the
playbook's `approvals.escalate_after_working_hours` of working time goes one level up (manager →
director, who gets the card; the manager keeps a copy); a director's request is sent to them once
more. The requester is told. `approval.escalate_at` (indexed with status) is the threshold, moved
forward by storage.approvals.escalate, so a request escalates once per level however many scans run."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.handlers.deals import approval_pushes
from bot.outbound import Outbound, Purpose
from cards import builders
from cards.model import Card
from cards.rows import approval_line
from storage import approvals
from storage.models import Approval, CardRecord, OutboxMessage, User

from .scanning import Scan

NAME = "approval_escalation"
BATCH = 200


def scan(s: Scan) -> int:
    escalated = 0
    while True:
        with s.transaction() as (session, out):
            rows = approvals.due_for_escalation(session, s.now, limit=BATCH)
            for approval in rows:
                escalated += _escalate(s, session, out, approval)
        if len(rows) < BATCH:
            return escalated


def _escalate(s: Scan, session: Session, out: Outbound, approval: Approval) -> int:
    moved = approvals.escalate(session, approval, s.playbook, now=s.now)
    if moved is None:
        return 0
    round_ = approval.escalations
    if moved.moved_up:
        _close_old_cards(session, out, approval, moved.previous, f"已升级给总监{moved.approver.name}")
    prefix = "【已升级】" if moved.moved_up else "【催办】"
    copy_to = moved.previous if moved.moved_up else None
    for push in approval_pushes(session, s.playbook, s.settings, approval, moved.approver, copy_to,
                                round_=round_, prefix=prefix):
        # an escalation must not be missed (DingTalk: also a 工作通知), but it is not a reminder a
        # cap may delay: quiet hours still hold it
        out.card(push.user, push.card, subject_type="approval", subject_id=approval.id,
                 dedupe_key=push.dedupe_key, purpose=Purpose.DIRECT, work_notice=True)
    requester = session.get(User, approval.requested_by_id)
    hours = s.playbook.approvals.escalate_after_working_hours
    what = approval_line(approval, s.playbook)
    text = (f"你的{what}申请{moved.previous.name}超过{hours:g}个工作小时未处理，已升级给总监{moved.approver.name}。"
            if moved.moved_up else f"你的{what}申请仍在等{moved.approver.name}审批，已再次提醒。")
    out.text(requester, text, dedupe_key=f"approval:{approval.id}:{round_}:requester", purpose=Purpose.DIRECT)
    return 1


def _close_old_cards(session: Session, out: Outbound, approval: Approval, previous: User, note: str) -> None:
    """The previous approver's card stops offering 同意 / 驳回: updated in place to say where the
    request went. WeCom needs a response code for that: the one its send reply gave (usable once,
    within 72 h; past that the update is recorded as spent). DingTalk interactive cards update by
    outTrackId; a classic ActionCard cannot change, so its owner gets a line saying so."""
    records = session.scalars(select(CardRecord).where(
        CardRecord.subject_type == "approval", CardRecord.subject_id == approval.id,
        CardRecord.recipient_user_id == previous.id, CardRecord.status == "open")).all()
    for record in records:
        card = Card.from_dict(record.card)
        if not any(b.key for b in card.buttons):
            continue  # a copy: nothing to click
        sent = session.scalars(select(OutboxMessage).where(
            OutboxMessage.card_id == record.card_id, OutboxMessage.action == "send")
            .order_by(OutboxMessage.id.desc())).first()
        if sent is None:
            continue
        out.update_card(record, builders.done(card, note), recipient=sent.recipient,
                        dedupe_key=f"approval:{approval.id}:{approval.escalations}:close:{record.card_id}",
                        context={"response_code": (sent.result or {}).get("response_code")})
