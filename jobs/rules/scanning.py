"""What every rule scan shares: the clock, batched transactions, the cursor, and task + card creation.

A scan reads its rows in batches ordered by (time column, id) with a keyset, each batch in its own
transaction, so memory stays flat on any table size and a worker killed mid-scan loses only the
uncommitted batch (its tasks are created again, once, by the next scan: every task has a dedupe
key). The cursor (table rule_cursor) remembers how far the time column has been scanned, so a
steady scan reads only the rows that crossed the threshold since the last scan. The cursor stays
SETTLE behind the scan's upper bound: a row committed a little late with an older time is still
seen by the next scan.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select, tuple_
from sqlalchemy.orm import Session

from cards import builders
from cards.model import Card
from storage import tasks
from storage.models import RuleCursor, Task, User

from ..pacing import Pacer
from ..runtime import Runtime

log = logging.getLogger(__name__)

SETTLE = timedelta(minutes=5)   # technical: longest plausible commit lag of a writer, not a business number
DEFAULT_BATCH = 500


def stamp(dt: datetime) -> int:
    """A window id for dedupe keys: the time column's value in whole seconds."""
    return int(dt.timestamp())


@dataclass
class Scan:
    """One run of one or more rules as of `now` (the controllable clock)."""
    runtime: Runtime
    now: datetime
    batch_size: int = field(default_factory=lambda: int(os.environ.get("CRMBOT_RULES_BATCH_SIZE", DEFAULT_BATCH)))
    # A rule with no cursor yet scans its whole history (nothing overdue is ever skipped); a first
    # deployment on a large store may start `horizon` before the threshold instead (bench, CLI).
    horizon: timedelta | None = None
    rows_seen: int = 0

    @property
    def playbook(self):
        return self.runtime.playbook

    @property
    def settings(self):
        return self.runtime.settings

    @contextmanager
    def transaction(self) -> Iterator[tuple[Session, Pacer]]:
        """A session and a pacer; messages are handed to the delivery job after the commit."""
        from ..outbound import enqueue_delivery
        with self.runtime.db.transaction() as session:
            pacer = Pacer(session, self.playbook, self.now)
            yield session, pacer
        enqueue_delivery(self.runtime, pacer.outbox_ids)

    def seen(self) -> None:
        """Count a handled row (the tests kill a worker mid-batch by patching this)."""
        self.rows_seen += 1


# ------------------------------------------------------------------ the cursor


def read_cursor(session: Session, name: str) -> tuple[datetime, int] | None:
    row = session.get(RuleCursor, name)
    return (row.position_at, row.position_id) if row else None


def advance_cursor(session: Session, name: str, position: tuple[datetime, int], now: datetime) -> None:
    """Move forward only: two workers scanning at once never move it back."""
    row = session.get(RuleCursor, name, with_for_update=True)
    if row is None:
        from sqlalchemy.dialects import postgresql, sqlite
        dialect = session.get_bind().dialect.name
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(RuleCursor)
        session.execute(insert.values(name=name, position_at=position[0], position_id=position[1],
                                      updated_at=now).on_conflict_do_nothing(index_elements=["name"]))
        row = session.get(RuleCursor, name, with_for_update=True)
    if (row.position_at, row.position_id) < position:
        row.position_at, row.position_id, row.updated_at = position[0], position[1], now


def scan_range(scan: Scan, cursor: str, query: Select, time_col, id_col, upper: datetime,
               handle: Callable[[Session, Pacer, Any], int]) -> int:
    """Hand each row of `query` with time_col in (cursor, upper] to `handle`, oldest first, in
    batches; returns the sum of what `handle` returned (tasks created)."""
    with scan.runtime.db.transaction() as session:
        position = read_cursor(session, cursor)
    if position is None and scan.horizon is not None:
        position = (upper - scan.horizon, 0)
    settled = (upper - SETTLE, 0)
    created = 0
    while True:
        with scan.transaction() as (session, pacer):
            q = query.where(time_col <= upper)
            if position is not None:
                # the plain >= lets the index bound the range; the row comparison breaks ties by id
                q = q.where(time_col >= position[0], tuple_(time_col, id_col) > tuple_(*position))
            rows = session.execute(q.order_by(time_col, id_col).limit(scan.batch_size)).scalars().all()
            keys = [(getattr(r, time_col.key), getattr(r, id_col.key)) for r in rows]
            for row in rows:
                created += handle(session, pacer, row)
                scan.seen()
            finished = len(rows) < scan.batch_size
            if keys:
                position = keys[-1]
            # finished: everything up to `upper` is handled, but keep SETTLE of it for late commits
            advance_cursor(session, cursor, settled if finished else min(position, settled), scan.now)
        if finished:
            return created


def scan_ids(scan: Scan, query: Select, id_col, handle: Callable[[Session, Pacer, Any], int]) -> int:
    """Batches by id for rules without a time threshold (e.g. leads still waiting for a rep)."""
    last, created = 0, 0
    while True:
        with scan.transaction() as (session, pacer):
            rows = session.execute(query.where(id_col > last).order_by(id_col)
                                   .limit(scan.batch_size)).scalars().all()
            for row in rows:
                created += handle(session, pacer, row)
                scan.seen()
        if not rows or len(rows) < scan.batch_size:
            return created
        last = rows[-1].id


# ------------------------------------------------------------------ tasks and cards


def app_link(settings, path: str) -> str:
    return f"{settings.crmbot_public_url}/app/{path.lstrip('/')}"


def task_card(settings, playbook, task: Task, fields: list[tuple[str, str]] | None = None,
              actions: list[tuple[str, str]] | None = None, source: str = "待办") -> Card:
    """The card for a rule task, built from the task row so it can be sent again (催办, 转交)."""
    from bot.context import new_card_id
    from bot.handlers.common import task_actions
    link = app_link(settings, f"customers/{task.customer_id}") if task.customer_id else app_link(settings, "tasks")
    shown = list(fields or [])
    if task.escalation_level:
        shown.append(("状态", "已升级给经理" if task.escalation_level == 1 else "已升级给总监"))
    return builders.task_card(new_card_id("task", task.id), title=task.title, detail=task.detail,
                              fields=shown, link=link, source=source, hint=builders.task_hint(task.kind, playbook),
                              actions=task_actions(task.kind, playbook) if actions is None else actions)


def create_task(source, session: Session, pacer: Pacer, spec: tasks.TaskSpec, assignee: User,
                fields: list[tuple[str, str]] | None = None) -> tuple[Task, bool]:
    """ensure_task + the assignee's card, once per dedupe key. `source` is anything with
    .settings and .playbook: a Scan, or a handler's Context."""
    task, created = tasks.ensure_task(session, spec, pacer.now)
    if created:
        card = task_card(source.settings, source.playbook, task, fields)
        pacer.card(assignee, card, subject_type="task", subject_id=task.id,
                   dedupe_key=f"{spec.dedupe_key}:card")
    return task, created


def local_date(dt: datetime, playbook) -> str:
    return dt.astimezone(playbook.tz).strftime("%Y-%m-%d")


def open_task_by_key(session: Session, org_id: int, dedupe_key: str) -> Task | None:
    return session.scalars(select(Task).where(Task.org_id == org_id, Task.dedupe_key == dedupe_key)).first()
