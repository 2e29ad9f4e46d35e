"""Step 4: the delivery job. Everything said to a person was written to the outbox by the one way
out (`bot.outbound.Outbound`); this job sends one row.

- `deliver(outbox_id)`: lease the row (so two workers never send it at once), hand it to its
  platform's sender (`bot.outbound.sender_for`), record the result. Retryable failures (expired
  token handled by the client, rate limit, 5xx, timeouts) back off and try again; permanent ones
  are recorded.
- A worker killed between the platform's answer and our commit leaves the lease to expire and
  the message is sent again with the same WeCom task_id / DingTalk outTrackId, which the platform
  refuses as a duplicate: the sender treats that refusal as "already delivered", so one dedupe key
  is one message.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from bot.errors import CardCodeSpent, PlatformError, RateLimited, RetryableError
from bot.outbound import enqueue_delivery, sender_for
from bot.services import Services
from storage import messaging
from storage.models import OutboxMessage

from .runtime import current_runtime

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_S = (5, 15, 60, 180, 600, 1800, 3600)
INBOX_STUCK_AFTER = timedelta(minutes=2)


def deliver(outbox_id: int) -> str:
    """rq job. Returns the final state for logs and tests."""
    rt = current_runtime()
    with rt.db.transaction() as session:
        message = messaging.lease_outbox(session, outbox_id, now=rt.clock.now())
        if message is None:
            return "skipped"  # sent already, held for quiet hours, or another worker has it
        session.expunge(message)
    try:
        result = sender_for(message.platform).send(rt, message)
    except CardCodeSpent as exc:
        # the click's code was used or expired: nothing more can change that card
        return _finish(rt, outbox_id, "sent", result={"note": f"card code spent: {exc}"})
    except RetryableError as exc:
        return _retry(rt, message, exc)
    except PlatformError as exc:
        log.error("outbox %s failed permanently: %s", outbox_id, exc)
        return _finish(rt, outbox_id, "failed", error=str(exc))
    return _finish(rt, outbox_id, "sent", result=result)


def _finish(rt: Services, outbox_id: int, status: str, result: dict | None = None,
            error: str | None = None) -> str:
    with rt.db.transaction() as session:
        row = session.get(OutboxMessage, outbox_id)
        row.status, row.result = status, result or {}
        row.last_error = (error or "")[:500] or None
        if status == "sent":
            row.sent_at = rt.clock.now()
    return status


def _retry(rt: Services, message: OutboxMessage, exc: RetryableError) -> str:
    if message.attempts >= MAX_ATTEMPTS:
        log.error("outbox %s gave up after %s attempts: %s", message.id, message.attempts, exc)
        return _finish(rt, message.id, "failed", error=f"gave up: {exc}")
    delay = exc.retry_after_s if isinstance(exc, RateLimited) else \
        BACKOFF_S[min(message.attempts - 1, len(BACKOFF_S) - 1)]
    with rt.db.transaction() as session:
        row = session.get(OutboxMessage, message.id)
        row.status, row.last_error = "pending", str(exc)[:500]
        row.next_attempt_at = rt.clock.now() + timedelta(seconds=delay)
    enqueue_delivery(rt.queue, [message.id], delay_s=delay)
    return "retry"


# ------------------------------------------------------------------ the sweeper


def sweep() -> dict[str, int]:
    """Re-enqueue what the store says is due: outbox rows past their time (retries, expired
    leases) and inbox rows that never got processed. Runs every minute."""
    rt = current_runtime()
    now = rt.clock.now()
    with rt.db.transaction() as session:
        due = messaging.due_outbox_ids(session, now)
        stuck = messaging.stuck_inbox_ids(session, INBOX_STUCK_AFTER, now)
    enqueue_delivery(rt.queue, due)
    for inbox_id in stuck:
        rt.queue.enqueue("jobs.inbox.process_inbox", inbox_id, job_id=f"inbox-{inbox_id}",
                         queue="crmbot-high")
    return {"outbox": len(due), "inbox": len(stuck)}
