"""Cell values from old sheets made into the store's values: text, phones, dates, amounts.

Each parser returns the value or raises `CellError` with the Chinese reason the dry run shows.
The mess these handle is what teams' sheets really hold: full-width digits, trailing spaces,
mobiles stored as numbers (13812345678.0), mobiles Excel already rounded to scientific notation
(1.38123E+10: the digits are gone, so the row is refused, never guessed), two phones in one cell,
dates as Excel serial numbers or as text (2024/3/5, 2024年3月5日, 2024.3.5).
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from dateutil import parser as date_parser

from .errors import InvalidInput
from .validators import normalize_mobile, normalize_phone


class CellError(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


_SCIENTIFIC = re.compile(r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$")
_PHONE_SPLIT = re.compile(r"[/／;；,，、\n\r|]+|\s{2,}|\s+(?=1\d{10})")
_CN_DATE = re.compile(r"^(\d{2,4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?(.*)$")
_EXCEL_EPOCH = datetime(1899, 12, 30)  # Excel's day 0 (with its 1900 leap-year bug folded in)
_AMOUNT_UNITS = {"万": Decimal(10000), "亿": Decimal(100000000), "千": Decimal(1000)}


def text(value) -> str | None:
    """A cell as clean text: full-width folded for digits and latin letters, spaces trimmed.
    A number Excel stored for a code-like cell (12345.0) comes back without its '.0'."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    result = unicodedata.normalize("NFKC", str(value)).strip()
    return result or None


def name_text(value) -> str | None:
    """A name keeps its own characters (brackets, full-width forms) but loses stray spaces."""
    if value is None:
        return None
    result = re.sub(r"\s+", " ", str(value)).strip()
    return result or None


def phones(value) -> tuple[str | None, list[str]]:
    """(mobile, other phones) from a 电话 cell that may hold one or two numbers of either kind."""
    if value is None:
        return None, []
    if isinstance(value, bool):
        raise CellError("电话号码格式不正确")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not value.is_integer():
            raise CellError(f"电话号码“{value}”不是整数，可能被Excel改写过，请改为文本后重填")
        raw = str(int(value))
    else:
        raw = unicodedata.normalize("NFKC", str(value)).strip()
    if not raw:
        return None, []
    if _SCIENTIFIC.match(raw.replace(" ", "")):
        raise CellError(f"手机号“{raw}”被Excel显示成了科学计数法，后几位已丢失；"
                        "请把该列设为文本、填回完整号码后重新导入")
    mobile, others, bad = None, [], []
    for part in (p.strip() for p in _PHONE_SPLIT.split(raw)):
        if not part:
            continue
        if re.fullmatch(r"\d{11}\.0+", part):  # a mobile saved as a number, then as text
            part = part.split(".")[0]
        try:
            number = normalize_mobile(part)
        except InvalidInput:
            try:
                others.append(normalize_phone(part))
            except InvalidInput:
                bad.append(part)
            continue
        if mobile is None:
            mobile = number
        else:
            others.append(number)
    if bad:
        raise CellError(f"电话号码“{bad[0]}”格式不正确")
    return mobile, others


def when(value, tz: ZoneInfo) -> datetime | None:
    """A point in time in the org's zone; a date alone means the start of that day."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        # an Excel serial day number stored without a date format
        if not 1 <= value < 2958466:
            raise CellError(f"日期“{value}”无法识别")
        moment = _EXCEL_EPOCH + timedelta(days=float(value))
        moment = moment.replace(microsecond=0)
    else:
        raw = unicodedata.normalize("NFKC", str(value)).strip()
        if not raw:
            return None
        if re.fullmatch(r"\d{5}(\.\d+)?", raw):  # a serial number that became text (CSV export)
            return when(float(raw), tz)
        match = _CN_DATE.match(raw)
        if match:
            year, month, day, rest = match.groups()
            raw = f"{year}-{month}-{day} {rest.strip()}".strip()
        try:
            moment = date_parser.parse(raw, yearfirst=True, dayfirst=False)
        except (ValueError, OverflowError):
            raise CellError(f"日期“{value}”无法识别，请写成 2024-03-05 或 2024年3月5日") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment


def amount(value) -> Decimal | None:
    """Yuan from 120000, '12万', '¥120,000.00', '12.5万元'."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(str(value)).quantize(Decimal("0.01"))
    raw = unicodedata.normalize("NFKC", str(value)).strip()
    raw = raw.replace(",", "").replace("¥", "").replace("￥", "").replace("RMB", "").strip()
    raw = raw.removesuffix("元").strip()
    factor = Decimal(1)
    if raw and raw[-1] in _AMOUNT_UNITS:
        factor, raw = _AMOUNT_UNITS[raw[-1]], raw[:-1].strip()
    try:
        result = Decimal(raw) * factor
    except InvalidOperation:
        raise CellError(f"金额“{value}”无法识别") from None
    if result < 0 or result >= Decimal("1e12"):
        raise CellError(f"金额“{value}”超出范围")
    return result.quantize(Decimal("0.01"))
