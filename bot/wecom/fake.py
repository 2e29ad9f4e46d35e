"""A fake WeCom for tests and the demo: both directions of the wire.

* Callbacks WeCom would send us: `build_callback` encrypts and signs an inner XML exactly as WeCom
  does (wechatpy's `encrypt_message`), and `*_xml` helpers write the inner XML of each kind.
* The HTTP API WeCom would answer: `create_fake_wecom_blueprint(state)` speaks the endpoints
  `bot.wecom.client.WeComClient` calls, checks tokens and body shapes, and records what it received;
  `start_fake_wecom()` serves it on a loopback port in a thread for tests.

Error codes the fake chooses where the real one is not confirmed (platforms.md):
  40058  template_card shape errors, and a task_id used before  (reuse code: unverified)
  60140  response_code used before                            (unverified, one SDK's reading)
"""
from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

import defusedxml.ElementTree as SafeET
from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.serving import make_server

from bot.wecom.adapter import CallbackKeys

# ------------------------------------------------------------------------------------------------
# Callbacks (WeCom → us)


def build_callback(settings_or_keys: Any, inner_xml: str, *, timestamp: int | str | None = None,
                   nonce: str | None = None, agent_id: int | str | None = None
                   ) -> tuple[dict[str, str], bytes]:
    """(query params, body) of a POST callback carrying `inner_xml`, encrypted and signed."""
    keys = CallbackKeys.from_settings(settings_or_keys)
    encrypt, signature, timestamp, nonce = _encrypt(keys, inner_xml, timestamp, nonce)
    envelope = ET.Element("xml")
    ET.SubElement(envelope, "ToUserName").text = keys.corp_id
    if agent_id is None:
        agent_id = getattr(settings_or_keys, "wecom_agent_id", None)
    if agent_id is not None:
        ET.SubElement(envelope, "AgentID").text = str(agent_id)
    ET.SubElement(envelope, "Encrypt").text = encrypt
    params = {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}
    return params, ET.tostring(envelope, encoding="utf-8")


def build_verify_request(settings_or_keys: Any, echo_plain: str | None = None, *,
                         timestamp: int | str | None = None, nonce: str | None = None
                         ) -> tuple[dict[str, str], str]:
    """(query params, expected answer) of the GET URL verification WeCom sends on Save."""
    keys = CallbackKeys.from_settings(settings_or_keys)
    echo_plain = echo_plain or str(secrets.randbelow(10**19))
    encrypt, signature, timestamp, nonce = _encrypt(keys, echo_plain, timestamp, nonce)
    return {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce,
            "echostr": encrypt}, echo_plain


def _encrypt(keys: CallbackKeys, plaintext: str, timestamp: Any, nonce: str | None
             ) -> tuple[str, str, str, str]:
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or str(secrets.randbelow(10**10))
    reply = keys.crypto().encrypt_message(plaintext, nonce, timestamp)
    parsed = SafeET.fromstring(reply.encode("utf-8"))
    return parsed.findtext("Encrypt"), parsed.findtext("MsgSignature"), timestamp, nonce


_msg_ids = itertools.count(int(time.time()) * 1000)


def _inner_xml(corp_id: str, from_user: str, msg_type: str, fields: Mapping[str, Any],
               *, agent_id: int | str = 1000002, create_time: int | None = None,
               children: list[ET.Element] | None = None) -> str:
    root = ET.Element("xml")
    base = {"ToUserName": corp_id, "FromUserName": from_user,
            "CreateTime": create_time if create_time is not None else int(time.time()),
            "MsgType": msg_type}
    for name, value in {**base, **fields, "AgentID": agent_id}.items():
        if value is not None:
            ET.SubElement(root, name).text = str(value)
    root.extend(children or [])
    return ET.tostring(root, encoding="unicode")


def text_xml(corp_id: str, from_user: str, content: str, *, msg_id: int | str | None = None,
             **common: Any) -> str:
    return _inner_xml(corp_id, from_user, "text",
                      {"Content": content, "MsgId": msg_id or next(_msg_ids)}, **common)


def image_xml(corp_id: str, from_user: str, media_id: str, *, pic_url: str = "",
              msg_id: int | str | None = None, **common: Any) -> str:
    return _inner_xml(corp_id, from_user, "image",
                      {"PicUrl": pic_url or f"https://example.invalid/pic/{media_id}",
                       "MediaId": media_id, "MsgId": msg_id or next(_msg_ids)}, **common)


def voice_xml(corp_id: str, from_user: str, media_id: str, *, format: str = "amr",
              msg_id: int | str | None = None, **common: Any) -> str:
    return _inner_xml(corp_id, from_user, "voice",
                      {"MediaId": media_id, "Format": format,
                       "MsgId": msg_id or next(_msg_ids)}, **common)


def event_xml(corp_id: str, from_user: str, event: str, fields: Mapping[str, Any] | None = None,
              **common: Any) -> str:
    """Any event (`click`, `enter_agent`, ...): extra fields go in as given."""
    return _inner_xml(corp_id, from_user, "event", {"Event": event, **(fields or {})}, **common)


def card_event_xml(corp_id: str, from_user: str, task_id: str, event_key: str, *,
                   response_code: str | None = None, card_type: str = "button_interaction",
                   selected: Mapping[str, list[str]] | None = None, **common: Any) -> str:
    """A template_card_event: a button click, or a vote/multiple submit with `selected`
    = {question_key: [option ids]}."""
    children = []
    if selected:
        items = ET.Element("SelectedItems")
        for question_key, option_ids in selected.items():
            item = ET.SubElement(items, "SelectedItem")
            ET.SubElement(item, "QuestionKey").text = question_key
            ids = ET.SubElement(item, "OptionIds")
            for option_id in option_ids:
                ET.SubElement(ids, "OptionId").text = option_id
        children.append(items)
    fields = {"Event": "template_card_event", "EventKey": event_key, "TaskId": task_id,
              "CardType": card_type, "ResponseCode": response_code or new_response_code()}
    return _inner_xml(corp_id, from_user, "event", fields, children=children, **common)


def contact_event_xml(corp_id: str, user_id: str, external_userid: str,
                      change_type: str = "add_external_contact", *, state: str | None = None,
                      welcome_code: str | None = None, **common: Any) -> str:
    """A change_external_contact event (FromUserName is "sys", the member is UserID)."""
    fields = {"Event": "change_external_contact", "ChangeType": change_type, "UserID": user_id,
              "ExternalUserID": external_userid, "State": state,
              "WelcomeCode": welcome_code if welcome_code is not None else (
                  secrets.token_urlsafe(16) if change_type == "add_external_contact" else None)}
    return _inner_xml(corp_id, "sys", "event", fields, **common)


def new_response_code() -> str:
    return "RC" + secrets.token_urlsafe(24)
