"""Domain rows → neutral cards: one builder per kind of row (task, customer, draft), used by the
handlers, the capture jobs and the rule scans alike, so a task's card and its links are the same
whoever sends it. Reads rows; never writes the store."""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from config.playbook import Playbook
from storage.approvals import Facts, skipped_stages
from storage.models import Approval, CaptureDraft, Customer, Opportunity, Task

from . import builders, formats
from .links import customer_link, draft_link, home_link
from .model import Card, new_card_id

CUSTOMER_STATUS_LABELS = {"active": "正常", "incomplete": "待补全", "lost": "已流失"}

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
ESCALATION_LABELS = {1: "已升级给经理", 2: "已升级给总监"}


def task_actions(kind: str, playbook: Playbook) -> list[tuple[str, str]]:
    """The buttons of a task's card, with the playbook's numbers and reasons filled in."""
    actions = [(key, label.format(snooze_days=playbook.rules.silent_customer.snooze_days))
               for key, label in TASK_ACTIONS.get(kind, TASK_ACTIONS["default"])]
    if kind == "stage_stuck":
        actions += [(f"stuck:{i}", reason) for i, reason in enumerate(playbook.stuck_reasons)]
    return actions


def task_link(public_url: str, task: Task) -> str:
    """Where 打开 goes: the customer the task is about, else the rep's work list."""
    return customer_link(public_url, task.customer_id) if task.customer_id else home_link(public_url)


def task_card(task: Task, playbook: Playbook, public_url: str, *,
              fields: Sequence[tuple[str, str]] = (), actions: Sequence[tuple[str, str]] | None = None,
              source: str = "待办", with_due: bool = False, now: datetime | None = None) -> Card:
    """The card for a task, built from the task row so it can be sent again (催办, 转交, 待办).
    `now` (the caller's clock) decides whether dates show their year."""
    shown = list(fields)
    if with_due:
        shown.append(("截止", builders.when(task.due_at, playbook.tz, now)))
    if task.escalation_level:
        shown.append(("状态", ESCALATION_LABELS.get(task.escalation_level, "已升级")))
    return builders.task_card(new_card_id("task", task.id), title=task.title, detail=task.detail,
                              fields=shown, link=task_link(public_url, task), source=source,
                              hint=builders.task_hint(task.kind, playbook),
                              actions=task_actions(task.kind, playbook) if actions is None else actions)


def customer_card(customer: Customer, opportunity: Opportunity | None, playbook: Playbook,
                  public_url: str, now: datetime) -> Card:
    """`查` answer: who owns it, when we last talked, where the deal is, and one-tap tags."""
    stage = playbook.stage(opportunity.stage).label if opportunity and playbook.stage(opportunity.stage) else None
    quick = [(t.key, t.label) for t in playbook.tags if not t.reasons][:3]
    return builders.customer_summary(
        new_card_id("cust", customer.id), name=customer.name, owner=customer.owner.name,
        status_label=CUSTOMER_STATUS_LABELS.get(customer.status, customer.status),
        last_contact=builders.days_ago(customer.last_interaction_at, now),
        last_summary=customer.last_interaction_summary, stage=stage,
        next_followup=builders.when(customer.next_followup_at, playbook.tz, now),
        quick_tags=quick, link=customer_link(public_url, customer.id))


def customer_draft_fields(fields: dict) -> list[tuple[str, str]]:
    """What a customer draft shows, from a card photo or a voice note alike. The first six are what a
    rep checks (WeCom shows six fields; the rest go under the title): both mobiles share one row
    ("13912345678 / 13812345678"), the English name and title and the fax follow, apart from the
    phone, which a fax never is."""
    def value(key: str) -> str:
        return str(fields.get(key) or "")
    mobiles = " / ".join(m for m in (value("mobile"), value("mobile2")) if m)
    return [("姓名", value("name")), ("公司", value("company")), ("职务", value("title")), ("手机", mobiles),
            ("电话", value("phone")), ("邮箱", value("email")), ("英文名", value("english_name")),
            ("英文职务", value("english_title")), ("传真", value("fax")), ("地址", value("address")),
            ("网址", value("website"))]


def draft_card(draft: CaptureDraft, public_url: str, *, title: str, fields: Sequence[tuple[str, str]],
               note: str, actions: Sequence[tuple[str, str]], edit_text: str = "编辑",
               hint: str = "", subject: str = "") -> Card:
    """A capture draft (card photo, voice note) waiting for the rep's one tap; `hint` says what to
    do and goes once the draft is acted upon. `subject` (default: the name or company read) tells
    two drafts in one chat apart."""
    subject = subject or draft.fields.get("name") or draft.fields.get("company") or ""
    return builders.capture_draft_card(new_card_id("draft", draft.id), title=title, fields=fields,
                                       note=note, actions=actions, hint=hint, subject=subject,
                                       edit_link=draft_link(public_url, draft.id), edit_text=edit_text)


def approval_line(approval: Approval, playbook: Playbook) -> str:
    """One line a person reads about an approval: 折扣 12%（150,000元） or 跳过阶段 需求确认 → 商务谈判."""
    if approval.kind == "discount":
        amount = f"（{formats.money(approval.amount)}）" if approval.amount is not None else ""
        return f"折扣 {approval.discount_percent.normalize():f}%{amount}"
    return f"跳过阶段 {skipped_stages(approval, playbook)}"


def approval_fields(found: Facts) -> list[tuple[str, str]]:
    """The fields of an approval's cards, money written the one way (金额, 折后 after 申请人)."""
    money = [("金额", formats.money(found.amount)), ("折后", formats.money(found.amount_after))] \
        if found.amount is not None else []
    return found.fields[:3] + money + found.fields[3:]
