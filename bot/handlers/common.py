"""Turning store rows into the cards handlers send (the builders never read the store)."""
from __future__ import annotations

from sqlalchemy import select

from cards import builders
from cards.model import Card
from storage.models import Customer, Opportunity, Task

from ..context import Context, new_card_id

STATUS_LABELS = {"active": "正常", "incomplete": "待补全", "lost": "已流失"}

# One-tap actions per task kind; the default fits any task. Keys come back as "task:<key>".
TASK_ACTIONS: dict[str, list[tuple[str, str]]] = {
    "default": [("done", "已处理"), ("later:1", "明天提醒")],
    "data_completion": [("later:1", "明天提醒")],
    # reminder rules (jobs/rules); handlers in bot/handlers/reminders.py
    "lead_assignment": [("claim", "认领"), ("pass", "转交")],
    "first_contact": [("contacted", "已联系"), ("later:1", "明天提醒")],
    "followup_due": [("contacted", "已跟进"), ("later:1", "明天提醒")],
    "silent_customer": [("contacted", "已联系"), ("later", "{snooze_days}天后提醒"),
                        ("handover", "转交同事"), ("lost", "标记流失")],
    "stage_stuck": [("advance", "推进阶段")],   # + one button per playbook stuck reason
    "onboarding": [("done", "知道了")],
    "daily_report": [],
    "weekly_brief": [],
}
# What a manager or director can do on an escalated task.
ESCALATION_ACTIONS: list[tuple[str, str]] = [("nudge", "催办"), ("reassign", "转交"), ("close", "关闭")]


def task_actions(kind: str, playbook) -> list[tuple[str, str]]:
    """The buttons of a task's card, with the playbook's numbers and reasons filled in."""
    actions = [(key, label.format(snooze_days=playbook.rules.silent_customer.snooze_days))
               for key, label in TASK_ACTIONS.get(kind, TASK_ACTIONS["default"])]
    if kind == "stage_stuck":
        actions += [(f"stuck:{i}", reason) for i, reason in enumerate(playbook.stuck_reasons)]
    return actions


def app_link(settings, path: str) -> str:
    return f"{settings.crmbot_public_url}/app/{path.lstrip('/')}"


def customer_card(ctx: Context, customer: Customer) -> Card:
    opportunity = ctx.session.scalars(select(Opportunity).where(
        Opportunity.customer_id == customer.id, Opportunity.status == "open")
        .order_by(Opportunity.id.desc())).first()
    stage = ctx.playbook.stage(opportunity.stage).label if opportunity else None
    quick = [(t.key, t.label) for t in ctx.playbook.tags if not t.reasons][:3]
    return builders.customer_summary(
        new_card_id("cust", customer.id), name=customer.name, owner=customer.owner.name,
        status_label=STATUS_LABELS.get(customer.status, customer.status),
        last_contact=builders.days_ago(customer.last_interaction_at, ctx.now),
        last_summary=customer.last_interaction_summary, stage=stage,
        next_followup=builders.when(customer.next_followup_at, ctx.playbook.tz, ctx.now),
        quick_tags=quick, link=app_link(ctx.settings, f"customers/{customer.id}"))


def task_to_card(ctx: Context, task: Task) -> Card:
    actions = task_actions(task.kind, ctx.playbook)
    fields = [("截止", builders.when(task.due_at, ctx.playbook.tz, ctx.now))]
    if task.escalation_level:
        fields.append(("状态", "已升级给经理" if task.escalation_level == 1 else "已升级给总监"))
    link = app_link(ctx.settings, f"customers/{task.customer_id}") if task.customer_id else app_link(ctx.settings, "")
    return builders.task_card(new_card_id("task", task.id), title=task.title, detail=task.detail,
                              fields=fields, actions=actions, link=link)
