"""Draw the neutral `Card` for DingTalk, in the three forms DingTalk offers.

1. `render_interactive(card)` → cardParamMap for an interactive card (互动卡片) built from a template in
   DingTalk's card builder (卡片平台). The template (DINGTALK_CARD_TEMPLATE_ID) must define these
   string variables; lists arrive JSON-encoded because every cardParamMap value must be a string:

   | variable    | content                                                                        |
   |-------------|--------------------------------------------------------------------------------|
   | `card_id`   | the neutral card id (also the outTrackId the outbox uses)                      |
   | `title`     | header line                                                                    |
   | `source`    | small grey line above the title, e.g. "crmbot"                                 |
   | `text`      | one short paragraph                                                            |
   | `markdown`  | text + fields as one markdown block, for templates with a single markdown part |
   | `fields`    | JSON list of {"label", "value"}                                                |
   | `buttons`   | JSON list of {"text", "key", "style", "url"}; style ∈ primary/default/danger;  |
   |             | a button with `key` sends a callback with actionIds=[key] (or params.action);  |
   |             | with `url` it opens the link. Once done: only links and 撤销.                       |
   | `done_note` | "" while open; e.g. "已认领 · 张三 10:32" once acted upon (show it; `buttons` then  |
   |             | holds only what is left to tap: links and 撤销)                                     |
   | `done`      | "true" / "false" (for the template's visibility conditions)                    |
   | `link`      | URL opened by tapping the card body, or ""                                     |

   Each value is cut to 1 KB (DingTalk's limit): strings get "…", lists lose trailing items.

2. `render_action_card(card, robot_sender_hint)` → (msgKey, msgParam) for the classic robot ActionCard,
   used when no template id is configured. Its buttons can only open URLs, so a callback button becomes
   `dtmd://dingtalkclient/sendMessage?content=<text>`: tapping it makes the DingTalk client send
   ACTION TEXT into the chat as the user. The format is

       [<hint>]#操作 <button text> ‹<card_id>|<key>›

   `parse_card_action(text)` → (card_id, key) and `parse_action_text(text)` → key recognise it; the
   DingTalk adapter already turns such a message into a Kind.CARD_ACTION event.
   sampleActionCard6 (two horizontal buttons) is deliberately not used: public sources disagree on its
   parameter names (buttonTitle1/buttonUrl1 vs actionTitle1/actionURL1), sampleActionCard2 is safe.

3. `render_markdown(card)` / `render_text(text)` → work-notice (工作通知) and sessionWebhook bodies.
"""
from __future__ import annotations

import json
import re
from urllib.parse import quote

from cards import formats
from cards.model import Button, Card

PARAM_VALUE_MAX_BYTES = 1024      # cardParamMap value limit
ACTION_CARD_TEXT_MAX_CHARS = 500  # suggested limit for robot message text
BUTTON_TITLE_MAX_CHARS = 20
BUTTON_URL_MAX_CHARS = 500
WORK_NOTICE_MAX_BYTES = 2048      # whole msg; we keep the markdown text well under it
MAX_ACTION_CARD_BUTTONS = 5

ACTION_PREFIX = "#操作"
_ACTION_RE = re.compile(r"#操作\s.*‹([0-9A-Za-z_\-@.]{1,128})\|([^›]{1,512})›\s*$", re.DOTALL)


# ---------------------------------------------------------------------------------------------------
# 1. interactive card template variables


def render_interactive(card: Card) -> dict[str, str]:
    done = card.done_note is not None
    # a done card carries only what builders.done kept (links, 撤销): the template shows them
    buttons = [{"text": b.text, "key": b.key or "", "style": str(b.style), "url": b.url or ""}
               for b in card.buttons]
    fields = [{"label": f.label, "value": _cut(f.value, 200)} for f in card.fields]
    return {
        "card_id": card.card_id,
        "title": _cut_bytes(card.title),
        "source": _cut_bytes(card.source),
        "text": _cut_bytes(card.body),
        "markdown": _cut_bytes(_markdown_body(card, with_title=False)),
        "fields": _json_list_within(fields),
        "buttons": _json_list_within(buttons),
        "done_note": _cut_bytes(card.done_note or ""),
        "done": "true" if done else "false",
        "link": card.link if card.link and len(card.link.encode()) <= PARAM_VALUE_MAX_BYTES else "",
    }


def _json_list_within(items: list[dict], limit: int = PARAM_VALUE_MAX_BYTES) -> str:
    # Dropping whole trailing items keeps every remaining entry intact (a half button is worse than none).
    while items:
        encoded = json.dumps(items, ensure_ascii=False)
        if len(encoded.encode()) <= limit:
            return encoded
        items = items[:-1]
    return "[]"


# ---------------------------------------------------------------------------------------------------
# 2. classic ActionCard fallback


def action_text(card_id: str, button: Button, robot_sender_hint: str = "") -> str:
    """The text a fallback button makes the client send, e.g. "#操作 已报价 ‹fu-42|tag:quoted›"."""
    if not button.key or "›" in button.key:
        raise ValueError(f"a callback button needs a key without '›': {button!r}")
    return f"{robot_sender_hint}{ACTION_PREFIX} {button.text} ‹{card_id}|{button.key}›"


def parse_card_action(text: str) -> tuple[str, str] | None:
    """(card_id, key) from an action text, or None if the text is not one."""
    match = _ACTION_RE.search(text or "")
    if not match:
        return None
    return match.group(1), match.group(2)


def parse_action_text(text: str) -> str | None:
    """The button key from an action text, or None."""
    parsed = parse_card_action(text)
    return parsed[1] if parsed else None


def render_action_card(card: Card, robot_sender_hint: str = "") -> tuple[str, dict[str, str]]:
    """(msgKey, msgParam dict) for /v1.0/robot/oToMessages/batchSend or groupMessages/send.

    `robot_sender_hint` is put in front of each action text. In a group the robot only receives
    messages that @ it, so pass e.g. "@销售助手 " there (whether a typed @name counts as a mention
    for a dtmd:// message is unverified); in the 1:1 robot chat pass "".
    The client turns msgParam into the JSON string DingTalk wants.
    """
    title = _cut(card.title, 100)
    text = _cut(_markdown_body(card, with_title=True), ACTION_CARD_TEXT_MAX_CHARS)
    buttons = [] if card.done_note is not None else list(card.buttons[:MAX_ACTION_CARD_BUTTONS])
    if not buttons and card.link and card.done_note is None:
        buttons = [Button(text="查看详情", url=card.link)]
    if not buttons:
        return "sampleMarkdown", {"title": title, "text": text}
    urls = [_button_url(card.card_id, b, robot_sender_hint) for b in buttons]
    titles = [_cut(b.text, BUTTON_TITLE_MAX_CHARS) for b in buttons]
    if len(buttons) == 1:
        return "sampleActionCard", {"title": title, "text": text,
                                    "singleTitle": titles[0], "singleURL": urls[0]}
    param = {"title": title, "text": text}
    for i, (t, u) in enumerate(zip(titles, urls), start=1):
        param[f"actionTitle{i}"] = t
        param[f"actionURL{i}"] = u
    return f"sampleActionCard{len(buttons)}", param


def _button_url(card_id: str, button: Button, hint: str) -> str:
    if button.url:
        return button.url
    content = quote(action_text(card_id, button, hint), safe="")
    url = f"dtmd://dingtalkclient/sendMessage?content={content}"
    if len(url) > BUTTON_URL_MAX_CHARS:
        raise ValueError(f"button key too long for a DingTalk action URL: {button.key!r}")
    return url


# ---------------------------------------------------------------------------------------------------
# 3. markdown and text messages


def render_markdown(card: Card) -> dict:
    """Work notice / sessionWebhook markdown body: {"msgtype":"markdown","markdown":{"title","text"}}."""
    text = _markdown_body(card, with_title=True)
    if card.link:
        text += f"\n\n[查看详情]({card.link})"
    return {"msgtype": "markdown",
            "markdown": {"title": _cut(card.title, 100),
                         "text": _cut_bytes(text, WORK_NOTICE_MAX_BYTES - 300)}}


def render_text(text: str) -> dict:
    return {"msgtype": "text", "text": {"content": _cut_bytes(text, WORK_NOTICE_MAX_BYTES - 100)}}


def _markdown_body(card: Card, *, with_title: bool) -> str:
    lines: list[str] = []
    if with_title:
        lines.append(f"### {card.title}")
    if card.body:
        lines.append(card.body)
    if card.fields:
        lines.append("\n".join(f"- **{f.label}**：{f.value}" for f in card.fields))
    if card.done_note:
        lines.append(f"> {card.done_note}")
    return "\n\n".join(lines)


def _cut(text: str, max_chars: int) -> str:
    return formats.fit(text, max_chars)   # by whole words and fields


def _cut_bytes(text: str, max_bytes: int = PARAM_VALUE_MAX_BYTES) -> str:
    if len(text.encode()) <= max_bytes:
        return text
    budget = max_bytes - len("…".encode())
    cut = text.encode()[:budget].decode(errors="ignore")  # never split a multi-byte character
    return cut + "…"
