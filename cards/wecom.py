"""Render the neutral `cards.model.Card` as WeCom app-message bodies (platforms.md 1.6).

A card with callback buttons becomes a `button_interaction` template card (its task_id is the
card_id, so a click's TaskId leads back to the card); a card without becomes a `text_notice`,
whose body tap opens `card.link` (WeCom requires a card_action there, hence `default_url`).

Length limits: WeCom documents most card texts as "建议不超过 N 个字" (recommended characters)
and a few hard byte limits (task_id 128 B, button key 1024 B, text/markdown 2048 B). Display
texts are shortened to those lengths by whole words and fields with "…" (a done note drops its
time, then its name, before anything else); identifiers that cannot be cut without breaking the
callback (button keys) raise ValueError instead, because that is a bug in a card builder.

Escaping: every public function starts from `escaped_card` (cards/escape.py). Template-card fields
are plain text (control characters removed); markdown bodies are markdown-escaped; text messages,
which WeCom renders with `<a href>`, get `<`/`>` as full-width forms. Every URL (card body, jump
buttons) must lie under `link_base` (our public URL's /app/) or it is dropped.
"""
from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

from cards import formats
from cards.escape import escaped_card, html_text, markdown_text, plain_text, safe_link
from cards.model import Button, ButtonStyle, Card

log = logging.getLogger(__name__)

ELLIPSIS = "…"
DEFAULT_URL = "https://work.weixin.qq.com/"

# "建议不超过 N 个字" in the template_card docs (developer.work.weixin.qq.com 90236 / 94888)
SOURCE_DESC_CHARS = 13
TITLE_CHARS = 26
TITLE_DESC_CHARS = 30
SUB_TITLE_CHARS = 112
KEYNAME_CHARS = 5
VALUE_CHARS = 26
BUTTON_TEXT_CHARS = 10
JUMP_TITLE_CHARS = 13
# hard limits
MAX_FIELDS = 6
MAX_BUTTONS = 6
MAX_JUMPS = 3
TASK_ID_BYTES = 128
KEY_BYTES = 1024
CONTENT_BYTES = 2048  # text and markdown

# WeCom has button styles 1–4; which colour each shows is not documented in what we could read.
BUTTON_STYLE = {ButtonStyle.PRIMARY: 1, ButtonStyle.DEFAULT: 2, ButtonStyle.DANGER: 3}
_TASK_ID_INVALID = re.compile(r"[^0-9A-Za-z_\-@]")


def render_card(card: Card, agent_id: int, touser: str, *, default_url: str = DEFAULT_URL,
                link_base: str | None = None) -> dict[str, Any]:
    """The full /cgi-bin/message/send body for `card`."""
    return {"touser": touser, "msgtype": "template_card", "agentid": agent_id,
            "template_card": template_card(card, default_url=default_url, link_base=link_base)}


def render_update(card: Card, *, default_url: str = DEFAULT_URL, link_base: str | None = None) -> dict[str, Any]:
    """The `template_card` for update_template_card after a click.

    With `card.done_note` set the note goes under the title, so everyone sees what was done and by
    whom. A done card (cards.builders.done) has no callback buttons left, so it is drawn as a
    text_notice; one that still offers an action (撤销 after 转交) keeps that live button. Never
    `replace_text`: WeCom draws it as one grey button in place of ALL buttons, 撤销 included."""
    body = template_card(card, default_url=default_url, link_base=link_base)
    if card.done_note:
        body["main_title"]["desc"] = formats.done_line(plain_text(card.done_note), TITLE_DESC_CHARS)
    return body


def render_text(text: str) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": truncate_bytes(html_text(text), CONTENT_BYTES)}}


def render_markdown(card: Card, link_base: str | None = None) -> dict[str, Any]:
    """A markdown app message drawn from the card: bold title, the text, one line per field and a
    详情 link to our own page. There is no raw-markdown entry point on purpose."""
    card = escaped_card(card, markdown_text, link_base)
    lines = [f"**{card.title}**"] + ([card.text] if card.text else [])
    lines += [f"> {f.label}：{' '.join(f.value.splitlines())}" for f in card.fields]
    if card.done_note:
        lines.append(card.done_note)
    if card.link:
        lines.append(f"[查看详情]({card.link})")
    return {"msgtype": "markdown", "markdown": {"content": truncate_bytes("\n".join(lines), CONTENT_BYTES)}}


def template_card(card: Card, *, default_url: str = DEFAULT_URL, link_base: str | None = None) -> dict[str, Any]:
    card = escaped_card(card, plain_text, link_base)
    default_url = safe_link(default_url, link_base) or DEFAULT_URL
    key_buttons = [b for b in card.buttons if b.key]
    body: dict[str, Any] = {
        "card_type": "button_interaction" if key_buttons else "text_notice",
        "source": {"desc": truncate_chars(card.source, SOURCE_DESC_CHARS), "desc_color": 0},
        "main_title": {"title": truncate_chars(card.title, TITLE_CHARS)},
    }
    fields, overflow = card.fields[:MAX_FIELDS], card.fields[MAX_FIELDS:]
    if fields:
        body["horizontal_content_list"] = [
            {"keyname": truncate_chars(f.label, KEYNAME_CHARS), "value": truncate_chars(f.value, VALUE_CHARS)}
            for f in fields]
    # Fields beyond six are not lost: they go into the paragraph under the title.
    lines = ([card.body] if card.body else []) + [f"{f.label}：{f.value}" for f in overflow]
    if lines:
        body["sub_title_text"] = truncate_chars("\n".join(lines), SUB_TITLE_CHARS)

    if key_buttons:
        body["task_id"] = task_id_for(card.card_id)
        body["button_list"] = _button_list(card)
        if card.link:
            body["card_action"] = {"type": 1, "url": card.link}
    else:
        body["card_action"] = {"type": 1, "url": card.link or default_url}
        jumps = [b for b in card.buttons if b.url][:MAX_JUMPS]
        if jumps:
            body["jump_list"] = [{"type": 1, "title": truncate_chars(b.text, JUMP_TITLE_CHARS), "url": b.url}
                                 for b in jumps]
    return body


def task_id_for(card_id: str) -> str:
    """WeCom task_id for a card: the card_id itself when it is valid ([0-9A-Za-z_-@], ≤128 B),
    else a cleaned prefix plus a digest, so two different card_ids never share a task_id."""
    if card_id and not _TASK_ID_INVALID.search(card_id) and len(card_id) <= TASK_ID_BYTES:
        return card_id
    digest = hashlib.sha256(card_id.encode("utf-8")).hexdigest()[:16]
    return _TASK_ID_INVALID.sub("_", card_id)[:TASK_ID_BYTES - len(digest) - 1] + "-" + digest


def truncate_chars(text: str, limit: int) -> str:
    """Cut by whole words and fields (cards.formats.fit), hard only inside one very long word."""
    return formats.fit(text, limit)


def truncate_bytes(text: str, limit: int) -> str:
    """Cut to at most `limit` UTF-8 bytes on a character boundary, ending with "…"."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    room = limit - len(ELLIPSIS.encode("utf-8"))
    return raw[:room].decode("utf-8", errors="ignore") + ELLIPSIS


def _button_list(card: Card) -> list[dict[str, Any]]:
    buttons = list(card.buttons)
    if len(buttons) > MAX_BUTTONS:
        log.warning("card %s has %d buttons; WeCom shows %d", card.card_id, len(buttons), MAX_BUTTONS)
        buttons = buttons[:MAX_BUTTONS]
    keys = [b.key for b in buttons if b.key]
    if len(keys) != len(set(keys)):
        raise ValueError(f"card {card.card_id}: button keys must be unique")
    return [_button(b, card.card_id) for b in buttons]


def _button(button: Button, card_id: str) -> dict[str, Any]:
    rendered: dict[str, Any] = {"text": truncate_chars(button.text, BUTTON_TEXT_CHARS),
                                "style": BUTTON_STYLE.get(button.style, 2)}
    if button.key:
        if len(button.key.encode("utf-8")) > KEY_BYTES:
            raise ValueError(f"card {card_id}: button key longer than {KEY_BYTES} bytes")
        rendered.update(type=0, key=button.key)
    elif button.url:
        rendered.update(type=1, url=button.url)
    else:
        raise ValueError(f"card {card_id}: button {button.text!r} has neither key nor url")
    return rendered
