"""The ERP guard (seed 000): other systems (ERP, finance) read our master record and report their
own view of a customer; their view is never written over ours.

A report that differs on the name (compared as storage.dedupe compares names: legal suffix,
brackets and full-width forms do not count, another city does) or on the credit code becomes ONE
data task for the customer's owner, due [integration].mismatch_due_hours later, with both values;
the same disagreement reported again changes nothing (dedupe key). Every report is audited.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from config.playbook import Playbook

from . import dedupe, tasks
from .errors import InvalidInput, NotFound
from .models import AuditLog, Customer, Task
from .validators import normalize_credit_code

KIND = "erp_mismatch"


@dataclass
class Mismatch:
    field: str
    ours: str | None
    theirs: str | None


@dataclass
class ReportResult:
    customer_id: int
    mismatches: list[Mismatch] = field(default_factory=list)
    task: Task | None = None
    task_created: bool = False

    @property
    def status(self) -> str:
        return "mismatch" if self.mismatches else "match"


def master_customer(session: Session, org_id: int, customer_id: int) -> Customer:
    """The record for another system: a merged customer answers with the one it was merged into."""
    customer = session.get(Customer, customer_id)
    seen = set()
    while customer is not None and customer.merged_into_id is not None and customer.id not in seen:
        seen.add(customer.id)
        customer = session.get(Customer, customer.merged_into_id)
    if customer is None or customer.org_id != org_id:
        raise NotFound("客户不存在")
    return customer


def master_record(customer: Customer) -> dict:
    return {"id": customer.id, "kind": customer.kind, "name": customer.name,
            "credit_code": customer.credit_code, "mobile": customer.mobile, "status": customer.status,
            "owner": customer.owner.name, "industry": customer.industry, "grade": customer.grade,
            "address": customer.address,
            "contacts": [{"name": c.name, "title": c.title, "mobile": c.mobile, "email": c.email}
                         for c in customer.contacts]}


def report_view(session: Session, org_id: int, customer_id: int, *, system: str, name: str | None,
                credit_code: str | None, playbook: Playbook, now: datetime) -> ReportResult:
    system = (system or "").strip()[:30]
    if not system:
        raise InvalidInput("system", "请说明是哪个系统（system）")
    customer = master_customer(session, org_id, customer_id)
    result = ReportResult(customer.id)
    if (name or "").strip():
        theirs, ours = dedupe.parse_company(name), dedupe.parse_company(customer.name)
        if customer.kind == "person":
            same = dedupe.normalize_person(name) == dedupe.normalize_person(customer.name)
        else:
            same = dedupe.name_score(theirs, ours) >= 0.999
        if not same:
            result.mismatches.append(Mismatch("name", customer.name, name.strip()[:200]))
    if (credit_code or "").strip():
        try:
            code = normalize_credit_code(credit_code)
        except InvalidInput:
            code = credit_code.strip()[:40]  # their value is reported as they sent it
        if code != customer.credit_code:
            result.mismatches.append(Mismatch("credit_code", customer.credit_code, code))
    session.add(AuditLog(org_id=org_id, actor_id=None, action="integration.report", entity="customer",
                         entity_id=customer.id, at=now,
                         before={"system": system, "name": name, "credit_code": credit_code},
                         after={"status": result.status,
                                "mismatches": [m.__dict__ for m in result.mismatches]}))
    if result.mismatches:
        labels = {"name": "名称", "credit_code": "信用代码"}
        detail = "；".join(f"{labels[m.field]}：我们是“{m.ours or '空'}”，{system}是“{m.theirs}”"
                          for m in result.mismatches)
        digest = hashlib.sha256(repr([(m.field, m.theirs) for m in result.mismatches]).encode()).hexdigest()[:16]
        result.task, result.task_created = tasks.ensure_task(session, tasks.TaskSpec(
            org_id=org_id, kind=KIND, subject_type="customer", subject_id=customer.id,
            customer_id=customer.id, assignee_id=customer.owner_id,
            title=f"核对客户资料：{customer.name}与{system}不一致",
            detail=f"{detail}。crmbot 的资料没有被改动，请核实后在客户详情里修正正确的一方。",
            due_at=now + timedelta(hours=playbook.integration.mismatch_due_hours),
            dedupe_key=f"{KIND}:{customer.id}:{system}:{digest}"), now=now)
    return result
