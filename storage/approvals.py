"""Approvals: what a rep may not decide alone, asked of the right person and answered once.

- Discounts (playbook `approvals.discount_tiers`, seed 002): up to the rep's tier the rep decides
  and it is recorded as approved by them; above it the request goes to the tier's approver (the
  rep's manager, or the director above), and on a deal above the tier's `copy_above_amount` the
  tier's `copy_to` role gets a copy. While a request is pending the deal's amount and discount are
  locked (storage/opportunities.py).
- Stage skips: a rep jumping over a stage asks `approvals.skip_approver`; an approved skip moves
  the deal (the target stage's checklist still gates it).
- Nobody answers: after `approvals.escalate_after_working_hours` of working time the request goes
  one level up (manager → director, the manager keeps a copy); a director's request is re-sent
  once. `escalate_at` holds that moment, indexed for the rule scan (jobs/rules/approval_escalation.py).

Every change is audited; nothing here talks to anyone: callers tell people through bot's outbound API.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.playbook import Playbook
from config.worktime import WorkCalendar

from . import audit
from .errors import Conflict, InvalidInput, NotFound, PermissionDenied
from .models import Approval, Customer, Opportunity, User
from .opportunities import get_opportunity, is_skip, missing_items, move_stage, pending_approval
from .permissions import check_access

LEVEL_LABELS = {"rep": "销售", "manager": "经理", "director": "总监"}
STATUS_LABELS = {"pending": "待审批", "approved": "已同意", "rejected": "已驳回", "withdrawn": "已撤回"}
KIND_LABELS = {"discount": "折扣", "stage_skip": "跳过阶段"}


# ------------------------------------------------------------------ the one working-time computation


def escalation_due(playbook: Playbook, start: datetime) -> datetime:
    """When a request made at `start` is overdue: `escalate_after_working_hours` of the team's
    working time (config/worktime.py: working hours minus lunch, China's working days), so a
    request made on Friday evening escalates on Monday, not over the weekend."""
    hours = timedelta(hours=playbook.approvals.escalate_after_working_hours)
    return WorkCalendar.from_playbook(playbook).add_working(start, hours)


# ------------------------------------------------------------------ who decides


def _boss_with_role(session: Session, user: User, role: str) -> User | None:
    """Walk up reports_to to the first active `role`; a director falls back to the org's first."""
    seen, current = set(), user
    while current.reports_to_id and current.reports_to_id not in seen:
        seen.add(current.reports_to_id)
        current = session.get(User, current.reports_to_id)
        if current is None:
            break
        if current.role == role and current.active:
            return current
    if role == "director":
        return session.scalars(select(User).where(User.org_id == user.org_id, User.role == "director",
                                                  User.active.is_(True)).order_by(User.id)).first()
    return None


def person_for(session: Session, owner: User, role: str) -> User | None:
    """The person in `role` for a deal owned by `owner` (the owner themself for "rep")."""
    return owner if role == "rep" else _boss_with_role(session, owner, role)


# ------------------------------------------------------------------ asking


def parse_percent(value) -> Decimal:
    text = str(value or "").strip().rstrip("%％").strip()
    try:
        percent = Decimal(text)
    except InvalidOperation:
        raise InvalidInput("discount", "折扣格式不正确，例如：8%") from None
    if not percent.is_finite() or percent <= 0 or percent >= 100:
        raise InvalidInput("discount", "折扣应大于0%且小于100%")
    return percent.quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Asked:
    approval: Approval
    approver: User
    copy_to: User | None
    decided: bool          # True: within the rep's own tier, applied at once


def _open_for_request(session: Session, actor: User, opportunity_id: int) -> Opportunity:
    opportunity = get_opportunity(session, actor, opportunity_id)
    if opportunity.status != "open":
        raise Conflict("商机已关闭，不能再申请")
    pending = pending_approval(session, opportunity.id)
    if pending is not None:
        raise Conflict(f"该商机已有一项{KIND_LABELS[pending.kind]}申请在审批中，请等审批结束")
    return opportunity


def request_discount(session: Session, actor: User, opportunity_id: int, percent, playbook: Playbook,
                     *, now: datetime, note: str | None = None) -> Asked:
    percent = parse_percent(percent)
    opportunity = _open_for_request(session, actor, opportunity_id)
    if opportunity.amount is None or opportunity.amount <= 0:
        raise InvalidInput("amount", "请先填写商机金额，再申请折扣")
    owner = session.get(User, opportunity.owner_id)
    tier = playbook.approvals.tier_for(float(percent))
    approver = person_for(session, owner, tier.approver)
    if approver is None:
        raise Conflict(f"找不到审批人（{LEVEL_LABELS[tier.approver]}），请联系管理员设置汇报关系")
    copy_to = None
    if tier.copy_to and tier.copy_above_amount is not None and opportunity.amount > tier.copy_above_amount:
        copy_to = person_for(session, owner, tier.copy_to)
        if copy_to is not None and copy_to.id == approver.id:
            copy_to = None
    decided = tier.approver == "rep"
    approval = Approval(org_id=opportunity.org_id, opportunity_id=opportunity.id, kind="discount",
                        status="approved" if decided else "pending", requested_by_id=actor.id,
                        approver_id=approver.id, copy_to_id=copy_to.id if copy_to else None,
                        level=tier.approver, discount_percent=percent, amount=opportunity.amount,
                        note=(note or "").strip()[:200] or None, requested_at=now,
                        decided_by_id=actor.id if decided else None, decided_at=now if decided else None,
                        escalate_at=None if decided else escalation_due(playbook, now), escalations=0)
    session.add(approval)
    audit.record(session, actor, "approval.request", approval)
    if decided:
        _apply_discount(session, actor, opportunity, approval)
    return Asked(approval, approver, copy_to, decided)


def request_stage_skip(session: Session, actor: User, opportunity_id: int, to_stage: str,
                       playbook: Playbook, *, now: datetime, note: str | None = None) -> Asked:
    opportunity = _open_for_request(session, actor, opportunity_id)
    target = playbook.stage(to_stage)
    if target is None:
        raise InvalidInput("stage", "阶段不存在")
    if not is_skip(opportunity, playbook, to_stage):
        raise InvalidInput("stage", f"“{target.label}”不需要跳过阶段，直接推进即可")
    missing = missing_items(opportunity, playbook, to_stage)
    if missing:  # asking makes sense only when the target's own gate is met
        raise InvalidInput("stage", f"进入“{target.label}”前还需完成：" + "、".join(missing))
    owner = session.get(User, opportunity.owner_id)
    role = playbook.approvals.skip_approver
    approver = person_for(session, owner, role)
    if approver is None:
        raise Conflict(f"找不到审批人（{LEVEL_LABELS[role]}），请联系管理员设置汇报关系")
    approval = Approval(org_id=opportunity.org_id, opportunity_id=opportunity.id, kind="stage_skip",
                        status="pending", requested_by_id=actor.id, approver_id=approver.id, level=role,
                        amount=opportunity.amount, from_stage=opportunity.stage, to_stage=to_stage,
                        note=(note or "").strip()[:200] or None, requested_at=now,
                        escalate_at=escalation_due(playbook, now), escalations=0)
    session.add(approval)
    audit.record(session, actor, "approval.request", approval)
    return Asked(approval, approver, None, False)


# ------------------------------------------------------------------ answering


def get_approval(session: Session, actor: User, approval_id: int) -> Approval:
    approval = session.get(Approval, approval_id)
    if approval is None:
        raise NotFound("审批不存在")
    opportunity = session.get(Opportunity, approval.opportunity_id)
    if actor.id not in (approval.approver_id, approval.copy_to_id, approval.requested_by_id):
        check_access(session, actor, opportunity.org_id, opportunity.owner_id, "审批")
    elif approval.org_id != actor.org_id:
        raise NotFound("审批不存在")
    return approval


def decide(session: Session, actor: User, approval_id: int, approve: bool, playbook: Playbook, *,
           now: datetime, reason: str | None = None) -> Approval:
    approval = get_approval(session, actor, approval_id)
    if approval.status != "pending":
        who = session.get(User, approval.decided_by_id) if approval.decided_by_id else None
        raise Conflict(f"该申请已处理：{STATUS_LABELS[approval.status]}" + (f"（{who.name}）" if who else ""))
    if actor.id != approval.approver_id:
        approver = session.get(User, approval.approver_id)
        raise PermissionDenied(f"该申请由{approver.name}审批，你收到的是抄送")
    reason = (reason or "").strip()
    if not approve and not reason:
        raise InvalidInput("reason", "驳回请写明原因")
    opportunity = session.get(Opportunity, approval.opportunity_id)
    if opportunity.status != "open":
        raise Conflict("商机已关闭，该申请不再需要审批")
    before = audit.snapshot(approval, ("status", "reason", "decided_by_id", "decided_at"))
    approval.status = "approved" if approve else "rejected"
    approval.reason = None if approve else reason[:200]
    approval.decided_by_id, approval.decided_at, approval.escalate_at = actor.id, now, None
    if approve and approval.kind == "discount":
        _apply_discount(session, actor, opportunity, approval)
    elif approve and approval.kind == "stage_skip":
        if opportunity.stage != approval.from_stage:
            raise Conflict("商机阶段已变化，这个跳过申请已失效，请重新申请")
        move_stage(session, actor, opportunity, approval.to_stage, playbook, now=now,
                   reason=f"{actor.name}同意跳过阶段")
    audit.record(session, actor, f"approval.{approval.status}", approval, before)
    return approval


def _apply_discount(session: Session, actor: User, opportunity: Opportunity, approval: Approval) -> None:
    before = audit.snapshot(opportunity, ("discount_percent",))
    opportunity.discount_percent = approval.discount_percent
    audit.record(session, actor, "opportunity.discount", opportunity, before)


# ------------------------------------------------------------------ nobody answered


@dataclass(frozen=True)
class Escalated:
    approval: Approval
    approver: User          # who has it now (the same director when re-sent)
    previous: User
    moved_up: bool


def due_for_escalation(session: Session, now: datetime, limit: int = 500) -> list[Approval]:
    return list(session.scalars(select(Approval).where(  # ix_approval_status_escalate
        Approval.status == "pending", Approval.escalate_at <= now)
        .order_by(Approval.escalate_at, Approval.id).limit(limit).with_for_update(skip_locked=True)))


def escalate(session: Session, approval: Approval, playbook: Playbook, *, now: datetime) -> Escalated | None:
    """Move an unanswered request one level up (manager → director; the manager keeps a copy).
    A director's request stays with them and is sent once more; after that it waits."""
    if approval.status != "pending" or approval.escalate_at is None or approval.escalate_at > now:
        return None
    previous = session.get(User, approval.approver_id)
    before = audit.snapshot(approval, ("approver_id", "copy_to_id", "level", "escalate_at", "escalations"))
    approval.escalations += 1
    director = _boss_with_role(session, previous, "director") if approval.level != "director" else None
    if director is not None and director.id != previous.id:
        approval.approver_id, approval.level = director.id, "director"
        approval.copy_to_id = previous.id
        approval.escalate_at = escalation_due(playbook, now)
        moved_up, approver = True, director
    else:
        approval.escalate_at = None  # re-sent once; the director's own to-do list keeps it
        moved_up, approver = False, previous
    audit.record(session, None, "approval.escalate", approval, before)
    return Escalated(approval, approver, previous, moved_up)


# ------------------------------------------------------------------ reading


def history(session: Session, opportunity_id: int) -> list[Approval]:
    return list(session.scalars(select(Approval).where(Approval.opportunity_id == opportunity_id)
                                .order_by(Approval.requested_at.desc(), Approval.id.desc())))


@dataclass(frozen=True)
class Facts:
    """What an approval's cards show, read once for whoever builds them (bot, jobs, mini-app).
    Amounts stay numbers: how money is written is the cards' one rule (cards/rows.py
    `approval_fields`, cards/formats.py)."""
    title: str
    fields: list[tuple[str, str]]
    level_label: str
    customer_id: int
    opportunity_id: int
    amount: Decimal | None = None          # the deal's amount, for a discount
    amount_after: Decimal | None = None    # what it comes to after the discount

    @property
    def path(self) -> str:   # the mini-app page of the deal
        return f"customers/{self.customer_id}#opp-{self.opportunity_id}"


def facts(session: Session, approval: Approval, playbook: Playbook) -> Facts:
    opportunity = session.get(Opportunity, approval.opportunity_id)
    customer = session.get(Customer, opportunity.customer_id)
    requester = session.get(User, approval.requested_by_id)
    fields = [("商机", opportunity.name), ("客户", customer.name), ("申请人", requester.name)]
    amount = after = None
    if approval.kind == "discount":
        title = f"折扣审批：{approval.discount_percent.normalize():f}%"
        if approval.amount is not None:
            amount = approval.amount
            after = approval.amount * (Decimal(100) - approval.discount_percent) / Decimal(100)
    else:
        title = "跳过阶段审批"
        fields.append(("阶段", skipped_stages(approval, playbook)))
    if approval.note:
        fields.append(("说明", approval.note))
    return Facts(title, fields, LEVEL_LABELS[approval.level], customer.id, opportunity.id, amount, after)


def skipped_stages(approval: Approval, playbook: Playbook) -> str:
    """需求确认 → 商务谈判: the stages a skip jumps between, by their playbook labels."""
    frm, to = playbook.stage(approval.from_stage), playbook.stage(approval.to_stage)
    return f"{frm.label if frm else approval.from_stage} → {to.label if to else approval.to_stage}"
