"""Duplicate reviews (撞单 and 仍然创建): a task for the manager who oversees both owners.

A review is a Task of kind `duplicate_review`: `customer_id` is the existing customer (A),
`subject_id` the newer record (B) when one was created, else A itself (an identifier that another
rep typed and was refused: nothing was created). The parties are kept in the task's dedupe key,
`duplicate_review:<A>:<B or 0>:<requester>`, so one collision makes one review however often it
is retried. The manager decides: merge B into A, keep both, or transfer A to the requester.
Nothing here moves ownership on its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.playbook import Playbook

from . import audit, tasks
from .errors import Conflict, InvalidInput, NotFound, PermissionDenied
from .models import Customer, Task, User
from .permissions import WHOLE_ORG_ROLES, visible_user_ids

KIND = "duplicate_review"


@dataclass(frozen=True)
class ReviewParties:
    existing_id: int
    newer_id: int | None
    requester_id: int


def parties(task: Task) -> ReviewParties:
    if task.kind != KIND:
        raise InvalidInput("task", "这不是撞单审核任务")
    _, existing, newer, requester = task.dedupe_key.split(":")
    return ReviewParties(int(existing), int(newer) or None, int(requester))


def _chain(session: Session, user: User) -> list[User]:
    """The user's managers, nearest first (reports_to), without loops."""
    found, current = [], user
    while current.reports_to_id and current.reports_to_id not in {u.id for u in found}:
        current = session.get(User, current.reports_to_id)
        if current is None:
            break
        found.append(current)
    return found


def reviewer_for(session: Session, a: User, b: User) -> User:
    """The nearest manager who oversees both owners (their lowest common boss); else an org admin
    or director; else the first user's own manager."""
    for boss in _chain(session, a):
        seen = visible_user_ids(session, boss)
        if boss.role in WHOLE_ORG_ROLES or seen is None or (a.id in seen and b.id in seen):
            return boss
    fallback = session.scalars(select(User).where(User.org_id == a.org_id, User.active.is_(True),
                                                  User.role.in_(WHOLE_ORG_ROLES)).order_by(User.id)).first()
    return fallback or (_chain(session, a) or [a])[0]


def open_review(session: Session, requester: User, *, existing_id: int, newer_id: int | None,
                reason: str, playbook: Playbook, now: datetime) -> tuple[Task, bool]:
    """One review task per (existing, newer, requester), for the manager of both owners."""
    existing = session.get(Customer, existing_id)
    newer = session.get(Customer, newer_id) if newer_id else None
    reviewer = reviewer_for(session, requester, existing.owner)
    if newer is not None:
        title = f"撞单审核：{existing.name}（{existing.owner.name}）与 {newer.name}（{newer.owner.name}）"
    else:
        title = f"撞单审核：{requester.name}想录入{existing.owner.name}的客户 {existing.name}"
    task, created = tasks.ensure_task(session, tasks.TaskSpec(
        org_id=existing.org_id, kind=KIND, subject_type="customer",
        subject_id=newer.id if newer is not None else existing.id, customer_id=existing.id,
        assignee_id=reviewer.id, title=title, detail=reason[:1000],
        due_at=now + timedelta(hours=playbook.dedupe.review_hours),
        dedupe_key=f"{KIND}:{existing.id}:{newer.id if newer is not None else 0}:{requester.id}"), now=now)
    return task, created


def reviews_of(session: Session, newer_id: int) -> list[Task]:
    """Open reviews raised by creating `newer_id` anyway."""
    return list(session.scalars(select(Task).where(Task.kind == KIND, Task.subject_type == "customer",
                                                   Task.subject_id == newer_id, Task.status == "open")))


def open_reviews(session: Session, org_id: int) -> list[Task]:
    return list(session.scalars(select(Task).where(Task.org_id == org_id, Task.kind == KIND,
                                                   Task.status == "open").order_by(Task.id)))


def get_review(session: Session, actor: User, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None or task.kind != KIND or task.org_id != actor.org_id:
        raise NotFound("撞单审核不存在")
    if task.assignee_id != actor.id and actor.role not in WHOLE_ORG_ROLES:
        seen = visible_user_ids(session, actor)
        if seen is not None and task.assignee_id not in seen:
            raise PermissionDenied("只有负责审核的经理可以处理这条撞单")
    if task.status != "open":
        raise Conflict("这条撞单已经处理过了")
    return task


def close_review(session: Session, actor: User, task: Task, result: str, now: datetime) -> Task:
    before = audit.snapshot(task, ("status", "result", "closed_at", "closed_by_id"))
    task.status, task.result, task.closed_at, task.closed_by_id = "done", result[:200], now, actor.id
    audit.record(session, actor, "duplicate_review.close", task, before)
    return task
