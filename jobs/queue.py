"""The job queue: rq on Redis in production and CI; an in-process queue for `crmbot demo`.

Jobs are named by dotted path ("jobs.inbox.process_inbox") so the web process never imports
the job code, and rq's worker imports it on its side.
"""
from __future__ import annotations

import importlib
import logging
import queue as stdlib_queue
import threading
import time
from datetime import timedelta
from typing import Any, Protocol

log = logging.getLogger(__name__)

QUEUE_NAMES = ("crmbot-high", "crmbot-default", "crmbot-capture")


class JobQueue(Protocol):
    def enqueue(self, path: str, *args: Any, job_id: str | None = None, delay_s: float = 0,
                queue: str = "crmbot-default", timeout_s: int = 300) -> None: ...


def resolve(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


class RqQueue:
    """rq on a shared Redis. Job ids name jobs for operators; correctness never relies on them:
    every job is idempotent against the store (inbox status, outbox lease)."""

    def __init__(self, connection):
        from rq import Queue
        self.connection = connection
        self.queues = {name: Queue(name, connection=connection) for name in QUEUE_NAMES}

    def enqueue(self, path: str, *args: Any, job_id: str | None = None, delay_s: float = 0,
                queue: str = "crmbot-default", timeout_s: int = 300) -> None:
        from rq import Retry
        q = self.queues[queue]
        options = dict(job_id=job_id, retry=Retry(max=3, interval=[5, 30, 120]),
                       result_ttl=600, failure_ttl=7 * 86400, job_timeout=timeout_s)
        if delay_s > 0:
            q.enqueue_in(timedelta(seconds=delay_s), path, *args, **options)
            return
        # one round trip instead of several: this runs inside the callback's ack path
        with self.connection.pipeline() as pipe:
            q.enqueue(path, *args, pipeline=pipe, **options)
            pipe.execute()


class InlineQueue:
    """Runs a job at once in the caller's thread (unit tests). Delayed jobs are recorded, not run:
    the periodic sweep is what catches them, as in production."""

    def __init__(self):
        self.delayed: list[tuple[str, tuple, float]] = []
        self.ran: list[tuple[str, tuple]] = []

    def enqueue(self, path: str, *args: Any, job_id: str | None = None, delay_s: float = 0,
                queue: str = "crmbot-default", timeout_s: int = 300) -> None:
        if delay_s > 0:
            self.delayed.append((path, args, delay_s))
            return
        self.ran.append((path, args))
        resolve(path)(*args)


class ThreadQueue:
    """`crmbot demo`: one background thread runs jobs in order; delays use a timer."""

    def __init__(self, runtime_setter=None):
        self._jobs: stdlib_queue.Queue = stdlib_queue.Queue()
        self._runtime_setter = runtime_setter
        self._thread = threading.Thread(target=self._run, name="crmbot-jobs", daemon=True)
        self._thread.start()

    def enqueue(self, path: str, *args: Any, job_id: str | None = None, delay_s: float = 0,
                queue: str = "crmbot-default", timeout_s: int = 300) -> None:
        if delay_s > 0:
            timer = threading.Timer(delay_s, self._jobs.put, args=((path, args),))
            timer.daemon = True
            timer.start()
        else:
            self._jobs.put((path, args))

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
