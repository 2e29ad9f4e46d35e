"""Rule 8 — onboarding: in a rep's first week (start_date … +6 days, org time), one step a day from
the playbook's onboarding.steps (the step whose `day` is today). A step is ticked off when the rep
actually did it in the store: created a customer, logged a tagged follow-up, changed a stage; the
drill step is ticked by its 知道了 button."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.outbound import Outbound
from bot.task_cards import open_task
from storage.models import Customer, FollowUp, StageChange, Task, User
from storage.tasks import TaskSpec

from .scanning import Scan

NAME = "onboarding"


def scan(s: Scan) -> int:
    today = s.now.astimezone(s.playbook.tz).date()
    created = 0
    with s.transaction() as (session, out):
        # the users table is small (people, not records); start_date narrows it to new reps
        reps = session.scalars(select(User).where(
            User.role == "rep", User.active.is_(True), User.start_date >= today - timedelta(days=6),
            User.start_date <= today)).all()
        for rep in reps:
            _tick_done_steps(s, session, out, rep)
            created += _todays_step(s, session, out, rep, today)
    return created


def _todays_step(s: Scan, session: Session, out: Outbound, rep: User, today: date) -> int:
    day = (today - rep.start_date).days + 1
    step = next((st for st in s.playbook.onboarding.steps if st.day == day), None)
    if step is None:
        return 0
    auto = step.key != "lost_deal_drill"
    spec = TaskSpec(org_id=rep.org_id, kind=NAME, subject_type="user", subject_id=rep.id,
                    assignee_id=rep.id, title=f"新人第{day}天：{step.text.split('：')[0]}",
                    detail=step.text + ("\n做完后系统会自动打勾。" if auto else ""),
                    due_at=s.now, dedupe_key=f"{NAME}:user:{rep.id}:{step.key}")
    _task, created = open_task(out, spec, rep)
    return int(created)


def _since(rep: User, s: Scan) -> datetime:
    return datetime.combine(rep.start_date, datetime.min.time(), tzinfo=s.playbook.tz)


def did_step(session: Session, rep: User, key: str, since: datetime) -> bool:
    if key == "record_customer":  # ix_customer_org_owner
        return session.scalar(select(Customer.id).where(
            Customer.org_id == rep.org_id, Customer.owner_id == rep.id, Customer.created_at >= since)
            .limit(1)) is not None
    if key == "tag_followup":  # ix_follow_up_author_occurred
        tag_lists = session.scalars(select(FollowUp.tags).where(
            FollowUp.author_id == rep.id, FollowUp.occurred_at >= since).limit(50))
        return any(tags for tags in tag_lists)
    if key == "advance_stage":  # ix_stage_change_by_changed
        return session.scalar(select(StageChange.id).where(
            StageChange.changed_by_id == rep.id, StageChange.changed_at >= since,
            StageChange.from_stage.is_not(None)).limit(1)) is not None
    return False


def _tick_done_steps(s: Scan, session: Session, out: Outbound, rep: User) -> None:
    open_steps = session.scalars(select(Task).where(  # ix_task_assignee_status
        Task.assignee_id == rep.id, Task.status == "open", Task.kind == NAME)).all()
    for task in open_steps:
        key = task.dedupe_key.rsplit(":", 1)[-1]
        if did_step(session, rep, key, _since(rep, s)):
            task.status, task.result, task.closed_at = "done", "已完成（系统检测）", s.now
            out.text(rep, f"✅ 新人任务完成：{task.title}", dedupe_key=f"{task.dedupe_key}:done")
