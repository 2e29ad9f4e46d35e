"""What the pages show, read from the store. Writes never happen here: they go through the
storage services. Every read starts from a record the storage layer already let the actor see
(get_customer, visible_customers) or from the actor's own id."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cards import formats
from cards.rows import approval_line
from config.playbook import Playbook
from storage import approvals, customers, drafts, links, opportunities
from storage.errors import PermissionDenied
from storage.models import (
    Approval,
    AuditLog,
    CaptureDraft,
    Contact,
    Customer,
    FollowUp,
    Lead,
    Opportunity,
    StageChange,
    Task,
    User,
)
from storage.permissions import visible_user_ids

STATUS_LABELS = {"active": "跟进中", "incomplete": "待补全", "lost": "已流失"}
KIND_LABELS = {"company": "企业", "person": "个人"}
LEAD_STATUS_LABELS = {"new": "待分配", "assigned": "待认领", "claimed": "已认领", "contacted": "已联系",
                      "qualified": "有效", "disqualified": "无效", "converted": "已转化"}
TASK_KIND_LABELS = {"first_contact": "首次联系", "followup_due": "到期跟进", "silent_customer": "沉默客户",
                    "data_completion": "资料补全", "onboarding": "新人任务", "claim_timeout": "认领超时",
                    "stuck_deal": "商机停滞", "coaching": "辅导"}


def local(value: datetime | None, tz) -> datetime | None:
    return value.astimezone(tz) if value else None


def end_of_today(now: datetime, tz) -> datetime:
    today = now.astimezone(tz).date()
    return datetime.combine(today + timedelta(days=1), time(0), tzinfo=tz)


def user_names(session: Session, ids: set[int]) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


# ------------------------------------------------------------------ customer


def customer_summary(c: Customer, tz) -> dict[str, Any]:
    return {
        "id": c.id, "name": c.name, "kind": c.kind, "kind_label": KIND_LABELS.get(c.kind, c.kind),
        "owner": c.owner.name, "owner_id": c.owner_id, "grade": c.grade, "status": c.status,
        "status_label": STATUS_LABELS.get(c.status, c.status),
        "identifier_missing": c.identifier is None,
        "mobile": c.mobile, "credit_code": c.credit_code, "industry": c.industry,
        "last_interaction_at": _iso(local(c.last_interaction_at, tz)),
        "last_interaction_summary": c.last_interaction_summary,
        "next_followup_at": _iso(local(c.next_followup_at, tz)),
    }


@dataclass
class TimelineEntry:
    at: datetime
    kind: str        # followup | task | stage
    title: str
    detail: str = ""
    who: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "kind": self.kind, "title": self.title,
                "detail": self.detail, "who": self.who}


@dataclass
class OpportunityView:
    id: int
    name: str
    amount: str | None
    status: str
    stage: str
    stage_label: str
    stage_entered_at: datetime
    stages: list[dict[str, Any]]              # key, label, reached
    next_stage: str | None
    next_stage_label: str | None
    next_items: list[dict[str, Any]]          # item, checked
    ready: bool                               # every item of the next stage is ticked
    locked: list[str]
    # the last stage (赢单): its checklist and after-handshake steps stay tickable there
    current_items: list[dict[str, Any]] = field(default_factory=list)   # item, checked
    skip_to: list[dict[str, Any]] = field(default_factory=list)         # stages beyond the next: key, label
    discount_percent: str | None = None
    final_amount: str | None = None
    won_amount: str | None = None
    signed_on: str | None = None
    lost_reason: str | None = None
    lost_competitor: str | None = None
    lost_note: str | None = None
    pending: dict[str, Any] | None = None      # the approval waiting, if any
    approvals: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["stage_entered_at"] = self.stage_entered_at.isoformat()
        return data


def approval_dict(session: Session, a: Approval, playbook: Playbook, tz) -> dict[str, Any]:
    names = user_names(session, {a.requested_by_id, a.approver_id, a.copy_to_id or 0, a.decided_by_id or 0})
    return {"id": a.id, "kind": a.kind, "kind_label": approvals.KIND_LABELS[a.kind], "status": a.status,
            "status_label": approvals.STATUS_LABELS[a.status], "what": approval_line(a, playbook),
            "requested_by": names.get(a.requested_by_id, ""), "approver": names.get(a.approver_id, ""),
            "approver_id": a.approver_id, "copy_to": names.get(a.copy_to_id) if a.copy_to_id else None,
            "level_label": approvals.LEVEL_LABELS.get(a.level, a.level), "reason": a.reason, "note": a.note,
            "decided_by": names.get(a.decided_by_id) if a.decided_by_id else None,
            "requested_at": _iso(local(a.requested_at, tz)), "decided_at": _iso(local(a.decided_at, tz)),
            "escalations": a.escalations}


def _money(value) -> str | None:
    return f"{value:.2f}" if value is not None else None


def opportunity_view(opp: Opportunity, playbook: Playbook, tz, session: Session | None = None) -> OpportunityView:
    keys = [s.key for s in playbook.stages]
    index = keys.index(opp.stage) if opp.stage in keys else -1
    nxt = playbook.next_stage(opp.stage) if opp.status == "open" else None
    ticked = set(opp.checklist.get(nxt.key, [])) if nxt else set()
    items = [{"item": item, "checked": item in ticked} for item in (nxt.checklist if nxt else ())]
    current = playbook.stage(opp.stage)
    current_items = []
    if current is not None and nxt is None:  # the last stage: its own checklist and steps
        done = set(opp.checklist.get(current.key, [])) | set(opp.won_steps or [])
        current_items = [{"item": i, "checked": i in done, "step": i in current.steps}
                         for i in opportunities.stage_items(playbook, current.key)]
    history = approvals.history(session, opp.id) if session is not None else []
    pending = next((a for a in history if a.status == "pending"), None)
    return OpportunityView(
        id=opp.id, name=opp.name, amount=f"{opp.amount:.2f}" if opp.amount is not None else None,
        status=opp.status, stage=opp.stage, stage_label=current.label if current else opp.stage,
        stage_entered_at=local(opp.stage_entered_at, tz),
        stages=[{"key": s.key, "label": s.label, "reached": i <= index}
                for i, s in enumerate(playbook.stages)],
        next_stage=nxt.key if nxt else None, next_stage_label=nxt.label if nxt else None,
        next_items=items, ready=bool(items) and all(i["checked"] for i in items),
        locked=sorted(opportunities.locked_fields(opp, playbook, session)),
        current_items=current_items,
        skip_to=[{"key": s.key, "label": s.label} for s in playbook.stages[index + 2:]] if opp.status == "open" else [],
        discount_percent=f"{opp.discount_percent.normalize():f}" if opp.discount_percent else None,
        final_amount=_money(opportunities.final_amount(opp)), won_amount=_money(opp.won_amount),
        signed_on=opp.signed_on.isoformat() if opp.signed_on else None, lost_reason=opp.lost_reason,
        lost_competitor=opp.lost_competitor, lost_note=opp.lost_note,
        pending=approval_dict(session, pending, playbook, tz) if pending else None,
        approvals=[approval_dict(session, a, playbook, tz) for a in history])


@dataclass
class CustomerPage:
    customer: Customer
    summary: dict[str, Any]
    contacts: list[dict[str, Any]]
    opportunities: list[OpportunityView]
    timeline: list[TimelineEntry]
    open_tasks: list[Task] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**self.summary, "address": self.customer.address, "source": self.customer.source,
                "contacts": self.contacts,
                "opportunities": [o.as_dict() for o in self.opportunities],
                "timeline": [t.as_dict() for t in self.timeline],
                "open_tasks": [task_dict(t, None) for t in self.open_tasks]}


def contact_dict(contact: Contact) -> dict[str, Any]:
    """A contact as the pages and the API show it: both mobiles, fax, English name and title."""
    return {"id": contact.id, "customer_id": contact.customer_id,
            **{key: getattr(contact, key) for key in customers.CONTACT_FIELDS}}


def customer_page(session: Session, actor: User, customer_id: int, playbook: Playbook) -> CustomerPage:
    tz = playbook.tz
    customer = customers.get_customer(session, actor, customer_id)  # permission check
    opps = list(session.scalars(select(Opportunity).where(Opportunity.customer_id == customer.id)
                                .order_by(Opportunity.id)))
    open_tasks = list(session.scalars(select(Task).where(Task.customer_id == customer.id,
                                                         Task.status == "open").order_by(Task.due_at)))
    return CustomerPage(
        customer=customer, summary=customer_summary(customer, tz),
        contacts=[contact_dict(c) for c in customer.contacts],
        opportunities=[opportunity_view(o, playbook, tz, session) for o in opps],
        timeline=timeline(session, customer, opps, playbook), open_tasks=open_tasks)


def timeline(session: Session, customer: Customer, opps: list[Opportunity], playbook: Playbook,
             limit: int = 50) -> list[TimelineEntry]:
    """Follow-ups, tasks and stage changes of one customer, newest first."""
    tz = playbook.tz
    followups = session.scalars(select(FollowUp).where(FollowUp.customer_id == customer.id)
                                .order_by(FollowUp.occurred_at.desc()).limit(limit)).all()
    tasks = session.scalars(select(Task).where(Task.customer_id == customer.id)
                            .order_by(Task.created_at.desc()).limit(limit)).all()
    opp_names = {o.id: o.name for o in opps}
    changes = session.scalars(select(StageChange).where(StageChange.opportunity_id.in_(list(opp_names)))
                              .order_by(StageChange.changed_at.desc()).limit(limit)).all() if opps else []
    names = user_names(session, {f.author_id for f in followups} | {t.assignee_id for t in tasks}
                       | {t.closed_by_id for t in tasks if t.closed_by_id} | {c.changed_by_id for c in changes})
    entries: list[TimelineEntry] = []
    for f in followups:
        labels = [playbook.tag(k).label for k in f.tags if playbook.tag(k)]
        detail = "；".join(x for x in (f.note, f"暂缓原因：{f.pause_reason}" if f.pause_reason else None,
                                      f.transcript if not f.note else None) if x)
        entries.append(TimelineEntry(local(f.occurred_at, tz), "followup",
                                     "跟进：" + ("、".join(labels) or "备注"), detail, names.get(f.author_id, "")))
    for t in tasks:
        entries.append(TimelineEntry(local(t.created_at, tz), "task", "任务：" + t.title,
                                     t.detail or "", names.get(t.assignee_id, "")))
        if t.closed_at:
            entries.append(TimelineEntry(local(t.closed_at, tz), "task", "完成任务：" + t.title,
                                         t.result or "", names.get(t.closed_by_id, "")))
    for c in changes:
        to = playbook.stage(c.to_stage)
        frm = playbook.stage(c.from_stage) if c.from_stage else None
        title = (f"商机“{opp_names[c.opportunity_id]}”：{frm.label if frm else c.from_stage} → "
                 f"{to.label if to else c.to_stage}") if c.from_stage else \
            f"新建商机“{opp_names[c.opportunity_id]}”（{to.label if to else c.to_stage}）"
        entries.append(TimelineEntry(local(c.changed_at, tz), "stage", title, c.reason or "",
                                     names.get(c.changed_by_id, "")))
    entries += _deal_entries(session, opps, opp_names, playbook)
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


CLOSING_ACTIONS = ("opportunity.won", "opportunity.lost", "opportunity.reopen")


def _deal_entries(session: Session, opps: list[Opportunity], opp_names: dict[int, str],
                  playbook: Playbook, limit: int = 50) -> list[TimelineEntry]:
    """Closing, reopening (from the audit log) and approvals of the customer's deals."""
    if not opps:
        return []
    tz = playbook.tz
    closing = session.scalars(select(AuditLog).where(  # ix_audit_log_entity
        AuditLog.entity == "opportunity", AuditLog.entity_id.in_(list(opp_names)),
        AuditLog.action.in_(CLOSING_ACTIONS)).order_by(AuditLog.at.desc()).limit(limit)).all()
    asked = session.scalars(select(Approval).where(Approval.opportunity_id.in_(list(opp_names)))
                            .order_by(Approval.requested_at.desc()).limit(limit)).all()
    names = user_names(session, {a.actor_id for a in closing if a.actor_id}
                       | {a.requested_by_id for a in asked} | {a.decided_by_id for a in asked if a.decided_by_id})
    entries = []
    for row in closing:
        name, after = opp_names[row.entity_id], row.after or {}
        if row.action == "opportunity.won":
            title = f"赢单：“{name}”"
            signed = after.get("signed_on")
            detail = (f"成交金额 {formats.money(after.get('won_amount') or 0)}，签约日期 "
                      f"{formats.when(date.fromisoformat(signed), tz, row.at) if signed else '—'}")
        elif row.action == "opportunity.lost":
            title = f"丢单：“{name}”"
            detail = "；".join(x for x in (after.get("lost_reason"), after.get("lost_competitor") and
                                          f"竞品：{after['lost_competitor']}", after.get("lost_note")) if x)
        else:
            title, detail = f"重新打开：“{name}”", ""
        entries.append(TimelineEntry(local(row.at, tz), "deal", title, detail, names.get(row.actor_id, "")))
    for a in asked:
        what = approval_line(a, playbook)
        entries.append(TimelineEntry(local(a.requested_at, tz), "approval",
                                     f"申请{what}：“{opp_names[a.opportunity_id]}”", a.note or "",
                                     names.get(a.requested_by_id, "")))
        if a.decided_at and a.status in ("approved", "rejected") and a.decided_by_id != a.requested_by_id:
            entries.append(TimelineEntry(local(a.decided_at, tz), "approval",
                                         f"{what} {approvals.STATUS_LABELS[a.status]}", a.reason or "",
                                         names.get(a.decided_by_id, "")))
    return entries


# ------------------------------------------------------------------ my work


def task_dict(t: Task, now: datetime | None, tz=None) -> dict[str, Any]:
    return {"id": t.id, "kind": t.kind, "kind_label": TASK_KIND_LABELS.get(t.kind, t.kind),
            "title": t.title, "detail": t.detail, "status": t.status, "customer_id": t.customer_id,
            "due_at": _iso(local(t.due_at, tz) if tz else t.due_at),
            "overdue": bool(now and t.due_at and t.status == "open" and t.due_at < now)}


def lead_dict(lead: Lead, tz) -> dict[str, Any]:
    return {"id": lead.id, "name": lead.name, "company": lead.company, "mobile": lead.mobile,
            "source": lead.source, "status": lead.status,
            "status_label": LEAD_STATUS_LABELS.get(lead.status, lead.status),
            "customer_id": lead.customer_id, "assigned_at": _iso(local(lead.assigned_at, tz))}


def draft_dict(d: CaptureDraft) -> dict[str, Any]:
    allowed = drafts.CUSTOMER_FIELDS if d.kind == "customer" else drafts.FOLLOWUP_FIELDS
    return {"id": d.id, "kind": d.kind, "kind_label": "名片/客户" if d.kind == "customer" else "语音跟进",
            "status": d.status, "fields": {k: d.fields.get(k) for k in allowed},
            "result_customer_id": d.result_customer_id, "error": d.error}


@dataclass
class MyWork:
    leads: list[Lead]
    overdue: list[Task]
    due_today: list[Task]
    drafts: list[CaptureDraft]
    customers: list[Customer]
    customers_total: int


def my_work(session: Session, actor: User, now: datetime, playbook: Playbook, *,
            q: str | None = None, status: str | None = None, limit: int = 30) -> MyWork:
    leads = list(session.scalars(select(Lead).where(Lead.assignee_id == actor.id,
                                                    Lead.status.in_(("assigned", "claimed")))
                                 .order_by(Lead.assigned_at)))
    cutoff = end_of_today(now, playbook.tz)
    open_tasks = session.scalars(select(Task).where(Task.assignee_id == actor.id, Task.status == "open")
                                 .order_by(Task.due_at.is_(None), Task.due_at, Task.id).limit(100)).all()
    overdue = [t for t in open_tasks if t.due_at and t.due_at < now]
    due_today = [t for t in open_tasks if t.due_at is None or now <= t.due_at < cutoff]
    # "my customers": a manager's home lists their own book too; the team's is on the dashboard
    found, total = customers.search_customers(session, actor, q, status=status or None,
                                              owner_id=actor.id, limit=limit)
    return MyWork(leads=leads, overdue=overdue, due_today=due_today,
                  drafts=drafts.pending_drafts(session, actor), customers=found, customers_total=total)


@dataclass
class Escalation:
    task: Task
    assignee: str
    level: str           # 已升级给经理 / 已升级给总监
    overdue: bool


ESCALATION_LEVELS = {1: "已升级给经理", 2: "已升级给总监"}


def escalations(session: Session, actor: User, now: datetime, limit: int = 30) -> list[Escalation]:
    """Open escalated tasks (escalation_level > 0) of the people under a manager or director:
    their to-do list on the mini-app home, not only in chat. Most escalated and oldest first."""
    visible = visible_user_ids(session, actor)
    query = select(Task, User.name).join(User, User.id == Task.assignee_id).where(
        Task.org_id == actor.org_id, Task.status == "open", Task.escalation_level > 0)
    if visible is not None:
        query = query.where(Task.assignee_id.in_(visible))
    rows = session.execute(query.order_by(Task.escalation_level.desc(), Task.due_at, Task.id).limit(limit))
    return [Escalation(task, name, ESCALATION_LEVELS.get(task.escalation_level, "已升级"),
                       bool(task.due_at and task.due_at < now)) for task, name in rows]


@dataclass
class ApprovalToDo:
    approval: Approval
    what: str            # 折扣 12%（150,000元）
    opportunity: str
    customer_id: int
    requested_by: str


def approvals_to_decide(session: Session, actor: User, playbook: Playbook, limit: int = 30) -> list[ApprovalToDo]:
    """Requests waiting for this manager's or director's decision, oldest first: on the mini-app
    home beside the escalations, not only as cards in chat."""
    rows = session.execute(
        select(Approval, Opportunity.name, Opportunity.customer_id, User.name)
        .join(Opportunity, Opportunity.id == Approval.opportunity_id)
        .join(User, User.id == Approval.requested_by_id)
        .where(Approval.approver_id == actor.id, Approval.status == "pending")
        .order_by(Approval.requested_at, Approval.id).limit(limit))
    return [ApprovalToDo(a, approval_line(a, playbook), name, customer_id, requester)
            for a, name, customer_id, requester in rows]


def default_next_followup(playbook: Playbook, now: datetime) -> date:
    return now.astimezone(playbook.tz).date() + timedelta(days=playbook.followup.default_next_days)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# ------------------------------------------------------------------ sidebar link


@dataclass
class LinkState:
    linked: bool
    customer: Customer | None = None      # set when the actor may see the linked customer
    conflict: str | None = None           # who owns it, when the actor may not

    def as_dict(self, tz) -> dict[str, Any]:
        return {"linked": self.linked, "conflict": self.conflict,
                "customer": customer_summary(self.customer, tz) if self.customer else None}


def link_state(session: Session, actor: User, platform: str, external_id: str,
               what: str = links.CONTACT) -> LinkState:
    """The chat's link as this rep sees it. A chat linked to a colleague's customer names the
    colleague (the rep must know whom to talk to, 撞单 avoided) but shows none of its data."""
    link = links.find_link(session, actor.org_id, platform, external_id)
    if link is None:
        return LinkState(False)
    try:
        return LinkState(True, customers.get_customer(session, actor, link.customer_id))
    except PermissionDenied:
        return LinkState(True, conflict=links.taken_message(session, link, what) + "，如需跟进请联系负责人")
