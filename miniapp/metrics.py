"""The manager dashboard: five headline figures, the stage funnel and a per-rep table, each
number backed by a list a manager can open. Scope is always storage.permissions.visible_user_ids:
a manager sees their subtree, a director the org, a rep only themself.

Team-sized data (hundreds of leads a week), so the few queries here load rows and count in
Python: clearer than dialect-specific date arithmetic, and indexed by org/owner."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cards import charts, formats
from config.playbook import Playbook
from storage import deal_insights
from storage.errors import InvalidInput, PermissionDenied
from storage.models import Customer, FollowUp, Lead, Opportunity, StageChange, Task, User
from storage.permissions import visible_user_ids

from .reads import LEAD_STATUS_LABELS, STATUS_LABELS, local

PERIODS = (1, 7, 30)
MANAGER_ROLES = ("manager", "director", "admin")  # who gets the dashboard


@dataclass
class Headline:
    key: str
    label: str
    value: str
    hint: str
    metric: str          # the drill-down list behind it
    level: str = "none"  # good / warn / bad by the playbook's [dashboard.kpi], none without a base


@dataclass
class FunnelStep:
    key: str
    label: str
    reached: int         # opportunities that ever reached this stage
    current: int         # open opportunities sitting in it now
    rate: int | None     # % of the previous stage's reached that got here


@dataclass
class RepRow:
    user_id: int
    name: str
    new_leads: int = 0
    activated: int = 0
    overdue_tasks: int = 0
    customers: int = 0
    incomplete: int = 0
    open_opps: int = 0


@dataclass
class Dashboard:
    days: int
    since: datetime
    headlines: list[Headline]
    funnel: list[FunnelStep]
    reps: list[RepRow]

    def as_dict(self) -> dict[str, Any]:
        return {"days": self.days, "since": self.since.isoformat(),
                "headlines": [h.__dict__ for h in self.headlines],
                "funnel": [f.__dict__ for f in self.funnel], "reps": [r.__dict__ for r in self.reps]}


@dataclass
class DrillRow:
    title: str
    subtitle: str
    customer_id: int | None = None
    lead_id: int | None = None       # a row without a customer opens its lead or task page
    task_id: int | None = None


@dataclass
class DrillList:
    title: str
    rows: list[DrillRow] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "total": len(self.rows), "items": [r.__dict__ for r in self.rows]}


# ------------------------------------------------------------------ scope


@dataclass
class Scope:
    actor: User
    owners: set[int] | None   # None = the whole org
    rep_id: int | None = None

    def filter(self, column):
        """A WHERE clause limiting `column` (an owner/assignee id) to the scope."""
        if self.rep_id is not None:
            return column == self.rep_id
        if self.owners is None:
            return column.isnot(None)
        return column.in_(self.owners)


def scope_for(session: Session, actor: User, rep_id: int | None = None) -> Scope:
    owners = visible_user_ids(session, actor)
    if rep_id is not None:
        rep = session.get(User, rep_id)
        if rep is None or rep.org_id != actor.org_id or (owners is not None and rep_id not in owners):
            raise PermissionDenied("无权查看该成员的数据：不在你的团队里")
    return Scope(actor, owners, rep_id)


def _period(days: int, now: datetime, tz) -> datetime:
    """Calendar days in the org's zone: 今天 starts at local midnight, 近7天 six midnights earlier."""
    if days not in PERIODS:
        raise InvalidInput("days", "统计周期只能是今天、近7天或近30天")
    first = now.astimezone(tz).date() - timedelta(days=days - 1)
    return datetime.combine(first, time(0), tzinfo=tz)


# ------------------------------------------------------------------ the queries


def _new_leads(session: Session, scope: Scope, since: datetime) -> list[Lead]:
    return list(session.scalars(select(Lead).where(
        Lead.org_id == scope.actor.org_id, scope.filter(Lead.assignee_id), Lead.created_at >= since)
        .order_by(Lead.created_at.desc())))


def _activated_ids(session: Session, leads: list[Lead], hours: int) -> set[int]:
    """Leads with at least one follow-up on their customer within `hours` of assignment."""
    by_customer = defaultdict(list)
    for lead in leads:
        if lead.customer_id and lead.assigned_at:
            by_customer[lead.customer_id].append(lead)
    if not by_customer:
        return set()
    activated = set()
    for customer_id, occurred in session.execute(
            select(FollowUp.customer_id, FollowUp.occurred_at).where(FollowUp.customer_id.in_(list(by_customer)))):
        for lead in by_customer[customer_id]:
            if lead.assigned_at <= occurred <= lead.assigned_at + timedelta(hours=hours):
                activated.add(lead.id)
    return activated


def _overdue_tasks(session: Session, scope: Scope, now: datetime) -> list[Task]:
    return list(session.scalars(select(Task).where(
        Task.org_id == scope.actor.org_id, scope.filter(Task.assignee_id), Task.status == "open",
        Task.due_at < now).order_by(Task.due_at)))


def _customers(session: Session, scope: Scope) -> list[Customer]:
    return list(session.scalars(select(Customer).where(
        Customer.org_id == scope.actor.org_id, scope.filter(Customer.owner_id)).order_by(Customer.id)))


def _opportunities(session: Session, scope: Scope) -> list[Opportunity]:
    return list(session.scalars(select(Opportunity).where(
        Opportunity.org_id == scope.actor.org_id, scope.filter(Opportunity.owner_id))
        .order_by(Opportunity.id)))


def _reached(session: Session, opps: list[Opportunity], playbook: Playbook) -> dict[int, int]:
    """Opportunity id → index of the furthest stage it ever reached (history or current)."""
    keys = [s.key for s in playbook.stages]
    reached = {o.id: keys.index(o.stage) if o.stage in keys else 0 for o in opps}
    if opps:
        for opp_id, to_stage in session.execute(select(StageChange.opportunity_id, StageChange.to_stage)
                                                .where(StageChange.opportunity_id.in_(list(reached)))):
            if to_stage in keys:
                reached[opp_id] = max(reached[opp_id], keys.index(to_stage))
    return reached


def _pct(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "—"


# ------------------------------------------------------------------ the dashboard


def build_dashboard(session: Session, actor: User, playbook: Playbook, now: datetime,
                    days: int = 7) -> Dashboard:
    since = _period(days, now, playbook.tz)
    scope = scope_for(session, actor)
    hours = playbook.reports.activation_hours
    leads = _new_leads(session, scope, since)
    activated = _activated_ids(session, leads, hours)
    overdue = _overdue_tasks(session, scope, now)
    custs = _customers(session, scope)
    complete = [c for c in custs if c.identifier]
    opps = _opportunities(session, scope)
    reached = _reached(session, opps, playbook)

    funnel, previous = [], None
    for index, stage in enumerate(playbook.stages):
        count = sum(1 for r in reached.values() if r >= index)
        current = sum(1 for o in opps if o.status == "open" and o.stage == stage.key)
        rate = round(100 * count / previous) if previous else None
        funnel.append(FunnelStep(stage.key, stage.label, count, current, rate))
        previous = count
    advanced = sum(1 for r in reached.values() if r >= 1)

    kpi = playbook.dashboard.kpi

    def level(key: str, part: int, whole: int | None = None) -> str:
        if key not in kpi:
            return "none"
        if whole is None:                       # a count
            return kpi[key].level(part)
        return kpi[key].level(100 * part / whole if whole else None)

    headlines = [
        Headline("new_leads", "新线索", str(len(leads)), f"近{days}天分配给团队的线索", "new_leads"),
        Headline("activation", f"{hours}小时激活率", _pct(len(activated), len(leads)),
                 f"{len(leads)}条新线索中{len(activated)}条在{hours}小时内跟进了", "not_activated",
                 level("activation", len(activated), len(leads))),
        Headline("overdue_tasks", "逾期任务", str(len(overdue)), "到期还没完成的任务", "overdue_tasks",
                 level("overdue_tasks", len(overdue))),
        Headline("conversion", "阶段转化率", _pct(advanced, len(opps)),
                 f"{len(opps)}个商机中{advanced}个推进过第一个阶段", "opportunities",
                 level("conversion", advanced, len(opps))),
        Headline("completeness", "资料完整度", _pct(len(complete), len(custs)),
                 f"{len(custs)}个客户中{len(complete)}个已填信用代码或手机号", "incomplete_customers",
                 level("completeness", len(complete), len(custs))),
    ]
    return Dashboard(days, since, headlines, funnel, _rep_rows(session, scope, leads, activated,
                                                               overdue, custs, opps))


def _rep_rows(session: Session, scope: Scope, leads, activated, overdue, custs, opps) -> list[RepRow]:
    query = select(User).where(User.org_id == scope.actor.org_id, User.active.is_(True),
                               User.role == "rep").order_by(User.id)
    if scope.owners is not None:
        query = query.where(User.id.in_(scope.owners))
    rows = {u.id: RepRow(u.id, u.name) for u in session.scalars(query)}
    for lead in leads:
        if lead.assignee_id in rows:
            rows[lead.assignee_id].new_leads += 1
            rows[lead.assignee_id].activated += lead.id in activated
    for task in overdue:
        if task.assignee_id in rows:
            rows[task.assignee_id].overdue_tasks += 1
    for c in custs:
        if c.owner_id in rows:
            rows[c.owner_id].customers += 1
            rows[c.owner_id].incomplete += c.identifier is None
    for o in opps:
        if o.owner_id in rows and o.status == "open":
            rows[o.owner_id].open_opps += 1
    return list(rows.values())


# ------------------------------------------------------------------ drill-down lists

METRICS = {
    "new_leads": "新线索", "activated": "已激活线索", "not_activated": "未激活线索",
    "overdue_tasks": "逾期任务", "customers": "客户", "incomplete_customers": "待补全客户",
    "opportunities": "商机", "open_opportunities": "进行中商机", "stage": "阶段",
}


def drill(session: Session, actor: User, playbook: Playbook, now: datetime, metric: str, *,
          days: int = 7, rep_id: int | None = None, stage: str | None = None) -> DrillList:
    if metric not in METRICS:
        raise InvalidInput("metric", "未知的统计项")
    since = _period(days, now, playbook.tz)
    scope = scope_for(session, actor, rep_id)
    tz = playbook.tz
    names: dict[int, str] = dict(session.execute(select(User.id, User.name)
                                                 .where(User.org_id == actor.org_id)).all())
    title = METRICS[metric]

    if metric in ("new_leads", "activated", "not_activated"):
        leads = _new_leads(session, scope, since)
        activated = _activated_ids(session, leads, playbook.reports.activation_hours)
        if metric == "activated":
            leads = [lead for lead in leads if lead.id in activated]
        elif metric == "not_activated":
            leads = [lead for lead in leads if lead.id not in activated]
        rows = [DrillRow(f"{lead.name}" + (f" · {lead.company}" if lead.company else ""),
                         f"{names.get(lead.assignee_id, '未分配')} · {LEAD_STATUS_LABELS.get(lead.status, lead.status)}"
                         f" · 分配于 {_fmt(lead.assigned_at, tz, now)}", lead.customer_id, lead_id=lead.id)
                for lead in leads]
        title = f"{title}（近{days}天）"
    elif metric == "overdue_tasks":
        rows = [DrillRow(t.title, f"{names.get(t.assignee_id, '')} · 截止 {_fmt(t.due_at, tz, now)}",
                         t.customer_id, task_id=t.id) for t in _overdue_tasks(session, scope, now)]
    elif metric in ("customers", "incomplete_customers"):
        custs = _customers(session, scope)
        if metric == "incomplete_customers":
            custs = [c for c in custs if c.identifier is None]
        rows = [DrillRow(c.name, f"{names.get(c.owner_id, '')} · {STATUS_LABELS.get(c.status, c.status)}", c.id)
                for c in custs]
    else:
        opps = _opportunities(session, scope)
        if metric == "open_opportunities":
            opps = [o for o in opps if o.status == "open"]
        if metric == "stage":
            target = playbook.stage(stage or "")
            if target is None:
                raise InvalidInput("stage", "阶段不存在")
            keys = [s.key for s in playbook.stages]
            reached = _reached(session, opps, playbook)
            opps = [o for o in opps if reached[o.id] >= keys.index(target.key)]
            title = f"到达“{target.label}”的商机"
        rows = [DrillRow(o.name, f"{names.get(o.owner_id, '')} · "
                                 f"{(playbook.stage(o.stage).label if playbook.stage(o.stage) else o.stage)}"
                                 f"{'' if o.status == 'open' else ' · 已关闭'}", o.customer_id) for o in opps]
    if rep_id is not None:
        title = f"{names.get(rep_id, '')} · {title}"
    return DrillList(title, rows)


def _fmt(value: datetime | None, tz, now: datetime) -> str:
    return formats.when(local(value, tz) if value else None, tz, now, empty="—")


# ------------------------------------------------------------------ what to do (seed 000/001)

FOCUS = ("losses", "reps", "stuck", "coaching")   # sections the reports link to
CHARTS = ("losses", "followups", "conversion")


def insights(session: Session, actor: User, playbook: Playbook, now: datetime) -> deal_insights.Insights:
    """The manager's subtree (a director: the org): losses, reps against the median, stuck deals,
    coaching and praise."""
    scope = scope_for(session, actor)
    return deal_insights.build(session, actor.org_id, scope.owners, playbook, now)


def chart_png(found: deal_insights.Insights, name: str) -> bytes:
    if name == "losses":
        return charts.loss_reasons_chart(found.loss_reasons)
    if name == "followups":
        return charts.followups_chart([(r.name, r.weekly_followups[0]) for r in found.reps], found.target_followups)
    if name == "conversion":
        rows = [(r.name, 100 * r.conversion) for r in found.reps if r.conversion is not None]
        return charts.conversion_chart(rows, 100 * found.median_conversion if found.median_conversion is not None else None)
    raise InvalidInput("chart", "未知的图表")
