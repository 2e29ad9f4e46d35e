"""WeCom's side of the one way out: draw an outbox message for WeCom and send it through the real
client; download a message's media. `jobs.outbound.deliver` calls this through bot.outbound's
sender table, so no job knows which platform it talks to."""
from __future__ import annotations

from typing import Any

from cards import wecom as render
from cards.links import home_link
from cards.model import Card
from storage.models import OutboxMessage

from ..errors import PermanentError, PlatformError
from ..images import read_image
from ..services import Services

# WeCom answers a reused task_id with this errcode (the fake's choice; unverified on real WeCom):
# a worker killed after WeCom's answer re-sends, and this refusal means "already delivered".
DUPLICATE_TASK_ID = 40058
# An app message already is a notice on WeCom: no separate 工作通知 row is needed.
SEPARATE_NOTICE = False


def send(rt: Services, message: OutboxMessage) -> dict[str, Any]:
    try:
        return _send(rt, message)
    except PlatformError as exc:
        if exc.code == DUPLICATE_TASK_ID:
            return {"note": "already delivered (task_id reused)"}
        raise


def _send(rt: Services, message: OutboxMessage) -> dict[str, Any]:
    client = rt.client("wecom")
    payload = message.payload
    default_url = home_link(rt.settings.crmbot_public_url)
    if message.action == "update":
        card = Card.from_dict(payload["card"])
        code = message.context.get("response_code")
        if not code:
            raise PermanentError("no response_code to update the card with")
        client.update_template_card([message.recipient], code,
                                    template_card=render.render_update(card, default_url=default_url))
        return {"updated": card.card_id}
    if "image" in payload:  # a report's chart: upload, then send by media_id (media live 3 days)
        content, content_type, filename = read_image(rt, payload["image"])
        media_id = client.upload_media("image", content, filename, content_type)
        body = {"msgtype": "image", "image": {"media_id": media_id}}
    elif "card" in payload:
        card = Card.from_dict(payload["card"])
        body = render.render_card(card, rt.settings.wecom_agent_id, message.recipient,
                                  default_url=card.link or default_url)
    else:
        body = render.render_text(payload["text"])
    result = client.send(message.recipient, body)
    if message.recipient in result.invalid_users:
        raise PermanentError(f"WeCom did not deliver to {message.recipient} (invaliduser)")
    return {"msgid": result.msgid, "response_code": result.response_code}


def download(rt: Services, media_ref: str) -> bytes:
    data, _content_type, _name = rt.client("wecom").download_media(media_ref)
    return data
