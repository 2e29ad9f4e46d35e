"""WeCom callback in: verify, decrypt, parse → neutral `Event` (platforms.md 1.2, 1.3).

Nothing here knows Flask: the blueprint hands over the query parameters and the raw body and
turns `CallbackRejected` into its HTTP status. AES and the SHA-1 signature are wechatpy's
`WeChatCrypto`; XML is parsed with defusedxml and DTDs are refused outright (WeCom never sends one).

Refusal statuses (`CallbackRejected.status`):
  400  malformed: missing query parameter, body not XML, DTD/entity declarations, no <Encrypt>,
       an encoding other than UTF-8 declared (expat cannot read GBK/Shift_JIS/Big5 and raised a
       bare ValueError: a 500 before), nesting deeper than `bot.inbound.MAX_XML_DEPTH`, a field
       we read that is nested or longer than its column (`bot/wecom/payloads.py`)
  403  bad signature or undecryptable payload, and a timestamp outside the replay window;
       a decrypted ToUserName naming another corp than the one whose keys decrypted it
       (a stale timestamp is an authentication failure, not a client timeout, so not 408)
  413  body larger than settings.crmbot_callback_max_bytes
  503  WeCom is not configured in this deployment
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from pydantic import ValidationError
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.exceptions import WeChatException

from bot.events import Chat, Event, Kind, Platform
from config.inbound import BodyRejected, field_errors, xml_depth_ok, xml_encoding_ok

from .payloads import InboundMessage

# Elements that may repeat inside a template_card_event; always lists so one option looks like many.
FORCE_LIST = frozenset({"SelectedItem", "OptionId"})
# Fields left out of a derived event key: the corp id is the same for every event.
_NOT_IN_EVENT_KEY = frozenset({"ToUserName", "MsgType"})


class CallbackRejected(Exception):
    """The callback must be refused; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str):
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class CallbackKeys:
    """What both ends of the callback share: the console's Token, EncodingAESKey and the corp id."""
    token: str
    encoding_aes_key: str
    corp_id: str

    @classmethod
    def from_settings(cls, settings: Any) -> "CallbackKeys":
        if isinstance(settings, CallbackKeys):
            return settings
        if not (settings.wecom_token and settings.wecom_encoding_aes_key and settings.wecom_corp_id):
            raise CallbackRejected(503, "WeCom callback is not configured")
        return cls(settings.wecom_token, settings.wecom_encoding_aes_key, settings.wecom_corp_id)

    def crypto(self) -> WeChatCrypto:
        return WeChatCrypto(self.token, self.encoding_aes_key, self.corp_id)


def verify_url(params: Mapping[str, str], settings: Any, now: float | None = None) -> str:
    """GET URL verification: check the signature over echostr and return its plaintext."""
    crypto = CallbackKeys.from_settings(settings).crypto()
    signature, timestamp, nonce = _signed_params(params)
    echostr = params.get("echostr")
    if not echostr:
        raise CallbackRejected(400, "missing query parameter echostr")
    _check_timestamp(timestamp, settings, now)
    try:
        return crypto.check_signature(signature, timestamp, nonce, echostr)
    except Exception as exc:  # see _decrypt_failure
        raise CallbackRejected(403, _decrypt_failure(exc)) from None


def receive(params: Mapping[str, str], body: bytes, settings: Any,
            now: float | None = None) -> tuple[Event, dict[str, Any]]:
    """POST callback: return the neutral event and the decrypted fields as a dict."""
    keys = CallbackKeys.from_settings(settings)
    if len(body) > settings.crmbot_callback_max_bytes:
        raise CallbackRejected(413, f"body of {len(body)} bytes exceeds the limit")
    signature, timestamp, nonce = _signed_params(params)
    _check_timestamp(timestamp, settings, now)

    envelope = _parse_xml(body, "outer")
    encrypted = envelope.findtext("Encrypt")
    if not encrypted:
        raise CallbackRejected(400, "no <Encrypt> element in the body")
    try:
        inner_xml = keys.crypto().decrypt_message({"Encrypt": encrypted}, signature, timestamp, nonce)
    except Exception as exc:  # see _decrypt_failure
        raise CallbackRejected(403, _decrypt_failure(exc)) from None

    data = xml_to_dict(_parse_xml(inner_xml.encode("utf-8"), "inner"))
    try:
        InboundMessage.model_validate(data)
    except ValidationError as exc:
        raise CallbackRejected(400, field_errors(exc).reason) from None
    # The org is the corp whose keys decrypted the message (wechatpy checked the receiveid is it),
    # never the decrypted ToUserName; a ToUserName naming another corp is not for this app.
    if data.get("ToUserName") and data["ToUserName"] != keys.corp_id:
        raise CallbackRejected(403, "ToUserName names another corp than the one that decrypted it")
    return to_event(data, org=keys.corp_id), data


def to_event(data: dict[str, Any], org: str) -> Event:
    """Map WeCom's decrypted fields to a neutral Event; anything unrecognised becomes UNKNOWN.
    `org` is the corp whose keys decrypted the message."""
    kind, payload = _kind_and_payload(data)
    return Event(
        platform=Platform.WECOM,
        event_id=event_id(data),
        org=org,
        sender=_sender(data),
        chat=Chat(),  # a self-built app only receives 1:1 messages sent to the app
        kind=kind,
        payload=payload,
        created_at=_int_or_none(data.get("CreateTime")),
    )


def event_id(data: dict[str, Any]) -> str:
    """The dedupe key: MsgId for messages; for events every scalar field but the corp id.

    Events have no MsgId and FromUserName+CreateTime is not unique (customer events all come
    from "sys"), so the key names every id the event carries. WeCom's retries resend the same
    XML, so they produce the same key.
    """
    if data.get("MsgType") != "event" and data.get("MsgId"):
        return str(data["MsgId"])
    parts = [f"{name}={value}" for name, value in sorted(data.items())
             if isinstance(value, str) and value and name not in _NOT_IN_EVENT_KEY]
    digest = hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:40]
    # The event name stays readable in logs and the inbox; the digest keeps the key short.
    return f"evt:{data.get('Event', '')[:40]}:{digest}"


def xml_to_dict(root: Element) -> dict[str, Any]:
    """Leaf elements become strings, nested ones dicts; FORCE_LIST elements are always lists."""
    result: dict[str, Any] = {}
    for child in root:
        # leaf text is kept exactly: a rep's message may start or end with spaces or newlines
        value: Any = xml_to_dict(child) if len(child) else (child.text or "")
        if child.tag in FORCE_LIST:
            result.setdefault(child.tag, []).append(value)
        elif child.tag in result:  # an unexpected repeat: keep all, never drop data
            previous = result[child.tag]
            result[child.tag] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            result[child.tag] = value
    return result


# ----------------------------------------------------------------------------------------------

def _signed_params(params: Mapping[str, str]) -> tuple[str, str, str]:
    missing = [name for name in ("msg_signature", "timestamp", "nonce") if not params.get(name)]
    if missing:
        raise CallbackRejected(400, "missing query parameter " + ", ".join(missing))
    return params["msg_signature"], params["timestamp"], params["nonce"]


def _check_timestamp(timestamp: str, settings: Any, now: float | None) -> None:
    try:
        stamped = int(timestamp)
    except ValueError:
        raise CallbackRejected(400, "timestamp is not an integer") from None
    window = getattr(settings, "crmbot_timestamp_window_s", 0)
    if window and abs((time.time() if now is None else now) - stamped) > window:
        raise CallbackRejected(403, "timestamp outside the replay window")


def _decrypt_failure(exc: Exception) -> str:
    """wechatpy raises InvalidSignatureException for a bad signature, but a payload not encrypted
    with our key surfaces as whatever broke first (binascii, struct, unicode, cryptography's
    ValueError, InvalidCorpIdException): all of them mean "not from our WeCom app"."""
    if isinstance(exc, WeChatException) and exc.errcode == -40001:
        return "bad signature"
    return f"decryption failed ({type(exc).__name__})"


def _parse_xml(raw: bytes, which: str) -> Element:
    try:
        xml_encoding_ok(raw, f"{which} XML")
        root = SafeET.fromstring(raw, forbid_dtd=True)
        xml_depth_ok(root, what=f"{which} XML")
        return root
    except BodyRejected as exc:
        raise CallbackRejected(400, exc.reason) from None
    except DefusedXmlException:
        raise CallbackRejected(400, f"{which} XML declares a DTD or entities") from None
    except (ParseError, ValueError):  # ValueError: expat refusing an encoding it cannot read
        raise CallbackRejected(400, f"{which} body is not XML") from None


def _sender(data: dict[str, Any]) -> str:
    # customer-contact events come from "sys"; the member they concern is UserID
    if data.get("Event") == "change_external_contact" or data.get("FromUserName") == "sys":
        return data.get("UserID") or data.get("FromUserName") or ""
    return data.get("FromUserName") or ""


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _selected_params(data: dict[str, Any]) -> dict[str, list[str]]:
    """{QuestionKey: [OptionId, ...]} from a vote/multiple card submit."""
    container = data.get("SelectedItems")
    if not isinstance(container, dict):
        return {}
    params: dict[str, list[str]] = {}
    for item in container.get("SelectedItem", []):
        if not isinstance(item, dict):
            continue
        option_ids = item.get("OptionIds")
        ids = option_ids.get("OptionId", []) if isinstance(option_ids, dict) else []
        params[item.get("QuestionKey", "")] = [i for i in ids if isinstance(i, str)]
    return params


def _kind_and_payload(data: dict[str, Any]) -> tuple[Kind, dict[str, Any]]:
    msg_type = data.get("MsgType", "")
    if msg_type == "text":
        return Kind.TEXT, {"text": data.get("Content", "")}
    if msg_type == "image":
        return Kind.IMAGE, {"media_ref": data.get("MediaId", ""), "pic_url": data.get("PicUrl", "")}
    if msg_type == "voice":
        return Kind.VOICE, {"media_ref": data.get("MediaId", ""), "format": data.get("Format", "amr")}
    if msg_type != "event":
        return Kind.UNKNOWN, {"type": msg_type or "(none)"}

    event = data.get("Event", "")
    if event == "click":
        return Kind.MENU_CLICK, {"key": data.get("EventKey", "")}
    if event == "enter_agent":
        return Kind.ENTER, {}
    if event in ("template_card_event", "template_card_menu_event"):
        return Kind.CARD_ACTION, {
            "card_ref": data.get("TaskId", ""), "action": data.get("EventKey", ""),
            "response_code": data.get("ResponseCode", ""), "params": _selected_params(data),
            "card_type": data.get("CardType", ""), "from_menu": event == "template_card_menu_event",
        }
    if event == "change_external_contact":
        change = data.get("ChangeType", "")
        external_userid = data.get("ExternalUserID", "")
        if change == "add_external_contact":
            return Kind.CONTACT_ADDED, {"external_userid": external_userid,
                                        "state": data.get("State", ""),
                                        "welcome_code": data.get("WelcomeCode", "")}
        if change == "del_external_contact":  # the member deleted the customer
            return Kind.CONTACT_REMOVED, {"external_userid": external_userid, "by": "rep"}
        if change == "del_follow_user":  # the customer deleted the member
            return Kind.CONTACT_REMOVED, {"external_userid": external_userid, "by": "customer"}
        return Kind.UNKNOWN, {"type": f"event:{event}:{change}"}
    return Kind.UNKNOWN, {"type": f"event:{event}"}
