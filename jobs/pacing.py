"""Releasing held reminders (the pacing decisions themselves live in bot.outbound).

`release_held` (every minute) releases what is due: one held message for a person goes out as it
is, several are merged into one digest card, sent through the one way out."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.outbound import HELD, Outbound, Purpose, enqueue_delivery
from bot.services import Services
from cards.links import home_link
from cards.model import Button, ButtonStyle, Card, new_card_id
from storage.models import OutboxMessage, User

from .runtime import current_runtime

DIGESTED = "digested"
RELEASE_BATCH = 1000


def release_held() -> dict[str, int]:
    """Periodic job: deliver held messages whose time has come; several reminders for one person
    become one digest. Returns counts for logs and tests."""
    rt = current_runtime()
    now = rt.clock.now()
    totals = {"released": 0, "digests": 0, "merged": 0}
    while True:
        with rt.db.transaction() as session:
            out = Outbound(session, rt.playbook, rt.settings, now, bulk=True)
            counts, more = _release_batch(session, rt, out)
        enqueue_delivery(rt.queue, out.outbox_ids)
        for key, value in counts.items():
            totals[key] += value
        if not more:
            return totals


def _release_batch(session: Session, rt: Services, out: Outbound) -> tuple[dict[str, int], bool]:
    rows = list(session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == HELD, OutboxMessage.next_attempt_at <= out.now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(RELEASE_BATCH)
        .with_for_update(skip_locked=True)))
    by_person: dict[int | None, list[OutboxMessage]] = {}
    for row in rows:
        by_person.setdefault(row.recipient_user_id, []).append(row)
    counts = {"released": 0, "digests": 0, "merged": 0}
    for user_id, held in by_person.items():
        reminders = [row for row in held if row.dedupe_key.startswith("rule:") and row.action == "send"]
        singles = [row for row in held if row not in reminders] + (reminders if len(reminders) == 1 or user_id is None else [])
        for row in singles:  # messages sent on purpose are never merged away
            row.status, row.next_attempt_at = "pending", out.now
            out.outbox_ids.append(row.id)
            counts["released"] += 1
        if len(reminders) < 2 or user_id is None:
            continue
        queued = out.card(session.get(User, user_id), _digest_card(rt, user_id, reminders),
                          subject_type="digest", subject_id=user_id, purpose=Purpose.REPLY,
                          dedupe_key=f"rule:digest:{user_id}:{reminders[0].id}-{reminders[-1].id}")
        for row in reminders:
            row.status, row.result = DIGESTED, {"digest_outbox_id": queued.outbox_id}
        counts["digests"] += 1
        counts["merged"] += len(reminders)
    return counts, len(rows) == RELEASE_BATCH


def _title(row: OutboxMessage) -> str:
    if "card" in row.payload:
        return row.payload["card"].get("title", "")
    return (row.payload.get("text") or "").splitlines()[0][:60]


def _digest_card(rt: Services, user_id: int, held: list[OutboxMessage]) -> Card:
    lines = [f"{i}. {_title(row)}" for i, row in enumerate(held[:10], 1)]
    if len(held) > 10:
        lines.append(f"……另有{len(held) - 10}条")
    link = home_link(rt.settings.crmbot_public_url)
    return Card(card_id=new_card_id("digest", user_id), title=f"待办汇总（{len(held)}条）",
                text="\n".join(lines), buttons=(Button(text="打开待办", url=link, style=ButtonStyle.PRIMARY),),
                link=link, source="提醒汇总")
