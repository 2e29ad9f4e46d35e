"""Step 4: everything said to a person leaves through the outbox and this delivery job.

- `push_card` / `push_text`: queue a message to a crmbot user on the platform they use.
- `deliver(outbox_id)`: lease the row (so two workers never send it at once), render it for its
  platform, call the real client, record the result. Retryable failures (expired token handled by
  the client, rate limit, 5xx, timeouts) back off and try again; permanent ones are recorded.
- A worker killed between the platform's answer and our commit leaves the lease to expire and
  the message is sent again with the same WeCom task_id / DingTalk outTrackId, which the platform
  refuses as a duplicate: we treat that refusal as "already delivered", so one dedupe key is one
  message.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.errors import CardCodeSpent, PermanentError, PlatformError, RateLimited, RetryableError
from cards.model import Card
from storage import media, messaging
from storage.models import MediaAsset, OutboxMessage, User, utcnow
from storage.users import platform_userid

from .runtime import Runtime, current_runtime

log = logging.getLogger(__name__)

DELIVER_JOB = "jobs.outbound.deliver"
MAX_ATTEMPTS = 8
BACKOFF_S = (5, 15, 60, 180, 600, 1800, 3600)
# WeCom answers a reused task_id with this errcode (the fake's choice; unverified on real WeCom).
WECOM_DUPLICATE_TASK_ID = 40058


def user_platform(user: User, settings=None) -> str | None:
    """Where to reach a user: where they last talked to the bot, else the platform they have an id on."""
    if user.preferred_platform and platform_userid(user, user.preferred_platform):
        return user.preferred_platform
    if user.wecom_userid:
        return "wecom"
    if user.dingtalk_userid:
        return "dingtalk"
    return None


def push_card(session: Session, user: User, card: Card, *, subject_type: str, subject_id: int,
              dedupe_key: str, not_before: datetime | None = None) -> int | None:
    """Queue a card to `user`; returns the outbox id, or None when the user has no platform id."""
    platform = user_platform(user)
    if platform is None:
        log.warning("user %s has no platform id: card %s not sent", user.id, card.card_id)
        return None
    messaging.save_card(session, card_id=card.card_id, org_id=user.org_id, platform=platform,
                        recipient_user_id=user.id, subject_type=subject_type, subject_id=subject_id,
                        card=card.to_dict())
    outbox_id, _ = messaging.enqueue_outbox(
        session, dedupe_key=dedupe_key, platform=platform, recipient=platform_userid(user, platform),
        payload={"card": card.to_dict()}, card_id=card.card_id, org_id=user.org_id,
        recipient_user_id=user.id, not_before=not_before)
    return outbox_id


def push_text(session: Session, user: User, text: str, *, dedupe_key: str,
              not_before: datetime | None = None) -> int | None:
    platform = user_platform(user)
    if platform is None:
        return None
    outbox_id, _ = messaging.enqueue_outbox(
        session, dedupe_key=dedupe_key, platform=platform, recipient=platform_userid(user, platform),
        payload={"text": text}, org_id=user.org_id, recipient_user_id=user.id, not_before=not_before)
    return outbox_id


def enqueue_delivery(runtime: Runtime, outbox_ids, delay_s: float = 0) -> None:
    for outbox_id in outbox_ids:
        runtime.queue.enqueue(DELIVER_JOB, outbox_id, job_id=f"deliver-{outbox_id}", delay_s=delay_s)


# ------------------------------------------------------------------ the job


def deliver(outbox_id: int) -> str:
    """rq job. Returns the final state for logs and tests."""
    rt = current_runtime()
    with rt.db.transaction() as session:
        message = messaging.lease_outbox(session, outbox_id)
        if message is None:
            return "skipped"  # sent already, held for quiet hours, or another worker has it
        session.expunge(message)
    try:
        result = _send(rt, message)
    except CardCodeSpent as exc:
        # the click's code was used or expired: nothing more can change that card
        return _finish(rt, outbox_id, "sent", result={"note": f"card code spent: {exc}"})
    except RetryableError as exc:
        return _retry(rt, message, exc)
    except PlatformError as exc:
        if message.platform == "wecom" and exc.code == WECOM_DUPLICATE_TASK_ID:
            return _finish(rt, outbox_id, "sent", result={"note": "already delivered (task_id reused)"})
        log.error("outbox %s failed permanently: %s", outbox_id, exc)
        return _finish(rt, outbox_id, "failed", error=str(exc))
    return _finish(rt, outbox_id, "sent", result=result)


def _finish(rt: Runtime, outbox_id: int, status: str, result: dict | None = None,
            error: str | None = None) -> str:
    with rt.db.transaction() as session:
        row = session.get(OutboxMessage, outbox_id)
        row.status, row.result = status, result or {}
        row.last_error = (error or "")[:500] or None
        if status == "sent":
            row.sent_at = utcnow()
    return status


def _retry(rt: Runtime, message: OutboxMessage, exc: RetryableError) -> str:
    if message.attempts >= MAX_ATTEMPTS:
        log.error("outbox %s gave up after %s attempts: %s", message.id, message.attempts, exc)
        return _finish(rt, message.id, "failed", error=f"gave up: {exc}")
    delay = exc.retry_after_s if isinstance(exc, RateLimited) else \
        BACKOFF_S[min(message.attempts - 1, len(BACKOFF_S) - 1)]
    with rt.db.transaction() as session:
        row = session.get(OutboxMessage, message.id)
        row.status, row.last_error = "pending", str(exc)[:500]
        row.next_attempt_at = utcnow() + timedelta(seconds=delay)
    enqueue_delivery(rt, [message.id], delay_s=delay)
    return "retry"


# ------------------------------------------------------------------ per platform


def _send(rt: Runtime, message: OutboxMessage) -> dict:
    if "image" in message.payload:
        return _send_image(rt, message)
    if message.platform == "wecom":
        return _send_wecom(rt, message)
    if message.platform == "dingtalk":
        return _send_dingtalk(rt, message)
    raise PermanentError(f"unknown platform {message.platform}")


def _send_image(rt: Runtime, message: OutboxMessage) -> dict:
    """An image (a report's chart) kept as a media asset: upload it, then send it by media_id.
    WeCom: media/upload + message/send msgtype image. DingTalk: oapi media/upload + batchSend
    sampleImageMsg (photoURL = the media_id). Uploaded media live 3 days, so every delivery uploads."""
    with rt.db.transaction() as session:
        asset = session.get(MediaAsset, message.payload["image"]["media_asset_id"])
        content, content_type = media.read_media(asset), asset.content_type
    filename = message.payload["image"].get("filename") or "chart.png"
    if message.platform == "wecom":
        client = rt.client("wecom")
        media_id = client.upload_media("image", content, filename, content_type)
        result = client.send(message.recipient, {"msgtype": "image", "image": {"media_id": media_id}})
        if message.recipient in result.invalid_users:
            raise PermanentError(f"WeCom did not deliver to {message.recipient} (invaliduser)")
        return {"msgid": result.msgid, "media_id": media_id}
    if message.platform == "dingtalk":
        client = rt.client("dingtalk")
        media_id = client.upload_media("image", content, filename, content_type)
        sent = client.send_image_to_users([message.recipient], media_id)
        if message.recipient in sent.flow_controlled:
            raise RateLimited("DingTalk flow-controlled the recipient", retry_after_s=60)
        if message.recipient in (*sent.invalid, *sent.filtered):
            raise PermanentError(f"DingTalk did not deliver to {message.recipient}")
        return {"process_query_key": sent.process_query_key, "media_id": media_id}
    raise PermanentError(f"unknown platform {message.platform}")


def _link_base(rt: Runtime) -> str:
    return f"{rt.settings.crmbot_public_url}/app/"


def _send_wecom(rt: Runtime, message: OutboxMessage) -> dict:
    from cards import wecom as render
    client = rt.client("wecom")
    payload = message.payload
    if message.action == "notice":
        return {"note": "a WeCom app message is already a notice"}
    if message.action == "update":
        card = Card.from_dict(payload["card"])
        code = message.context.get("response_code")
        if not code:
            raise PermanentError("no response_code to update the card with")
        client.update_template_card([message.recipient], code,
                                    template_card=render.render_update(card, default_url=_link_base(rt)))
        return {"updated": card.card_id}
    if "card" in payload:
        card = Card.from_dict(payload["card"])
        body = render.render_card(card, rt.settings.wecom_agent_id, message.recipient,
                                  default_url=card.link or _link_base(rt))
    else:
        body = render.render_text(payload["text"])
    result = client.send(message.recipient, body)
    if message.recipient in result.invalid_users:
        raise PermanentError(f"WeCom did not deliver to {message.recipient} (invaliduser)")
    return {"msgid": result.msgid, "response_code": result.response_code}


def _send_dingtalk(rt: Runtime, message: OutboxMessage) -> dict:
    from cards import dingtalk as render
    client = rt.client("dingtalk")
    payload = message.payload
    interactive = bool(rt.settings.dingtalk_card_template_id)
    is_group = bool(message.context.get("is_group"))
    if message.action == "notice":  # 工作通知: shows up under 工作通知, not in the robot chat
        task_id = client.send_work_notice([message.recipient], render.render_markdown(Card.from_dict(payload["card"])))
        return {"work_notice_task_id": task_id}
    if "card" in payload:
        card = Card.from_dict(payload["card"])
        if interactive:
            params = render.render_interactive(card)
            if message.action == "update":
                client.update_card(card.card_id, params)
                return {"updated": card.card_id}
            target = {"open_conversation_id": message.recipient} if is_group else {"user_id": message.recipient}
            client.create_and_deliver_card(card.card_id, params, **target,
                                           callback_route_key=rt.settings.crmbot_dingtalk_card_route_key or None)
            return {"out_track_id": card.card_id}
        if message.action == "update":
            # a classic ActionCard cannot change after it is sent: say what happened instead
            msg_key, msg_param = "sampleText", {"content": f"✅ {card.title}：{card.done_note or '已处理'}"}
        else:
            msg_key, msg_param = render.render_action_card(card)
    else:
        msg_key, msg_param = "sampleText", {"content": payload["text"]}
    webhook = message.context.get("reply_webhook")
    expires = message.context.get("reply_webhook_expires_ms") or 0
    if webhook and expires > time.time() * 1000 + 5000 and msg_key == "sampleText":
        client.reply_via_webhook(webhook, render.render_text(msg_param["content"]))
        return {"via": "session_webhook"}
    if is_group:
        return {"process_query_key": client.send_to_group(message.recipient, msg_key, msg_param)}
    result = client.send_to_users([message.recipient], msg_key, msg_param)
    if message.recipient in result.flow_controlled:
        raise RateLimited("DingTalk flow-controlled the recipient", retry_after_s=60)
    if message.recipient in (*result.invalid, *result.filtered):
        raise PermanentError(f"DingTalk did not deliver to {message.recipient}")
    return {"process_query_key": result.process_query_key}


# ------------------------------------------------------------------ the sweeper


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Re-enqueue what the store says is due: outbox rows past their time (retries, expired
    leases, quiet-hours holds) and inbox rows that never got processed. Runs every minute."""
    rt = current_runtime()
    now = now or utcnow()
    with rt.db.transaction() as session:
        due = messaging.due_outbox_ids(session, now)
        stuck = messaging.stuck_inbox_ids(session, timedelta(minutes=2), now)
    enqueue_delivery(rt, due)
    for inbox_id in stuck:
        rt.queue.enqueue("jobs.inbox.process_inbox", inbox_id, job_id=f"inbox-{inbox_id}",
                         queue="crmbot-high")
    return {"outbox": len(due), "inbox": len(stuck)}
