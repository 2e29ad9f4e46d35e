"""Rule 3 — first contact: a claimed lead with no follow-up after within_minutes → a reminder to
the rep (lead details and a suggested opener) and a copy to the manager. A logged follow-up moves
the lead to `contacted`, which is why status = claimed means "not contacted yet"."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.outbound import Outbound
from bot.task_cards import lead_lines, open_task, suggested_opener
from cards import rows
from cards.rows import ESCALATION_ACTIONS
from config.worktime import WorkCalendar
from storage.models import Lead, User
from storage.tasks import TaskSpec
from storage.users import manager_of

from .scanning import Scan, scan_range, stamp

NAME = "first_contact"


def scan(s: Scan) -> int:
    minutes = s.playbook.rules.first_contact.within_minutes
    query = select(Lead).where(Lead.status == "claimed")  # ix_lead_status_claimed range
    # counted in the team's working time: a lead claimed at 17:50 is due the next working morning
    upper = WorkCalendar.from_playbook(s.playbook).add_working(s.now, -timedelta(minutes=minutes))
    return scan_range(s, NAME, query, Lead.claimed_at, Lead.id, upper,
                      lambda session, out, lead: _remind(s, session, out, lead))


def _remind(s: Scan, session: Session, out: Outbound, lead: Lead) -> int:
    rep = session.get(User, lead.assignee_id)
    minutes = s.playbook.rules.first_contact.within_minutes
    hours = f"{minutes // 60}小时" if minutes % 60 == 0 else f"{minutes}分钟"
    spec = TaskSpec(org_id=lead.org_id, kind=NAME, subject_type="lead", subject_id=lead.id,
                    customer_id=lead.customer_id, assignee_id=rep.id,
                    title=f"首次联系：{lead.company or lead.name}",
                    detail=f"线索认领已超过{hours}还没有跟进记录。\n建议开场白：{suggested_opener(lead, rep)}",
                    due_at=s.now, dedupe_key=f"{NAME}:lead:{lead.id}:{stamp(lead.claimed_at)}")
    task, created = open_task(out, spec, rep, fields=lead_lines(lead))
    manager = manager_of(session, rep)
    if created and manager is not None:
        copy = rows.task_card(task, s.playbook, s.settings.crmbot_public_url,
                              fields=[("负责人", rep.name), *lead_lines(lead)],
                              actions=ESCALATION_ACTIONS[:1], source="抄送经理")
        out.card(manager, copy, subject_type="task", subject_id=task.id,
                   dedupe_key=f"{spec.dedupe_key}:manager")
    return int(created)
