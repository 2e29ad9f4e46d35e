"""Rule 2 — unclaimed lead: a 新线索 task still open at its due time (claim_timeout.minutes of the
team's working time after its card could be seen) → the lead is reassigned to the next rep (never
the previous one), and the previous rep, the new rep and the manager are told.
storage.leads.assign is a compare-and-set, so two scans can never give the lead to two reps."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.outbound import Outbound
from bot.task_cards import LEAD_OFFER, offer_lead
from storage import leads
from storage.errors import InvalidInput
from storage.models import Lead, Task, User
from storage.users import manager_of

from .scanning import Scan, scan_range

NAME = "claim_timeout"


def scan(s: Scan) -> int:
    # ix_task_status_level_due (status, escalation_level, due_at) range
    query = select(Task).where(Task.status == "open", Task.escalation_level == 0, Task.kind == LEAD_OFFER)
    return scan_range(s, NAME, query, Task.due_at, Task.id, s.now,
                      lambda session, out, task: _reassign(s, session, out, task))


def _reassign(s: Scan, session: Session, out: Outbound, task: Task) -> int:
    lead = session.get(Lead, task.subject_id)
    if lead is None or lead.status != "assigned" or lead.assignee_id != task.assignee_id:
        return 0  # claimed, passed on or closed meanwhile: this offer is over
    previous = session.get(User, lead.assignee_id)
    count = lead.assignment_count
    manager = manager_of(session, previous) if previous else None
    try:
        rep = leads.assign(session, lead, s.playbook, now=s.now, exclude={lead.assignee_id})
    except InvalidInput:  # the playbook no longer routes it anywhere: refused before any write
        rep = None
    if rep is None:
        session.refresh(lead)
        if lead.assignment_count == count and manager is not None:  # nobody else is free
            out.text(manager, f"线索「{lead.company or lead.name}」{previous.name}超时未认领，"
                              f"团队里没有其他可改派的同事，请手动处理。",
                     dedupe_key=f"{NAME}:nobody:{lead.id}:{count}")
        return 0
    task.status, task.result, task.closed_at = "closed", f"超时未认领，已改派给{rep.name}"[:200], s.now
    offer_lead(out, lead, rep)
    what = lead.company or lead.name
    minutes = s.playbook.rules.claim_timeout.minutes
    if previous is not None:
        # the old offer card stops offering 认领 / 转交 (a tap would only be refused now)
        out.close_cards("task", task.id, previous, f"超时未认领 · 已改派给{rep.name}",
                        dedupe_key=f"{NAME}:{lead.id}:{count}")
        out.text(previous, f"线索「{what}」{minutes}分钟内未认领，已改派给{rep.name}。",
                 dedupe_key=f"{NAME}:previous:{lead.id}:{count}")
    if manager is not None:
        out.text(manager, f"线索「{what}」{previous.name if previous else ''}超时未认领，已改派给{rep.name}。",
                 dedupe_key=f"{NAME}:manager:{lead.id}:{count}")
    return 1
