"""Opportunities: stages defined by checkable customer actions. A stage change is gated by the
target stage's checklist; stages advance one at a time (skipping one needs the approval of the
playbook's `approvals.skip_approver`, see storage/approvals.py); fields a stage locks stay
read-only, and so do amount and discount while an approval is pending. A deal is closed won
(final amount, signed date) or lost (a playbook reason, competitor, note) and reopened only by
the playbook's `approvals.reopen_roles`. Every change is audited in the same transaction.

The last stage (赢单) has its checklist (entering it) and its `steps` (what happens after the
handshake: 法务终审, 用印, 首付款). Both are tickable items of that stage: the steps used to be shown
as the stage's checklist (stage-stuck card) while the service only accepted `checklist` items,
which is why ticking them answered "清单项不存在"."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.playbook import Playbook

from . import audit
from .customers import get_customer
from .errors import Conflict, InvalidInput, NotFound, PermissionDenied
from .models import Approval, Opportunity, StageChange, User
from .permissions import check_access, visible_user_ids
from .validators import amount_yuan

MANAGER_ROLES = ("manager", "director", "admin")
NOTE_MAX = 200


class SkipNeedsApproval(Conflict):
    """A rep tried to jump over a stage: the caller may offer to ask for approval."""

    def __init__(self, from_label: str, to_label: str, approver_role: str):
        who = "经理" if approver_role == "manager" else "总监"
        super().__init__(f"不能从“{from_label}”直接跳到“{to_label}”：跳过阶段需要{who}审批",
                         needs_approval=True, to_stage=None)


def parse_amount(value, field: str = "amount") -> Decimal | None:
    """The one amount rule: storage.validators.amount_yuan."""
    return amount_yuan(value, field)


_amount = parse_amount


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


def get_opportunity(session: Session, actor: User, opportunity_id: int, *, for_update: bool = False) -> Opportunity:
    # for_update: the row is locked until commit, for read-modify-write of its JSON columns
    opportunity = session.get(Opportunity, opportunity_id, with_for_update=for_update or None,
                              populate_existing=for_update)
    if opportunity is None:
        raise NotFound("商机不存在")
    check_access(session, actor, opportunity.org_id, opportunity.owner_id, "商机")
    return opportunity


def find_opportunity(session: Session, actor: User, name: str, *, open_only: bool = True) -> Opportunity:
    """The opportunity a rep names in chat: exact name first, then a unique partial match among
    those they may see (their own, or their team's for a manager)."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("opportunity", "请写上商机名称")
    query = select(Opportunity).where(Opportunity.org_id == actor.org_id)
    owners = visible_user_ids(session, actor)
    if owners is not None:
        query = query.where(Opportunity.owner_id.in_(owners))
    if open_only:
        query = query.where(Opportunity.status == "open")
    candidates = list(session.scalars(query.order_by(Opportunity.id.desc()).limit(500)))
    exact = [o for o in candidates if o.name == name]
    if len(exact) == 1:
        return exact[0]
    partial = exact or [o for o in candidates if name in o.name]
    if not partial:
        raise NotFound(f"没有找到{'进行中的' if open_only else ''}商机“{name}”")
    if len(partial) > 1:
        names = "、".join(o.name for o in partial[:5])
        raise InvalidInput("opportunity", f"“{name}”对应多个商机：{names}。请写得更完整一些")
    return partial[0]


# ------------------------------------------------------------------ checklists


def stage_items(playbook: Playbook, stage_key: str) -> tuple[str, ...]:
    """Everything tickable in a stage: its checklist, plus the after-handshake steps of 赢单."""
    stage = playbook.stage(stage_key)
    return (stage.checklist + stage.steps) if stage else ()


def set_checklist_item(session: Session, actor: User, opportunity_id: int, stage_key: str,
                       item: str, checked: bool, playbook: Playbook) -> Opportunity:
    # the page saves each tick as it is made, so ticks arrive together: without the lock two of them
    # read the same list and the later write drops the other's item
    opportunity = get_opportunity(session, actor, opportunity_id, for_update=True)
    stage = playbook.stage(stage_key)
    if stage is None:
        raise InvalidInput("stage", "阶段不存在")
    if item not in stage_items(playbook, stage_key):
        raise InvalidInput("item", "清单项不存在")
    if item in stage.steps:
        before = audit.snapshot(opportunity, ("won_steps",))
        steps = [i for i in (opportunity.won_steps or []) if i != item] + ([item] if checked else [])
        opportunity.won_steps = steps  # a new list: JSON change tracked
        audit.record(session, actor, "opportunity.steps", opportunity, before)
        return opportunity
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


def _require_checklist(opportunity: Opportunity, playbook: Playbook, to_stage: str) -> None:
    missing = missing_items(opportunity, playbook, to_stage)
    if missing:
        raise InvalidInput("stage", f"进入“{playbook.stage(to_stage).label}”前还需完成：" + "、".join(missing))


# ------------------------------------------------------------------ stages


def is_skip(opportunity: Opportunity, playbook: Playbook, to_stage: str) -> bool:
    return playbook.stage_index(to_stage) > playbook.stage_index(opportunity.stage) + 1


def change_stage(session: Session, actor: User, opportunity_id: int, to_stage: str,
                 playbook: Playbook, *, now: datetime) -> Opportunity:
    """One stage forward (gated by its checklist), or back. A rep jumping over a stage is refused
    with SkipNeedsApproval (nothing written); a manager may skip, and it is audited as a skip."""
    opportunity = get_opportunity(session, actor, opportunity_id)
    _require_open(opportunity)
    if playbook.stage(to_stage) is None:
        raise InvalidInput("stage", "阶段不存在")
    if to_stage == opportunity.stage:
        return opportunity
    reason = None
    if is_skip(opportunity, playbook, to_stage):
        if actor.role not in MANAGER_ROLES:
            raise SkipNeedsApproval(playbook.stage(opportunity.stage).label, playbook.stage(to_stage).label,
                                    playbook.approvals.skip_approver)
        reason = f"{actor.name}跳过阶段"
    return move_stage(session, actor, opportunity, to_stage, playbook, now=now, reason=reason)


def move_stage(session: Session, actor: User, opportunity: Opportunity, to_stage: str,
               playbook: Playbook, *, now: datetime, reason: str | None = None) -> Opportunity:
    """The move itself, once whoever may decide has decided (change_stage, an approved skip)."""
    forward = playbook.stage_index(to_stage) > playbook.stage_index(opportunity.stage)
    if forward:
        _require_checklist(opportunity, playbook, to_stage)
    before = audit.snapshot(opportunity, ("stage", "stage_entered_at"))
    session.add(StageChange(opportunity_id=opportunity.id, from_stage=opportunity.stage,
                            to_stage=to_stage, changed_by_id=actor.id, changed_at=now,
                            reason=(reason or None) and reason[:200]))
    opportunity.stage, opportunity.stage_entered_at = to_stage, now
    audit.record(session, actor, "opportunity.stage", opportunity, before)
    return opportunity


def locked_fields(opportunity: Opportunity, playbook: Playbook, session: Session | None = None) -> set[str]:
    keys = [s.key for s in playbook.stages]
    reached = keys[: keys.index(opportunity.stage) + 1] if opportunity.stage in keys else []
    locked = {f for key in reached for f in playbook.stage(key).locked_fields}
    if session is not None and pending_approval(session, opportunity.id) is not None:
        locked |= {"amount", "discount"}
    if opportunity.status != "open":
        locked |= {"amount", "discount", "name"}
    return locked


def pending_approval(session: Session, opportunity_id: int) -> Approval | None:
    return session.scalars(select(Approval).where(  # ix_approval_opportunity_status
        Approval.opportunity_id == opportunity_id, Approval.status == "pending")).first()


def update_opportunity(session: Session, actor: User, opportunity_id: int, changes: dict,
                       playbook: Playbook) -> Opportunity:
    opportunity = get_opportunity(session, actor, opportunity_id)
    pending = pending_approval(session, opportunity.id)
    if pending is not None and {"amount", "discount"} & set(changes):
        raise Conflict("折扣审批中，金额和折扣已锁定，审批结束后再修改")
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


# ------------------------------------------------------------------ closing and reopening


def _require_open(opportunity: Opportunity) -> None:
    if opportunity.status != "open":
        label = "赢单" if opportunity.status == "won" else "丢单"
        raise Conflict(f"商机已{label}关闭，如需变更请经理先重新打开")


@dataclass(frozen=True)
class WonInput:
    amount: Decimal | None = None     # final contract amount; default: amount after the approved discount
    signed_on: date | None = None     # default: today in the org's zone


def final_amount(opportunity: Opportunity) -> Decimal | None:
    if opportunity.amount is None:
        return None
    if not opportunity.discount_percent:
        return opportunity.amount
    return (opportunity.amount * (Decimal(100) - opportunity.discount_percent) / Decimal(100)).quantize(Decimal("0.01"))


def close_won(session: Session, actor: User, opportunity_id: int, data: WonInput, playbook: Playbook,
              *, now: datetime) -> Opportunity:
    """赢单: from the stage before the last (it moves into 赢单 through its checklist) or from 赢单
    itself; earlier stages would skip one and need approval first."""
    opportunity = get_opportunity(session, actor, opportunity_id)
    _require_open(opportunity)
    if pending_approval(session, opportunity.id) is not None:
        raise Conflict("还有审批未处理完，审批结束后再赢单")
    last = playbook.stages[-1]
    if opportunity.stage != last.key:
        if is_skip(opportunity, playbook, last.key) and actor.role not in MANAGER_ROLES:
            raise SkipNeedsApproval(playbook.stage(opportunity.stage).label, last.label,
                                    playbook.approvals.skip_approver)
        move_stage(session, actor, opportunity, last.key, playbook, now=now)
    amount = data.amount if data.amount is not None else final_amount(opportunity)
    if amount is None or amount <= 0:
        raise InvalidInput("amount", "请填写成交金额（元）")
    signed = data.signed_on or now.astimezone(playbook.tz).date()
    if signed > now.astimezone(playbook.tz).date():
        raise InvalidInput("signed_on", "签约日期不能晚于今天")
    before = audit.snapshot(opportunity, ("status", "won_amount", "signed_on", "closed_at"))
    opportunity.status, opportunity.won_amount, opportunity.signed_on = "won", amount, signed
    opportunity.closed_at = now
    audit.record(session, actor, "opportunity.won", opportunity, before)
    return opportunity


@dataclass(frozen=True)
class LostInput:
    reason: str
    competitor: str | None = None
    note: str | None = None


def close_lost(session: Session, actor: User, opportunity_id: int, data: LostInput, playbook: Playbook,
               *, now: datetime) -> Opportunity:
    opportunity = get_opportunity(session, actor, opportunity_id)
    _require_open(opportunity)
    if data.reason not in playbook.lost_reasons:
        raise InvalidInput("lost_reason", "请选择丢单原因：" + "、".join(playbook.lost_reasons))
    competitor = (data.competitor or "").strip()[:100] or None
    note = (data.note or "").strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput("note", f"备注最多{NOTE_MAX}字")
    pending = pending_approval(session, opportunity.id)
    before = audit.snapshot(opportunity, ("status", "lost_reason", "lost_competitor", "lost_note", "closed_at"))
    if pending is not None:  # nothing left to approve on a lost deal
        pending.status, pending.decided_at, pending.escalate_at = "withdrawn", now, None
        audit.record(session, actor, "approval.withdrawn", pending)
    opportunity.status, opportunity.lost_reason = "lost", data.reason
    opportunity.lost_competitor, opportunity.lost_note, opportunity.closed_at = competitor, note or None, now
    audit.record(session, actor, "opportunity.lost", opportunity, before)
    return opportunity


def mark_lost(session: Session, actor: User, opportunity_id: int, reason: str, playbook: Playbook,
              *, now: datetime) -> Opportunity:
    return close_lost(session, actor, opportunity_id, LostInput(reason=reason), playbook, now=now)


def reopen(session: Session, actor: User, opportunity_id: int, playbook: Playbook, *, now: datetime,
           note: str | None = None) -> Opportunity:
    opportunity = get_opportunity(session, actor, opportunity_id)
    if actor.role not in playbook.approvals.reopen_roles:
        raise PermissionDenied("只有经理或总监可以重新打开已关闭的商机")
    if opportunity.status == "open":
        raise Conflict("商机本来就在进行中")
    before = audit.snapshot(opportunity, ("status", "won_amount", "signed_on", "lost_reason",
                                          "lost_competitor", "lost_note", "closed_at"))
    was = "赢单" if opportunity.status == "won" else "丢单"
    opportunity.status, opportunity.closed_at = "open", None
    opportunity.won_amount = opportunity.signed_on = None
    opportunity.lost_reason = opportunity.lost_competitor = opportunity.lost_note = None
    # a reopened deal starts its stage clock again, so it is not at once flagged as stuck
    session.add(StageChange(opportunity_id=opportunity.id, from_stage=opportunity.stage,
                            to_stage=opportunity.stage, changed_by_id=actor.id, changed_at=now,
                            reason=f"重新打开（原{was}）" + (f"：{note.strip()[:100]}" if note and note.strip() else "")))
    opportunity.stage_entered_at = now
    audit.record(session, actor, "opportunity.reopen", opportunity, before)
    return opportunity


def stage_history(session: Session, opportunity_id: int) -> list[StageChange]:
    return list(session.scalars(select(StageChange).where(StageChange.opportunity_id == opportunity_id)
                                .order_by(StageChange.changed_at)))
