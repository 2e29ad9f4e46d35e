"""One way to write money, moments and shortened lines, for every card and every page.

- money: 200,000元 (thousands separated, no decimals unless there are fen: 1,234.50元)
- when: 12-02 15:00 within the current year, 2027-01-05 15:00 otherwise; a date alone without the time
- fit: a line shortened by whole parts ("·", "、", "，" …), never in the middle of a word or a number
"""
from __future__ import annotations

import re
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation

ELLIPSIS = "…"
# Where a line may be cut: between fields and list items, never inside a name, a word or a time.
_BREAKS = re.compile(r"\s·\s|[、，,；;。\n]|\s")


def money(amount: Decimal | int | float | str | None, empty: str = "") -> str:
    if amount is None or amount == "":
        return empty
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    if value == value.to_integral_value():
        return f"{int(value):,}元"
    return f"{value.quantize(Decimal('0.01')):,}元"


def when(value: datetime | date | None, tz: tzinfo, now: datetime | None = None, empty: str = "无",
         today_word: bool = False) -> str:
    """`now` decides whether the year is shown (the caller's clock; without it the year is left out);
    `today_word` writes today's moments as "今天 14:30" (lists in the mini-app)."""
    if value is None:
        return empty
    this_year = now.astimezone(tz).year if now is not None else None
    if isinstance(value, datetime):
        local = value.astimezone(tz)
        if today_word and now is not None and local.date() == now.astimezone(tz).date():
            return f"今天 {local:%H:%M}"
        return f"{local:%m-%d %H:%M}" if this_year in (None, local.year) else f"{local:%Y-%m-%d %H:%M}"
    return f"{value:%m-%d}" if this_year in (None, value.year) else f"{value:%Y-%m-%d}"


def fit(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else cut at the last break before the limit with "…".
    Only a text without any break in its first half is cut hard (a single very long word)."""
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    cut = max((m.start() for m in _BREAKS.finditer(text, 0, room + 1)), default=0)
    if cut < room // 2:
        cut = room
    return text[:cut].rstrip(" ·、，,；;") + ELLIPSIS


def done_line(note: str, limit: int) -> str:
    """A done note ("已记跟进：已报价、老板未拍板 · 李明 12-01 10:32") in `limit` characters:
    drop the time, then the name, then list items — whole parts only."""
    if len(note) <= limit:
        return note
    what, _, stamp = note.partition(" · ")
    who = stamp.split(" ")[0] if stamp else ""
    if who and len(what) + 3 + len(who) <= limit:
        return f"{what} · {who}"
    return fit(what, limit)
