"""Data tasks raised outside a handler or a scan (the ERP guard's mismatch): the one place that
tells their assignee, with the task card the rules use."""
from __future__ import annotations

from storage.models import Task

from .outbound import enqueue_delivery, push_card
from .rules.scanning import task_card
from .runtime import current_runtime


def notify_task(task_id: int) -> str:
    rt = current_runtime()
    with rt.db.transaction() as session:
        task = session.get(Task, task_id)
        if task is None or task.status != "open":
            return "skipped"
        card = task_card(rt.settings, rt.playbook, task, fields=[("截止", task.due_at.astimezone(
            rt.playbook.tz).strftime("%m-%d %H:%M") if task.due_at else "")])
        outbox_id = push_card(session, task.assignee, card, subject_type="task", subject_id=task.id,
                              dedupe_key=f"task:{task.id}:card")
    if outbox_id:
        enqueue_delivery(rt, [outbox_id])
    return "sent"
