"""Tasks: created idempotently by rules (one per rule, subject and window), closed by people."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from . import audit
from .errors import Conflict, NotFound
from .models import Task, User
from .permissions import check_access

# Tasks that a logged follow-up answers: talking to the customer is what they asked for.
ANSWERED_BY_FOLLOWUP = ("first_contact", "followup_due", "silent_customer", "onboarding")


@dataclass(frozen=True)
class TaskSpec:
    org_id: int
    kind: str
    subject_type: str
    subject_id: int
    assignee_id: int
    title: str
    dedupe_key: str
    detail: str | None = None
    due_at: datetime | None = None
    customer_id: int | None = None


def ensure_task(session: Session, spec: TaskSpec, *, now: datetime) -> tuple[Task, bool]:
    """Insert unless a task with the same dedupe key exists; safe under concurrent scans.

    INSERT … ON CONFLICT DO NOTHING lets two workers race without an IntegrityError aborting
    the transaction; the loser reads the winner's row.
    """
    values = dict(org_id=spec.org_id, kind=spec.kind, subject_type=spec.subject_type,
                  subject_id=spec.subject_id, assignee_id=spec.assignee_id, title=spec.title[:200],
                  detail=(spec.detail or "")[:1000] or None, due_at=spec.due_at,
                  customer_id=spec.customer_id, dedupe_key=spec.dedupe_key, status="open",
                  escalation_level=0, created_at=now)
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Task)
    result = session.execute(insert.values(**values)
                             .on_conflict_do_nothing(index_elements=["org_id", "dedupe_key"])
                             .returning(Task.id))
    new_id = result.scalar()
    task = session.scalars(select(Task).where(Task.org_id == spec.org_id,
                                              Task.dedupe_key == spec.dedupe_key)).one()
    if new_id is not None:
        audit.record(session, None, "task.create", task)
    return task, new_id is not None


def get_task(session: Session, actor: User, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound("任务不存在")
    check_access(session, actor, task.org_id, task.assignee_id, "任务")
    return task


def close_task(session: Session, actor: User, task_id: int, result: str,
               status: str = "done", *, now: datetime) -> Task:
    task = get_task(session, actor, task_id)
    if task.status != "open":
        raise Conflict(f"该任务已处理（{task.result or task.status}）")
    before = audit.snapshot(task)
    task.status, task.result = status, result[:200]
    task.closed_at, task.closed_by_id = now, actor.id
    audit.record(session, actor, f"task.{status}", task, before)
    return task


def close_subject_tasks(session: Session, actor: User | None, subject_type: str, subject_id: int,
                        kind: str, result: str, now: datetime) -> list[Task]:
    """Close the open tasks of one kind about one row (a lead claimed by any path closes its
    新线索 task, wherever the claim came from)."""
    found = session.scalars(select(Task).where(
        Task.subject_type == subject_type, Task.subject_id == subject_id, Task.kind == kind,
        Task.status == "open")).all()
    for task in found:
        before = audit.snapshot(task)
        task.status, task.result = "done", result[:200]
        task.closed_at, task.closed_by_id = now, actor.id if actor else None
        audit.record(session, actor, "task.done", task, before)
    return list(found)


def close_answered_tasks(session: Session, actor: User, customer_id: int,
                         *, now: datetime) -> list[Task]:
    tasks = session.scalars(select(Task).where(
        Task.customer_id == customer_id, Task.status == "open",
        Task.kind.in_(ANSWERED_BY_FOLLOWUP))).all()
    for task in tasks:
        before = audit.snapshot(task)
        task.status, task.result = "done", "已跟进"
        task.closed_at, task.closed_by_id = now, actor.id
        audit.record(session, actor, "task.done", task, before)
    return list(tasks)


def open_tasks_for(session: Session, actor: User, limit: int = 20) -> list[Task]:
    return list(session.scalars(
        select(Task).where(Task.assignee_id == actor.id, Task.status == "open")
        .order_by(Task.due_at.is_(None), Task.due_at, Task.id).limit(limit)))


def reschedule(session: Session, actor: User, task_id: int, due_at: datetime) -> Task:
    """Move an open task's due time (a "remind me later" tap); the escalation clock restarts."""
    task = get_task(session, actor, task_id)
    if task.status != "open":
        raise Conflict(f"该任务已处理（{task.result or task.status}）")
    before = audit.snapshot(task, ("due_at",))
    task.due_at = due_at
    audit.record(session, actor, "task.snooze", task, before)
    return task


def reassign(session: Session, actor: User, task_id: int, to: User) -> Task:
    task = get_task(session, actor, task_id)
    if task.status != "open":
        raise Conflict(f"该任务已处理（{task.result or task.status}）")
    if to.org_id != task.org_id or not to.active:
        raise Conflict("只能转交给本公司在职的同事")
    before = audit.snapshot(task, ("assignee_id",))
    task.assignee_id = to.id
    audit.record(session, actor, "task.transfer", task, before)
    return task


def take_back(session: Session, actor: User, task_id: int, *, handed_to: int, back_to: User) -> Task:
    """Undo of 转交: the task goes back to `back_to` while `handed_to` has not acted on it."""
    task = session.get(Task, task_id)
    if task is None or task.org_id != actor.org_id:
        raise NotFound("任务不存在")
    if task.status != "open" or task.assignee_id != handed_to:
        raise Conflict("同事已经处理了这个待办，不能撤销")
    before = audit.snapshot(task, ("assignee_id",))
    task.assignee_id = back_to.id
    audit.record(session, actor, "task.take_back", task, before)
    return task
