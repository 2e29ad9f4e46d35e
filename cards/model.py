"""The platform-neutral card (errbot's send_card idea): builders make these, renderers draw them.

A card is addressed by `card_id`, which is stable for its whole life: WeCom's task_id and
DingTalk's outTrackId are derived from it, and a click comes back carrying it.
"""
from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class ButtonStyle(StrEnum):
    PRIMARY = "primary"
    DEFAULT = "default"
    DANGER = "danger"


@dataclass(frozen=True)
class Button:
    text: str                         # Chinese, short (WeCom shows ~4–6 characters well)
    key: str | None = None            # callback key; exactly one of key / url
    url: str | None = None
    style: ButtonStyle = ButtonStyle.DEFAULT


@dataclass(frozen=True)
class CardField:
    label: str
    value: str


@dataclass(frozen=True)
class Card:
    card_id: str                      # [0-9A-Za-z_-@]{1,64}
    title: str
    text: str = ""                    # one short paragraph
    # What to do while the card is open ("核对无误后点“确认创建”"); gone once it is done.
    hint: str = ""
    fields: tuple[CardField, ...] = ()
    buttons: tuple[Button, ...] = ()
    link: str | None = None           # tap on the card body opens this
    source: str = "crmbot"            # small header line
    # Set when the card was acted upon: buttons are replaced by this line, e.g. "已认领 · 张三 10:32".
    done_note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Who or what the card is about, short ("上海华东机电设备有限公司"), where the title says more
    # ("上海华东机电设备有限公司（正常）"). Names the card in a text a person sends back (DingTalk's
    # ActionCard buttons, cards/dingtalk.py); empty = the title.
    subject: str = ""

    @property
    def about(self) -> str:
        return self.subject or self.title

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Card":
        return cls(
            card_id=data["card_id"], title=data["title"], subject=data.get("subject", ""),
            text=data.get("text", ""),
            hint=data.get("hint", ""),
            fields=tuple(CardField(**f) for f in data.get("fields", ())),
            buttons=tuple(Button(text=b["text"], key=b.get("key"), url=b.get("url"),
                                 style=ButtonStyle(b.get("style", "default")))
                          for b in data.get("buttons", ())),
            link=data.get("link"), source=data.get("source", "crmbot"),
            done_note=data.get("done_note"), extra=dict(data.get("extra") or {}),
        )

    @property
    def body(self) -> str:
        """The paragraph under the title as shown: the text, and the hint while the card is open."""
        parts = [self.text] if self.text else []
        if self.hint and not self.done_note:
            parts.append(self.hint)
        return "\n".join(parts)

    def as_text(self) -> str:
        """Plain-text fallback for channels without cards."""
        lines = [self.title]
        if self.text:
            lines.append(self.text)
        if self.hint and not self.done_note:
            lines.append(self.hint)
        lines += [f"{f.label}：{f.value}" for f in self.fields]
        if self.done_note:
            lines.append(self.done_note)
        if self.link:
            lines.append(self.link)
        return "\n".join(lines)


def new_card_id(kind: str, subject_id: int) -> str:
    """Unique forever (WeCom task_id, DingTalk outTrackId), only [0-9A-Za-z_-], short enough for
    every platform."""
    return f"{kind}-{subject_id}-{secrets.token_hex(4)}"
