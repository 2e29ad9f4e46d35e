"""One user's chat with the bot, read back from what the fake platforms received.

The simulator never asks crmbot what it "meant" to send: it shows what arrived at the fake WeCom /
DingTalk (template_card JSON, card params, ActionCard markdown, text), so the page shows exactly
what a rep would see on the real platform. Each message becomes a plain dict for the page:

    {"id", "at", "from": "me" | "bot", "type": "text" | "card" | "image" | "voice" | "markdown",
     "text", "card": {"card_id", "title", "source", "desc", "text", "fields", "buttons", "done_note",
                      "updated"}, "status", "media_url", "label" (e.g. 工作通知)}
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

from cards.dingtalk import parse_card_action, read_button_text

MAX_MESSAGES = 100


@dataclass
class Outgoing:
    """Something the simulated user sent, as the simulator logged it (the platform keeps no copy)."""
    seq: int
    platform: str
    user: str
    type: str           # text | image | voice | click
    text: str
    status: int         # HTTP status of the callback crmbot answered
    at: float
    media_id: str | None = None


@dataclass
class SimulatorLog:
    outgoing: list[Outgoing] = field(default_factory=list)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)   # media_id → (bytes, mimetype)
    # WeCom's update_template_card names the card only by the click's response_code: remember
    # which card each code we handed out belongs to.
    response_codes: dict[str, str] = field(default_factory=dict)        # response_code → task_id

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(self, platform: str, user: str, type_: str, text: str, status: int,
            media_id: str | None = None) -> Outgoing:
        with self._lock:
            entry = Outgoing(len(self.outgoing) + 1, platform, user, type_, text, status, time.time(), media_id)
            self.outgoing.append(entry)
            return entry

    def keep_media(self, media_id: str, content: bytes, mimetype: str) -> None:
        with self._lock:
            self.media[media_id] = (content, mimetype)

    def remember_click(self, response_code: str, task_id: str) -> None:
        with self._lock:
            self.response_codes[response_code] = task_id

    def for_user(self, platform: str, user: str) -> list[Outgoing]:
        with self._lock:
            return [o for o in self.outgoing if o.platform == platform and o.user == user]


def conversation(log: SimulatorLog, fakes, platform: str, user: str) -> list[dict[str, Any]]:
    mine = [_outgoing(o) for o in log.for_user(platform, user)]
    bots = wecom_messages(fakes.wecom, user, log.response_codes) if platform == "wecom" else dingtalk_messages(fakes.dingtalk, user)
    messages = sorted(mine + bots, key=lambda m: m["at"])
    return messages[-MAX_MESSAGES:]


def media_url(media_id: str) -> str:
    """Where the page loads a photo, voice file or chart (crmbot/simulator/views.py `media`)."""
    return f"/dev/simulator/api/media/{quote(media_id, safe='')}"


def _outgoing(o: Outgoing) -> dict[str, Any]:
    return {"id": f"me-{o.seq}", "at": o.at, "from": "me", "type": o.type, "text": o.text,
            "status": o.status, "media_url": media_url(o.media_id) if o.media_id else None}


# ------------------------------------------------------------------ WeCom


def wecom_messages(state, user: str, response_codes: dict[str, str]) -> list[dict[str, Any]]:
    with state._lock:
        sent = list(state.sent)
    updates: dict[str, dict] = {}
    for entry in sent:  # later updates win: the card is shown as it is now
        body = entry["body"]
        if entry["path"].endswith("/update_template_card") and user in (body.get("userids") or []):
            task_id = response_codes.get(body.get("response_code", ""))
            if task_id:
                updates[task_id] = body.get("template_card") or {}
    messages = []
    for i, entry in enumerate(sent):
        body = entry["body"]
        if not entry["path"].endswith("/message/send") or user not in str(body.get("touser", "")).split("|"):
            continue
        msg_type = body.get("msgtype")
        base = {"id": f"wecom-{i}", "at": entry["time"], "from": "bot"}
        if msg_type == "text":
            messages.append({**base, "type": "text", "text": body["text"].get("content", "")})
        elif msg_type == "markdown":
            messages.append({**base, "type": "markdown", "text": body["markdown"].get("content", "")})
        elif msg_type == "image":  # a report's chart
            messages.append({**base, "type": "image", "text": "", "media_url": media_url(body["image"].get("media_id", ""))})
        elif msg_type == "template_card":
            card = body["template_card"]
            updated = updates.get(card.get("task_id", "")) if card.get("task_id") else None
            messages.append({**base, "type": "card", "card": wecom_card(updated or card, updated is not None)})
        else:
            messages.append({**base, "type": "text", "text": f"[{msg_type} 消息]"})
    return messages


def wecom_card(card: dict, updated: bool) -> dict[str, Any]:
    main = card.get("main_title") or {}
    done = card.get("replace_text")
    buttons = [] if done else [
        {"text": b.get("text", ""), "key": b.get("key"), "url": b.get("url"),
         "style": {1: "primary", 3: "danger"}.get(b.get("style"), "default")}
        for b in card.get("button_list") or []]
    buttons += [{"text": j.get("title", ""), "key": None, "url": j.get("url"), "style": "default"}
                for j in card.get("jump_list") or [] if j.get("url")]
    return {"card_id": card.get("task_id", ""), "title": main.get("title", ""), "desc": main.get("desc", ""),
            "source": (card.get("source") or {}).get("desc", ""), "text": card.get("sub_title_text", ""),
            "fields": [{"label": f.get("keyname", ""), "value": f.get("value", "")}
                       for f in card.get("horizontal_content_list") or []],
            "buttons": buttons, "done_note": done, "updated": updated,
            "link": (card.get("card_action") or {}).get("url")}


# ------------------------------------------------------------------ DingTalk


def session_for(user: str) -> str:
    """The fake session-webhook id the simulator gives this user's messages (replies come back on it)."""
    return f"sim-{user}"


def dingtalk_messages(state, user: str) -> list[dict[str, Any]]:
    with state.lock:
        sent = list(state.sent)
        cards = {k: dict(v) for k, v in state.cards.items()}
    updated_cards = {e["body"].get("outTrackId") for e in sent if e["api"] == "cardUpdate"}
    messages = []
    for i, entry in enumerate(sent):
        base = {"id": f"dingtalk-{i}", "at": entry["at"], "from": "bot"}
        body, api = entry["body"], entry["api"]
        if api == "batchSend" and user in (body.get("userIds") or []):
            messages.append({**base, **_robot_message(body.get("msgKey", ""), entry.get("msg_param") or {})})
        elif api == "webhook" and entry.get("session") == session_for(user):
            messages.append({**base, **_webhook_message(body)})
        elif api == "workNotice" and user in (entry.get("users") or []):
            msg = body.get("msg") or {}   # DingTalk shows it under 工作通知, apart from the robot's chat
            messages.append({**base, **_webhook_message(msg), "label": "工作通知"})
        elif api == "cardCreate" and body.get("openSpaceId") == f"dtv1.card//IM_ROBOT.{user}":
            out_track_id = body.get("outTrackId", "")
            params = cards.get(out_track_id) or (body.get("cardData") or {}).get("cardParamMap") or {}
            messages.append({**base, "type": "card",
                             "card": interactive_card(out_track_id, params, out_track_id in updated_cards)})
    return messages


def _robot_message(msg_key: str, param: dict) -> dict[str, Any]:
    if msg_key == "sampleText":
        return {"type": "text", "text": param.get("content", "")}
    if msg_key == "sampleImageMsg":  # a report's chart, by the media id from media/upload
        return {"type": "image", "text": "", "media_url": media_url(str(param.get("photoURL", "")))}
    if msg_key == "sampleMarkdown":
        return {"type": "markdown", "text": param.get("text", "")}
    if msg_key.startswith("sampleActionCard"):
        pairs = [(param["singleTitle"], param.get("singleURL", ""))] if "singleTitle" in param else [
            (param[f"actionTitle{n}"], param.get(f"actionURL{n}", ""))
            for n in range(1, 6) if f"actionTitle{n}" in param]
        buttons, card_id = [], ""
        for title, url in pairs:
            action = _dtmd_action(url)
            if action:
                # the text the tap sends names no card: it is the button's "key" here (views.click)
                card_id, key = action if isinstance(action, tuple) else (card_id, action)
                buttons.append({"text": title, "key": key, "url": None, "style": "default"})
            else:
                buttons.append({"text": title, "key": None, "url": url, "style": "default"})
        title, markdown = param.get("title", ""), param.get("text", "")
        # DingTalk shows the markdown (which starts with the title as a heading); `title` is only
        # the notification preview. Show the heading once, as the card's title.
        markdown = markdown.removeprefix(f"### {title}").lstrip("\n")
        return {"type": "card", "card": {"card_id": card_id, "title": title, "desc": "",
                                         "source": "", "markdown": markdown, "text": "",
                                         "fields": [], "buttons": buttons, "done_note": None,
                                         "updated": False, "action_card": True}}
    return {"type": "text", "text": f"[{msg_key} 消息]"}


def _dtmd_action(url: str) -> str | tuple[str, str] | None:
    """What a dtmd://dingtalkclient/sendMessage?content=… button sends: its text, or (card_id, key)
    for a card sent before issue 16."""
    if not url.startswith("dtmd://"):
        return None
    content = parse_qs(urlparse(url).query).get("content", [""])[0]
    return read_button_text(content) or parse_card_action(content)


def _webhook_message(body: dict) -> dict[str, Any]:
    if body.get("msgtype") == "markdown":
        return {"type": "markdown", "text": (body.get("markdown") or {}).get("text", "")}
    if body.get("msgtype") == "text":
        return {"type": "text", "text": (body.get("text") or {}).get("content", "")}
    return {"type": "text", "text": f"[{body.get('msgtype')} 消息]"}


def interactive_card(out_track_id: str, params: dict[str, str], updated: bool) -> dict[str, Any]:
    done = params.get("done_note") or None
    return {"card_id": out_track_id, "title": params.get("title", ""), "source": params.get("source", ""),
            "desc": "", "text": params.get("text", ""), "fields": _json_list(params.get("fields")),
            # a done card keeps only what builders.done left on it (links, 撤销)
            "buttons": [
                {"text": b.get("text", ""), "key": b.get("key") or None, "url": b.get("url") or None,
                 "style": b.get("style", "default")} for b in _json_list(params.get("buttons"))],
            "done_note": done, "updated": updated, "link": params.get("link") or None}


def _json_list(value: str | None) -> list[dict]:
    try:
        items = json.loads(value or "[]")
    except ValueError:
        return []
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
