"""DingTalk inbound edge: verify a callback, turn its JSON into a neutral `Event`.

Two transports deliver the same JSON: HTTP callbacks (this module's `receive_*` functions, which check
size, freshness and signature first) and Stream mode (`bot/dingtalk/stream.py`, where the websocket
itself is authenticated). Both call the same `parse_robot_message` / `parse_card_callback`, so an event
looks identical whichever way it came in.

Choices the router should know about:
- A group message that does not @-mention the robot yields `(None, raw)`: "store the raw JSON if you
  like, but there is nothing to handle". DingTalk normally only delivers @-messages in groups, so this
  is a guard, not a common path.
- A sender without `senderStaffId` (someone outside the org, e.g. in a cross-org group) cannot be mapped
  to a rep: the event is kept as Kind.UNKNOWN with payload {"type": "outside_sender", ...} and
  sender "" rather than rejected, so nothing is lost and DingTalk gets its 200.
- richText (text with inline pictures) becomes ONE Kind.TEXT event: {"text": joined text parts,
  "images": [downloadCode, ...]}. Treat the images like IMAGE events' media_ref, attached to that text.
- The text-button fallback for cards (cards/dingtalk.py `render_action_card`) makes the client send a
  text such as "☑ 已报价 · 上海华东机电设备有限公司". Such a text is turned into Kind.CARD_ACTION here
  ({"card_ref": "", "action": "", "params": {}, "via": "text", "button_text"}); which card and key it
  means depends on who sent it and what they were sent, so the inbox job finds them
  (bot/card_taps.py) and the router then handles both card flavours alike. A text in the format
  before issue 16 ("#操作 已报价 ‹fu-42|tag:quoted›", still on cards in chats) names its card and key.
- Answer the HTTP callback with 200 as soon as the inbox row is written; a `CallbackRejected` maps to
  its `.status` (403 bad/stale/replayed signature, 400 malformed, 413 too large, 503 replay store
  down) and nothing is stored.

Impersonation (issue 15). DingTalk's HTTP signatures cover only the timestamp, not the body, so a
captured (timestamp, sign) pair would carry ANY body for the whole window. Two defences:
- `ReplayGuard`: a (timestamp, sign) pair is remembered in Redis (SET NX with expiry) together with
  the SHA-256 of its body; the same pair with another body is refused (403). The same pair with the
  same body is a platform retry and passes (the inbox dedupes it on msgId).
  Cost: two genuine messages DingTalk signs in the same millisecond share a pair; the second is
  refused. Stream mode (README) has neither problem: the websocket itself is authenticated.
- The org is the configured app's corp (DINGTALK_CORP_ID, the app whose secret verified the call),
  never `chatbotCorpId` / `corpId` from the unsigned body; a body naming another corp is refused.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from bot.events import Chat, Event, Kind, Platform
from config.inbound import BodyRejected, field_errors, load_json, load_json_object
from cards.dingtalk import parse_card_action, read_button_text

from .payloads import CardCallback, CardContent, RobotContent, RobotMessage


class CallbackRejected(Exception):
    """The callback must not be processed; answer with `status`. `reason` is for logs, not users."""

    def __init__(self, status: int, reason: str):
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


# ---------------------------------------------------------------------------------------------------
# HTTP transport: checks, then the shared parsers


class ReplayGuard:
    """Remembers each (timestamp, sign) pair with its body's digest for longer than the window."""

    def __init__(self, redis, window_s: int):
        self.redis = redis
        # a timestamp is accepted up to `window` in the past or the future; 0 (no window) → 2 h
        self.ttl_s = 2 * (window_s or 3600) + 60

    def check(self, route: str, timestamp: str, sign: str, body: bytes) -> None:
        key = "crmbot:replay:" + hashlib.sha256(f"{route}|{timestamp}|{sign}".encode()).hexdigest()
        digest = hashlib.sha256(body).hexdigest()
        try:
            if self.redis.set(key, digest, nx=True, ex=self.ttl_s):
                return
            seen = self.redis.get(key)
        except Exception as exc:  # fail closed: without the store the signature proves nothing
            raise CallbackRejected(503, f"replay store unavailable ({type(exc).__name__})") from None
        seen = seen.decode() if isinstance(seen, bytes) else seen
        if seen != digest:
            raise CallbackRejected(403, "signature already used with another body (replay)")


def receive_robot_message(headers: Mapping[str, str], body: bytes, settings,
                          now_ms: int | None = None, replay_guard: ReplayGuard | None = None
                          ) -> tuple[Event | None, dict]:
    """Check and parse a robot message POSTed to /dingtalk/callback.

    DingTalk signs `timestamp + "\\n" + AppSecret` with the AppSecret (HMAC-SHA256, base64).
    DingTalk itself accepts a timestamp up to 1 hour old; we default to the tighter
    CRMBOT_TIMESTAMP_WINDOW_S (300 s) because a replayed message would be handled twice only if its
    msgId were also new, and a short window costs nothing when clocks are NTP-synced. 0 disables it.
    """
    _check_size(body, settings)
    timestamp = _header(headers, "timestamp")
    sign = _header(headers, "sign")
    if not timestamp or not sign:
        raise CallbackRejected(403, "missing timestamp/sign headers")
    _check_fresh(timestamp, settings, now_ms)
    secret = _app_secret(settings)
    expected = _b64_hmac(secret, f"{timestamp}\n{secret}")
    if not hmac.compare_digest(expected, sign.encode()):
        raise CallbackRejected(403, "bad sign")
    data = _json_object(body)
    event = parse_robot_message(data, org=configured_org(settings))
    if replay_guard is not None:  # after parsing: a refused body claims nothing, not even the pair
        replay_guard.check("robot", timestamp, sign, body)
    return event, data


def receive_card_callback(headers: Mapping[str, str], body: bytes, settings,
                          now_ms: int | None = None, replay_guard: ReplayGuard | None = None
                          ) -> tuple[Event, dict]:
    """Check and parse an interactive-card click POSTed to /dingtalk/card-callback.

    The signature key is the `apiSecret` given when the callback route was registered
    (POST /v1.0/card/callbacks/register). We register it with the app's AppSecret, so one secret
    (DINGTALK_APP_SECRET) serves both callbacks and there is no extra variable to configure.
    """
    _check_size(body, settings)
    timestamp = _header(headers, "x-ddpaas-signature-timestamp")
    sign = _header(headers, "x-ddpaas-signature")
    if not timestamp or not sign:
        raise CallbackRejected(403, "missing x-ddpaas-signature headers")
    _check_fresh(timestamp, settings, now_ms)
    expected = _b64_hmac(_app_secret(settings), str(timestamp))
    if not hmac.compare_digest(expected, sign.encode()):
        raise CallbackRejected(403, "bad x-ddpaas-signature")
    data = _json_object(body)
    event = parse_card_callback(data, org=configured_org(settings), now_s=int(timestamp) // 1000)
    if replay_guard is not None:
        replay_guard.check("card", timestamp, sign, body)
    return event, data


def configured_org(settings) -> str:
    """The corp of the app whose secret verified the call. Empty when DINGTALK_CORP_ID is unset:
    users are then looked up by userid alone and must be unique across orgs (one-org deployments)."""
    return settings.dingtalk_corp_id or ""


def robot_sign(app_secret: str, timestamp_ms: int | str) -> str:
    """The `sign` header DingTalk sends with a robot message (used by the fake platform too)."""
    return _b64_hmac(app_secret, f"{timestamp_ms}\n{app_secret}").decode()


def card_callback_sign(api_secret: str, timestamp_ms: int | str) -> str:
    """The `x-ddpaas-signature` header of an HTTP card callback."""
    return _b64_hmac(api_secret, str(timestamp_ms)).decode()


def _b64_hmac(key: str, msg: str) -> bytes:
    digest = hmac.new(key.encode(), msg.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # Flask's headers are case-insensitive; a plain dict from a test or the Stream SDK may not be.
    value = headers.get(name)
    if value is None:
        lowered = {k.lower(): v for k, v in headers.items()}
        value = lowered.get(name.lower())
    return value


def _app_secret(settings) -> str:
    secret = settings.dingtalk_app_secret
    if not secret:
        # Without a secret every signature would "verify" against an empty key: refuse instead.
        raise CallbackRejected(403, "DINGTALK_APP_SECRET is not configured")
    return secret


def _check_size(body: bytes, settings) -> None:
    if len(body) > settings.crmbot_callback_max_bytes:
        raise CallbackRejected(413, f"body of {len(body)} bytes exceeds CRMBOT_CALLBACK_MAX_BYTES")


def _check_fresh(timestamp: str, settings, now_ms: int | None) -> None:
    try:
        sent_ms = int(timestamp)
    except ValueError:
        raise CallbackRejected(403, f"timestamp is not an integer: {timestamp!r}") from None
    window_s = settings.crmbot_timestamp_window_s
    if window_s == 0:
        return
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now_ms - sent_ms) > window_s * 1000:
        raise CallbackRejected(403, f"stale timestamp ({(now_ms - sent_ms) // 1000} s off)")


def _json_object(body: bytes) -> dict:
    try:
        return load_json_object(body)
    except BodyRejected as exc:
        raise CallbackRejected(400, exc.reason) from None


def _model(model, data: Any):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise CallbackRejected(400, field_errors(exc).reason) from None


def _check_corp(claimed: str | None, org: str) -> None:
    if org and claimed and claimed != org:
        raise CallbackRejected(403, "body names another corp than the configured app")


# ---------------------------------------------------------------------------------------------------
# Shared parsers (HTTP and Stream)


def parse_robot_message(data: dict[str, Any], org: str = "") -> Event | None:
    """Robot message JSON → Event; None for a group message that does not @ the robot.
    `org` is the configured app's corp (see the module docstring), never read from the body."""
    if not isinstance(data, dict):
        raise CallbackRejected(400, "robot message is not a JSON object")
    message = _model(RobotMessage, data)
    _check_corp(message.chatbotCorpId, org)
    is_group = str(message.conversationType) == "2"
    if is_group and message.isInAtList is False:
        return None
    chat = Chat(
        conversation_id=message.conversationId if is_group else None,
        is_group=is_group,
        title=message.conversationTitle if is_group else None,
        reply_webhook=message.sessionWebhook,
        reply_webhook_expires_ms=message.sessionWebhookExpiredTime,
    )
    created_ms = message.createAt
    sender = message.senderStaffId or ""
    if sender:
        kind, payload = _message_content(message)
    else:
        kind, payload = Kind.UNKNOWN, {"type": "outside_sender", "msgtype": message.msgtype,
                                       "sender_nick": message.senderNick}
    return Event(platform=Platform.DINGTALK, event_id=message.msgId, org=org,
                 sender=sender, chat=chat, kind=kind, payload=payload,
                 created_at=created_ms // 1000 if created_ms else None)


def _message_content(message: RobotMessage) -> tuple[Kind, dict[str, Any]]:
    msgtype = message.msgtype
    raw_content = message.content
    if isinstance(raw_content, str):  # Stream frames have been seen carrying it as a JSON string
        try:
            raw_content = load_json(raw_content)
        except BodyRejected:
            raw_content = {}
    content = _model(RobotContent, raw_content if isinstance(raw_content, dict) else {})

    if msgtype == "text":
        text = (message.text.content if message.text else "").strip()
        if read_button_text(text):
            return Kind.CARD_ACTION, {"card_ref": "", "action": "", "params": {}, "via": "text",
                                      "button_text": text}
        legacy = parse_card_action(text)
        if legacy:
            card_ref, key = legacy
            return Kind.CARD_ACTION, {"card_ref": card_ref, "action": key, "params": {}, "via": "text"}
        return Kind.TEXT, {"text": text}
    if msgtype == "picture":
        return Kind.IMAGE, {"media_ref": content.downloadCode or content.pictureDownloadCode}
    if msgtype == "richText":
        parts = content.richText or []
        texts = [p["text"].strip() for p in parts if isinstance(p.get("text"), str) and p.get("text")]
        images = [p.get("downloadCode") or p.get("pictureDownloadCode") for p in parts
                  if p.get("type") == "picture"]
        return Kind.TEXT, {"text": "\n".join(t for t in texts if t)[:5000],
                           "images": [i for i in images if isinstance(i, str) and i]}
    if msgtype == "audio":
        # DingTalk does not say which audio container it sends: format None means "sniff the bytes".
        return Kind.VOICE, {"media_ref": content.downloadCode, "format": None,
                            "recognition": content.recognition or None,
                            "duration_ms": _int_or_none(content.duration)}
    if msgtype in ("video", "file"):
        return Kind.FILE, {"media_ref": content.downloadCode,
                           "file_name": content.fileName or f"{msgtype}.{content.videoType or 'bin'}"}
    return Kind.UNKNOWN, {"type": str(msgtype)}


def parse_card_callback(data: dict[str, Any], org: str = "", now_s: int | None = None) -> Event:
    # now_s: when the click happened (the signed timestamp over HTTP, the frame's time in Stream)
    """Interactive-card click JSON → Event of Kind.CARD_ACTION.

    DingTalk documents no click id, so event_id is a hash of (outTrackId, userId, actionIds, params):
    the same user pressing the same button twice on one card is one event, which is what we want.
    `org` is the configured app's corp, never the body's `corpId`.
    """
    if not isinstance(data, dict):
        raise CallbackRejected(400, "card callback is not a JSON object")
    click = _model(CardCallback, data)
    _check_corp(click.corpId, org)
    content: Any = click.content or {}
    if isinstance(content, str):
        try:
            content = load_json(content)
        except BodyRejected:
            raise CallbackRejected(400, "content: card callback content is not JSON") from None
    parsed = _model(CardContent, content if isinstance(content, dict) else {})
    private = parsed.cardPrivateData
    action_ids = list(private.actionIds) if private else []
    params = dict(private.params) if private else {}

    fingerprint = json.dumps([click.outTrackId, click.userId, action_ids, params], sort_keys=True,
                             ensure_ascii=False)
    event_id = "card-" + hashlib.sha256(fingerprint.encode()).hexdigest()[:40]
    action = action_ids[0] if action_ids else params.get("action")
    if isinstance(action, str) and action:
        kind, payload = Kind.CARD_ACTION, {"card_ref": click.outTrackId, "action": action[:256],
                                           "params": params}
    else:
        kind, payload = Kind.UNKNOWN, {"type": "card_callback_without_action", "card_ref": click.outTrackId}
    return Event(platform=Platform.DINGTALK, event_id=event_id, org=org,
                 sender=click.userId, chat=Chat(), kind=kind, payload=payload,
                 created_at=now_s)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
