"""撞单 / duplicate reviews reach the manager: the one place that tells a person about them.

Handlers and the mini-app open the review (storage/duplicate_reviews.py) in their transaction and
enqueue `notify_review(task_id)`; this job builds the manager's card from both records and
queues it through the outbox. Idempotent: one card per review (dedupe key).
"""
from __future__ import annotations

from bot.context import new_card_id
from bot.handlers.common import STATUS_LABELS, app_link
from cards import builders
from storage import duplicate_reviews
from storage.models import Customer, Task, User

from .outbound import enqueue_delivery, push_card
from .runtime import current_runtime

NOTIFY_JOB = "jobs.duplicates.notify_review"


def _record(customer: Customer) -> list[tuple[str, str]]:
    contact = customer.contacts[0] if customer.contacts else None
    return [("名称", customer.name), ("负责人", customer.owner.name),
            ("信用代码", customer.credit_code or "待补全" if customer.kind == "company" else customer.mobile or ""),
            ("联系人", f"{contact.name} {contact.mobile or ''}".strip() if contact else ""),
            ("状态", STATUS_LABELS.get(customer.status, customer.status))]


def notify_review(task_id: int) -> str:
    rt = current_runtime()
    with rt.db.transaction() as session:
        task = session.get(Task, task_id)
        if task is None or task.kind != duplicate_reviews.KIND or task.status != "open":
            return "skipped"
        parties = duplicate_reviews.parties(task)
        existing = session.get(Customer, parties.existing_id)
        newer = session.get(Customer, parties.newer_id) if parties.newer_id else None
        requester = session.get(User, parties.requester_id)
        records = [("已有", _record(existing))]
        links = [app_link(rt.settings, f"customers/{existing.id}")]
        if newer is not None:
            records.append(("新录入", _record(newer)))
            links.append(app_link(rt.settings, f"customers/{newer.id}"))
        transfer_to = requester.name if requester.id != existing.owner_id else None
        card = builders.duplicate_review_card(
            new_card_id("dup", task.id), title=task.title, reason=task.detail or "",
            records=records, can_merge=newer is not None, transfer_to=transfer_to, links=links)
        outbox_id = push_card(session, task.assignee, card, subject_type="dup_review", subject_id=task.id,
                              dedupe_key=f"dup_review:{task.id}")
    if outbox_id:
        enqueue_delivery(rt, [outbox_id])
    return "sent"
