"""What a manager should do next, read from the store (seed 000/001): top loss reasons this
month, each rep's conversion and stage velocity against the team's median, the deals stuck
longest with the action that unblocks them, reps under target two weeks running (→ 安排辅导) and
reps who beat their number (→ a word of praise).

Read-only and shared by the mini-app dashboard (miniapp/metrics.py) and the reports
(jobs/rules/reports.py), which is why it lives in storage and not in either of them. The scope is
a set of owner ids (storage.permissions.visible_user_ids; None = the whole org). Team-sized data:
a few indexed queries, counted in Python.

Definitions (also in miniapp/README.md):
- conversion: of the rep's deals closed in the last `conversion_days`, the share won;
- stage velocity: median days a rep's deals took per forward stage change in that window;
- stuck: open deals by days in stage ÷ the stage's max_days, longest first;
- effective follow-ups: follow-ups with at least one tag, in 7-day weeks ending at `now`.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from statistics import median

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.playbook import Playbook

from .errors import PermissionDenied
from .models import FollowUp, Opportunity, StageChange, Task, User
from .opportunities import missing_items
from .permissions import visible_user_ids
from .tasks import TaskSpec, ensure_task

CONVERSION_DAYS = 90   # technical window for rates that need enough closed deals to mean anything


@dataclass
class RepFigures:
    user_id: int
    name: str
    closed: int = 0
    won: int = 0
    conversion: float | None = None          # won / closed
    velocity_days: float | None = None       # median days per forward stage change
    weekly_followups: list[int] = field(default_factory=list)   # effective, this week first
    advances_this_week: int = 0
    conversion_vs_median: float | None = None   # percentage points above (+) or below (−)
    velocity_vs_median: float | None = None     # days slower (+) or faster (−)
    under_target_weeks: int = 0
    beat_target: bool = False


@dataclass
class StuckDeal:
    opportunity_id: int
    customer_id: int
    name: str
    owner: str
    stage_label: str
    days: int
    max_days: int
    action: str


@dataclass
class Insights:
    month_start: datetime
    loss_reasons: list[tuple[str, int]]
    reps: list[RepFigures]
    median_conversion: float | None
    median_velocity: float | None
    stuck: list[StuckDeal]
    target_followups: int
    weeks: int               # under target this many weeks running → coaching

    @property
    def under_target(self) -> list[RepFigures]:
        return [r for r in self.reps if r.under_target_weeks >= self.weeks]

    @property
    def beat_target(self) -> list[RepFigures]:
        return [r for r in self.reps if r.beat_target]


def _reps(session: Session, org_id: int, owners: set[int] | None) -> list[User]:
    query = select(User).where(User.org_id == org_id, User.role == "rep", User.active.is_(True))
    if owners is not None:
        query = query.where(User.id.in_(owners))
    return list(session.scalars(query.order_by(User.id)))


def month_start(now: datetime, playbook: Playbook) -> datetime:
    local = now.astimezone(playbook.tz)
    return datetime.combine(local.date().replace(day=1), time(0), tzinfo=playbook.tz)


def loss_reasons(session: Session, org_id: int, owners: set[int] | None, since: datetime,
                 top: int) -> list[tuple[str, int]]:
    query = select(Opportunity.lost_reason).where(Opportunity.org_id == org_id, Opportunity.status == "lost",
                                                  Opportunity.closed_at >= since)
    if owners is not None:
        query = query.where(Opportunity.owner_id.in_(owners))
    counts = Counter(r for r in session.scalars(query) if r)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


def _signed(value: float | None, against: float | None) -> float | None:
    return None if value is None or against is None else round(value - against, 1)


def build(session: Session, org_id: int, owners: set[int] | None, playbook: Playbook,
          now: datetime) -> Insights:
    reps = _reps(session, org_id, owners)
    ids = [r.id for r in reps]
    figures = {r.id: RepFigures(r.id, r.name) for r in reps}
    window = now - timedelta(days=CONVERSION_DAYS)
    targets = playbook.targets
    weeks = max(targets.coaching_after_weeks, 1)

    if ids:
        for owner_id, status in session.execute(select(Opportunity.owner_id, Opportunity.status).where(
                Opportunity.org_id == org_id, Opportunity.owner_id.in_(ids),
                Opportunity.status.in_(("won", "lost")), Opportunity.closed_at >= window)):
            figures[owner_id].closed += 1
            figures[owner_id].won += status == "won"
        # forward stage changes in the window, with the time spent in the stage they left
        changes = session.execute(select(StageChange.opportunity_id, StageChange.from_stage, StageChange.to_stage,
                                         StageChange.changed_at, Opportunity.owner_id)
                                  .join(Opportunity, Opportunity.id == StageChange.opportunity_id)
                                  .where(Opportunity.org_id == org_id, Opportunity.owner_id.in_(ids))
                                  .order_by(StageChange.opportunity_id, StageChange.changed_at)).all()
        keys = [s.key for s in playbook.stages]
        durations: dict[int, list[float]] = defaultdict(list)
        previous: dict[int, datetime] = {}
        for opp_id, frm, to, at, owner_id in changes:
            entered = previous.get(opp_id)
            previous[opp_id] = at
            if (entered is None or frm not in keys or to not in keys or keys.index(to) <= keys.index(frm)
                    or at < window):
                continue
            durations[owner_id].append((at - entered).total_seconds() / 86400)
            if at >= now - timedelta(days=7):
                figures[owner_id].advances_this_week += 1
        for owner_id, days in durations.items():
            figures[owner_id].velocity_days = round(median(days), 1)
        # effective follow-ups per week (ix_follow_up_author_occurred)
        start = now - timedelta(days=7 * weeks)
        for author, occurred, tags in session.execute(select(FollowUp.author_id, FollowUp.occurred_at, FollowUp.tags)
                                                      .where(FollowUp.author_id.in_(ids), FollowUp.occurred_at >= start,
                                                             FollowUp.occurred_at < now)):
            if tags:
                week = int((now - occurred).total_seconds() // (7 * 86400))
                rep = figures[author]
                if not rep.weekly_followups:
                    rep.weekly_followups = [0] * weeks
                rep.weekly_followups[min(week, weeks - 1)] += 1
    for rep in figures.values():
        rep.weekly_followups = rep.weekly_followups or [0] * weeks
        rep.conversion = rep.won / rep.closed if rep.closed else None
        under = 0
        for count in rep.weekly_followups:
            if count >= targets.weekly_effective_followups:
                break
            under += 1
        rep.under_target_weeks = under
        rep.beat_target = rep.weekly_followups[0] > targets.weekly_effective_followups
    conversions = [r.conversion for r in figures.values() if r.conversion is not None]
    velocities = [r.velocity_days for r in figures.values() if r.velocity_days is not None]
    med_conv = median(conversions) if conversions else None
    med_vel = round(median(velocities), 1) if velocities else None
    for rep in figures.values():
        rep.conversion_vs_median = _signed(rep.conversion and rep.conversion * 100,
                                           med_conv and med_conv * 100) if rep.conversion is not None else None
        rep.velocity_vs_median = _signed(rep.velocity_days, med_vel)
    insights = Insights(month_start(now, playbook),
                        loss_reasons(session, org_id, owners, month_start(now, playbook),
                                     playbook.dashboard.loss_reasons_top),
                        list(figures.values()), med_conv, med_vel,
                        stuck_deals(session, org_id, owners, playbook, now, playbook.dashboard.stuck_top),
                        targets.weekly_effective_followups, weeks)
    return insights


def next_action(opportunity: Opportunity, playbook: Playbook) -> str:
    """What unblocks a deal, from its checklist: the items still missing for the next stage."""
    upcoming = playbook.next_stage(opportunity.stage)
    if upcoming is None:
        stage = playbook.stage(opportunity.stage)
        left = [s for s in stage.steps if s not in (opportunity.won_steps or [])]
        return f"跟进后续步骤：{left[0]}" if left else "确认成交，发送“赢单 商机名”"
    missing = missing_items(opportunity, playbook, upcoming.key)
    if not missing:
        return f"清单已齐，推进到“{upcoming.label}”"
    return f"先完成“{missing[0]}”" + (f"等{len(missing)}项" if len(missing) > 1 else "") + f"，再推进到“{upcoming.label}”"


def stuck_deals(session: Session, org_id: int, owners: set[int] | None, playbook: Playbook,
                now: datetime, top: int) -> list[StuckDeal]:
    query = select(Opportunity).where(Opportunity.org_id == org_id, Opportunity.status == "open")
    if owners is not None:
        query = query.where(Opportunity.owner_id.in_(owners))
    rows = []
    for o in session.scalars(query):
        stage = playbook.stage(o.stage)
        if stage is None:
            continue
        days = (now - o.stage_entered_at).days
        if days > stage.max_days:
            rows.append((days / stage.max_days, o, stage, days))
    rows.sort(key=lambda r: (-r[0], r[1].id))
    names = dict(session.execute(select(User.id, User.name).where(
        User.id.in_([o.owner_id for _, o, _, _ in rows[:top]] or [0]))).all())
    return [StuckDeal(o.id, o.customer_id, o.name, names.get(o.owner_id, ""), stage.label, days, stage.max_days,
                      next_action(o, playbook)) for _, o, stage, days in rows[:top]]


def schedule_coaching(session: Session, manager: User, rep: User, playbook: Playbook, now: datetime) -> tuple[Task, bool]:
    """安排辅导: a task for the manager to coach `rep` this week (once per rep and week)."""
    visible = visible_user_ids(session, manager)
    if rep.org_id != manager.org_id or (visible is not None and rep.id not in visible):
        raise PermissionDenied("只能为自己团队的成员安排辅导")
    week = now.astimezone(playbook.tz).isocalendar()
    return ensure_task(session, TaskSpec(
        org_id=manager.org_id, kind="coaching", subject_type="user", subject_id=rep.id, assignee_id=manager.id,
        title=f"辅导{rep.name}：连续{playbook.targets.coaching_after_weeks}周有效跟进低于目标",
        detail=f"目标每周{playbook.targets.weekly_effective_followups}次有效跟进。约一次 30 分钟的一对一，看看卡在哪里。",
        due_at=now + timedelta(days=2), dedupe_key=f"coaching:user:{rep.id}:{week.year}-W{week.week:02d}"), now=now)
