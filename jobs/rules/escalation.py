"""Rule 7 — escalation: a rep's task still open manager_after_hours after it was due → a card to
the rep's manager with the reason and 催办 / 转交 / 关闭; director_after_hours → the director.
The rep is told that it was escalated. The level is a compare-and-set on the task, so a task is
escalated once per level however many scans run."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.outbound import Outbound
from cards import builders, rows
from cards.rows import ESCALATION_ACTIONS
from config.worktime import WorkCalendar
from storage import audit
from storage.models import Task, User
from storage.users import director_of, manager_of

from .scanning import Scan, scan_range

NAME = "escalation"
# Tasks a rep owes a customer; reports and onboarding steps are never escalated.
ESCALATING_KINDS = ("first_contact", "followup_due", "silent_customer", "stage_stuck", "data_completion",
                    "lead_assignment")
LEVEL_NAMES = {1: "经理", 2: "总监"}


def scan(s: Scan) -> int:
    rule = s.playbook.rules.escalation
    calendar = WorkCalendar.from_playbook(s.playbook)  # "24 h" is 24 h of the team's working time
    created = 0
    # level 1 first, so a task found very late reaches the director in the same scan
    for level, hours in ((1, rule.manager_after_hours), (2, rule.director_after_hours)):
        # ix_task_status_level_due (status, escalation_level, due_at) range
        query = select(Task).where(Task.status == "open", Task.escalation_level == level - 1,
                                   Task.kind.in_(ESCALATING_KINDS))
        created += scan_range(s, f"{NAME}:level={level}", query, Task.due_at, Task.id,
                              calendar.add_working(s.now, -timedelta(hours=hours)),
                              lambda session, out, task, level=level, hours=hours: int(escalate(
                                  s, session, out, task, level, reason=f"超过{hours}个工作小时未处理")))
    return created


def escalate(s, session: Session, out: Outbound, task: Task, level: int, reason: str) -> bool:
    """Raise `task` to `level` (1 manager, 2 director) and tell both sides. False when it is
    already at that level or higher (another scan did it)."""
    changed = session.execute(
        update(Task).where(Task.id == task.id, Task.status == "open", Task.escalation_level < level)
        .values(escalation_level=level, escalated_at=s.now).execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        return False
    session.refresh(task)
    audit.record(session, None, "task.escalate", task, {"escalation_level": level - 1})
    rep = session.get(User, task.assignee_id)
    boss = (manager_of(session, rep) if level == 1 else None) or director_of(session, rep)
    if boss is None:
        return True
    card = rows.task_card(task, s.playbook, s.settings.crmbot_public_url, fields=[
        ("负责人", rep.name), ("原因", reason), ("截止", builders.when(task.due_at, s.playbook.tz, s.now))],
        actions=ESCALATION_ACTIONS, source=f"升级给{LEVEL_NAMES[level]}")
    out.card(boss, card, subject_type="task", subject_id=task.id,
               dedupe_key=f"{task.dedupe_key}:escalate:{level}", work_notice=True)
    out.text(rep, f"你的待办「{task.title}」{reason}，已升级给{LEVEL_NAMES[level]}{boss.name}。",
               dedupe_key=f"{task.dedupe_key}:escalated:{level}")
    return True
