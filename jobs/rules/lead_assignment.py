"""Rule 1 — lead assignment: a new lead goes to a rep within seconds (the lead webhook enqueues
`assign_lead` at once; the scan catches any lead still waiting, e.g. when no rep was free).
The rep gets a card with the lead, a suggested first message, and 认领 / 转交."""
from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.outbound import Outbound
from bot.task_cards import offer_lead
from storage import leads
from storage.errors import InvalidInput
from storage.models import Lead

from ..runtime import current_runtime
from .scanning import Scan, scan_ids

log = logging.getLogger(__name__)
NAME = "lead_assignment"


def scan(s: Scan) -> int:
    query = select(Lead).where(Lead.status == "new")  # ix_lead_status_assigned (status prefix)
    return scan_ids(s, query, Lead.id, lambda session, out, lead: _assign(s, session, out, lead))


def assign_lead(lead_id: int) -> bool:
    """rq job enqueued by POST /api/leads: assign this lead now."""
    rt = current_runtime()
    s = Scan(rt, rt.clock.now())
    with s.transaction() as (session, out):
        lead = session.get(Lead, lead_id)
        return lead is not None and lead.status == "new" and _assign(s, session, out, lead) == 1


def _assign(s: Scan, session: Session, out: Outbound, lead: Lead) -> int:
    try:
        rep = leads.assign(session, lead, s.playbook, now=s.now)
    except InvalidInput as exc:  # the playbook routes it nowhere: refused before any write
        log.warning("lead %s not assigned: %s", lead.id, exc.message)
        return 0
    if rep is None:
        return 0
    offer_lead(out, lead, rep)
    return 1
