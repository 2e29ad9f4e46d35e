"""Rule — approval escalation: a discount or stage-skip request nobody answered within the
playbook's `approvals.escalate_after_working_hours` of working time goes one level up (manager →
director, who gets the card; the manager keeps a copy); a director's request is sent to them once
more. The requester is told. `approval.escalate_at` (indexed with status) is the threshold, moved
forward by storage.approvals.escalate, so a request escalates once per level however many scans run."""
from __future__ import annotations

from sqlalchemy.orm import Session

from bot.handlers.deals import approval_pushes
from bot.outbound import Outbound, Purpose
from cards.rows import approval_line
from storage import approvals
from storage.models import Approval, User

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
        out.close_cards("approval", approval.id, moved.previous, f"已升级给总监{moved.approver.name}",
                        dedupe_key=f"approval:{approval.id}:{approval.escalations}")
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
