"""The reminder and escalation rules: each scans the store as of `now` with indexed range queries,
creates tasks idempotently (dedupe key = rule + subject + window) and pushes cards through pacing.

RULES is the declared list; `run_all` runs every rule once (the CLI `crmbot rules run`), and the
scheduler enqueues `run_rule(name)` for each of them every minute onto rq (jobs/scheduler.py).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.services import Services

from ..runtime import current_runtime
from . import (approval_escalation, claim_timeout, escalation, first_contact, followup_due, lead_assignment,
               onboarding,
               reports, silent_customer, stage_stuck)
from .scanning import Scan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    name: str
    scan: Callable[[Scan], int]   # returns the number of tasks (or escalations) created


# Order matters a little: assignment before the claim timeout, reminders before escalation.
RULES: list[Rule] = [
    Rule(lead_assignment.NAME, lead_assignment.scan),
    Rule(claim_timeout.NAME, claim_timeout.scan),
    Rule(first_contact.NAME, first_contact.scan),
    Rule(followup_due.NAME, followup_due.scan),
    Rule(silent_customer.NAME, silent_customer.scan),
    Rule(stage_stuck.NAME, stage_stuck.scan),
    Rule(escalation.NAME, escalation.scan),
    Rule(approval_escalation.NAME, approval_escalation.scan),
    Rule(onboarding.NAME, onboarding.scan),
    Rule(reports.NAME, reports.scan),
]
BY_NAME = {rule.name: rule for rule in RULES}


def run_all(runtime: Services, now: datetime | None = None, timings: dict[str, float] | None = None,
            horizon: timedelta | None = None) -> dict[str, int]:
    """Every rule once as of `now`; {rule name: tasks created}. `timings` gets seconds per rule.
    `horizon`: see Scan.horizon (only matters for rules that have never run)."""
    now = now or runtime.clock.now()
    results = {}
    for rule in RULES:
        started = time.perf_counter()
        results[rule.name] = rule.scan(Scan(runtime, now, horizon=horizon))
        if timings is not None:
            timings[rule.name] = time.perf_counter() - started
    return results


def run_rule(name: str) -> int:
    """rq job enqueued by the scheduler: one rule's scan as of the runtime's clock."""
    rule = BY_NAME[name]
    rt = current_runtime()
    created = rule.scan(Scan(rt, rt.clock.now()))
    if created:
        log.info("rule %s created %s", name, created)
    return created
