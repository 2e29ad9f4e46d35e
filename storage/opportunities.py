"""Opportunities: stages defined by checkable customer actions; a stage change is gated by the
target stage's checklist, and fields a stage locks stay read-only."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.playbook import Playbook

from . import audit
from .customers import get_customer
from .errors import Conflict, InvalidInput, NotFound
from .models import Opportunity, StageChange, User
from .permissions import check_access


def _amount(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput("amount", "金额格式不正确") from None
    if amount < 0:
        raise InvalidInput("amount", "金额不能为负数")
    return amount


def create_opportunity(session: Session, actor: User, customer_id: int, name: str,
                       playbook: Playbook, amount=None, *, now: datetime) -> Opportunity:
    customer = get_customer(session, actor, customer_id)
    if not (name or "").strip():
        raise InvalidInput("name", "商机名称不能为空")
    first = playbook.stages[0]
    opportunity = Opportunity(org_id=customer.org_id, customer_id=customer.id,
                              owner_id=customer.owner_id, name=name.strip()[:200],
                              amount=_amount(amount), stage=first.key, stage_entered_at=now,
                              checklist={}, won_steps=[], status="open", created_at=now)
    session.add(opportunity)
    session.flush()
    session.add(StageChange(opportunity_id=opportunity.id, from_stage=None, to_stage=first.key,
                            changed_by_id=actor.id, changed_at=now))
    audit.record(session, actor, "opportunity.create", opportunity)
    return opportunity


def get_opportunity(session: Session, actor: User, opportunity_id: int) -> Opportunity:
    opportunity = session.get(Opportunity, opportunity_id)
    if opportunity is None:
        raise NotFound("商机不存在")
    check_access(session, actor, opportunity.org_id, opportunity.owner_id, "商机")
    return opportunity


def set_checklist_item(session: Session, actor: User, opportunity_id: int, stage_key: str,
                       item: str, checked: bool, playbook: Playbook) -> Opportunity:
    opportunity = get_opportunity(session, actor, opportunity_id)
    stage = playbook.stage(stage_key)
    if stage is None or item not in stage.checklist:
        raise InvalidInput("item", "清单项不存在")
    before = audit.snapshot(opportunity, ("checklist",))
    ticked = [i for i in opportunity.checklist.get(stage_key, []) if i != item]
    if checked:
        ticked.append(item)
    opportunity.checklist = {**opportunity.checklist, stage_key: ticked}  # new dict: JSON change tracked
    audit.record(session, actor, "opportunity.checklist", opportunity, before)
    return opportunity


def missing_items(opportunity: Opportunity, playbook: Playbook, stage_key: str) -> list[str]:
    stage = playbook.stage(stage_key)
    ticked = set(opportunity.checklist.get(stage_key, []))
    return [item for item in stage.checklist if item not in ticked]


def change_stage(session: Session, actor: User, opportunity_id: int, to_stage: str,
                 playbook: Playbook, *, now: datetime) -> Opportunity:
    opportunity = get_opportunity(session, actor, opportunity_id)
    if opportunity.status != "open":
        raise Conflict("商机已关闭，不能再变更阶段")
    if playbook.stage(to_stage) is None:
        raise InvalidInput("stage", "阶段不存在")
    if to_stage == opportunity.stage:
        return opportunity
    missing = missing_items(opportunity, playbook, to_stage)
    if missing:
        raise InvalidInput("stage", f"进入“{playbook.stage(to_stage).label}”前还需完成：" + "、".join(missing))
    before = audit.snapshot(opportunity, ("stage", "stage_entered_at"))
    session.add(StageChange(opportunity_id=opportunity.id, from_stage=opportunity.stage,
                            to_stage=to_stage, changed_by_id=actor.id, changed_at=now))
    opportunity.stage, opportunity.stage_entered_at = to_stage, now
    audit.record(session, actor, "opportunity.stage", opportunity, before)
    return opportunity


def locked_fields(opportunity: Opportunity, playbook: Playbook) -> set[str]:
    keys = [s.key for s in playbook.stages]
    reached = keys[: keys.index(opportunity.stage) + 1] if opportunity.stage in keys else []
    return {f for key in reached for f in playbook.stage(key).locked_fields}


def update_opportunity(session: Session, actor: User, opportunity_id: int, changes: dict,
                       playbook: Playbook) -> Opportunity:
    opportunity = get_opportunity(session, actor, opportunity_id)
    locked = locked_fields(opportunity, playbook) & set(changes)
    if locked:
        raise Conflict(f"当前阶段已锁定字段：{'、'.join(sorted(locked))}")
    before = audit.snapshot(opportunity, ("name", "amount"))
    if "name" in changes:
        if not (changes["name"] or "").strip():
            raise InvalidInput("name", "商机名称不能为空")
        opportunity.name = changes["name"].strip()[:200]
    if "amount" in changes:
        opportunity.amount = _amount(changes["amount"])
    audit.record(session, actor, "opportunity.update", opportunity, before)
    return opportunity


def mark_lost(session: Session, actor: User, opportunity_id: int, reason: str,
              playbook: Playbook) -> Opportunity:
    opportunity = get_opportunity(session, actor, opportunity_id)
    if reason not in playbook.lost_reasons:
        raise InvalidInput("lost_reason", "请选择输单原因：" + "、".join(playbook.lost_reasons))
    before = audit.snapshot(opportunity, ("status", "lost_reason"))
    opportunity.status, opportunity.lost_reason = "lost", reason
    audit.record(session, actor, "opportunity.lost", opportunity, before)
    return opportunity


def stage_history(session: Session, opportunity_id: int) -> list[StageChange]:
    return list(session.scalars(select(StageChange).where(StageChange.opportunity_id == opportunity_id)
                                .order_by(StageChange.changed_at)))
