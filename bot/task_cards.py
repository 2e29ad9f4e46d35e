"""A new task and the card that announces it, once per dedupe key — the one place rule scans and
handlers create tasks a person must see. A task's timer (its due time) starts when its card can
be seen: a card held for quiet hours or until the team's next working morning does not let the
timer run while nobody can see it."""
from __future__ import annotations

from datetime import datetime, timedelta

from cards import formats, rows
from config.playbook import Playbook
from config.worktime import WorkCalendar
from storage import tasks
from storage.models import Lead, Task, User
from storage.tasks import TaskSpec

from .outbound import Outbound, Purpose, hold_for_quiet_hours

LEAD_OFFER = "lead_assignment"


def open_task(out: Outbound, spec: TaskSpec, assignee: User, *, fields: list[tuple[str, str]] | None = None,
              working_due_in: timedelta | None = None, not_before: datetime | None = None,
              purpose: Purpose = Purpose.REMINDER) -> tuple[Task, bool]:
    """ensure_task + the assignee's card. `working_due_in`: the task is due that much working time
    after its card can be seen (overrides spec.due_at)."""
    task, created = tasks.ensure_task(out.session, spec, now=out.now)
    if not created:
        return task, False
    card = rows.task_card(task, out.playbook, out.settings.crmbot_public_url, fields=fields or [])
    queued = out.card(assignee, card, subject_type="task", subject_id=task.id,
                      dedupe_key=f"{spec.dedupe_key}:card", purpose=purpose, not_before=not_before)
    if working_due_in is not None:
        seen_at = queued.held_until or out.now
        task.due_at = WorkCalendar.from_playbook(out.playbook).add_working(seen_at, working_due_in)
    return task, True


# ------------------------------------------------------------------ leads


def suggested_opener(lead: Lead, rep: User) -> str:
    company = f"{lead.company}的" if lead.company else ""
    return (f"{company}{lead.name}您好，我是{rep.name}，看到您通过{lead.source}留下了联系方式，"
            f"想了解一下您的需求，方便时我给您打个电话详细聊聊？")


def lead_lines(lead: Lead) -> list[tuple[str, str]]:
    fields = [("联系人", lead.name), ("来源", lead.source)]
    if lead.company:
        fields.append(("公司", lead.company))
    if lead.mobile:
        fields.append(("手机", lead.mobile))
    if lead.industry:
        fields.append(("行业", lead.industry))
    if lead.budget:
        fields.append(("预算", formats.money(lead.budget)))
    return fields


def offer_lead(out: Outbound, lead: Lead, rep: User, *, purpose: Purpose = Purpose.REMINDER) -> bool:
    """The rep's 新线索 task for this assignment (one per assignment: the count is in the dedupe key).
    Outside working time the offer waits for the team's next working moment, and the claim timer
    counts working minutes from when the card can be seen."""
    playbook: Playbook = out.playbook
    minutes = playbook.rules.claim_timeout.minutes
    # "请在10分钟内认领…" is the card's hint (cards.builders.TASK_HINTS): it goes once the lead is claimed.
    detail = f"建议开场白：{suggested_opener(lead, rep)}"
    if lead.note:
        detail = f"留言：{lead.note}\n{detail}"
    calendar = WorkCalendar.from_playbook(playbook)
    # at night, on a weekend or a holiday the offer waits for the next working morning; within a
    # working day (a lunch break, after 18:00 before quiet hours) it goes now and its timer waits
    off_day = not calendar.is_working_day(out.now.astimezone(playbook.tz).date())
    held = off_day or hold_for_quiet_hours(playbook, out.now) is not None
    starts = calendar.next_working_moment(out.now)
    spec = TaskSpec(org_id=lead.org_id, kind=LEAD_OFFER, subject_type="lead", subject_id=lead.id,
                    assignee_id=rep.id, title=f"新线索：{lead.company or lead.name}", detail=detail,
                    due_at=starts + timedelta(minutes=minutes),
                    dedupe_key=f"{LEAD_OFFER}:lead:{lead.id}:{lead.assignment_count}")
    _task, created = open_task(out, spec, rep, fields=lead_lines(lead), purpose=purpose,
                               working_due_in=timedelta(minutes=minutes),
                               not_before=starts if held and starts > out.now else None)
    return created
