"""Data tasks raised outside a handler or a scan (the ERP guard's mismatch, miniapp/integration.py):
the one place that tells their assignee, with the task card the rules use. Like
bot.task_cards.open_task, the task's hours count from when its card can be seen: a card held for
quiet hours moves the due time to that much working time after it is released."""
from __future__ import annotations

from datetime import timedelta

from bot.outbound import Outbound
from cards import rows
from config.worktime import WorkCalendar
from storage.models import Task

from .runtime import current_runtime


def notify_task(task_id: int) -> str:
    rt = current_runtime()
    with rt.db.transaction() as session:
        task = session.get(Task, task_id)
        if task is None or task.status != "open":
            return "skipped"
        out = Outbound(session, rt.playbook, rt.settings, rt.clock.now())
        queued = out.card(task.assignee, rows.task_card(task, rt.playbook, rt.settings.crmbot_public_url,
                                                        with_due=True),
                          subject_type="task", subject_id=task.id, dedupe_key=f"{task.dedupe_key}:card")
        if queued.held_until is not None and task.due_at is not None:
            window = timedelta(hours=rt.playbook.integration.mismatch_due_hours)
            task.due_at = WorkCalendar.from_playbook(rt.playbook).add_working(queued.held_until, window)
    out.deliver_after_commit(rt.queue)
    return "sent"
