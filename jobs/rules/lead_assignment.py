"""Rule 1 — lead assignment: a new lead goes to a rep within seconds (the lead webhook enqueues
`assign_lead` at once; the scan catches any lead still waiting, e.g. when no rep was free).
The rep gets a card with the lead, a suggested first message, and 认领 / 转交."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cards import formats
from storage import leads
from storage.errors import InvalidInput
from storage.models import Lead, User
from storage.tasks import TaskSpec

from ..pacing import Pacer
from .scanning import Scan, create_task, scan_ids

log = logging.getLogger(__name__)
NAME = "lead_assignment"


def scan(s: Scan) -> int:
    query = select(Lead).where(Lead.status == "new")  # ix_lead_status_assigned (status prefix)
    return scan_ids(s, query, Lead.id, lambda session, pacer, lead: _assign(s, session, pacer, lead))


def assign_lead(lead_id: int, now_iso: str | None = None) -> bool:
    """rq job enqueued by POST /api/leads: assign this lead now."""
    from ..runtime import current_runtime
    from storage.models import utcnow
    s = Scan(current_runtime(), datetime.fromisoformat(now_iso) if now_iso else utcnow())
    with s.transaction() as (session, pacer):
        lead = session.get(Lead, lead_id)
        return lead is not None and lead.status == "new" and _assign(s, session, pacer, lead) == 1


def _assign(s: Scan, session: Session, pacer: Pacer, lead: Lead) -> int:
    try:
        rep = leads.assign(session, lead, s.playbook, s.now)
    except InvalidInput as exc:  # the playbook routes it nowhere: refused before any write
        log.warning("lead %s not assigned: %s", lead.id, exc.message)
        return 0
    if rep is None:
        return 0
    create_assignment_task(s, session, pacer, lead, rep)
    return 1


def suggested_opener(lead: Lead, rep: User) -> str:
    company = f"{lead.company}的" if lead.company else ""
    return (f"{company}{lead.name}您好，我是{rep.name}，看到您通过{lead.source}留下了联系方式，"
            f"想了解一下您的需求，方便时我给您打个电话详细聊聊？")


def lead_lines(lead: Lead) -> list[tuple[str, str]]:
    fields = [("联系人", lead.name), ("来源", lead.source)]
    if lead.company:
        fields.append(("公司", lead.company))
    if lead.mobile:
        fields.append(("手机", lead.mobile))
    if lead.industry:
        fields.append(("行业", lead.industry))
    if lead.budget:
        fields.append(("预算", formats.money(lead.budget)))
    return fields


def create_assignment_task(s, session: Session, pacer: Pacer, lead: Lead, rep: User) -> bool:
    """The rep's task for this assignment (one per assignment: the count is in the dedupe key)."""
    minutes = s.playbook.rules.claim_timeout.minutes
    # "请在10分钟内认领…" is the card's hint (cards.builders.TASK_HINTS): it goes once the lead is claimed.
    detail = f"建议开场白：{suggested_opener(lead, rep)}"
    if lead.note:
        detail = f"留言：{lead.note}\n{detail}"
    spec = TaskSpec(org_id=lead.org_id, kind=NAME, subject_type="lead", subject_id=lead.id,
                    assignee_id=rep.id, title=f"新线索：{lead.company or lead.name}", detail=detail,
                    due_at=pacer.now + timedelta(minutes=minutes),
                    dedupe_key=f"{NAME}:lead:{lead.id}:{lead.assignment_count}")
    _task, created = create_task(s, session, pacer, spec, rep, lead_lines(lead))
    return created
