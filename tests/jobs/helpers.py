"""Helpers for the rule tests: the org's clock, running the scans, reading tasks and the outbox."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from config.worktime import WorkCalendar
from jobs.pacing import release_held
from jobs.rules import run_all
from storage.models import OutboxMessage, Task


class RecordingQueue:
    """Records jobs instead of running them: the tests read the outbox rows."""

    def __init__(self):
        self.jobs: list[tuple[str, tuple]] = []

    def enqueue(self, path, *args, **kwargs) -> None:
        self.jobs.append((path, args))


def local(playbook, text: str) -> datetime:
    """'2026-03-04 10:30' in the org's time zone."""
    return datetime.fromisoformat(text).replace(tzinfo=playbook.tz)


def after_working(playbook, start: datetime, **delta) -> datetime:
    """`start` plus that much of the team's working time (timers count only working time)."""
    return WorkCalendar.from_playbook(playbook).add_working(start, timedelta(**delta))


def run(rt, now: datetime) -> dict[str, int]:
    rt.clock.set(now)
    return run_all(rt, now)


def release_at(rt, now: datetime) -> dict[str, int]:
    """The periodic release of held messages, as of `now` on the runtime's clock."""
    rt.clock.set(now)
    return release_held()


def tasks_of(database, kind: str | None = None) -> list[Task]:
    with database.transaction() as s:
        query = select(Task).order_by(Task.id)
        if kind:
            query = query.where(Task.kind == kind)
        return list(s.scalars(query))


def outbox(database, user_id: int | None = None) -> list[OutboxMessage]:
    with database.transaction() as s:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if user_id is not None:
            query = query.where(OutboxMessage.recipient_user_id == user_id)
        return list(s.scalars(query))


def cards_to(database, user_id: int) -> list[dict]:
    return [m.payload["card"] for m in outbox(database, user_id) if "card" in m.payload]


def texts_to(database, user_id: int) -> list[str]:
    return [m.payload["text"] for m in outbox(database, user_id) if "text" in m.payload]

