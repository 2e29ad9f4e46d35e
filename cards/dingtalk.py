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
   `dtmd://dingtalkclient/sendMessage?content=<text>`: tapping it makes the DingTalk client send that
   text into the chat AS THE PERSON, where they and everyone in the chat read it. So the text is
   written for people and holds no card id and no key (`button_text`):

       ☑ 老板未拍板 · 上海华东机电设备有限公司

   the button as shown, then what the card is about (`Card.subject`, else its title, cut to 16
   characters). The mark "☑" at the start is what nobody types by accident: a text that starts with
   it is a tap (`is_button_text`). Buttons with equal labels on one card are numbered ("…（2）").
   The server finds the card again from the text and the person (bot/card_taps.py): the same
   `button_text` over the cards it sent them, and in a group over the cards posted there. Buttons with a URL stay links.
   Until the classic cards sent before this format have scrolled away, the old text
   "#操作 已报价 ‹fu-42|tag:quoted›" is still read (`parse_card_action`); nothing writes it any more.
   sampleActionCard6 (two horizontal buttons) is deliberately not used: public sources disagree on its
   parameter names (buttonTitle1/buttonUrl1 vs actionTitle1/actionURL1), sampleActionCard2 is safe.

3. `render_markdown(card)` / `render_text(text)` → work-notice (工作通知) and sessionWebhook bodies.

Every public function starts from `escaped_card(card, markdown_text, link_base)` (cards/escape.py):
all display text is markdown-escaped and every URL must lie under `link_base` (our public URL's
/app/), so a name like `[点此认领](http://evil.example/claim)` shows as text, and a builder cannot
put a link or image into a card by any field. `link_base=None` (unit tests) checks the scheme only.
"""
from __future__ import annotations

import json
import re
from urllib.parse import quote

from cards import formats
from cards.escape import escaped_card, markdown_text, plain_text
from cards.model import Button, Card

PARAM_VALUE_MAX_BYTES = 1024      # cardParamMap value limit
ACTION_CARD_TEXT_MAX_CHARS = 500  # suggested limit for robot message text
BUTTON_TITLE_MAX_CHARS = 20
BUTTON_URL_MAX_CHARS = 500
WORK_NOTICE_MAX_BYTES = 2048      # whole msg; we keep the markdown text well under it
MAX_ACTION_CARD_BUTTONS = 5

TAP_MARK = "☑"
TAP_SEPARATOR = " · "
TAP_SUBJECT_MAX_CHARS = 16
# optional "@robot " a group client may put in front; one line; the mark, a space, the label
_TAP_RE = re.compile(r"^(?:@\S+\s+)?" + TAP_MARK + r" (\S[^\n]{0,99})$")
# the format before issue 16, still read for cards already in chats: "#操作 已报价 ‹fu-42|tag:quoted›"
_LEGACY_ACTION_RE = re.compile(r"#操作\s.*‹([0-9A-Za-z_\-@.]{1,128})\|([^›]{1,512})›\s*$", re.DOTALL)


# ---------------------------------------------------------------------------------------------------
# 1. interactive card template variables


def render_interactive(card: Card, link_base: str | None = None) -> dict[str, str]:
    card = escaped_card(card, markdown_text, link_base)
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


def button_texts(card: Card) -> dict[str, str]:
    """{text a tap sends: key} for every callback button of `card`. The renderer and the server that
    reads taps back (bot/card_taps.py) both start from here, so they always agree."""
    texts: dict[str, str] = {}
    for button, text in zip([b for b in card.buttons if b.key], _tap_texts(card)):
        texts.setdefault(text, button.key)
    return texts


def button_text(card: Card, button: Button) -> str:
    """The text tapping `button` makes the client send, e.g. "☑ 已报价 · 上海华东机电设备有限公司"."""
    callbacks = [b for b in card.buttons if b.key]
    if button not in callbacks:
        raise ValueError(f"not a callback button of this card: {button!r}")
    return _tap_texts(card)[callbacks.index(button)]


def _tap_texts(card: Card) -> list[str]:
    """The text of each callback button of `card`, in order."""
    subject = _cut(markdown_text(card.about, single_line=True), TAP_SUBJECT_MAX_CHARS)
    labels = [_cut(markdown_text(b.text, single_line=True), BUTTON_TITLE_MAX_CHARS) for b in card.buttons if b.key]
    texts = []
    for i, label in enumerate(labels):
        if labels.count(label) > 1:  # e.g. two names cut to the same 10 characters on a pick card
            label = f"{label}（{labels[:i + 1].count(label)}）"
        texts.append(f"{TAP_MARK} {label}{TAP_SEPARATOR}{subject}" if subject else f"{TAP_MARK} {label}")
    return texts


def read_button_text(text: str) -> str | None:
    """A received text that is a tap on a classic ActionCard button, as `button_texts` writes it
    (without the @robot a group client may put in front); None for any other text."""
    match = _TAP_RE.match((text or "").strip())
    return f"{TAP_MARK} {match.group(1)}" if match else None


def tapped_label(text: str) -> str:
    """The button's label in a tap's text ("已报价"), to tell the person what was not done."""
    match = _TAP_RE.match((text or "").strip())
    return match.group(1).split(TAP_SEPARATOR)[0] if match else ""


def parse_card_action(text: str) -> tuple[str, str] | None:
    """(card_id, key) from a text in the format before issue 16, or None."""
    match = _LEGACY_ACTION_RE.search(text or "")
    if not match:
        return None
    return match.group(1), match.group(2)


def render_action_card(card: Card, robot_sender_hint: str = "", link_base: str | None = None
                       ) -> tuple[str, dict[str, str]]:
    """(msgKey, msgParam dict) for /v1.0/robot/oToMessages/batchSend or groupMessages/send.

    `robot_sender_hint` is put in front of each button's text. In a group the robot only receives
    messages that @ it, so pass e.g. "@销售助手 " there (whether a typed @name counts as a mention
    for a dtmd:// message is unverified); in the 1:1 robot chat pass "".
    A done card shows what builders.done left on it (links, 撤销) only when something is left to
    tap; else it is plain markdown with the done note.
    The client turns msgParam into the JSON string DingTalk wants.
    """
    taps = iter(_tap_texts(card))  # escaping keeps every callback button, in order
    card = escaped_card(card, markdown_text, link_base)
    tap_text = {id(b): next(taps) for b in card.buttons if b.key}
    title = _cut(card.title, 100)
    text = _cut(_markdown_body(card, with_title=True), ACTION_CARD_TEXT_MAX_CHARS)
    left_to_tap = card.done_note is None or any(b.key for b in card.buttons)
    buttons = list(card.buttons[:MAX_ACTION_CARD_BUTTONS]) if left_to_tap else []
    if not buttons and card.link and card.done_note is None:
        buttons = [Button(text="查看详情", url=card.link)]
    if not buttons:
        return "sampleMarkdown", {"title": title, "text": text}
    urls = [b.url or _tap_url(robot_sender_hint + tap_text[id(b)]) for b in buttons]
    titles = [_cut(b.text, BUTTON_TITLE_MAX_CHARS) for b in buttons]
    if len(buttons) == 1:
        return "sampleActionCard", {"title": title, "text": text,
                                    "singleTitle": titles[0], "singleURL": urls[0]}
    param = {"title": title, "text": text}
    for i, (t, u) in enumerate(zip(titles, urls), start=1):
        param[f"actionTitle{i}"] = t
        param[f"actionURL{i}"] = u
    return f"sampleActionCard{len(buttons)}", param


def _tap_url(text: str) -> str:
    url = f"dtmd://dingtalkclient/sendMessage?content={quote(text, safe='')}"
    if len(url) > BUTTON_URL_MAX_CHARS:
        raise ValueError(f"button text too long for a DingTalk action URL: {text!r}")
    return url


# ---------------------------------------------------------------------------------------------------
# 3. markdown and text messages


def render_markdown(card: Card, link_base: str | None = None) -> dict:
    """Work notice / sessionWebhook markdown body: {"msgtype":"markdown","markdown":{"title","text"}}."""
    card = escaped_card(card, markdown_text, link_base)
    text = _markdown_body(card, with_title=True)
    if card.link:
        text += f"\n\n[查看详情]({card.link})"
    return {"msgtype": "markdown",
            "markdown": {"title": _cut(card.title, 100),
                         "text": _cut_bytes(text, WORK_NOTICE_MAX_BYTES - 300)}}


def render_text(text: str) -> dict:
    # a DingTalk text message shows its content as typed: no markup to escape, controls removed
    return {"msgtype": "text", "text": {"content": _cut_bytes(plain_text(text), WORK_NOTICE_MAX_BYTES - 100)}}


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
