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
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.outbound import Outbound
from cards import formats
from bot.services import Services
from storage.models import RuleCursor, Task

log = logging.getLogger(__name__)

SETTLE = timedelta(minutes=5)   # technical: longest plausible commit lag of a writer, not a business number
DEFAULT_BATCH = 500


def stamp(dt: datetime) -> int:
    """A window id for dedupe keys: the time column's value in whole seconds."""
    return int(dt.timestamp())


@dataclass
class Scan:
    """One run of one or more rules as of `now` (the controllable clock)."""
    runtime: Services
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
    def transaction(self) -> Iterator[tuple[Session, Outbound]]:
        """A session and the one way out; messages are handed to the delivery job after the commit."""
        with self.runtime.db.transaction() as session:
            out = Outbound(session, self.playbook, self.settings, self.now, bulk=True)
            yield session, out
        out.deliver_after_commit(self.runtime.queue)

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
        dialect = session.get_bind().dialect.name
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(RuleCursor)
        session.execute(insert.values(name=name, position_at=position[0], position_id=position[1],
                                      updated_at=now).on_conflict_do_nothing(index_elements=["name"]))
        row = session.get(RuleCursor, name, with_for_update=True)
    if (row.position_at, row.position_id) < position:
        row.position_at, row.position_id, row.updated_at = position[0], position[1], now


def scan_range(scan: Scan, cursor: str, query: Select, time_col, id_col, upper: datetime,
               handle: Callable[[Session, Outbound, Any], int]) -> int:
    """Hand each row of `query` with time_col in (cursor, upper] to `handle`, oldest first, in
    batches; returns the sum of what `handle` returned (tasks created)."""
    with scan.runtime.db.transaction() as session:
        position = read_cursor(session, cursor)
    if position is None and scan.horizon is not None:
        position = (upper - scan.horizon, 0)
    settled = (upper - SETTLE, 0)
    created = 0
    while True:
        with scan.transaction() as (session, out):
            q = query.where(time_col <= upper)
            if position is not None:
                # the plain >= lets the index bound the range; the row comparison breaks ties by id
                q = q.where(time_col >= position[0], tuple_(time_col, id_col) > tuple_(*position))
            rows = session.execute(q.order_by(time_col, id_col).limit(scan.batch_size)).scalars().all()
            keys = [(getattr(r, time_col.key), getattr(r, id_col.key)) for r in rows]
            for row in rows:
                created += handle(session, out, row)
                scan.seen()
            finished = len(rows) < scan.batch_size
            if keys:
                position = keys[-1]
            # finished: everything up to `upper` is handled, but keep SETTLE of it for late commits
            advance_cursor(session, cursor, settled if finished else min(position, settled), scan.now)
        if finished:
            return created


def scan_ids(scan: Scan, query: Select, id_col, handle: Callable[[Session, Outbound, Any], int]) -> int:
    """Batches by id for rules without a time threshold (e.g. leads still waiting for a rep)."""
    last, created = 0, 0
    while True:
        with scan.transaction() as (session, out):
            rows = session.execute(query.where(id_col > last).order_by(id_col)
                                   .limit(scan.batch_size)).scalars().all()
            for row in rows:
                created += handle(session, out, row)
                scan.seen()
        if not rows or len(rows) < scan.batch_size:
            return created
        last = rows[-1].id


# ------------------------------------------------------------------ helpers


def local_date(dt: datetime, playbook, now: datetime) -> str:
    """The day of `dt` the cards' way (cards/formats.py): 10-29 this year, 2025-10-29 before."""
    return formats.when(dt.astimezone(playbook.tz).date(), playbook.tz, now)


def open_task_by_key(session: Session, org_id: int, dedupe_key: str) -> Task | None:
    return session.scalars(select(Task).where(Task.org_id == org_id, Task.dedupe_key == dedupe_key)).first()
