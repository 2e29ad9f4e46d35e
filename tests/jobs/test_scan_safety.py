"""Scans are safe to repeat, to race and to kill: two workers at once create each task once, and a
worker killed in the middle of a scan loses nothing and duplicates nothing when run again."""
import json
import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from jobs.rules import run_all
from storage import customers, leads
from storage.customers import CustomerInput
from storage.leads import LeadInput
from storage.models import Lead, OutboxMessage, Task
from tests.conftest import PG_URL
from tests.jobs.helpers import local

ROOT = Path(__file__).resolve().parents[2]


def _load(database, world, playbook, n_customers, n_leads, now):
    last = now - timedelta(days=playbook.rules.silent_customer.days, hours=2)
    with database.transaction() as s:
        rep = s.merge(world.rep1)
        for i in range(n_customers):
            c = customers.create_customer(s, rep, CustomerInput(
                kind="person", name=f"客户{i}", mobile=f"1390000{i:04d}"), playbook, now=now)
            c.last_interaction_at = last + timedelta(seconds=i % 7)  # ties on the time column too
        for i in range(n_leads):
            leads.create_lead(s, world.org.id, LeadInput(source="官网表单", name=f"线索{i}",
                                                         external_ref=f"f{i}"), now=now)


def _counts(database):
    with database.transaction() as s:
        tasks = s.scalar(select(func.count()).select_from(Task).where(Task.kind.in_(("silent_customer", "lead_assignment"))))
        keys = s.scalar(select(func.count(func.distinct(Task.dedupe_key))).where(Task.kind.in_(("silent_customer", "lead_assignment"))))
        cards = s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.dedupe_key.like("%:card")))
        assigned = list(s.scalars(select(Lead.assignment_count)))
    return tasks, keys, cards, assigned


@pytest.mark.skipif(not PG_URL, reason="concurrent writers need PostgreSQL (CI sets CRMBOT_TEST_DATABASE_URL)")
def test_two_workers_scanning_at_once_create_each_task_once(rt, database, world, playbook, monkeypatch):
    monkeypatch.setenv("CRMBOT_RULES_BATCH_SIZE", "7")
    now = local(playbook, "2026-03-04 10:30")
    _load(database, world, playbook, 60, 12, now)
    barrier, results, errors = threading.Barrier(2), [], []

    def worker():
        try:
            barrier.wait()
            results.append(run_all(rt, now))
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert sum(r["silent_customer"] for r in results) == 60
    assert sum(r["lead_assignment"] for r in results) == 12
    tasks, keys, cards, assigned = _counts(database)
    assert tasks == keys == cards == 72
    assert assigned == [1] * 12  # each lead assigned exactly once
    assert run_all(rt, now + timedelta(minutes=1))["silent_customer"] == 0


# `crmbot rules run` in a process that SIGKILLs itself after KILL_AFTER rows, mid-batch: a worker
# killed by the OOM killer or a deploy looks exactly like this from the database's side.
KILLED_RULES_RUN = """
import os, signal, sys
from jobs.rules import scanning
counted = scanning.Scan.seen
def seen(self):
    counted(self)
    if self.rows_seen >= int(os.environ["KILL_AFTER"]):
        os.kill(os.getpid(), signal.SIGKILL)
scanning.Scan.seen = seen
from crmbot.cli import main
main()
"""


def _rules_run(database, now, kill_after: int | None = None):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRMBOT_")}
    environ.update(CRMBOT_DATABASE_URL=database.url, CRMBOT_RULES_BATCH_SIZE="10")
    program = ["-m", "crmbot.cli"]
    if kill_after is not None:
        environ["KILL_AFTER"] = str(kill_after)
        program = ["-c", KILLED_RULES_RUN]
    return subprocess.run([sys.executable, *program, "rules", "run", "--now", now.isoformat(), "--json"],
                          cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120)


def test_a_worker_killed_mid_scan_loses_and_duplicates_nothing(rt, database, world, playbook):
    now = local(playbook, "2026-03-04 10:30")
    _load(database, world, playbook, 45, 0, now)
    killed = _rules_run(database, now, kill_after=25)
    assert killed.returncode == -9, killed.stderr[-2000:]
    tasks, keys, cards, _ = _counts(database)
    assert tasks == keys == cards == 20  # two committed batches of ten; the third rolled back

    again = _rules_run(database, now)
    assert again.returncode == 0, again.stderr[-2000:]
    result = json.loads(again.stdout.strip().splitlines()[-1])
    assert result["silent_customer"] == 25
    tasks, keys, cards, _ = _counts(database)
    assert tasks == keys == cards == 45
    third = _rules_run(database, now + timedelta(minutes=1))
    assert json.loads(third.stdout.strip().splitlines()[-1])["silent_customer"] == 0
