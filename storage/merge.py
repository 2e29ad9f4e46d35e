"""Merging two customer records that are one customer: B is merged into A by a person.

- Who: a manager for customers whose owners are both in their subtree, a director or admin for
  the whole org; never a rep, never across orgs (another org's record is "not found").
- What moves to A: contacts, follow-ups, opportunities (their stage history goes with them), tasks,
  chat links, leads, capture drafts (and so their media). Fields that differ are chosen one by one
  (`choices[field] = "into" | "merged"`, default: keep A's); a field only B has is taken.
- How: one transaction (the caller's); B stays as a tombstone (`merged_into_id`, status `merged`,
  identifier freed) so old card buttons and /app/customers/<B> open A (customers.get_customer
  follows the pointer). The audit row holds B's full snapshot and the ids of every moved row:
  enough to rebuild B by hand (unmerge is not offered).
- Refused clearly, with nothing written: merging a customer twice, into itself, into a tombstone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from . import audit
from .customers import set_name
from .errors import Conflict, InvalidInput, NotFound, PermissionDenied
from .name_search import pinyin_keys
from .models import (CaptureDraft, ChatLink, Contact, Customer, FollowUp, Lead, Opportunity, Task,
                     User)
from .permissions import WHOLE_ORG_ROLES, visible_user_ids
from .validators import normalize_name

# Fields a person chooses between when both records have a different value.
CHOOSABLE = ("name", "credit_code", "mobile", "industry", "grade", "address", "source", "owner_id")
MERGE_ROLES = ("manager", *WHOLE_ORG_ROLES)
# Every row that points at a customer, by table and column (captured drafts carry their media).
RELATED = (("contact", Contact, Contact.customer_id), ("follow_up", FollowUp, FollowUp.customer_id),
           ("opportunity", Opportunity, Opportunity.customer_id), ("task", Task, Task.customer_id),
           ("chat_link", ChatLink, ChatLink.customer_id), ("lead", Lead, Lead.customer_id),
           ("capture_draft", CaptureDraft, CaptureDraft.result_customer_id))


@dataclass
class Conflicting:
    field: str
    into_value: object
    merged_value: object


@dataclass
class MergeResult:
    into_id: int
    merged_id: int
    moved: dict[str, int] = field(default_factory=dict)
    chosen: dict[str, str] = field(default_factory=dict)


def _load(session: Session, actor: User, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None or customer.org_id != actor.org_id:
        raise NotFound("客户不存在")
    return customer


def check_merge(session: Session, actor: User, into_id: int, merged_id: int) -> tuple[Customer, Customer]:
    """The two records, or a refusal that says why."""
    into, merged = _load(session, actor, into_id), _load(session, actor, merged_id)
    if actor.role not in MERGE_ROLES:
        raise PermissionDenied("只有经理或管理员可以合并客户")
    if into_id == merged_id:
        raise InvalidInput("merged_id", "不能把客户合并到它自己")
    if merged.merged_into_id is not None:
        target = session.get(Customer, merged.merged_into_id)
        raise Conflict(f"“{merged.name}”已经合并到“{target.name}”，不能再次合并")
    if into.merged_into_id is not None:
        raise Conflict(f"“{into.name}”已被合并，请选择它合并后的客户")
    visible = visible_user_ids(session, actor)
    if visible is not None and not {into.owner_id, merged.owner_id} <= visible:
        raise PermissionDenied("只能合并你团队内的客户：其中一个客户的负责人不在你的团队")
    return into, merged


def related_counts(session: Session, customer_id: int) -> dict[str, int]:
    """How many rows of each kind point at the customer (what a merge moves)."""
    return {table: session.scalar(select(func.count()).select_from(model).where(column == customer_id))
            for table, model, column in RELATED}


def conflicts(into: Customer, merged: Customer) -> list[Conflicting]:
    """Fields where both records have a value and the values differ: a person picks one."""
    found = []
    for name in CHOOSABLE:
        a, b = getattr(into, name), getattr(merged, name)
        if a not in (None, "") and b not in (None, "") and a != b:
            found.append(Conflicting(name, a, b))
    return found


def merge_customers(session: Session, actor: User, *, into_id: int, merged_id: int, now: datetime,
                    choices: dict[str, str] | None = None, reason: str | None = None) -> MergeResult:
    choices = dict(choices or {})
    bad = {k for k, v in choices.items() if k not in CHOOSABLE or v not in ("into", "merged")}
    if bad:
        raise InvalidInput(sorted(bad)[0], "合并选项不正确：每个字段选“保留”或“采用被合并客户的值”")
    into, merged = check_merge(session, actor, into_id, merged_id)
    before_into, before_merged = audit.snapshot(into), audit.snapshot(merged)
    moved_ids = {table: list(session.scalars(select(model.id).where(column == merged.id)))
                 for table, model, column in RELATED}
    # pending follow-up drafts name their customer inside `fields`
    pending = [d for d in session.scalars(select(CaptureDraft).where(
        CaptureDraft.org_id == into.org_id, CaptureDraft.status == "pending", CaptureDraft.kind == "followup"))
        if str((d.fields or {}).get("customer_id")) == str(merged.id)]

    chosen: dict[str, str] = {}
    values = {}
    for name in CHOOSABLE:
        a, b = getattr(into, name), getattr(merged, name)
        if a in (None, "") and b not in (None, ""):
            values[name], chosen[name] = b, "merged"
        elif b not in (None, "") and a != b and choices.get(name) == "merged":
            values[name], chosen[name] = b, "merged"
    # the identifier is unique per org: free B's before A may take it
    merged.identifier, merged.status = None, "merged"
    merged.merged_into_id, merged.merged_at = into.id, now
    session.flush()
    if "owner_id" in values:
        into.owner = session.get(User, values.pop("owner_id"))
    new_name = values.pop("name", None)
    for name, value in values.items():
        setattr(into, name, value)
    if new_name:
        set_name(into, new_name)
    _refresh_identifier(into)
    if into.identifier and into.status == "incomplete":
        into.status = "active"

    for table, model, column in RELATED:
        session.execute(update(model).where(column == merged.id).values({column.key: into.id}),
                        execution_options={"synchronize_session": False})
    session.execute(update(Task).where(Task.subject_type == "customer", Task.subject_id == merged.id,
                                       Task.kind != "duplicate_review")
                    .values(subject_id=into.id), execution_options={"synchronize_session": False})
    for draft in pending:
        draft.fields = {**draft.fields, "customer_id": into.id}
    # what the scans read: the latest contact and the nearest next follow-up of either record
    if merged.last_interaction_at and (not into.last_interaction_at
                                       or merged.last_interaction_at > into.last_interaction_at):
        into.last_interaction_at = merged.last_interaction_at
        into.last_interaction_summary = merged.last_interaction_summary
    if merged.next_followup_at and (not into.next_followup_at or merged.next_followup_at < into.next_followup_at):
        into.next_followup_at = merged.next_followup_at
    into.updated_at = now
    session.flush()
    session.expire_all()
    into, merged = session.get(Customer, into_id), session.get(Customer, merged_id)
    into.pinyin_keys = pinyin_keys(into.name, [c.name for c in into.contacts])  # B's contacts are A's now

    moved = {table: len(ids) for table, ids in moved_ids.items()}
    audit.record(session, actor, "customer.merge", into, before={
        "into": before_into, "merged": before_merged, "moved": moved_ids, "chosen": chosen,
        "pending_draft_ids": [d.id for d in pending], "reason": reason})
    audit.record(session, actor, "customer.merged_into", merged, before=before_merged)
    return MergeResult(into_id=into.id, merged_id=merged.id, moved=moved, chosen=chosen)


def _refresh_identifier(customer: Customer) -> None:
    if customer.kind == "company":
        customer.identifier = f"uscc:{customer.credit_code}" if customer.credit_code else None
    else:
        customer.identifier = f"mobile:{customer.mobile}" if customer.mobile else None
    customer.normalized_name = normalize_name(customer.name)
