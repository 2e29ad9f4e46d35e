"""The escapes the renderers apply to every value they interpolate (issue 15: a lead named
`[点此认领](http://evil.example/claim)` became a live link in a DingTalk card, `![x](http://…)` a
remote tracking image).

Each renderer first turns the neutral `Card` into an escaped copy (`escaped_card`) and renders only
that copy, so no builder can hand a renderer text that reaches the platform raw:

- `markdown_text`: for DingTalk markdown (ActionCard, work notice, interactive-card variables) and
  WeCom markdown. Markdown's syntax characters become their full-width forms (［］（）！＃＊＿｀｜＜＞～＼).
  Backslash escapes are not used because neither platform documents which markdown subset and
  escapes it honours; full-width forms are inert in every renderer and read naturally in Chinese
  text. `scheme://` and `www.` get a zero-width space so a client's autolinker cannot turn a typed
  URL into a link either.
- `plain_text`: for plain-text fields (WeCom template cards, texts). Control characters other than
  the newline are removed; `<`/`>` become full-width in WeCom text messages, which honour `<a href>`.
- `safe_link`: only http(s) URLs under our own public URL pass (the renderers get it as
  `link_base`); anything else is dropped, so a card can only ever link to our own pages.
"""
from __future__ import annotations

import dataclasses
import re
from urllib.parse import urlsplit

from cards.model import Button, Card, CardField

_MARKDOWN = str.maketrans({
    "[": "［", "]": "］", "(": "（", ")": "）", "!": "！", "#": "＃", "*": "＊", "_": "＿",
    "`": "｀", "|": "｜", "<": "＜", ">": "＞", "~": "～", "\\": "＼",
})
_ANGLE = str.maketrans({"<": "＜", ">": "＞"})
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_AUTOLINK = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]{1,15}):(?=//)|\b(www)(?=\.)")
ZWSP = "\u200b"


def plain_text(value: object) -> str:
    """Text without control or bidi-override characters (newlines kept)."""
    return _CONTROL.sub("", str(value if value is not None else ""))


def markdown_text(value: object, *, single_line: bool = False) -> str:
    text = plain_text(value).translate(_MARKDOWN)
    text = _AUTOLINK.sub(lambda m: (m.group(1) + ":" if m.group(1) else m.group(2)) + ZWSP, text)
    return " ".join(text.split("\n")) if single_line else text


def html_text(value: object) -> str:
    """For WeCom text messages, which render `<a href>`: no tag can be formed."""
    return plain_text(value).translate(_ANGLE)


def safe_link(url: str | None, link_base: str | None) -> str | None:
    """`url` when it is an http(s) URL under `link_base` (our public URL), else None.
    Without a link_base (unit tests), any well-formed http(s) URL passes."""
    if not url or not isinstance(url, str) or len(url) > 2000:
        return None
    if any(ch.isspace() or ord(ch) < 32 or ch in "<>\"'`\\" for ch in url):
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    if link_base:
        base = urlsplit(link_base)
        if (parts.scheme, parts.netloc) != (base.scheme, base.netloc) \
                or not parts.path.startswith(base.path or "/"):
            return None
    # markdown link targets end at ")" : percent-encode the parentheses
    return url.replace("(", "%28").replace(")", "%29")


def escaped_card(card: Card, text, link_base: str | None) -> Card:
    """A copy of `card` whose every display string went through `text` and whose every URL went
    through `safe_link` (buttons whose URL is refused are dropped)."""
    buttons = []
    for b in card.buttons:
        url = safe_link(b.url, link_base) if b.url else None
        if b.url and url is None:
            continue
        buttons.append(Button(text=text(b.text), key=b.key, url=url, style=b.style))
    return dataclasses.replace(
        card, title=text(card.title), subject=text(card.subject), text=text(card.text), source=text(card.source),
        fields=tuple(CardField(label=text(f.label), value=text(f.value)) for f in card.fields),
        buttons=tuple(buttons), link=safe_link(card.link, link_base),
        done_note=text(card.done_note) if card.done_note is not None else None)
