"""The job queue: rq on Redis in production and CI; an in-process queue for `crmbot demo`.

Jobs are named by dotted path ("jobs.inbox.process_inbox") so the web process never imports
the job code, and rq's worker imports it on its side.

Queues, in the order a worker takes from them (rq's BLPOP over the keys: strict priority):

| queue | what | why there |
| --- | --- | --- |
| `crmbot-deliver` | `jobs.outbound.deliver` | a reply already decided goes out before new work starts |
| `crmbot-high` | inbox processing, lead assignment | a person is waiting |
| `crmbot-periodic` | the scheduler's jobs (sweep, held release, rule scans) | never stuck behind a backlog, never a pile |
| `crmbot-default` | everything else (bulk) | |
| `crmbot-capture` | OCR / ASR | seconds per job; give it its own worker if captures are frequent |

Deduplication: a caller that names a job (`job_id="deliver-42"`) gets at most one live copy of
it. While a job with that name is queued, scheduled, deferred or running, enqueueing it again is
a no-op that returns False. The guard is a Redis key `crmbot:job:<job_id>` holding the rq id of
the live copy; it is checked and written in the same WATCH/MULTI transaction that writes the rq
job, so two callers racing for the same name enqueue it once. Whether the holder is still live is
read from the rq job's own status, so a finished or failed job never blocks the next sweep, and a
guard can outlive nothing. Each copy gets its own rq id (`deliver-42-<8 hex>`): a new copy never
overwrites the hash of one still being finished by a worker.
"""
from __future__ import annotations

import importlib
import logging
import queue as stdlib_queue
import secrets
import threading
import time
from datetime import timedelta
from typing import Any, Protocol

import redis
from rq import Queue, Retry, get_current_job
from rq.job import Job

log = logging.getLogger(__name__)

# Priority order: a worker listening on all of them always takes from the first non-empty one.
QUEUE_NAMES = ("crmbot-deliver", "crmbot-high", "crmbot-periodic", "crmbot-default", "crmbot-capture")
DEFAULT_QUEUE = "crmbot-default"
# A job's home queue when the caller names none.
HOME_QUEUES = {
    "jobs.outbound.deliver": "crmbot-deliver",
    "jobs.inbox.process_inbox": "crmbot-high",
    "jobs.outbound.sweep": "crmbot-periodic",
    "jobs.pacing.release_held": "crmbot-periodic",
    "jobs.rules.run_rule": "crmbot-periodic",
}
# Seconds before rq's death penalty stops a job (a hung HTTP call, a runaway query). Short for the
# per-message jobs: it also bounds how long a job of a SIGKILLed worker waits for rq to see it
# abandoned (timeout + 60 s), should no worker restart on that host sooner.
JOB_TIMEOUTS = {"jobs.outbound.deliver": 60, "jobs.inbox.process_inbox": 120,
                # a 100,000-row sheet takes minutes; cut short it would resume, but only on retry
                "jobs.imports.run_import_job": 3600}
DEFAULT_JOB_TIMEOUT = 300
GUARD_PREFIX = "crmbot:job:"
GUARD_TTL_S = 86400  # garbage collection only: liveness comes from the rq job's status
LIVE_STATUSES = {b"queued", b"scheduled", b"deferred", b"started"}


def home_queue(path: str) -> str:
    return HOME_QUEUES.get(path, DEFAULT_QUEUE)


class JobQueue(Protocol):
    def enqueue(self, path: str, *args: Any, job_id: str | None = None, delay_s: float = 0,
                queue: str | None = None) -> bool: ...


def resolve(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


class RqQueue:
    """rq on a shared Redis. Named jobs are deduplicated (see the module docstring); correctness
    never relies on it: every job is idempotent against the store (inbox status, outbox lease)."""

    def __init__(self, connection):
        self.connection = connection
        self.queues = {name: Queue(name, connection=connection) for name in QUEUE_NAMES}

    def enqueue(self, path: str, *args: Any, job_id: str | None = None, delay_s: float = 0,
                queue: str | None = None) -> bool:
        """Enqueue `path(*args)`; False when `job_id` names a job that is still live."""
        q = self.queues[queue or home_queue(path)]
        options = dict(retry=Retry(max=3, interval=[5, 30, 120]), result_ttl=600,
                       failure_ttl=7 * 86400, job_timeout=JOB_TIMEOUTS.get(path, DEFAULT_JOB_TIMEOUT))
        if job_id is None:
            # one round trip instead of several: this may run inside a callback's ack path
            with self.connection.pipeline() as pipe:
                self._put(q, path, args, delay_s, options, pipe)
                pipe.execute()
            return True
        return self._enqueue_once(q, path, args, job_id, delay_s, options)

    def _enqueue_once(self, q: Queue, path: str, args: tuple, job_id: str, delay_s: float,
                      options: dict) -> bool:
        guard = GUARD_PREFIX + job_id
        rq_id = f"{job_id}-{secrets.token_hex(4)}"
        running = get_current_job()
        with self.connection.pipeline() as pipe:
            try:
                pipe.watch(guard)
                holder = pipe.get(guard)
                # a job may hand over to its own next run (a delivery's retry with backoff)
                if holder is not None and not (running is not None and running.id == holder.decode()):
                    status = pipe.hget(Job.key_for(holder.decode()), "status")
                    if status in LIVE_STATUSES:
                        pipe.reset()
                        return False
                pipe.multi()
                pipe.set(guard, rq_id, ex=GUARD_TTL_S)
                self._put(q, path, args, delay_s, dict(options, job_id=rq_id), pipe)
                pipe.execute()
                return True
            except redis.WatchError:  # another caller enqueued it between our read and our write
                return False

    @staticmethod
    def _put(q: Queue, path: str, args: tuple, delay_s: float, options: dict, pipe) -> None:
        if delay_s > 0:
            q.enqueue_in(timedelta(seconds=delay_s), path, *args, pipeline=pipe, **options)
        else:
            q.enqueue(path, *args, pipeline=pipe, **options)


class InlineQueue:
    """Runs a job at once in the caller's thread (unit tests). Delayed jobs are recorded, not run:
    the periodic sweep is what catches them, as in production."""

    def __init__(self):
        self.delayed: list[tuple[str, tuple, float]] = []
        self.ran: list[tuple[str, tuple]] = []

    def enqueue(self, path: str, *args: Any, job_id: str | None = None, delay_s: float = 0,
                queue: str | None = None) -> bool:
        if delay_s > 0:
            self.delayed.append((path, args, delay_s))
            return True
        self.ran.append((path, args))
        resolve(path)(*args)
        return True


class ThreadQueue:
    """`crmbot demo`: one background thread runs jobs in order; delays use a timer."""

    def __init__(self, runtime_setter=None):
        self._jobs: stdlib_queue.Queue = stdlib_queue.Queue()
        self._runtime_setter = runtime_setter
        self._thread = threading.Thread(target=self._run, name="crmbot-jobs", daemon=True)
        self._thread.start()

    def enqueue(self, path: str, *args: Any, job_id: str | None = None, delay_s: float = 0,
                queue: str | None = None) -> bool:
        if delay_s > 0:
            timer = threading.Timer(delay_s, self._jobs.put, args=((path, args),))
            timer.daemon = True
            timer.start()
        else:
            self._jobs.put((path, args))
        return True

    def _run(self) -> None:
        if self._runtime_setter:
            self._runtime_setter()
        while True:
            path, args = self._jobs.get()
            try:
                resolve(path)(*args)
            except Exception:  # the demo keeps going; the sweeper retries what the store says is due
                log.exception("job %s%r failed", path, args)
            finally:
                self._jobs.task_done()

    def join(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self._jobs.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
