"""One active scheduler: a Redis lease taken with SET NX PX and renewed by a token check; a second
instance stands by and takes over when the leader stops renewing. Periodic jobs keep their cadence
across leaders because their last-run times live in Redis."""
import threading
import time

from jobs import scheduler
from jobs.rules import RULES
from jobs.scheduler import Lease, Periodic, enqueue_due, periodic_jobs, run_scheduler
from tests.factories import NOW
from tests.jobs.helpers import RecordingQueue


def test_periodic_jobs_cover_every_rule_and_the_sweeps():
    jobs = periodic_jobs()
    assert {j.args[0] for j in jobs if j.path == "jobs.rules.run_rule"} == {r.name for r in RULES}
    assert {"jobs.pacing.release_held", "jobs.outbound.sweep"} <= {j.path for j in jobs}
    assert len({j.id for j in jobs}) == len(jobs)  # ids derived from the definition, unique
    assert all(j.interval_s == 60 for j in jobs)


def test_only_one_lease_holder_and_takeover_after_expiry(redis_conn):
    a, b = Lease(redis_conn, ttl_s=1), Lease(redis_conn, ttl_s=1)
    assert a.acquire_or_renew() is True
    assert b.acquire_or_renew() is False
    assert a.acquire_or_renew() is True          # renewing keeps it
    time.sleep(1.3)                              # a dies: no renewal
    assert b.acquire_or_renew() is True
    assert a.acquire_or_renew() is False         # a stale leader cannot renew someone else's lease
    a.release()
    assert redis_conn.get(scheduler.LEASE_KEY).decode() == b.token
    b.release()
    assert redis_conn.get(scheduler.LEASE_KEY) is None


def test_enqueue_due_keeps_the_cadence_across_leaders(redis_conn):
    jobs = [Periodic("jobs.rules.run_rule", 60, ("silent_customer",)), Periodic("jobs.outbound.sweep", 60)]
    q1, q2 = RecordingQueue(), RecordingQueue()
    assert len(enqueue_due(redis_conn, q1, jobs, 1000.0)) == 2
    assert enqueue_due(redis_conn, q1, jobs, 1030.0) == []
    assert enqueue_due(redis_conn, q2, jobs, 1045.0) == []   # a new leader does not run them again early
    assert len(enqueue_due(redis_conn, q2, jobs, 1061.0)) == 2
    assert q1.jobs[0] == ("jobs.rules.run_rule", ("silent_customer",))


def test_periodic_jobs_land_on_their_own_queue_once(redis_conn):
    from rq import Queue

    from jobs.queue import QUEUE_NAMES, RqQueue
    jobs = periodic_jobs()
    queue = RqQueue(redis_conn)
    periodic = Queue("crmbot-periodic", connection=redis_conn)
    assert len(enqueue_due(redis_conn, queue, jobs, 5000.0)) == len(jobs)
    assert periodic.count == len(jobs)
    assert periodic.job_ids[0].startswith("periodic-jobs_rules_run_rule-lead_assignment-")
    enqueue_due(redis_conn, queue, jobs, 5030.0)     # not due yet
    enqueue_due(redis_conn, queue, jobs, 5061.0)     # due again, but every one is still queued
    enqueue_due(redis_conn, queue, jobs, 5122.0)
    assert sum(Queue(n, connection=redis_conn).count for n in QUEUE_NAMES) == len(jobs)


class _CrashingLease(Lease):
    """A leader that dies without a clean release."""

    def release(self) -> None:
        pass


def test_second_scheduler_stands_by_then_takes_over(redis_conn):
    jobs = [Periodic("jobs.outbound.sweep", 1)]
    qa, qb = RecordingQueue(), RecordingQueue()
    stop_a, stop_b = threading.Event(), threading.Event()
    a = threading.Thread(target=run_scheduler, args=(redis_conn, qa, stop_a, jobs, 0.1),
                         kwargs={"lease": _CrashingLease(redis_conn, ttl_s=1)})
    a.start()
    time.sleep(0.3)
    b = threading.Thread(target=run_scheduler, args=(redis_conn, qb, stop_b, jobs, 0.1),
                         kwargs={"lease": Lease(redis_conn, ttl_s=1)})
    b.start()
    time.sleep(1.5)
    assert len(qa.jobs) >= 1 and qb.jobs == []   # b stands by while a leads
    stop_a.set()
    a.join(5)
    time.sleep(2.5)                               # the lease expires, b takes over
    stop_b.set()
    b.join(5)
    assert len(qb.jobs) >= 1


def test_a_scheduled_scan_runs_on_an_rq_worker(rt, database, world, playbook, redis_conn):
    """Scheduler → rq → worker → the rule's scan against the store (real Redis and PostgreSQL in CI)."""
    from datetime import datetime, timedelta

    from rq import Queue, SimpleWorker

    from jobs.queue import RqQueue
    from storage import customers
    from storage.customers import CustomerInput
    from tests.jobs.helpers import tasks_of
    with database.transaction() as s:
        c = customers.create_customer(s, s.merge(world.rep1), CustomerInput(
            kind="person", name="刘女士", mobile="13700001111"), playbook, now=NOW)
        c.last_interaction_at = NOW - timedelta(days=playbook.rules.silent_customer.days + 1)
    enqueue_due(redis_conn, RqQueue(redis_conn), [Periodic("jobs.rules.run_rule", 60, ("silent_customer",))],
                time.time())
    SimpleWorker([Queue("crmbot-periodic", connection=redis_conn)], connection=redis_conn).work(
        burst=True, with_scheduler=False)
    [task] = tasks_of(database, "silent_customer")
    assert task.assignee_id == world.rep1.id
