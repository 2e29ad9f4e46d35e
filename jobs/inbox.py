"""Step 3: take one inbox event, find who sent it, and run its handler inside one transaction.

The handler's changes, its answers (outbox rows) and the inbox row's "done" commit together: an
event is handled exactly once however often the platform or the queue delivers it. A refusal from
the domain (invalid input, duplicate, no permission) is answered in Chinese and leaves nothing
half-written; an unexpected error rolls everything back and rq retries the job.
"""
from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy import update
from sqlalchemy.orm import Session

import bot.handlers  # noqa: F401  (registers the handlers on the router)
from bot import card_taps
from bot.context import Context, tapped_in
from bot.events import Event, Kind
from bot.router import router
from bot.outbound import enqueue_delivery
from bot.services import Services
from storage import messaging, users
from storage.errors import DomainError
from storage.models import CardRecord, InboxEvent, User

from .outbound import deliver
from .runtime import current_runtime

log = logging.getLogger(__name__)

# Kinds a person sends on purpose: an unknown sender gets told how to get access.
_FROM_A_PERSON = {Kind.TEXT, Kind.IMAGE, Kind.VOICE, Kind.FILE, Kind.CARD_ACTION, Kind.MENU_CLICK}
NOT_REGISTERED = "你的账号还没有开通 crmbot，请联系管理员把你加入销售团队后再试。"


def process_inbox(inbox_id: int) -> str:
    rt = current_runtime()
    try:
        with rt.db.transaction() as session:
            row = messaging.claim_inbox(session, inbox_id)
            if row is None:
                return "skipped"
            ctx = _context(session, rt, row)
            status = _handle(ctx)
            messaging.finish_inbox(session, inbox_id, now=ctx.now, status=status)
    except Exception as exc:
        log.exception("inbox %s failed", inbox_id)
        with rt.db.transaction() as session:
            session.execute(update(InboxEvent).where(InboxEvent.id == inbox_id).values(
                status="failed", attempts=InboxEvent.attempts + 1, last_error=str(exc)[:500]))
        raise
    _deliver_replies(rt, ctx)
    for path, args, queue in ctx.deferred:
        rt.queue.enqueue(path, *args, queue=queue)
    return status


def _deliver_replies(rt: Services, ctx: Context) -> None:
    """Send the answers right here, after the commit: a reply does not wait for a second job. If
    this worker cannot (a crash, a platform error it does not retry itself), the delivery job and
    the store's sweep still have the outbox rows."""
    for outbox_id in ctx.outbox_ids:
        try:
            deliver(outbox_id)
        except Exception:
            log.exception("outbox %s: inline delivery failed; handing it to the delivery job", outbox_id)
            enqueue_delivery(rt.queue, [outbox_id])


def _context(session: Session, rt: Services, row: InboxEvent) -> Context:
    event = Event.from_dict(row.event)
    user = users.user_for_platform(session, str(event.platform), event.org, event.sender) \
        if event.sender else None
    if user is not None and user.preferred_platform != str(event.platform):
        user.preferred_platform = str(event.platform)
    record = None
    if event.kind == Kind.CARD_ACTION and user is not None:
        record, event = _tapped_card(session, event, user)
        if record is not None:
            event = tapped_in(event, record)  # a group card's tap is answered in its group
    return Context(session=session, event=event, user=user, playbook=rt.playbook, settings=rt.settings,
                   now=rt.clock.now(), inbox_id=row.id, card_record=record)


def _tapped_card(session: Session, event: Event, user: User) -> tuple[CardRecord | None, Event]:
    """The card a click is about, if this user may act on it (their own, or a group card anyone
    in the chat may tap); a tap that arrived as the person's text (an ActionCard button) names no
    card: it is found among theirs and, sent in a group, the group's (bot/card_taps.py)."""
    if event.payload.get("button_text"):
        chat = event.chat
        group = card_taps.Group(chat.conversation_id, router.may_act_on) \
            if chat.is_group and chat.conversation_id else None
        tap = card_taps.resolve(session, user, str(event.platform), event.payload["button_text"], group)
        if tap is None:
            return None, event
        return tap.record, replace(event, payload={**event.payload, "card_ref": tap.record.card_id,
                                                   "action": tap.key})
    record = session.get(CardRecord, str(event.payload.get("card_ref", "")))
    return (record if record is not None and router.may_act_on(record, user) else None), event


def _handle(ctx: Context) -> str:
    if ctx.user is None:
        if ctx.event.kind in _FROM_A_PERSON and ctx.event.sender:
            ctx.say(NOT_REGISTERED)
        return "ignored"
    if ctx.event.kind == Kind.CARD_ACTION and ctx.card_record is None:
        tapped = ctx.event.payload.get("button_text")
        ctx.say(card_taps.not_found(tapped) if tapped else "这张卡片已失效或不是发给你的，请发送“待办”查看最新任务。")
        return "done"
    try:
        with ctx.session.begin_nested():  # a refusal rolls back exactly what the handler wrote
            router.dispatch(ctx)
    except DomainError as exc:
        ctx.outbox_ids.clear()
        ctx.deferred.clear()
        ctx.say(exc.message)
    return "done"
