"""撞单 / duplicate reviews opened outside a chat handler (the mini-app, the lead webhook) reach the
manager here: the same card the handlers send (bot.handlers.duplicates.review_card), through the
one way out, sent on purpose (never capped; quiet hours may hold it). One card per review."""
from __future__ import annotations

from bot.handlers.duplicates import review_card
from bot.outbound import Outbound, Purpose
from storage import duplicate_reviews
from storage.models import Task

from .runtime import current_runtime

NOTIFY_JOB = "jobs.duplicates.notify_review"


def notify_review(task_id: int) -> str:
    rt = current_runtime()
    with rt.db.transaction() as session:
        task = session.get(Task, task_id)
        if task is None or task.kind != duplicate_reviews.KIND or task.status != "open":
            return "skipped"
        out = Outbound(session, rt.playbook, rt.settings, rt.clock.now())
        out.card(task.assignee, review_card(session, task, rt.settings.crmbot_public_url),
                 subject_type="dup_review", subject_id=task.id, dedupe_key=f"dup_review:{task.id}",
                 purpose=Purpose.DIRECT)
    out.deliver_after_commit(rt.queue)
    return "sent"
