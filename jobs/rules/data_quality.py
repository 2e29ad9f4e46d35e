"""Data quality over time (storage/data_health.py):

- weekly, with the 补全 digest ([identifiers].digest_weekday / digest_at): each rep's completeness is
  recorded (a closed `data_health_week` task per rep and week, its result the rate); a rep under
  [data_health].coaching_threshold for coaching_weeks checks running gets ONE coaching task for
  their manager (`data_coaching`, due coaching_due_days later);
- monthly on [data_health].monthly_day at monthly_at: a data-quality card to each manager and
  director with their scope's per-rep completeness ranking, open duplicate reviews and 待补全 ageing.
A scan after the hour (that day) still does the period's work, once (dedupe keys per rep / manager
and period).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.outbound import Outbound
from bot.task_cards import open_task
from cards import builders
from cards.links import dashboard_link
from cards.model import new_card_id
from storage import tasks
from storage.data_health import FIELDS, data_health
from storage.duplicate_reviews import reviewer_for
from storage.models import Org, Task, User
from storage.permissions import visible_user_ids
from storage.tasks import TaskSpec

from .scanning import Scan

NAME = "data_quality"
WEEK_KIND = "data_health_week"
COACHING_KIND = "data_coaching"
MONTH_KIND = "data_quality_month"


def scan(s: Scan) -> int:
    local = s.now.astimezone(s.playbook.tz)
    ident, health = s.playbook.identifiers, s.playbook.data_health
    week_day = local.date() - timedelta(days=(local.weekday() - ident.digest_weekday) % 7)
    week_at = datetime.combine(week_day, ident.digest_at, tzinfo=s.playbook.tz)
    month_at = datetime.combine(local.date().replace(day=health.monthly_day), health.monthly_at,
                                tzinfo=s.playbook.tz)
    created = 0
    with s.transaction() as (session, out):
        for org_id in session.scalars(select(Org.id).order_by(Org.id)).all():
            # on the day itself only: a check or a card days late is noise
            if s.now >= week_at and local.date() == week_at.date():
                created += _weekly(s, session, out, org_id, week_at.date())
            if s.now >= month_at and local.date() == month_at.date():
                created += _monthly(s, session, out, org_id, month_at.date())
    return created


def _record(s: Scan, session: Session, kind: str, user: User, period: date, result: str) -> bool:
    task, created = tasks.ensure_task(session, TaskSpec(
        org_id=user.org_id, kind=kind, subject_type="user", subject_id=user.id, assignee_id=user.id,
        title="资料完整度记录" if kind == WEEK_KIND else "月度资料质量报告",
        dedupe_key=f"{kind}:user:{user.id}:{period.isoformat()}"), now=s.now)
    if created:
        task.status, task.result, task.closed_at = "done", result, s.now
    return created


def _weekly(s: Scan, session: Session, out: Outbound, org_id: int, week: date) -> int:
    rules = s.playbook.data_health
    created = 0
    for row in data_health(session, org_id, None, s.now).reps:
        if not row.customers:  # nothing to complete yet
            continue
        rep = session.get(User, row.user_id)
        if not _record(s, session, WEEK_KIND, rep, week, f"{row.completeness:.3f}"):
            continue
        recent = session.scalars(select(Task.result).where(
            Task.org_id == org_id, Task.kind == WEEK_KIND, Task.subject_id == rep.id)
            .order_by(Task.created_at.desc(), Task.id.desc()).limit(rules.coaching_weeks)).all()
        if len(recent) < rules.coaching_weeks or any(float(r) >= rules.coaching_threshold for r in recent):
            continue
        manager = reviewer_for(session, rep, rep)
        already = session.scalar(select(Task.id).where(
            Task.org_id == org_id, Task.kind == COACHING_KIND, Task.subject_id == rep.id, Task.status == "open"))
        if manager.id == rep.id or already is not None:  # one open coaching task per rep at a time
            continue
        _, new = open_task(out, TaskSpec(
            org_id=org_id, kind=COACHING_KIND, subject_type="user", subject_id=rep.id,
            assignee_id=manager.id, title=f"辅导{rep.name}补全客户资料",
            detail=(f"{rep.name}的资料完整度连续{rules.coaching_weeks}周低于{rules.coaching_threshold:.0%}"
                    f"（本周{row.completeness:.0%}）。最缺的是："
                    + "、".join(label for key, label in _weakest(row))),
            due_at=s.now + timedelta(days=rules.coaching_due_days),
            dedupe_key=f"{COACHING_KIND}:user:{rep.id}:{week.isoformat()}"), manager)
        created += new
    return created


def _weakest(row) -> list[tuple[str, str]]:
    return sorted(FIELDS, key=lambda f: row.rate(f[0]))[:2]


def _monthly(s: Scan, session: Session, out: Outbound, org_id: int, month: date) -> int:
    sent = 0
    bosses = session.scalars(select(User).where(User.org_id == org_id, User.active.is_(True),
                                                User.role.in_(("manager", "director"))).order_by(User.id)).all()
    for boss in bosses:
        health = data_health(session, org_id, visible_user_ids(session, boss), now=s.now)
        health.reps = [r for r in health.reps if r.customers]
        if not health.reps or not _record(s, session, MONTH_KIND, boss, month, "已发送"):
            continue
        threshold = s.playbook.data_health.coaching_threshold
        lines = [f"{i}. {r.name}：{r.completeness:.0%}{'（低于标准）' if r.completeness < threshold else ''}"
                 for i, r in enumerate(health.reps, 1)]
        ageing = "，".join(f"{label}{n}个" for label, n in health.ageing)
        card = builders.task_card(new_card_id("dq", boss.id), title=f"{month:%Y年%m月}资料质量",
                                  detail="\n".join(lines[:10]),
                                  fields=[("待审核撞单", str(health.open_reviews)), ("待补全等待", ageing)],
                                  actions=[], link=dashboard_link(s.settings.crmbot_public_url) + "#data-health",
                                  source="资料质量")
        out.card(boss, card, subject_type="user", subject_id=boss.id,
                   dedupe_key=f"{MONTH_KIND}:{boss.id}:{month.isoformat()}")
        sent += 1
    return sent
