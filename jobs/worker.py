"""`crmbot worker`: an rq worker that loads the code once and survives Redis restarts.

- **No fork per job.** rq's default `Worker` forks a work horse per job and the horse imports the
  job modules again (`import jobs.inbox` alone is ~1.4 s: pypinyin's dictionary, SQLAlchemy
  models, the handlers). `CrmbotWorker` is rq's `SimpleWorker`: jobs run in the worker's main
  thread, so every module is imported once (`preload()`, before the first job) and the runtime
  (database pool, Redis, platform clients with their cached tokens) is built once.
- **A hung job is still stopped.** rq's death penalty for `SimpleWorker` is SIGALRM in the main
  thread (`UnixSignalDeathPenalty`): after the job's timeout (jobs.queue.JOB_TIMEOUTS) the job
  raises `JobTimeoutException`, is marked failed and rq retries it (Retry(max=3)); after the last
  retry it stays in rq's failed registry and its inbox/outbox row stays visible in the store.
- **A dead worker loses nothing.** A worker that is SIGKILLed, OOM-killed or segfaults takes only
  itself down (systemd restarts it). Its job stays "started" in rq: `recover_abandoned()` runs at
  every worker start and hands jobs of dead workers (their worker key is gone, or it names a pid
  of this host that no longer runs) back to rq's retry, counting the attempt; rq's own
  maintenance catches the rest once their heartbeat expires (job timeout + 60 s); and the store's
  sweep (jobs.outbound.sweep) re-enqueues inbox and outbox rows that are still not done.
- **Redis going away is waited out.** rq's work loop retries a failed dequeue, but any other
  Redis error (while finishing a job, while heartbeating) ends it. `run_worker()` then waits for
  Redis with backoff (1 s doubling to 30 s) and starts a fresh rq worker; SIGTERM / SIGINT stop it.
"""
from __future__ import annotations

import importlib
import logging
import os
import pkgutil
import signal
import socket
import threading
from collections.abc import Sequence

import redis
from rq import Queue, SimpleWorker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.job_lifecycle import record_job_failure
from rq.registry import StartedJobRegistry

from .queue import QUEUE_NAMES

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
MAINTENANCE_INTERVAL_S = 60  # rq's abandoned-job cleanup; rq's default is 10 minutes


def preload(package: str = "jobs") -> list[str]:
    """Import every module of the job package (and what they import: bot's handlers, storage,
    ocr_asr's parsers) now, in the worker, instead of during the first job."""
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        importlib.import_module(info.name)
        names.append(info.name)
    return names


class CrmbotWorker(SimpleWorker):
    """rq's SimpleWorker (jobs in the main thread, SIGALRM death penalty) that hands the jobs of
    dead workers back to rq's retry when it starts."""

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        """rq sends its heartbeat (3 commands) several times per job, one round trip each unless
        a pipeline is given: send it as one round trip."""
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline)
        with self.connection.pipeline(transaction=False) as pipe:
            super().heartbeat(timeout, pipe)
            pipe.execute()

    def recover_abandoned(self) -> list[str]:
        recovered = []
        for queue in self.queues:
            registry = StartedJobRegistry(queue.name, connection=self.connection)
            for job_id in registry.get_job_ids(cleanup=False):
                try:
                    job = Job.fetch(job_id, connection=self.connection)
                except NoSuchJobError:
                    continue
                if job.get_status(refresh=False) != JobStatus.STARTED or self._worker_alive(job.worker_name):
                    continue
                if job.retries_left:
                    # now rather than after the retry interval: the worker died, the job did not fail
                    job.retries_left -= 1
                    queue.enqueue_job(job)  # queued first: a crash right here leaves a runnable job
                    registry.remove_executions(job)
                else:
                    with self.connection.pipeline() as pipe:
                        registry.remove_executions(job, pipeline=pipe)
                        record_job_failure(job, f"worker {job.worker_name} died running it", pipe)
                        pipe.execute()
                log.warning("job %s of dead worker %s handed back to rq (%s retries left)",
                            job.id, job.worker_name, job.retries_left)
                recovered.append(job.id)
        return recovered

    def _worker_alive(self, name: str | None) -> bool:
        if not name:
            return False
        fields = self.connection.hgetall(f"{self.redis_worker_namespace_prefix}{name}")
        if not fields or b"death" in fields:
            return False
        if fields.get(b"hostname", b"").decode() != socket.gethostname():
            return True  # another host's worker: its heartbeat expiry is rq's business
        try:
            os.kill(int(fields.get(b"pid", b"0")), 0)
        except (ValueError, ProcessLookupError):
            return False
        except PermissionError:
            return True
        return True


def run_worker(connection: redis.Redis, queue_names: Sequence[str] = QUEUE_NAMES, *, burst: bool = False,
               with_scheduler: bool = True, stop: threading.Event | None = None) -> None:
    """Work until stopped (SIGTERM/SIGINT, or the queues are empty with `burst`), outliving Redis
    restarts. The caller has preloaded the code and set the runtime."""
    stop = stop or threading.Event()
    backoff_s = 0.0
    while not stop.is_set():
        worker = None
        try:
            worker = CrmbotWorker([Queue(n, connection=connection) for n in queue_names], connection=connection,
                                  maintenance_interval=MAINTENANCE_INTERVAL_S)
            try:
                worker.recover_abandoned()
            except redis.RedisError:
                raise
            except Exception:  # rq's maintenance and the store's sweep still catch those jobs
                log.exception("worker %s: could not hand back the jobs of dead workers", worker.name)
            worker.work(burst=burst, with_scheduler=with_scheduler)
        except redis.RedisError as exc:
            log.warning("worker: Redis error: %s", exc)
        if worker is not None and worker._stop_requested:
            return
        if _redis_up(connection):
            if burst:
                return
            # rq's loop ended on some other error: start again, without spinning if it repeats
            backoff_s = min(max(backoff_s * 2, 1.0), MAX_BACKOFF_S)
            log.warning("worker stopped with Redis up; a new one in %.0f s", backoff_s)
            _sleep(stop, backoff_s)
            continue
        backoff_s = _wait_for_redis(connection, stop, backoff_s)


def _redis_up(connection: redis.Redis) -> bool:
    try:
        return bool(connection.ping())
    except redis.RedisError:
        return False


def _wait_for_redis(connection: redis.Redis, stop: threading.Event, backoff_s: float) -> float:
    """Sleep with backoff until Redis answers or a stop signal arrives; returns the next backoff."""
    while not stop.is_set():
        backoff_s = min(max(backoff_s * 2, 1.0), MAX_BACKOFF_S)
        log.warning("Redis unavailable; retrying in %.0f s", backoff_s)
        _sleep(stop, backoff_s)
        if _redis_up(connection):
            log.info("Redis is back")
            return 0.0
    return backoff_s


def _sleep(stop: threading.Event, seconds: float) -> None:
    """Wait, ending early on SIGTERM / SIGINT (rq's own handlers are not active between workers)."""
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        stop.wait(seconds)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
