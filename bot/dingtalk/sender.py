"""DingTalk's side of the one way out: draw an outbox message for DingTalk (interactive card when
the app has a card template, else ActionCard / text) and send it through the real client;
download a message's file."""
from __future__ import annotations

import time
from typing import Any

from cards import dingtalk as render
from cards.links import home_link
from cards.model import Card
from storage.models import OutboxMessage

from ..errors import PermanentError, RateLimited
from ..images import read_image
from ..services import Services

# A robot card lands in the robot chat, which a manager can miss: escalations also raise a
# 工作通知 (work notice), written as its own outbox row.
SEPARATE_NOTICE = True
WEBHOOK_MARGIN_MS = 5000


def send(rt: Services, message: OutboxMessage) -> dict[str, Any]:
    client = rt.client("dingtalk")
    payload = message.payload
    interactive = bool(rt.settings.dingtalk_card_template_id)
    is_group = bool(message.context.get("is_group"))
    # the renderers escape every value and drop any link outside our own pages (cards/escape.py)
    link_base = home_link(rt.settings.crmbot_public_url)
    if message.action == "notice":
        task_id = client.send_work_notice([message.recipient], render.render_markdown(
            Card.from_dict(payload["card"]), link_base=link_base))
        return {"work_notice_task_id": task_id}
    if "image" in payload:  # a report's chart: oapi media/upload, then sampleImageMsg by media_id
        content, content_type, filename = read_image(rt, payload["image"])
        media_id = client.upload_media("image", content, filename, content_type)
        msg_key, msg_param = "sampleImageMsg", {"photoURL": media_id}
    elif "card" in payload:
        card = Card.from_dict(payload["card"])
        if interactive:
            params = render.render_interactive(card, link_base=link_base)
            if message.action == "update":
                client.update_card(card.card_id, params)
                return {"updated": card.card_id}
            target = {"open_conversation_id": message.recipient} if is_group else {"user_id": message.recipient}
            client.create_and_deliver_card(card.card_id, params, **target,
                                           callback_route_key=rt.settings.crmbot_dingtalk_card_route_key or None)
            return {"out_track_id": card.card_id}
        if message.action == "update" and not any(b.key for b in card.buttons):
            # a classic ActionCard cannot change after it is sent: say what happened instead
            msg_key, msg_param = "sampleText", {"content": f"✅ {card.title}：{card.done_note or '已处理'}"}
        else:
            # a card that still has something to tap after the update (转交's colleagues, 撤销) is
            # sent again as it is now: an update in place is what only interactive cards can do.
            # In a group the robot hears only @-messages: a button's text must @ it (platforms.md 2.5)
            hint = f"@{rt.settings.dingtalk_robot_name} " if is_group else ""
            msg_key, msg_param = render.render_action_card(card, robot_sender_hint=hint, link_base=link_base)
    else:
        msg_key, msg_param = "sampleText", {"content": payload["text"]}
    webhook = message.context.get("reply_webhook")
    expires = message.context.get("reply_webhook_expires_ms") or 0
    # the session webhook's expiry is DingTalk's own wall-clock time, not business time
    if webhook and expires > _wall_ms() + WEBHOOK_MARGIN_MS and msg_key == "sampleText":
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


def download(rt: Services, media_ref: str) -> bytes:
    return rt.client("dingtalk").download_message_file(media_ref)


def _wall_ms() -> int:
    return int(time.time() * 1000)
