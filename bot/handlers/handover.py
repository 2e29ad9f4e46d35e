"""转交 that asks to whom, and can be taken back.

A tap on 转交 / 转交同事 (a new lead, a silent customer, an escalation) does not hand anything over:
the same card shows the colleagues it may go to (the rep's team under the actor's permissions) and
取消. Tapping a name is the confirmation; the card then says what was done, and keeps one button,
撤销, for the playbook's `handover.undo_minutes`. Undo hands it back only while the colleague has not
acted on it yet (the lead still unclaimed with them, the task still open with them)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from cards import builders, rows
from cards.model import Button, ButtonStyle, Card
from storage import customers, leads, tasks
from storage.errors import Conflict
from storage.models import Task, Team, User

from ..context import Context
from ..outbound import Purpose, held_note
from ..router import router
from ..task_cards import offer_lead

MAX_CHOICES = 5  # buttons a WeCom card shows well beside 取消


def _open_task(ctx: Context) -> Task:
    task = tasks.get_task(ctx.session, ctx.user, ctx.card_record.subject_id)
    if task.status != "open":
        raise Conflict(f"该任务已处理（{task.result or task.status}）")
    return task


def colleagues(session: Session, of: User) -> list[User]:
    """Who a task of `of` may go to: active reps of `of`'s team (its subtree), not `of`."""
    team = session.get(Team, of.team_id) if of.team_id else None
    found = [r for r in leads.team_reps(session, team) if r.id != of.id] if team else []
    if not found:
        raise Conflict("团队里暂时没有可以转交的同事")
    return found[:MAX_CHOICES]


def _picker(ctx: Context, verb: str, choices: list[User]) -> None:
    """The clicked card, its buttons replaced by one per colleague and 取消."""
    card = Card.from_dict(ctx.card_record.card)
    before = [b.__dict__ | {"style": str(b.style)} for b in card.buttons]
    buttons = tuple(Button(text=f"转给{u.name}", key=f"{verb}:{u.id}", style=ButtonStyle.PRIMARY if i == 0
                           else ButtonStyle.DEFAULT) for i, u in enumerate(choices))
    buttons += (Button(text="取消", key="unpick"),)
    ctx.update_card(replace(card, buttons=buttons, text=_without_prompt(card.text) + "\n转交给谁？",
                            extra={**card.extra, "before_pick": before}))


def _without_prompt(text: str) -> str:
    return text.removesuffix("\n转交给谁？")


def _chosen(ctx: Context, arg: str, choices: list[User]) -> User | None:
    if not arg:
        return None
    chosen = next((u for u in choices if str(u.id) == arg), None)
    if chosen is None:
        raise Conflict("这位同事现在不能接收转交，请重新选择")
    return chosen


def _finish_with_undo(ctx: Context, what: str, undo: dict) -> None:
    """Done, with 撤销 for a few minutes (the router lets `undo` through on a done card)."""
    card = Card.from_dict(ctx.card_record.card)
    card = replace(card, text=_without_prompt(card.text), extra={k: v for k, v in card.extra.items()
                                                                 if k != "before_pick"} | {"undo": undo})
    stamp = f"{what} · {ctx.user.name} {builders.when(ctx.now, ctx.playbook.tz)}"
    done = builders.done(card, stamp)
    minutes = ctx.playbook.handover.undo_minutes
    ctx.update_card(replace(done, buttons=done.buttons + (Button(text=f"撤销（{minutes}分钟内）", key="undo"),)))


@router.action("task:unpick")
def unpick(ctx: Context, _arg: str) -> None:
    card = Card.from_dict(ctx.card_record.card)
    before = card.extra.get("before_pick") or []
    buttons = tuple(Button(text=b["text"], key=b.get("key"), url=b.get("url"), style=ButtonStyle(b.get("style", "default")))
                    for b in before)
    ctx.update_card(replace(card, buttons=buttons, text=_without_prompt(card.text),
                            extra={k: v for k, v in card.extra.items() if k != "before_pick"}))


# ------------------------------------------------------------------ a new lead


@router.action("task:pass")
def pass_lead(ctx: Context, arg: str) -> None:
    """转交 on a new lead → pick a colleague → the lead is offered to them (their own claim timer)."""
    task = _open_task(ctx)
    lead = leads.get_lead(ctx.session, ctx.user, task.subject_id)
    if lead.status != "assigned" or lead.assignee_id != ctx.user.id:
        raise Conflict("该线索已不在你名下或已被认领")
    choices = colleagues(ctx.session, ctx.user)
    rep = _chosen(ctx, arg, choices)
    if rep is None:
        return _picker(ctx, "pass", choices)
    tasks.close_task(ctx.session, ctx.user, task.id, f"已转交给{rep.name}", now=ctx.now)
    leads.transfer(ctx.session, ctx.user, lead.id, rep, now=ctx.now)
    offer_lead(ctx.out, lead, rep, purpose=Purpose.DIRECT)
    _finish_with_undo(ctx, f"已转交给{rep.name}", {"kind": "lead", "lead_id": lead.id, "task_id": task.id,
                                                   "to": rep.id, "count": lead.assignment_count,
                                                   "at": ctx.now.isoformat()})


# ------------------------------------------------------------------ a customer's task


def _move(ctx: Context, task: Task, to: User) -> str:
    """Hand the task, and the customer it is about, to `to`, who gets the card; returns what the
    sender is told about when it arrives."""
    if task.customer_id is not None:
        customer = customers.get_customer(ctx.session, ctx.user, task.customer_id)
        if customer.owner_id == task.assignee_id:
            customers.transfer_customer(ctx.session, ctx.user, customer.id, to)
    tasks.reassign(ctx.session, ctx.user, task.id, to)
    card = rows.task_card(task, ctx.playbook, ctx.public_url, fields=[("转交人", ctx.user.name)], source="同事转交")
    queued = ctx.tell(to, card, subject_type="task", subject_id=task.id, key=f"to:{to.id}")
    return held_note(ctx.playbook, queued.held_until, ctx.now)


def _hand_task(ctx: Context, verb: str, arg: str) -> None:
    task = _open_task(ctx)
    owner = ctx.session.get(User, task.assignee_id)
    choices = colleagues(ctx.session, owner)
    rep = _chosen(ctx, arg, choices)
    if rep is None:
        return _picker(ctx, verb, choices)
    customer_owner = None
    if task.customer_id is not None:
        customer_owner = customers.get_customer(ctx.session, ctx.user, task.customer_id).owner_id
    note = _move(ctx, task, rep)
    what = f"已转交给{rep.name}" + (f"（{note}）" if note else "")
    _finish_with_undo(ctx, what, {"kind": "task", "task_id": task.id, "from": owner.id, "to": rep.id,
                                  "customer_owner": customer_owner, "at": ctx.now.isoformat()})


@router.action("task:handover")
def hand_over(ctx: Context, arg: str) -> None:
    """转交同事 on a silent customer's card (the rep hands their own customer over)."""
    _hand_task(ctx, "handover", arg)


@router.action("task:reassign")
def reassign(ctx: Context, arg: str) -> None:
    """转交 on an escalation: a manager hands the rep's task (and its customer) to a colleague."""
    _hand_task(ctx, "reassign", arg)


# ------------------------------------------------------------------ undo


@router.action("task:undo", when_done=True)
def undo(ctx: Context, _arg: str) -> None:
    undo = Card.from_dict(ctx.card_record.card).extra.get("undo")
    if not undo:
        raise Conflict("这张卡片没有可撤销的操作")
    if ctx.now - datetime.fromisoformat(undo["at"]) > timedelta(minutes=ctx.playbook.handover.undo_minutes):
        raise Conflict(f"已超过{ctx.playbook.handover.undo_minutes}分钟，不能撤销了，请直接联系同事")
    (_undo_lead if undo["kind"] == "lead" else _undo_task)(ctx, undo)
    card = Card.from_dict(ctx.card_record.card)
    ctx.update_card(replace(card, buttons=tuple(b for b in card.buttons if b.key != "undo"),
                            done_note=f"已撤销转交 · {ctx.user.name} {builders.when(ctx.now, ctx.playbook.tz)}",
                            extra={k: v for k, v in card.extra.items() if k != "undo"}))


def _undo_lead(ctx: Context, undo: dict) -> None:
    lead = leads.take_back(ctx.session, ctx.user, undo["lead_id"], handed_to=undo["to"], count=undo["count"],
                           now=ctx.now)
    tasks.close_subject_tasks(ctx.session, ctx.user, "lead", lead.id, "lead_assignment", "已撤销转交", ctx.now)
    offer_lead(ctx.out, lead, ctx.user, purpose=Purpose.REPLY)


def _undo_task(ctx: Context, undo: dict) -> None:
    task = tasks.take_back(ctx.session, ctx.user, undo["task_id"], handed_to=undo["to"],
                           back_to=ctx.session.get(User, undo["from"]))
    if task.customer_id is not None and undo.get("customer_owner") is not None:
        customers.take_back(ctx.session, ctx.user, task.customer_id, handed_to=undo["to"],
                            back_to=ctx.session.get(User, undo["customer_owner"]))
