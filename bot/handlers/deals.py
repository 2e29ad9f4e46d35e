"""Deals in chat: 推进, 赢单, 丢单, 申请折扣, 重开 — and the approval cards' 同意 / 驳回.

A skip or a discount beyond the rep's tier becomes an approval (storage/approvals.py); the approver
gets a card with 同意 and one 驳回 button per playbook reason, the card is updated in place when
they answer (ctx.finish_card), and the requester and the person copied are told."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from cards import builders, formats
from cards.links import app_link
from cards.model import Card, new_card_id
from cards.rows import approval_fields, approval_line
from storage import approvals, opportunities
from storage.errors import InvalidInput
from storage.models import Approval, Opportunity, User
from storage.opportunities import LostInput, SkipNeedsApproval, WonInput

from ..context import Context
from ..outbound import Purpose, held_note
from ..router import router

_AMOUNT = re.compile(r"^[¥￥]?(\d+(?:\.\d+)?)(万|w|W|元)?$")
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)\s*[%％]$")


# ------------------------------------------------------------------ telling people


def tell(ctx: Context, user: User, *, dedupe_key: str, text: str | None = None,
         card: Card | None = None, subject: tuple[str, int] | None = None) -> str:
    """The one way this module tells someone other than the person who wrote (approver, copy,
    requester): bot's outbound API, sent on purpose (quiet hours may hold it, no reminder cap).
    Returns what to tell the sender when it is held ("" when it goes now)."""
    if card is not None:
        subject_type, subject_id = subject
        queued = ctx.out.card(user, card, subject_type=subject_type, subject_id=subject_id,
                              dedupe_key=dedupe_key, purpose=Purpose.DIRECT)
    else:
        queued = ctx.out.text(user, text, dedupe_key=dedupe_key, purpose=Purpose.DIRECT)
    return held_note(ctx.playbook, queued.held_until, ctx.now)


@dataclass(frozen=True)
class Push:
    user: User
    card: Card
    dedupe_key: str


def approval_pushes(session: Session, playbook, settings, approval: Approval, approver: User,
                    copy_to: User | None, *, round_: int = 0, prefix: str = "") -> list[Push]:
    """The approver's card (同意 / 驳回·reason) and the copy's card, for a handler or the
    escalation rule to push. `round_` makes a re-sent card (after escalation) a new message."""
    found = approvals.facts(session, approval, playbook)
    card, copy = builders.approval_cards(
        new_card_id("appr", approval.id), new_card_id("apcc", approval.id), title=found.title,
        fields=approval_fields(found), approver=approver.name, level=found.level_label,
        copy_to=copy_to.name if copy_to else None, reject_reasons=playbook.approvals.reject_reasons,
        link=app_link(settings.crmbot_public_url, found.path), prefix=prefix)
    pushes = [Push(approver, card, f"approval:{approval.id}:{round_}:to:{approver.id}")]
    if copy is not None:
        pushes.append(Push(copy_to, copy, f"approval:{approval.id}:{round_}:copy:{copy_to.id}"))
    return pushes


def send_approval_cards(ctx: Context, approval: Approval, approver: User, copy_to: User | None) -> str:
    """Returns the approver's "held until" note, if quiet hours hold the card."""
    notes = [tell(ctx, push.user, card=push.card, subject=("approval", approval.id), dedupe_key=push.dedupe_key)
             for push in approval_pushes(ctx.session, ctx.playbook, ctx.settings, approval, approver, copy_to)]
    return f"（{notes[0]}）" if notes and notes[0] else ""


# ------------------------------------------------------------------ parsing chat arguments


def _amount(token: str) -> Decimal | None:
    match = _AMOUNT.match(token)
    if not match:
        return None
    value = Decimal(match.group(1))
    return value * 10000 if match.group(2) in ("万", "w", "W") else value


def _date(token: str) -> date | None:
    match = _DATE.match(token)
    if not match:
        return None
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        raise InvalidInput("signed_on", f"日期“{token}”不存在") from None


def _stage_by_label(ctx: Context, word: str):
    return next((s for s in ctx.playbook.stages if word in (s.label, s.key)), None)


# ------------------------------------------------------------------ commands


@router.command("推进", "推进阶段", usage="推进 <商机> [阶段]")
def advance(ctx: Context, args: str) -> None:
    parts = args.split()
    if not parts:
        ctx.say("格式：推进 商机名 [阶段]，例如：推进 华东机电年度采购 方案报价")
        return
    target = _stage_by_label(ctx, parts[-1]) if len(parts) > 1 else None
    name = " ".join(parts[:-1] if target else parts)
    opportunity = opportunities.find_opportunity(ctx.session, ctx.user, name)
    if target is None:
        target = ctx.playbook.next_stage(opportunity.stage)
        if target is None:
            ctx.say(f"“{opportunity.name}”已在最后一个阶段，成交请发：赢单 {opportunity.name}")
            return
    try:
        with ctx.session.begin_nested():
            opportunities.change_stage(ctx.session, ctx.user, opportunity.id, target.key, ctx.playbook, now=ctx.now)
    except SkipNeedsApproval as refused:
        asked = approvals.request_stage_skip(ctx.session, ctx.user, opportunity.id, target.key,
                                             ctx.playbook, now=ctx.now)
        held = send_approval_cards(ctx, asked.approval, asked.approver, None)
        ctx.say(f"{refused.message}。已提交给{asked.approver.name}审批{held}，同意后自动推进到“{target.label}”。")
        return
    ctx.say(f"已推进“{opportunity.name}”到“{target.label}”。")


@router.command("赢单", "成交", usage="赢单 <商机> [成交金额] [签约日期]")
def close_won(ctx: Context, args: str) -> None:
    parts = args.split()
    if not parts:
        ctx.say("格式：赢单 商机名 [成交金额] [签约日期]，例如：赢单 华东机电年度采购 14.8万 2026-11-28")
        return
    amount = signed = None
    while len(parts) > 1 and (_amount(parts[-1]) is not None or _DATE.match(parts[-1])):
        token = parts.pop()
        if _DATE.match(token):
            signed = _date(token)
        else:
            amount = _amount(token)
    opportunity = opportunities.find_opportunity(ctx.session, ctx.user, " ".join(parts))
    won = opportunities.close_won(ctx.session, ctx.user, opportunity.id, WonInput(amount, signed),
                                  ctx.playbook, now=ctx.now)
    ctx.say(f"🎉 恭喜赢单：{won.name}，成交金额 {formats.money(won.won_amount)}，"
            f"签约日期 {formats.when(won.signed_on, ctx.playbook.tz, ctx.now)}。"
            f"后续步骤：{'、'.join(ctx.playbook.stages[-1].steps) or '无'}")


@router.command("丢单", "输单", usage="丢单 <商机> <原因> [竞品] [备注]")
def close_lost(ctx: Context, args: str) -> None:
    reasons = ctx.playbook.lost_reasons
    parts = args.split()
    at = next((i for i, p in enumerate(parts) if p in reasons), None)
    if not parts or at is None or at == 0:
        ctx.say("格式：丢单 商机名 原因 [竞品] [备注]\n原因请选：" + "、".join(reasons))
        return
    opportunity = opportunities.find_opportunity(ctx.session, ctx.user, " ".join(parts[:at]))
    rest = parts[at + 1:]
    competitor = rest.pop(0) if rest and parts[at] == "选择了竞品" else None
    lost = opportunities.close_lost(ctx.session, ctx.user, opportunity.id,
                                    LostInput(parts[at], competitor, " ".join(rest) or None), ctx.playbook,
                                    now=ctx.now)
    ctx.say(f"已记录丢单：{lost.name}（{lost.lost_reason}" + (f"，竞品：{competitor}" if competitor else "") + "）。"
            "复盘一下原因，下一单会更好。")


@router.command("申请折扣", "折扣", usage="申请折扣 <商机> <百分比> [说明]")
def ask_discount(ctx: Context, args: str) -> None:
    parts = args.split()
    at = next((i for i, p in enumerate(parts) if _PERCENT.match(p)), None)
    if at is None or at == 0:
        ctx.say("格式：申请折扣 商机名 8% [说明]")
        return
    opportunity = opportunities.find_opportunity(ctx.session, ctx.user, " ".join(parts[:at]))
    asked = approvals.request_discount(ctx.session, ctx.user, opportunity.id, parts[at], ctx.playbook,
                                       now=ctx.now, note=" ".join(parts[at + 1:]) or None)
    what = approval_line(asked.approval, ctx.playbook)
    if asked.decided:
        ctx.say(f"{what} 在你的权限内，已生效：{opportunity.name}。")
        return
    held = send_approval_cards(ctx, asked.approval, asked.approver, asked.copy_to)
    copy = f"，抄送{asked.copy_to.name}" if asked.copy_to else ""
    ctx.say(f"已提交{what}给{approvals.LEVEL_LABELS[asked.approval.level]}{asked.approver.name}审批{copy}{held}。"
            "审批期间金额和折扣锁定。")


@router.command("重开", "重新打开", usage="重开 <商机>")
def reopen(ctx: Context, args: str) -> None:
    if not args.strip():
        ctx.say("格式：重开 商机名")
        return
    opportunity = opportunities.find_opportunity(ctx.session, ctx.user, args, open_only=False)
    opportunities.reopen(ctx.session, ctx.user, opportunity.id, ctx.playbook, now=ctx.now)
    ctx.say(f"已重新打开“{opportunity.name}”。")


# ------------------------------------------------------------------ the approver's card


def _decided(ctx: Context, approval: Approval, verdict: str) -> None:
    """Tell the requester and the person copied what was decided."""
    what = approval_line(approval, ctx.playbook)
    opportunity = ctx.session.get(Opportunity, approval.opportunity_id)
    line = f"{opportunity.name}：{what} {verdict}（{ctx.user.name}）"
    if approval.kind == "stage_skip" and approval.status == "approved":
        line += f"，已推进到“{ctx.playbook.stage(approval.to_stage).label}”"
    if approval.status == "approved" and approval.kind == "discount":
        line += "，金额和折扣已解锁"
    requester = ctx.session.get(User, approval.requested_by_id)
    tell(ctx, requester, text=line, dedupe_key=f"approval:{approval.id}:decided:{requester.id}")
    if approval.copy_to_id and approval.copy_to_id != requester.id:
        tell(ctx, ctx.session.get(User, approval.copy_to_id), text=f"抄送｜{line}",
             dedupe_key=f"approval:{approval.id}:decided:{approval.copy_to_id}")


@router.action("approval:approve")
def approve(ctx: Context, _arg: str) -> None:
    approval = approvals.decide(ctx.session, ctx.user, ctx.card_record.subject_id, True, ctx.playbook,
                                now=ctx.now)
    _decided(ctx, approval, "已同意")
    ctx.finish_card("已同意")


@router.action("approval:reject")
def reject(ctx: Context, arg: str) -> None:
    reasons = ctx.playbook.approvals.reject_reasons
    if not arg.isdigit() or int(arg) >= len(reasons):
        raise InvalidInput("reason", "这个驳回原因已从剧本中移除，请在小程序里处理")
    approval = approvals.decide(ctx.session, ctx.user, ctx.card_record.subject_id, False, ctx.playbook,
                                now=ctx.now, reason=reasons[int(arg)])
    _decided(ctx, approval, f"被驳回：{approval.reason}")
    ctx.finish_card(f"已驳回：{approval.reason}")
