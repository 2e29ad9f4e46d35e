"""Rule 2 — unclaimed lead: not claimed within claim_timeout.minutes → reassigned to the next rep
(never the previous one), and the previous rep, the new rep and the manager are told.
storage.leads.assign is a compare-and-set, so two scans can never give the lead to two reps."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import leads
from storage.errors import InvalidInput
from storage.models import Lead, Task, User
from storage.users import manager_of

from ..pacing import Pacer
from .lead_assignment import NAME as ASSIGNMENT, create_assignment_task
from .scanning import Scan, scan_range

NAME = "claim_timeout"


def scan(s: Scan) -> int:
    upper = s.now - timedelta(minutes=s.playbook.rules.claim_timeout.minutes)
    query = select(Lead).where(Lead.status == "assigned")  # ix_lead_status_assigned range
    return scan_range(s, NAME, query, Lead.assigned_at, Lead.id, upper,
                      lambda session, pacer, lead: _reassign(s, session, pacer, lead))


def _reassign(s: Scan, session: Session, pacer: Pacer, lead: Lead) -> int:
    previous = session.get(User, lead.assignee_id)
    count = lead.assignment_count
    manager = manager_of(session, previous) if previous else None
    try:
        rep = leads.assign(session, lead, s.playbook, s.now, exclude={lead.assignee_id})
    except InvalidInput:  # the playbook no longer routes it anywhere: refused before any write
        rep = None
    if rep is None:
        session.refresh(lead)
        if lead.assignment_count == count and manager is not None:  # nobody else is free
            pacer.text(manager, f"线索「{lead.company or lead.name}」{previous.name}超时未认领，"
                                f"团队里没有其他可改派的同事，请手动处理。",
                       dedupe_key=f"{NAME}:nobody:{lead.id}:{count}")
        return 0
    _close_old_task(session, lead, count, rep, s)
    create_assignment_task(s, session, pacer, lead, rep)
    what = lead.company or lead.name
    minutes = s.playbook.rules.claim_timeout.minutes
    if previous is not None:
        pacer.text(previous, f"线索「{what}」{minutes}分钟内未认领，已改派给{rep.name}。",
                   dedupe_key=f"{NAME}:previous:{lead.id}:{count}")
    if manager is not None:
        pacer.text(manager, f"线索「{what}」{previous.name if previous else ''}超时未认领，已改派给{rep.name}。",
                   dedupe_key=f"{NAME}:manager:{lead.id}:{count}")
    return 1


def _close_old_task(session: Session, lead: Lead, count: int, rep: User, s: Scan) -> None:
    old = session.scalars(select(Task).where(
        Task.org_id == lead.org_id, Task.dedupe_key == f"{ASSIGNMENT}:lead:{lead.id}:{count}",
        Task.status == "open")).first()
    if old is not None:
        old.status, old.result = "closed", f"超时未认领，已改派给{rep.name}"[:200]
        old.closed_at = s.now
