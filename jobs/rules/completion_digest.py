"""The weekly 补全 digest: one card per rep listing their 待补全 customers (no identifier yet),
oldest first with how long each has waited, and one main button 去补全 (the mini-app's 待补全 list).

A missing identifier is a data-health item, not a task per customer: before this rule every new
company made its own task and escalation, and 待补全 crowded out real work in 待办. Sent on
[identifiers].digest_weekday at digest_at; a closed task per rep and week is the idempotency
record (a scan after the hour still sends the week's digest, once, on that day).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.outbound import Outbound
from cards import builders
from cards.links import app_link
from cards.model import new_card_id
from storage import tasks
from storage.customers import INCOMPLETE
from storage.models import Customer, Org, User
from storage.tasks import TaskSpec

from .scanning import Scan

NAME = "completion_digest"


def scan(s: Scan) -> int:
    rules = s.playbook.identifiers
    local = s.now.astimezone(s.playbook.tz)
    day = local.date() - timedelta(days=(local.weekday() - rules.digest_weekday) % 7)
    at = datetime.combine(day, rules.digest_at, tzinfo=s.playbook.tz)
    if s.now < at or local.date() != day:  # on the digest day only: a late Wednesday digest is noise
        return 0
    sent = 0
    with s.transaction() as (session, out):
        for org_id in session.scalars(select(Org.id).order_by(Org.id)).all():
            waiting = dict(session.execute(
                select(Customer.owner_id, func.count()).where(
                    Customer.org_id == org_id, Customer.status == INCOMPLETE, Customer.merged_into_id.is_(None))
                .group_by(Customer.owner_id)).all())
            for rep in session.scalars(select(User).where(User.id.in_(list(waiting)), User.active.is_(True))
                                       .order_by(User.id)).all():
                sent += _digest(s, session, out, rep, waiting[rep.id], at)
    return sent


def _digest(s: Scan, session: Session, out: Outbound, rep: User, count: int, at: datetime) -> int:
    if not _record(s, session, rep, at.date()):
        return 0
    oldest = session.scalars(select(Customer).where(
        Customer.owner_id == rep.id, Customer.status == INCOMPLETE, Customer.merged_into_id.is_(None))
        .order_by(Customer.created_at, Customer.id).limit(s.playbook.identifiers.digest_max_items)).all()
    lines = [f"{c.name}（{'缺信用代码' if c.kind == 'company' else '缺手机号'}，已等{max((s.now - c.created_at).days, 0)}天）"
             for c in oldest]
    card = builders.completion_digest_card(new_card_id("fill", rep.id), count=count, lines=lines,
                                           link=app_link(s.settings.crmbot_public_url, "?status=incomplete"))
    out.card(rep, card, subject_type="user", subject_id=rep.id,
               dedupe_key=f"{NAME}:{rep.id}:{at.date().isoformat()}")
    return 1


def _record(s: Scan, session: Session, rep: User, week: date) -> bool:
    task, created = tasks.ensure_task(session, TaskSpec(
        org_id=rep.org_id, kind=NAME, subject_type="user", subject_id=rep.id, assignee_id=rep.id,
        title="每周资料补全提醒", dedupe_key=f"{NAME}:user:{rep.id}:{week.isoformat()}"), now=s.now)
    if created:
        task.status, task.result, task.closed_at = "done", "已发送", s.now
    return created
