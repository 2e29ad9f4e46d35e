"""Step 2 of an event's path: write it to the inbox, hand it to the queue, answer at once.

The inbox row is committed before the platform gets its answer, so nothing is lost if the
queue is down (the sweeper re-enqueues it); a platform retry of the same event is recognised by
the unique (platform, event_id) and changes nothing.
"""
from __future__ import annotations

import logging

from storage import messaging

from .events import Event

log = logging.getLogger(__name__)

PROCESS_JOB = "jobs.inbox.process_inbox"


def accept(runtime, event: Event, raw: dict, *, ignore: bool = False) -> bool:
    """Store and enqueue. Returns False for a duplicate delivery."""
    with runtime.db.engine.begin() as conn:  # Core: the fastest durable write we can make
        inbox_id, created = messaging.record_inbox(
            conn, str(event.platform), event.event_id, str(event.kind), event.to_dict(), raw,
            now=runtime.clock.now(), status="ignored" if ignore else "received")
    if created and not ignore:
        try:
            runtime.queue.enqueue(PROCESS_JOB, inbox_id, job_id=f"inbox-{inbox_id}", queue="crmbot-high")
        except Exception:  # the row is safe in the inbox; the sweeper will enqueue it
            log.exception("could not enqueue inbox %s", inbox_id)
    return created
