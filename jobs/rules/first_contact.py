"""Rule 3 — first contact: a claimed lead with no follow-up after within_minutes → a reminder to
the rep (lead details and a suggested opener) and a copy to the manager. A logged follow-up moves
the lead to `contacted`, which is why status = claimed means "not contacted yet"."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.handlers.common import ESCALATION_ACTIONS
from storage.models import Lead, User
from storage.tasks import TaskSpec
from storage.users import manager_of

from ..pacing import Pacer
from .lead_assignment import lead_lines, suggested_opener
from .scanning import Scan, create_task, scan_range, stamp, task_card

NAME = "first_contact"


def scan(s: Scan) -> int:
    minutes = s.playbook.rules.first_contact.within_minutes
    query = select(Lead).where(Lead.status == "claimed")  # ix_lead_status_claimed range
    return scan_range(s, NAME, query, Lead.claimed_at, Lead.id, s.now - timedelta(minutes=minutes),
                      lambda session, pacer, lead: _remind(s, session, pacer, lead))


def _remind(s: Scan, session: Session, pacer: Pacer, lead: Lead) -> int:
    rep = session.get(User, lead.assignee_id)
    minutes = s.playbook.rules.first_contact.within_minutes
    hours = f"{minutes // 60}小时" if minutes % 60 == 0 else f"{minutes}分钟"
    spec = TaskSpec(org_id=lead.org_id, kind=NAME, subject_type="lead", subject_id=lead.id,
                    customer_id=lead.customer_id, assignee_id=rep.id,
                    title=f"首次联系：{lead.company or lead.name}",
                    detail=f"线索认领已超过{hours}还没有跟进记录。\n建议开场白：{suggested_opener(lead, rep)}",
                    due_at=s.now, dedupe_key=f"{NAME}:lead:{lead.id}:{stamp(lead.claimed_at)}")
    task, created = create_task(s, session, pacer, spec, rep, lead_lines(lead))
    manager = manager_of(session, rep)
    if created and manager is not None:
        copy = task_card(s.settings, s.playbook, task, [("负责人", rep.name), *lead_lines(lead)],
                         actions=ESCALATION_ACTIONS[:1], source="抄送经理")
        pacer.card(manager, copy, subject_type="task", subject_id=task.id,
                   dedupe_key=f"{spec.dedupe_key}:manager")
    return int(created)
