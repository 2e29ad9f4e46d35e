"""Pacing: when a reminder may reach a person.

- Quiet hours (playbook `quiet_hours`, org time zone = playbook.timezone): nothing is pushed between
  start and end. What falls due then is written to the outbox as `held` until the end time.
- A rep gets at most `delivery.max_cards_per_hour` reminder messages per hour; beyond that the
  message is held until the oldest one of the hour ages out.
- `release_held` (every minute) releases what is due: one held message for a person goes out as
  it is, several are merged into one digest card.

Only reminder traffic is paced (outbox dedupe keys starting with `rule:`); a rep's own command
replies are never held. Handlers and rule scans both push through a `Pacer`, which collects the
outbox ids to deliver once the caller's transaction has committed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cards.model import Button, ButtonStyle, Card
from config.playbook import Playbook, QuietHours
from storage import messaging
from storage.models import OutboxMessage, User, utcnow
from storage.users import platform_userid

log = logging.getLogger(__name__)

RULE_PREFIX = "rule:"
HELD, DIGESTED = "held", "digested"
RELEASE_BATCH = 1000
CLOCK_SLACK = timedelta(minutes=1)


# ------------------------------------------------------------------ the clock rules


def in_quiet_hours(local: time, quiet: QuietHours) -> bool:
    start, end = quiet.start, quiet.end
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end  # spans midnight, e.g. 22:00 → 08:00


def quiet_end_after(now: datetime, playbook: Playbook) -> datetime:
    """The next time quiet hours end, as an aware datetime."""
    local = now.astimezone(playbook.tz)
    end = datetime.combine(local.date(), playbook.quiet_hours.end, tzinfo=playbook.tz)
    if end <= local:
        end += timedelta(days=1)
    return end


@dataclass(frozen=True)
class Decision:
    status: str                      # pending | held
    not_before: datetime | None
    reason: str | None = None        # quiet_hours | rate


def recent_count(session: Session, user_id: int, now: datetime) -> tuple[int, datetime | None]:
    """How many reminders `user_id` got in the hour before `now`, and when the oldest of them was."""
    # recipient + created_at is indexed; the hour's rows for one person are few
    count, oldest = session.execute(
        select(func.count(), func.min(OutboxMessage.created_at)).where(
            OutboxMessage.recipient_user_id == user_id, OutboxMessage.created_at > now - timedelta(hours=1),
            OutboxMessage.created_at <= now, OutboxMessage.dedupe_key.like(f"{RULE_PREFIX}%"),
            OutboxMessage.status.in_(("pending", "sending", "sent")))).one()
    return count, oldest


def decide(playbook: Playbook, now: datetime, recent: tuple[int, datetime | None]) -> Decision:
    if in_quiet_hours(now.astimezone(playbook.tz).time(), playbook.quiet_hours):
        return Decision(HELD, quiet_end_after(now, playbook), "quiet_hours")
    count, oldest = recent
    if count >= playbook.delivery.max_cards_per_hour:
        return Decision(HELD, (oldest or now) + timedelta(hours=1), "rate")
    return Decision("pending", None)


# ------------------------------------------------------------------ pushing


def user_platform(user: User) -> str | None:
    from .outbound import user_platform as where
    return where(user)


@dataclass
class Pacer:
    """Pushes reminder cards and texts through the pacing rules inside the caller's transaction.
    `outbox_ids` are the rows to deliver right after commit (held ones are left to release_held)."""
    session: Session
    playbook: Playbook
    now: datetime
    outbox_ids: list[int] = field(default_factory=list)
    # per recipient: [reminders in the last hour, oldest of them], read once per transaction
    _recent: dict[int, list] = field(default_factory=dict)

    def card(self, user: User, card: Card, *, subject_type: str, subject_id: int, dedupe_key: str,
             not_before: datetime | None = None, work_notice: bool = False) -> int | None:
        """`work_notice`: also raise it where a manager cannot miss it. On DingTalk that is a
        工作通知 beside the robot's card (a WeCom app message already is one); held cards get none,
        their digest arrives at the end of quiet hours."""
        platform = user_platform(user)
        if platform is None:
            log.warning("user %s has no platform id: card %s not sent", user.id, card.card_id)
            return None
        messaging.save_card(self.session, card_id=card.card_id, org_id=user.org_id, platform=platform,
                            recipient_user_id=user.id, subject_type=subject_type, subject_id=subject_id,
                            card=card.to_dict())
        outbox_id = self._queue(user, platform, {"card": card.to_dict()}, dedupe_key, card.card_id, not_before)
        if work_notice and outbox_id and platform == "dingtalk":
            notice_id, created = messaging.enqueue_outbox(
                self.session, dedupe_key=f"{RULE_PREFIX}{dedupe_key}:notice", platform=platform,
                recipient=platform_userid(user, platform), payload={"card": card.to_dict()},
                action="notice", org_id=user.org_id, recipient_user_id=user.id)
            if created:
                self.outbox_ids.append(notice_id)
        return outbox_id

    def text(self, user: User, text: str, *, dedupe_key: str) -> int | None:
        platform = user_platform(user)
        if platform is None:
            return None
        return self._queue(user, platform, {"text": text}, dedupe_key, None, None)

    def _queue(self, user: User, platform: str, payload: dict, dedupe_key: str, card_id: str | None,
               not_before: datetime | None) -> int | None:
        key = dedupe_key if dedupe_key.startswith(RULE_PREFIX) else RULE_PREFIX + dedupe_key
        if not_before is not None:  # a reminder for later: held until then (and paced then)
            decision = decide(self.playbook, max(self.now, not_before), (0, None))
            if decision.status != HELD:
                decision = Decision(HELD, not_before, "snooze")
        else:
            if user.id not in self._recent:
                self._recent[user.id] = list(recent_count(self.session, user.id, self.now))
            decision = decide(self.playbook, self.now, tuple(self._recent[user.id]))
        outbox_id, created = messaging.enqueue_outbox(
            self.session, dedupe_key=key, platform=platform, recipient=platform_userid(user, platform),
            payload=payload, card_id=card_id, org_id=user.org_id, recipient_user_id=user.id,
            not_before=decision.not_before, status=decision.status)
        if not created:
            return None
        if abs(self.now - utcnow()) > CLOCK_SLACK:
            # a run on a controlled clock (rules run --now, tests): pacing must count by that clock
            self.session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id)
                                 .values(created_at=self.now).execution_options(synchronize_session=False))
        if decision.status == HELD:
            return None
        counted = self._recent[user.id]
        counted[0] += 1
        counted[1] = counted[1] or self.now
        self.outbox_ids.append(outbox_id)
        return outbox_id


# ------------------------------------------------------------------ releasing


def release_held(now_iso: str | None = None) -> dict[str, int]:
    """Periodic job: deliver held reminders whose time has come; several for one person become one
    digest. Returns counts for logs and tests."""
    from .outbound import enqueue_delivery
    from .runtime import current_runtime
    rt = current_runtime()
    now = datetime.fromisoformat(now_iso) if now_iso else utcnow()
    totals = {"released": 0, "digests": 0, "merged": 0}
    while True:
        with rt.db.transaction() as session:
            counts, to_deliver, more = _release_batch(session, rt, now)
        enqueue_delivery(rt, to_deliver)
        for key, value in counts.items():
            totals[key] += value
        if not more:
            return totals


def _release_batch(session: Session, rt, now: datetime) -> tuple[dict[str, int], list[int], bool]:
    rows = list(session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == HELD, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(RELEASE_BATCH)
        .with_for_update(skip_locked=True)))
    by_person: dict[int | None, list[OutboxMessage]] = {}
    for row in rows:
        by_person.setdefault(row.recipient_user_id, []).append(row)
    counts, deliver = {"released": 0, "digests": 0, "merged": 0}, []
    wall = utcnow()
    for user_id, held in by_person.items():
        if len(held) == 1 or user_id is None:
            for row in held:
                row.status, row.next_attempt_at = "pending", wall
                deliver.append(row.id)
                counts["released"] += 1
            continue
        user = session.get(User, user_id)
        digest_id = _digest(session, rt, user, held, now)
        for row in held:
            row.status, row.result = DIGESTED, {"digest_outbox_id": digest_id}
        counts["digests"] += 1
        counts["merged"] += len(held)
        if digest_id is not None:
            deliver.append(digest_id)
    return counts, deliver, len(rows) == RELEASE_BATCH


def _title(row: OutboxMessage) -> str:
    if "card" in row.payload:
        return row.payload["card"].get("title", "")
    return (row.payload.get("text") or "").splitlines()[0][:60]


def _digest(session: Session, rt, user: User, held: list[OutboxMessage], now: datetime) -> int | None:
    from bot.context import new_card_id
    lines = [f"{i}. {_title(row)}" for i, row in enumerate(held[:10], 1)]
    if len(held) > 10:
        lines.append(f"……另有{len(held) - 10}条")
    link = f"{rt.settings.crmbot_public_url}/app/"
    card = Card(card_id=new_card_id("digest", user.id), title=f"待办汇总（{len(held)}条）",
                text="\n".join(lines), buttons=(Button(text="打开待办", url=link, style=ButtonStyle.PRIMARY),),
                link=link, source="提醒汇总")
    platform = user_platform(user)
    if platform is None:
        return None
    messaging.save_card(session, card_id=card.card_id, org_id=user.org_id, platform=platform,
                        recipient_user_id=user.id, subject_type="digest", subject_id=user.id,
                        card=card.to_dict())
    outbox_id, _ = messaging.enqueue_outbox(
        session, dedupe_key=f"{RULE_PREFIX}digest:{user.id}:{held[0].id}-{held[-1].id}",
        platform=platform, recipient=platform_userid(user, platform), payload={"card": card.to_dict()},
        card_id=card.card_id, org_id=user.org_id, recipient_user_id=user.id)
    if abs(now - utcnow()) > CLOCK_SLACK:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id)
                        .values(created_at=now).execution_options(synchronize_session=False))
    return outbox_id
