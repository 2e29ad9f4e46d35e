"""Real `crmbot worker` processes under a flood, a Redis restart and a SIGKILL mid-job: every
inbox row handled once, every reply delivered once, the queues bounded, no worker restarted by
hand. Needs the real backends (CI): CRMBOT_TEST_DATABASE_URL and CRMBOT_TEST_REDIS_URL."""
from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path
from collections import Counter
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import redis
from rq import Queue
from sqlalchemy import func, select

from jobs import outbound, scheduler
from jobs.queue import QUEUE_NAMES
from config.clock import ManualClock, SystemClock
from jobs.runtime import set_runtime
from storage.models import InboxEvent, OutboxMessage
from tests.conftest import PG_URL, REDIS_URL
from tests.factories import build_world
from tests.scenarios.workers import (PrivateRedis, kill_process, processes, queues_idle, settings_env,
                                     start_process, stop_process, wait_for)
from tests.stack import running_stack

pytestmark = pytest.mark.skipif(not (PG_URL and REDIS_URL),
                                reason="real worker processes need CRMBOT_TEST_DATABASE_URL and CRMBOT_TEST_REDIS_URL")

WORKER = ("worker",)


def _send(stack, n: int, first_msgid: int, text: str = "帮助") -> None:
    def one(i: int) -> int:
        return stack.wecom_text("rep1", text, msg_id=first_msgid + i).status_code
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(one, range(n)))
    assert codes == [200] * n


def _replies(stack) -> int:
    """Messages the fake WeCom received, less those of the periodic rules: the workers run on the
    wall clock, so at 08:00 in Shanghai (midnight UTC, when CI may run) the morning's reminders
    go out beside the replies."""
    rule = OutboxMessage.dedupe_key.like("rule:%")
    with stack.runtime.db.transaction() as s:
        rules_sent = s.scalar(select(func.count()).where(rule, OutboxMessage.status == "sent",
                                                          OutboxMessage.action == "send"))
    return len(stack.wecom.sent_to("/message/send")) - rules_sent


def _counts(database) -> tuple[int, int, int, int]:
    """(inbox rows, inbox done, replies in the outbox, replies sent); the periodic rule scans'
    own messages (a Monday's weekly brief) are not replies."""
    reply = OutboxMessage.dedupe_key.not_like("rule:%")
    with database.transaction() as s:
        inbox = s.scalar(select(func.count()).select_from(InboxEvent))
        done = s.scalar(select(func.count()).where(InboxEvent.status == "done"))
        out = s.scalar(select(func.count()).where(reply))
        sent = s.scalar(select(func.count()).where(reply, OutboxMessage.status == "sent"))
    return inbox, done, out, sent


def _live_job_names(conn) -> list[str]:
    """The logical names of every job waiting in a queue (rq ids are `<name>-<8 hex>`)."""
    return [job_id.rsplit("-", 1)[0] for name in QUEUE_NAMES
            for job_id in Queue(name, connection=conn).get_job_ids()]


@contextmanager
def _real_time_stack(database, redis_conn):
    """The stack on the system clock, like the `crmbot worker` processes it talks to (under CI's
    faketime run both see the same faked time)."""
    with running_stack(database, redis_conn, real_worker=True) as stack:
        stack.runtime.clock = SystemClock()
        yield stack


def _sweep_minutes_later(stack) -> dict:
    """The store-driven sweep as the scheduler runs it a few minutes from now: every inbox row not
    yet processed counts as stuck and every outbox row not yet sent as due."""
    set_runtime(dataclasses.replace(stack.runtime, clock=ManualClock(SystemClock().now() + timedelta(minutes=3))))
    return outbound.sweep()


@pytest.fixture
def world(database):
    with database.transaction() as s:
        return build_world(s)


def test_a_flood_of_callbacks_keeps_the_queues_bounded(database, redis_conn, world):
    """2,000 callbacks while a sweeper and the scheduler re-enqueue everything due as fast as they
    can (the backlog that once held 11,702 entries for 2,010 jobs)."""
    n = 2000
    periodic = scheduler.periodic_jobs()
    with _real_time_stack(database, redis_conn) as stack:
        env = settings_env(stack.settings, REDIS_URL)
        samples: list[tuple[int, int]] = []
        stop = threading.Event()

        def re_enqueue_everything() -> None:
            """As if every sweep and every periodic job came due again and again: `now` three
            minutes ahead makes every unprocessed inbox row "stuck" and every outbox row due."""
            clock = 1_000_000.0
            while not stop.is_set():
                _sweep_minutes_later(stack)
                scheduler.enqueue_due(redis_conn, stack.runtime.queue, periodic, clock)
                clock += 61
                names = _live_job_names(redis_conn)
                samples.append((len(names), max(Counter(names).values(), default=0)))
                stop.wait(0.5)

        with processes(env, WORKER, WORKER) as workers:
            hammer = threading.Thread(target=re_enqueue_everything)
            hammer.start()
            try:
                _send(stack, n, 10_000)
                wait_for(lambda: _counts(database)[3] >= n, 300, f"{n} replies sent", workers)
            finally:
                stop.set()
                hammer.join()
            wait_for(lambda: queues_idle(redis_conn), 60, "the queues to empty", workers)

        inbox, done, out, sent = _counts(database)
        assert (inbox, done, out, sent) == (n, n, n, n)
        assert _replies(stack) == n                       # none twice
        assert len(samples) > 3
        assert max(dup for _, dup in samples) == 1        # never two copies of one job
        assert max(total for total, _ in samples) <= 2 * n + len(periodic)


def test_workers_outlive_a_redis_restart(database, world, tmp_path):
    if not PrivateRedis.available():
        pytest.skip("redis-server is not installed: the test kills and restarts its own Redis")
    server = PrivateRedis(tmp_path)
    server.start()
    conn = redis.Redis.from_url(server.url)
    try:
        with _real_time_stack(database, conn) as stack:
            env = settings_env(stack.settings, server.url)
            with processes(env, WORKER, WORKER, ("scheduler",)) as procs:
                _send(stack, 60, 20_000)
                server.kill()                              # mid-load: queued jobs are lost with it
                _send(stack, 30, 30_000)                   # accepted into the inbox while Redis is down
                # down long enough for every worker to see it (redis-py's own retries hide short cuts)
                workers = procs[:2]
                wait_for(lambda: all(_saw_redis_down(p) for p in workers), 90, "the workers to see Redis down",
                         procs)
                server.start()                             # same port, empty
                _send(stack, 30, 40_000)

                def caught_up() -> bool:
                    _sweep_minutes_later(stack)   # what the lost jobs were: the store knows
                    return _counts(database)[3] >= 120
                wait_for(caught_up, 120, "every message after the restart", procs)
                wait_for(lambda: queues_idle(conn), 60, "the queues to empty", procs)
                assert all(p.poll() is None for p in procs)   # nobody restarted a worker by hand
                wait_for(lambda: conn.get(scheduler.LEASE_KEY) is not None, 30, "the scheduler to lead again",
                         procs)
        assert _counts(database) == (120, 120, 120, 120)
        assert _replies(stack) == 120
    finally:
        server.kill()


def _saw_redis_down(proc) -> bool:
    return "Error 111 connecting" in Path(proc.log_path).read_text(errors="replace")


KILL_MID_JOB = """
import os, time
import jobs.inbox as inbox
_handle = inbox._handle
def _handle_then_hang(ctx):
    status = _handle(ctx)                    # the handler's writes are done, not yet committed
    open(os.environ["CRMBOT_TEST_MARKER"], "w").close()
    time.sleep(600)
    return status
inbox._handle = _handle_then_hang
"""


def test_a_worker_killed_mid_job_and_restarted_replies_once(database, redis_conn, world, tmp_path):
    marker = tmp_path / "in-the-job"
    with _real_time_stack(database, redis_conn) as stack:
        env = settings_env(stack.settings, REDIS_URL)
        doomed = start_process(dict(env, CRMBOT_TEST_MARKER=str(marker)), *WORKER, patch=KILL_MID_JOB)
        try:
            assert stack.wecom_text("rep1", "查 华东机电", msg_id=50_001).status_code == 200
            wait_for(marker.exists, 60, "the worker to be inside the job", [doomed])
        finally:
            kill_process(doomed)
            stop_process(doomed)
        assert _replies(stack) == 0 and _counts(database)[1] == 0
        with processes(env, WORKER) as workers:
            wait_for(lambda: _replies(stack) >= 1, 60, "the reply", workers)
            wait_for(lambda: queues_idle(redis_conn), 60, "the queues to empty", workers)
        assert _replies(stack) == 1
        assert _counts(database) == (1, 1, 1, 1)
        assert os.path.exists(marker)
