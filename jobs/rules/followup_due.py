"""Rule 4 — follow-up due: customer.next_followup_at reached → a reminder to the owner; still not
followed up overdue_days later → the task is escalated to the manager (see escalation.escalate).
A logged follow-up moves next_followup_at and closes the reminder, so the row leaves the range."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.outbound import Outbound
from bot.task_cards import open_task
from cards import builders
from config.worktime import WorkCalendar
from storage.models import Customer, Org, User
from storage.tasks import TaskSpec

from . import escalation
from .scanning import Scan, open_task_by_key, scan_range, stamp

NAME = "followup_due"
OPEN_STATUSES = ("active", "incomplete")


def scan(s: Scan) -> int:
    created = 0
    calendar = WorkCalendar.from_playbook(s.playbook)
    # overdue_days working days of the team's working time, not calendar days
    overdue_since = calendar.add_working(s.now, -calendar.day_length * s.playbook.rules.followup_due.overdue_days)
    with s.runtime.db.transaction() as session:
        org_ids = list(session.scalars(select(Org.id).order_by(Org.id)))
    for org_id in org_ids:
        # ix_customer_next_followup (org_id, next_followup_at) range
        query = select(Customer).where(Customer.org_id == org_id)
        created += scan_range(s, f"{NAME}:org={org_id}", query, Customer.next_followup_at, Customer.id,
                              s.now, lambda session, out, c: _remind(s, session, out, c))
        created += scan_range(s, f"{NAME}:overdue:org={org_id}", query, Customer.next_followup_at,
                              Customer.id, overdue_since,
                              lambda session, out, c: _overdue(s, session, out, c))
    return created


def _key(customer: Customer) -> str:
    return f"{NAME}:customer:{customer.id}:{stamp(customer.next_followup_at)}"


def _remind(s: Scan, session: Session, out: Outbound, customer: Customer) -> int:
    if customer.status not in OPEN_STATUSES:
        return 0
    owner = session.get(User, customer.owner_id)
    tz = s.playbook.tz
    spec = TaskSpec(org_id=customer.org_id, kind=NAME, subject_type="customer", subject_id=customer.id,
                    customer_id=customer.id, assignee_id=owner.id, title=f"今日跟进：{customer.name}",
                    detail=f"约定的跟进时间 {builders.when(customer.next_followup_at, tz, s.now)} 已到。"
                           f"上次沟通：{customer.last_interaction_summary or '无记录'}",
                    due_at=s.now, dedupe_key=_key(customer))
    _task, created = open_task(out, spec, owner, fields=[
        ("上次联系", builders.days_ago(customer.last_interaction_at, s.now))])
    return int(created)


def _overdue(s: Scan, session: Session, out: Outbound, customer: Customer) -> int:
    if customer.status not in OPEN_STATUSES:
        return 0
    created = _remind(s, session, out, customer)  # a scan that was down still creates it first
    task = open_task_by_key(session, customer.org_id, _key(customer))
    if task is not None and task.status == "open":
        days = s.playbook.rules.followup_due.overdue_days
        escalation.escalate(s, session, out, task, level=1, reason=f"约定的跟进已逾期{days}天")
    return created
