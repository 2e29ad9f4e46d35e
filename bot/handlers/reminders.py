"""Card actions on the reminder rules' tasks (jobs/rules): each tap changes the task (and what it
is about: the lead, the customer, the opportunity) and updates the same card in place."""
from __future__ import annotations

from datetime import datetime, timedelta

from cards import builders, links, rows
from storage import customers, followups, leads, opportunities, tasks
from storage.errors import Conflict, InvalidInput
from storage.followups import FollowUpInput
from storage.models import Task, User

from ..context import Context
from ..outbound import held_note
from ..router import router


def _open_task(ctx: Context) -> Task:
    task = tasks.get_task(ctx.session, ctx.user, ctx.card_record.subject_id)
    if task.status != "open":
        raise Conflict(f"该任务已处理（{task.result or task.status}）")
    return task


def _with(done: str, note: str) -> str:
    return f"{done}（{note}）" if note else done


def _close(ctx: Context, task: Task, result: str, status: str = "done") -> None:
    tasks.close_task(ctx.session, ctx.user, task.id, result, status=status, now=ctx.now)


# ------------------------------------------------------------------ leads


@router.action("task:claim")
def claim_lead(ctx: Context, _arg: str) -> None:
    task = _open_task(ctx)
    lead = leads.claim(ctx.session, ctx.user, task.subject_id, ctx.playbook, now=ctx.now)  # closes the task
    ctx.finish_card("已认领", link=links.customer_link(ctx.public_url, lead.customer_id) if lead.customer_id else None)


# ------------------------------------------------------------------ customers


@router.action("task:contacted")
def contacted(ctx: Context, _arg: str) -> None:
    """已联系 / 已跟进: one follow-up on the customer, which closes the reminders it answers."""
    task = _open_task(ctx)
    if task.customer_id is not None:
        followups.log_followup(ctx.session, ctx.user, FollowUpInput(
            customer_id=task.customer_id, note="已联系", channel="card",
            source_event_id=f"{ctx.event.platform}:{ctx.event.event_id}"), ctx.playbook, now=ctx.now)
        ctx.session.refresh(task)
    if task.status == "open":
        _close(ctx, task, "已联系")
    ctx.finish_card("已联系")


@router.action("task:later")
def remind_later(ctx: Context, arg: str) -> None:
    """N天后提醒: the task waits until that day at the playbook's follow-up time, then its card
    comes back (held in the outbox until then; the escalation clock restarts from that time)."""
    task = _open_task(ctx)
    days = int(arg) if arg.isdigit() else ctx.playbook.rules.silent_customer.snooze_days
    day = ctx.now.astimezone(ctx.playbook.tz).date() + timedelta(days=days)
    due = datetime.combine(day, ctx.playbook.followup.default_time, tzinfo=ctx.playbook.tz)
    tasks.reschedule(ctx.session, ctx.user, task.id, due)
    ctx.out.card(ctx.user, rows.task_card(task, ctx.playbook, ctx.public_url), subject_type="task",
                 subject_id=task.id, dedupe_key=f"{task.dedupe_key}:later:{day.isoformat()}", not_before=due)
    ctx.finish_card(f"{builders.when(due, ctx.playbook.tz, ctx.now)} 再提醒")


@router.action("task:lost")
def mark_lost(ctx: Context, _arg: str) -> None:
    task = _open_task(ctx)
    if task.customer_id is None:
        raise InvalidInput("customer", "这个待办没有关联客户")
    customers.mark_lost(ctx.session, ctx.user, task.customer_id, "沉默客户卡片标记")
    _close(ctx, task, "已标记流失")
    ctx.finish_card("已标记流失")


# ------------------------------------------------------------------ opportunities


@router.action("task:advance")
def advance_stage(ctx: Context, _arg: str) -> None:
    task = _open_task(ctx)
    opportunity = opportunities.get_opportunity(ctx.session, ctx.user, task.subject_id)
    upcoming = ctx.playbook.next_stage(opportunity.stage)
    if upcoming is None:
        raise Conflict("已经是最后一个阶段，请选择停滞原因")
    opportunities.change_stage(ctx.session, ctx.user, opportunity.id, upcoming.key, ctx.playbook, now=ctx.now)
    _close(ctx, task, f"已推进到{upcoming.label}")
    ctx.finish_card(f"已推进到「{upcoming.label}」")


@router.action("task:stuck")
def stuck_reason(ctx: Context, arg: str) -> None:
    reasons = ctx.playbook.stuck_reasons
    if not arg.isdigit() or int(arg) >= len(reasons):
        raise InvalidInput("reason", "这个原因已从剧本中移除，请在小程序里填写")
    task = _open_task(ctx)
    _close(ctx, task, f"停滞原因：{reasons[int(arg)]}")
    ctx.finish_card(f"停滞原因：{reasons[int(arg)]}")


# ------------------------------------------------------------------ escalations (manager, director)


@router.action("task:nudge")
def nudge(ctx: Context, _arg: str) -> None:
    """催办: the rep gets the task's card again, saying who is asking."""
    task = _open_task(ctx)
    rep = ctx.session.get(User, task.assignee_id)
    card = rows.task_card(task, ctx.playbook, ctx.public_url, fields=[("催办人", ctx.user.name)], source="催办")
    queued = ctx.tell(rep, card, subject_type="task", subject_id=task.id, key="nudge")
    ctx.finish_card(_with(f"已催办{rep.name}", held_note(ctx.playbook, queued.held_until, ctx.now)))


@router.action("task:close")
def close(ctx: Context, _arg: str) -> None:
    task = _open_task(ctx)
    _close(ctx, task, f"{ctx.user.name}关闭", status="closed")
    ctx.finish_card("已关闭")
