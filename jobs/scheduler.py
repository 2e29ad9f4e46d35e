"""`crmbot scheduler`: exactly one active process enqueues the periodic jobs; workers run them.

- The periodic jobs are one declared list (Redash's schedule.py idea): job path, arguments,
  interval. Their job ids are derived from the definition, so a job still queued or running is
  not enqueued again (jobs.queue dedupes named jobs), and the last-run times live in Redis, so a
  new leader keeps the cadence. They go to their own queue, crmbot-periodic, so a backlog of
  messages never holds them back and they never pile up behind it.
- Redis going away (a restart, a failover) does not stop the process: it retries with backoff
  (1 s doubling to RENEW_EVERY_S) and leads again once it can take the lease.
- Leadership is a Redis lease: SET key token NX PX ttl to take it, and a WATCH/MULTI
  compare-and-set on the token to renew it (no Lua needed). A second instance stands by, tries
  every RENEW_EVERY_S, and takes over within LEASE_TTL_S + RENEW_EVERY_S (< one minute) after
  the leader dies.
"""
from __future__ import annotations

import logging
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from .queue import JobQueue

log = logging.getLogger(__name__)

LEASE_KEY = "crmbot:scheduler:leader"
LAST_RUN_KEY = "crmbot:scheduler:last-run"
LEASE_TTL_S = 30
RENEW_EVERY_S = 10


@dataclass(frozen=True)
class Periodic:
    path: str
    interval_s: int
    args: tuple = ()
    queue: str | None = None  # None: the job's home queue (jobs.queue.HOME_QUEUES), crmbot-periodic

    @property
    def id(self) -> str:
        """Stable and rq-safe ([A-Za-z0-9_-] only), e.g. periodic-jobs_rules_run_rule-silent_customer."""
        return "-".join(re.sub(r"[^A-Za-z0-9_]", "_", part) for part in ("periodic", self.path, *map(str, self.args)))


def periodic_jobs() -> list[Periodic]:
    """Every rule scan, the held-message release and the outbox/inbox sweep, every minute."""
    from .rules import RULES
    jobs = [Periodic("jobs.rules.run_rule", 60, (rule.name,)) for rule in RULES]
    jobs.append(Periodic("jobs.pacing.release_held", 60))
    jobs.append(Periodic("jobs.outbound.sweep", 60))
    return jobs


class Lease:
    """A leader lease in Redis owned by `token`."""

    def __init__(self, conn: redis.Redis, key: str = LEASE_KEY, ttl_s: int = LEASE_TTL_S):
        self.conn, self.key, self.ttl_ms = conn, key, ttl_s * 1000
        self.token = f"{socket.gethostname()}:{secrets.token_hex(8)}"

    def acquire_or_renew(self) -> bool:
        """True while this process is the leader."""
        if self.conn.set(self.key, self.token, nx=True, px=self.ttl_ms):
            return True
        with self.conn.pipeline() as pipe:
            try:
                pipe.watch(self.key)
                current = pipe.get(self.key)
                if current is None or current.decode() != self.token:
                    pipe.unwatch()
                    return False
                pipe.multi()
                pipe.pexpire(self.key, self.ttl_ms)
                pipe.execute()
                return True
            except redis.WatchError:  # the key changed under us: someone else holds it now
                return False

    def release(self) -> None:
        with self.conn.pipeline() as pipe:
            try:
                pipe.watch(self.key)
                current = pipe.get(self.key)
                if current is not None and current.decode() == self.token:
                    pipe.multi()
                    pipe.delete(self.key)
                    pipe.execute()
                else:
                    pipe.unwatch()
            except redis.WatchError:
                pass


def enqueue_due(conn: redis.Redis, queue: JobQueue, jobs: list[Periodic], now_s: float) -> list[str]:
    """Enqueue every job whose interval has passed since its last run; returns their ids."""
    last = {k.decode(): float(v) for k, v in conn.hgetall(LAST_RUN_KEY).items()}
    started = []
    for job in jobs:
        if now_s - last.get(job.id, 0) >= job.interval_s:
            queue.enqueue(job.path, *job.args, job_id=job.id, queue=job.queue)
            conn.hset(LAST_RUN_KEY, job.id, now_s)
            started.append(job.id)
    return started


def run_scheduler(conn: redis.Redis, queue: JobQueue, stop: threading.Event | None = None,
                  jobs: list[Periodic] | None = None, tick_s: float = RENEW_EVERY_S,
                  clock: Callable[[], float] = time.time, lease: Lease | None = None) -> None:
    """Loop until `stop` is set: renew the lease; while leader, enqueue what is due."""
    stop = stop or threading.Event()
    jobs = jobs if jobs is not None else periodic_jobs()
    lease = lease or Lease(conn)
    leading = False
    backoff_s = 0.0
    try:
        while not stop.is_set():
            try:
                now_leading = lease.acquire_or_renew()
                if now_leading != leading:
                    log.info("scheduler %s: %s", lease.token, "leader" if now_leading else "standing by")
                    leading = now_leading
                if leading:
                    enqueue_due(conn, queue, jobs, clock())
                if backoff_s:
                    log.info("scheduler: Redis is back")
                backoff_s = 0.0
            except redis.RedisError as exc:
                backoff_s = min(max(backoff_s * 2, 1.0), tick_s)
                log.warning("scheduler: Redis unavailable (%s); retrying in %.0f s", exc, backoff_s)
                leading = False
                stop.wait(backoff_s)
                continue
            stop.wait(tick_s)
    finally:
        try:
            lease.release()
        except redis.RedisError:  # the lease expires by itself
            pass
