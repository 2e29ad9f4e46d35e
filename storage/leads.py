"""Leads: created once per form submission, routed by the playbook to a team, assigned inside it
(round robin or least load), claimed, reassigned when unclaimed. A lead has one assignee at a time:
every assignment is a compare-and-set on (status, assignee, assignment_count)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from config.playbook import Playbook

from . import audit
from .customers import ContactInput, CustomerInput, create_customer, find_by_identifier
from .errors import Conflict, DuplicateCustomer, InvalidInput, NotFound
from .models import Lead, Team, User
from .tasks import close_subject_tasks

# the task kind that offers a lead to its rep (bot/task_cards.py creates it)
LEAD_OFFER_TASK = "lead_assignment"
from .permissions import check_access, team_subtree
from .validators import normalize_mobile

OPEN_STATUSES = ("new", "assigned", "claimed")


@dataclass
class LeadInput:
    source: str
    name: str
    company: str | None = None
    mobile: str | None = None
    industry: str | None = None
    budget: int | None = None
    note: str | None = None
    external_ref: str | None = None
    attribution: dict = field(default_factory=dict)


def create_lead(session: Session, org_id: int, data: LeadInput,
                *, now: datetime) -> tuple[Lead, bool]:
    """Idempotent on (source, external_ref): a form re-posting the same submission changes nothing."""
    if not (data.name or "").strip():
        raise InvalidInput("name", "线索缺少联系人姓名")
    if not (data.source or "").strip():
        raise InvalidInput("source", "线索缺少来源")
    if data.external_ref:
        existing = session.scalars(select(Lead).where(
            Lead.org_id == org_id, Lead.source == data.source,
            Lead.external_ref == data.external_ref)).first()
        if existing is not None:
            return existing, False
    mobile = normalize_mobile(data.mobile) if data.mobile else None
    if data.budget is not None and data.budget < 0:
        raise InvalidInput("budget", "预算不能为负数")
    lead = Lead(org_id=org_id, source=data.source.strip(), external_ref=data.external_ref,
                attribution=dict(data.attribution), name=data.name.strip()[:100],
                company=(data.company or "").strip() or None, mobile=mobile,
                industry=data.industry, budget=data.budget, note=(data.note or "")[:500] or None,
                status="new", created_at=now)
    session.add(lead)
    audit.record(session, None, "lead.create", lead)
    return lead, True


def team_reps(session: Session, team: Team) -> list[User]:
    teams = team_subtree(session, team.org_id, team.id)
    return list(session.scalars(select(User).where(User.team_id.in_(teams), User.role == "rep",
                                                   User.active.is_(True)).order_by(User.id)))


def pick_rep(session: Session, team: Team, strategy: str, exclude: set[int] = frozenset()) -> User | None:
    reps = [r for r in team_reps(session, team) if r.id not in exclude]
    if not reps:
        return None
    if strategy == "least_load":
        loads = dict(session.execute(
            select(Lead.assignee_id, func.count()).where(Lead.assignee_id.in_([r.id for r in reps]),
                                                         Lead.status.in_(OPEN_STATUSES))
            .group_by(Lead.assignee_id)).all())
        return min(reps, key=lambda r: (loads.get(r.id, 0), r.id))
    after = [r for r in reps if team.last_assigned_user_id is None or r.id > team.last_assigned_user_id]
    return (after or reps)[0]


def route(session: Session, lead: Lead, playbook: Playbook) -> tuple[Team, str]:
    rule = playbook.assignment_for(lead.source, lead.industry, lead.budget)
    if rule is None:
        raise InvalidInput("assignment", "剧本中没有适用于该线索的分配规则")
    team = session.scalars(select(Team).where(Team.org_id == lead.org_id, Team.name == rule.team)).first()
    if team is None:
        raise InvalidInput("assignment", f"分配规则指向的团队“{rule.team}”不存在")
    return team, rule.strategy


def assign(session: Session, lead: Lead, playbook: Playbook, *, now: datetime,
           exclude: set[int] = frozenset()) -> User | None:
    """Assign (or reassign) `lead` to the next rep. Returns None when nobody is available or when
    another process assigned it first (the compare-and-set lost)."""
    team, strategy = route(session, lead, playbook)
    # lock the team row so two workers do not hand out the same round-robin slot
    session.execute(select(Team.id).where(Team.id == team.id).with_for_update())
    rep = pick_rep(session, team, strategy, exclude)
    if rep is None:
        return None
    before = audit.snapshot(lead, ("status", "assignee_id", "assigned_at"))
    changed = session.execute(
        update(Lead).where(Lead.id == lead.id, Lead.status == lead.status,
                           Lead.assignment_count == lead.assignment_count)
        .values(status="assigned", assignee_id=rep.id, team_id=team.id, assigned_at=now,
                claimed_at=None, assignment_count=Lead.assignment_count + 1)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        return None
    team.last_assigned_user_id = rep.id
    session.refresh(lead)
    audit.record(session, None, "lead.assign", lead, before)
    return rep


def get_lead(session: Session, actor: User, lead_id: int) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFound("线索不存在")
    check_access(session, actor, lead.org_id, lead.assignee_id, "线索")
    return lead


def claim(session: Session, actor: User, lead_id: int, playbook: Playbook,
          *, now: datetime) -> Lead:
    """The assignee claims the lead; it becomes (or joins) a customer so follow-ups can be logged."""
    lead = get_lead(session, actor, lead_id)
    if lead.status != "assigned" or lead.assignee_id != actor.id:
        raise Conflict("该线索已不在你名下或已被认领")
    before = audit.snapshot(lead, ("status", "claimed_at", "customer_id"))
    lead.customer_id = _customer_for(session, actor, lead, playbook, now=now)
    lead.status, lead.claimed_at = "claimed", now
    audit.record(session, actor, "lead.claim", lead, before)
    close_subject_tasks(session, actor, "lead", lead.id, LEAD_OFFER_TASK, "已认领", now)
    return lead


def _customer_for(session: Session, actor: User, lead: Lead, playbook: Playbook,
                  now: datetime) -> int:
    if lead.mobile and not lead.company:
        existing = find_by_identifier(session, lead.org_id, f"mobile:{lead.mobile}")
        if existing is not None:
            if existing.owner_id != actor.id:
                raise DuplicateCustomer(existing.id, existing.name, existing.owner.name, existing.identifier)
            return existing.id
    contact = ContactInput(name=lead.name, mobile=lead.mobile)
    data = CustomerInput(kind="company" if lead.company else "person",
                         name=lead.company or lead.name, mobile=lead.mobile if not lead.company else None,
                         source=lead.source, industry=lead.industry, contacts=[contact])
    return create_customer(session, actor, data, playbook, now=now).id


def transfer(session: Session, actor: User, lead_id: int, to_user: User,
             *, now: datetime) -> Lead:
    lead = get_lead(session, actor, lead_id)
    if lead.status not in ("assigned", "claimed"):
        raise Conflict("该线索当前状态不能转交")
    if to_user.org_id != lead.org_id or to_user.role != "rep" or not to_user.active:
        raise InvalidInput("to_user", "只能转交给本公司在职的销售")
    before = audit.snapshot(lead, ("status", "assignee_id"))
    lead.assignee_id, lead.status, lead.assigned_at, lead.claimed_at = to_user.id, "assigned", now, None
    lead.assignment_count += 1
    audit.record(session, actor, "lead.transfer", lead, before)
    return lead


def take_back(session: Session, actor: User, lead_id: int, *, handed_to: int, count: int, now: datetime) -> Lead:
    """Undo of 转交: the lead `actor` just handed to `handed_to` comes back to `actor`, only while the
    colleague has not acted on it (still theirs, unclaimed, not passed on: a compare-and-set)."""
    lead = session.get(Lead, lead_id)
    if lead is None or lead.org_id != actor.org_id:
        raise NotFound("线索不存在")
    before = audit.snapshot(lead, ("status", "assignee_id", "assigned_at"))
    changed = session.execute(
        update(Lead).where(Lead.id == lead.id, Lead.status == "assigned", Lead.assignee_id == handed_to,
                           Lead.assignment_count == count)
        .values(assignee_id=actor.id, assigned_at=now, assignment_count=Lead.assignment_count + 1)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise Conflict("同事已经处理了这条线索，不能撤销")
    session.refresh(lead)
    audit.record(session, actor, "lead.take_back", lead, before)
    return lead
