"""Rule 5 — silent customer: no interaction for `days` → a wake-up card to the owner: who, when we
last talked and about what, a suggested message (the playbook's template filled with the
customer's data) and 已联系 / N天后提醒 / 转交同事 / 标记流失. Customers never contacted at all are
not "silent" (they have no last interaction); lost customers are not scanned."""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.outbound import Outbound
from bot.task_cards import open_task
from storage.models import Contact, Customer, Org, User
from storage.tasks import TaskSpec

from .scanning import Scan, local_date, scan_range, stamp

NAME = "silent_customer"
SCANNED_STATUSES = ("active", "incomplete")


def scan(s: Scan) -> int:
    upper = s.now - timedelta(days=s.playbook.rules.silent_customer.days)
    created = 0
    with s.runtime.db.transaction() as session:
        org_ids = list(session.scalars(select(Org.id).order_by(Org.id)))
    for org_id in org_ids:
        for status in SCANNED_STATUSES:
            # ix_customer_last_interaction (org_id, status, last_interaction_at) range
            query = select(Customer).where(Customer.org_id == org_id, Customer.status == status)
            created += scan_range(s, f"{NAME}:org={org_id}:{status}", query, Customer.last_interaction_at,
                                  Customer.id, upper, lambda session, out, c: _wake_up(s, session, out, c))
    return created


def suggested_message(s, customer: Customer, contact: str | None, rep: User) -> str:
    values = defaultdict(str, contact=contact or customer.name, rep=rep.name, company=customer.name,
                         last_contact=local_date(customer.last_interaction_at, s.playbook, s.now),
                         topic=customer.industry or "业务")
    return s.playbook.rules.silent_customer.message_template.format_map(values)


def _wake_up(s: Scan, session: Session, out: Outbound, customer: Customer) -> int:
    owner = session.get(User, customer.owner_id)
    contact = session.scalars(select(Contact.name).where(Contact.customer_id == customer.id)
                              .order_by(Contact.id).limit(1)).first()
    days = (s.now - customer.last_interaction_at).days
    last = local_date(customer.last_interaction_at, s.playbook, s.now)
    spec = TaskSpec(org_id=customer.org_id, kind=NAME, subject_type="customer", subject_id=customer.id,
                    customer_id=customer.id, assignee_id=owner.id,
                    title=f"{customer.name} 已{days}天没有联系",
                    detail=f"上次联系：{last}（{customer.last_interaction_summary or '无记录'}）\n"
                           f"建议发送：{suggested_message(s, customer, contact, owner)}",
                    due_at=s.now, dedupe_key=f"{NAME}:customer:{customer.id}:{stamp(customer.last_interaction_at)}")
    fields = [("联系人", contact or "无"), ("上次联系", last)]
    _task, created = open_task(out, spec, owner, fields=fields)
    return int(created)
