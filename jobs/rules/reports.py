"""Rule 9 — reports, sent once per period (a task per recipient and period is the idempotency
record; it is closed at once, it asks nothing of anyone):
- daily at reports.daily_at to each director: the lead activation rate — of the leads created in
  the 24 hours whose activation window (activation_hours) just closed, the share with a first
  follow-up within activation_hours of assignment — and the five oldest leads still not contacted;
- weekly on reports.weekly_weekday at weekly_at to each manager: per direct-report rep, effective
  (tagged) follow-ups in the week, stage advance rate, average days in stage, overdue tasks; then
  what to do (storage.deal_insights): reps under target two weeks running, the deal stuck longest,
  the top loss reason; a card linking to the dashboard's 该做什么 part, and reps above target get
  a word of praise.
Both carry charts (cards/charts.py) as image messages right after the card: the daily report the
team's effective follow-ups against the target, the weekly brief that and the month's loss reasons.
Each links to the dashboard filtered to what it mentions.
A scan after the hour (the scheduler was down, say) still sends the period's report, once."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Interval, case, func, literal, select
from sqlalchemy.orm import Session

from bot.outbound import Outbound, hold_for_quiet_hours
from cards import charts
from cards.builders import task_card as card_builder
from cards.links import app_link, dashboard_link
from storage import deal_insights, media, tasks
from storage.models import FollowUp, Lead, Opportunity, Org, StageChange, Task, User
from storage.permissions import visible_user_ids
from storage.tasks import TaskSpec

from .scanning import Scan

NAME = "reports"
UNCONTACTED = ("new", "assigned", "claimed")


def scan(s: Scan) -> int:
    local = s.now.astimezone(s.playbook.tz)
    created = 0
    with s.transaction() as (session, out):
        for org in session.scalars(select(Org).order_by(Org.id)).all():
            daily_at = datetime.combine(local.date(), s.playbook.reports.daily_at, tzinfo=s.playbook.tz)
            if s.now >= daily_at:
                created += _daily(s, session, out, org, daily_at)
            week_day = local.date() - timedelta(days=(local.weekday() - s.playbook.reports.weekly_weekday) % 7)
            weekly_at = datetime.combine(week_day, s.playbook.reports.weekly_at, tzinfo=s.playbook.tz)
            if s.now >= weekly_at:
                created += _weekly(s, session, out, org, weekly_at)
    return created


def _people(session: Session, org_id: int, role: str) -> list[User]:
    return list(session.scalars(select(User).where(User.org_id == org_id, User.role == role,
                                                   User.active.is_(True)).order_by(User.id)))


def _record(s: Scan, session: Session, kind: str, user: User, period: date, title: str) -> bool:
    """One report per person and period: the task row is the proof it was sent."""
    task, created = tasks.ensure_task(session, TaskSpec(
        org_id=user.org_id, kind=kind, subject_type="user", subject_id=user.id, assignee_id=user.id,
        title=title, dedupe_key=f"{kind}:user:{user.id}:{period.isoformat()}"), now=s.now)
    if created:
        task.status, task.result, task.closed_at = "done", "已发送", s.now
    return created


# ------------------------------------------------------------------ daily activation


@dataclass
class Activation:
    new_leads: int
    activated: int
    oldest: list[tuple[str, str, datetime]]  # (lead, assignee, since)

    @property
    def rate(self) -> float:
        return self.activated / self.new_leads if self.new_leads else 0.0


def activation(session: Session, org_id: int, at: datetime, hours: int) -> Activation:
    window = timedelta(hours=hours)
    start, end = at - window - timedelta(days=1), at - window
    activated = case((Lead.contacted_at.is_not(None) & Lead.assigned_at.is_not(None)
                      & (Lead.contacted_at <= Lead.assigned_at + literal(window, Interval())), 1), else_=0)
    if session.get_bind().dialect.name == "sqlite":  # SQLite has no interval arithmetic on datetimes
        activated = case((Lead.contacted_at.is_not(None) & Lead.assigned_at.is_not(None)
                          & (func.julianday(Lead.contacted_at) - func.julianday(Lead.assigned_at)
                             <= hours / 24), 1), else_=0)
    total, hit = session.execute(select(func.count(), func.coalesce(func.sum(activated), 0)).where(
        Lead.org_id == org_id, Lead.created_at >= start, Lead.created_at < end)).one()  # ix_lead_org_created
    oldest: list[tuple[str, int | None, datetime]] = []
    for status in UNCONTACTED:  # ix_lead_status_assigned: each status's oldest first
        order = Lead.created_at if status == "new" else Lead.assigned_at
        for lead in session.scalars(select(Lead).where(Lead.status == status, Lead.org_id == org_id)
                                    .order_by(order, Lead.id).limit(5)):
            oldest.append((lead.company or lead.name, lead.assignee_id, lead.assigned_at or lead.created_at))
    oldest.sort(key=lambda item: item[2])
    names = {u.id: u.name for u in session.scalars(select(User).where(
        User.id.in_([a for _, a, _ in oldest[:5] if a])))}
    return Activation(total, int(hit), [(n, names.get(a, "未分配"), t) for n, a, t in oldest[:5]])


def _daily(s: Scan, session: Session, out: Outbound, org: Org, at: datetime) -> int:
    hours = s.playbook.reports.activation_hours
    result: Activation | None = None
    sent = 0
    for director in _people(session, org.id, "director"):
        if not _record(s, session, "daily_report", director, at.date(), "线索激活日报"):
            continue
        result = result or activation(session, org.id, at, hours)
        lines = [f"{i}. {name}（{who}，{(s.now - since).days}天）" for i, (name, who, since)
                 in enumerate(result.oldest, 1)] or ["无"]
        card = card_builder(f"report-{director.id}-{at:%Y%m%d}", title=f"线索{hours}小时激活率 {result.rate:.0%}",
                            detail="最久未激活的线索：\n" + "\n".join(lines),
                            fields=[("新线索", str(result.new_leads)), ("已激活", str(result.activated))],
                            actions=[], link=app_link(s.settings.crmbot_public_url,
                                                      "dashboard/list?metric=not_activated&days=1"),
                            source="每日报告")
        key = f"daily_report:{director.id}:{at.date().isoformat()}"
        out.card(director, card, subject_type="user", subject_id=director.id, dedupe_key=key)
        found = deal_insights.build(session, org.id, visible_user_ids(session, director), s.playbook, s.now)
        push_chart(s, session, out, director, charts.followups_chart(
            [(r.name, r.weekly_followups[0]) for r in found.reps], found.target_followups),
            f"{key}:chart:followups", "图表：本周有效跟进")
        sent += 1
    return sent


# ------------------------------------------------------------------ weekly process health


@dataclass
class RepHealth:
    name: str
    effective_followups: int
    advance_rate: float
    avg_days_in_stage: float
    overdue_tasks: int


def rep_health(session: Session, rep: User, at: datetime) -> RepHealth:
    start = at - timedelta(days=7)
    tag_lists = session.scalars(select(FollowUp.tags).where(  # ix_follow_up_author_occurred
        FollowUp.author_id == rep.id, FollowUp.occurred_at >= start, FollowUp.occurred_at < at))
    effective = sum(1 for tags in tag_lists if tags)
    entered = list(session.scalars(select(Opportunity.stage_entered_at).where(  # ix_opportunity_org_owner
        Opportunity.org_id == rep.org_id, Opportunity.owner_id == rep.id, Opportunity.status == "open")))
    advanced = session.scalar(select(func.count(func.distinct(StageChange.opportunity_id))).where(
        StageChange.changed_by_id == rep.id, StageChange.changed_at >= start, StageChange.changed_at < at,
        StageChange.from_stage.is_not(None)))  # ix_stage_change_by_changed
    overdue = session.scalar(select(func.count()).select_from(Task).where(  # ix_task_assignee_status
        Task.assignee_id == rep.id, Task.status == "open", Task.due_at < at))
    avg_days = sum((at - e).total_seconds() for e in entered) / 86400 / len(entered) if entered else 0.0
    return RepHealth(rep.name, effective, advanced / len(entered) if entered else 0.0, avg_days, overdue)


def _weekly(s: Scan, session: Session, out: Outbound, org: Org, at: datetime) -> int:
    sent = 0
    for manager in _people(session, org.id, "manager"):
        if not _record(s, session, "weekly_brief", manager, at.date(), "过程健康周报"):
            continue
        reps = session.scalars(select(User).where(User.reports_to_id == manager.id, User.role == "rep",
                                                  User.active.is_(True)).order_by(User.id)).all()
        rows = [rep_health(session, rep, at) for rep in reps]
        lines = [f"{h.name}：有效跟进{h.effective_followups}次，阶段推进率{h.advance_rate:.0%}，"
                 f"平均停留{h.avg_days_in_stage:.1f}天，逾期待办{h.overdue_tasks}条" for h in rows] or ["名下暂无销售"]
        found = deal_insights.build(session, org.id, visible_user_ids(session, manager), s.playbook, s.now)
        todo, focus = what_to_do(found)
        card = card_builder(f"brief-{manager.id}-{at:%Y%m%d}", title="本周过程健康简报",
                            detail="\n".join(lines + todo), fields=[("统计区间", f"{(at - timedelta(days=7)):%m-%d} 至 {at:%m-%d}")],
                            actions=[], link=dashboard_link(s.settings.crmbot_public_url, days="7", focus=focus),
                            source="每周简报")
        key = f"weekly_brief:{manager.id}:{at.date().isoformat()}"
        out.card(manager, card, subject_type="user", subject_id=manager.id, dedupe_key=key)
        push_chart(s, session, out, manager, charts.followups_chart(
            [(r.name, r.weekly_followups[0]) for r in found.reps], found.target_followups), f"{key}:chart:followups",
            "图表：本周有效跟进")
        if found.loss_reasons:
            push_chart(s, session, out, manager, charts.loss_reasons_chart(found.loss_reasons), f"{key}:chart:losses",
                       "图表：本月丢单原因")
        for rep in found.beat_target:
            person = session.get(User, rep.user_id)
            out.text(person, f"👏 {rep.name}，本周有效跟进{rep.weekly_followups[0]}次，超过目标"
                             f"{found.target_followups}次，干得漂亮，继续保持！", dedupe_key=f"{key}:praise:{rep.user_id}")
        sent += 1
    return sent


def what_to_do(found: deal_insights.Insights) -> tuple[list[str], str]:
    """The brief's 该做什么 lines, and the dashboard section its link opens on."""
    lines, focus = ["—— 该做什么 ——"], "stuck"
    if found.under_target:
        names = "、".join(r.name for r in found.under_target)
        lines.append(f"连续{found.weeks}周有效跟进低于{found.target_followups}次：{names}，点开看板一键安排辅导")
        focus = "coaching"
    if found.stuck:
        d = found.stuck[0]
        lines.append(f"卡得最久：{d.name}（{d.owner}，{d.stage_label}{d.days}天）→ {d.action}")
    if found.loss_reasons:
        reason, count = found.loss_reasons[0]
        lines.append(f"本月丢单第一原因：{reason}（{count}单）")
        focus = focus if focus == "coaching" or found.stuck else "losses"
    if found.beat_target:
        lines.append("超过目标：" + "、".join(r.name for r in found.beat_target) + "（已发表扬）")
    return (lines if len(lines) > 1 else []), focus


def push_chart(s: Scan, session: Session, out: Outbound, user: User, png: bytes, dedupe_key: str,
               caption: str) -> int | None:
    """One chart as an image message right after its report card, kept as a media asset (the
    outbox row points at it). In quiet hours the card is held and merged into the morning digest,
    where an image cannot go: the chart is then left out (the card links to the dashboard, which
    draws the same charts)."""
    if hold_for_quiet_hours(s.playbook, s.now) is not None:
        return None
    asset = media.store_media(session, user.org_id, png, "image/png", s.settings.crmbot_media_dir)
    return out.image(user, asset.id, dedupe_key=dedupe_key, caption=caption).outbox_id
