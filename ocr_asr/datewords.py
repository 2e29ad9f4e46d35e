"""Find the next follow-up date (and time) in a rep's note: "下周三", "明天下午三点", "12月10号" ...

Why a rule table and not a library: the maintained Chinese parsers we tried either parse only an
isolated time string and miss rep shorthand ("月底", "12.10"; `jionlp` also pulls ~250 MB of
dictionaries and numpy), or do not understand Chinese relative dates at all (`dateparser`).
Reps use a small, stable set of forms, so a table of regexes — each with a resolver that does
the calendar arithmetic with `dateutil.relativedelta` — stays short and readable. Chinese
numerals go through `cn2an`.

Rules worth knowing (README.md has the full list):
- A bare weekday ("周五") is the next such day strictly after today: "周五" said on a Friday
  is next Friday. "这周五"/"本周五" is the Friday of the current Monday–Sunday week.
- A month/day without a year that has already passed this year ("12月10号" on Dec 20) is next year.
- Mentions in the past ("昨天", "上周五", "这周一" said on a Wednesday) are not follow-ups, and neither
  is a bare "今天" ("今天拜访了…" reports the day).
- Several future mentions: the earliest one followed by an action word ("后天再说", "周五前回款") wins,
  else the earliest (it is the next thing the rep has to do).
- A time without a date is today if still ahead, else tomorrow; a bare hour 1–6 is afternoon.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Callable, Mapping

import cn2an
from dateutil.relativedelta import relativedelta

# Chinese or Arabic number as reps write it in dates and times.
NUM = r"[0-9零〇一二两三四五六七八九十]{1,3}"
WEEKDAY = r"[一二三四五六日天末1-7]"
_WEEKDAY_INDEX = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5,
                  "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
# After a number these make it a quantity or money, never a date ("12.5万", "3.6w", "1.5倍").
_NOT_DATE_AFTER = r"(?![0-9.万千亿wWkK元块倍台套个件%折米吨斤])"


def to_int(text: str) -> int:
    """'12' / '十二' / '两' -> 12 / 12 / 2."""
    if text.isdigit():
        return int(text)
    try:
        return int(cn2an.cn2an(text, "smart"))
    except (KeyError, IndexError, TypeError) as exc:   # cn2an's odd failures on malformed numerals
        raise ValueError(f"not a number: {text!r}") from exc


@dataclass(frozen=True)
class Mention:
    """A date or time phrase found in the text."""
    start: int
    end: int
    day: date | None            # None for a time-only phrase ("下午三点")
    at: time | None = None      # set when the phrase names a time of day
    period: str | None = None   # 上午/下午/晚上... carried by words like "今晚" for a following hour


# ----------------------------------------------------------------------------- date resolvers
# Each resolver gets the regex match and today's date and returns the day (or None to skip).

def _week_monday(today: date) -> date:
    return today - timedelta(days=today.weekday())


def _weekday(m: re.Match, today: date) -> date | None:
    prefix, wd = m.group("prefix") or "", _WEEKDAY_INDEX[m.group("wd")]
    monday = _week_monday(today)
    if prefix in ("下下",):
        return monday + timedelta(days=14 + wd)
    if prefix == "下":
        return monday + timedelta(days=7 + wd)
    if prefix == "上":
        return monday - timedelta(days=7 - wd)          # past: ignored later
    if prefix in ("这", "本"):
        return monday + timedelta(days=wd)              # may be past: ignored later
    if m.group("wd") == "末":                          # bare 周末: this week's Saturday
        return monday + timedelta(days=5)
    ahead = (wd - today.weekday()) % 7 or 7            # bare 周五 on a Friday -> next Friday
    return today + timedelta(days=ahead)


def _next_week(m: re.Match, today: date) -> date:
    weeks = 2 if m.group(0).startswith("下下") else 1
    return _week_monday(today) + timedelta(days=7 * weeks)


def _relative_days(m: re.Match, today: date) -> date:
    return today + timedelta(days=to_int(m.group("n")))


def _relative_weeks(m: re.Match, today: date) -> date:
    return today + timedelta(days=7 * to_int(m.group("n")))


def _relative_months(m: re.Match, today: date) -> date:
    return today + relativedelta(months=to_int(m.group("n")))


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _month_part(m: re.Match, today: date) -> date | None:
    """月初/月中/月底 of this or next month."""
    nxt = bool(m.groupdict().get("next"))
    part = m.groupdict().get("part") or "初"
    base = (today + relativedelta(months=1)).replace(day=1) if nxt else today.replace(day=1)
    if part in ("底", "末"):
        return _month_end(base)
    if part == "中":
        day = base.replace(day=15)
        return day if day >= today else (base + relativedelta(months=1)).replace(day=15)
    if part == "下旬":
        day = base.replace(day=21)
        return day if day >= today else (base + relativedelta(months=1)).replace(day=21)
    # 月初 said after the 1st means next month's start
    if not nxt and today.day > 1:
        return (today + relativedelta(months=1)).replace(day=1)
    return base


def _next_month_day(m: re.Match, today: date) -> date | None:
    base = today + relativedelta(months=1)
    return _safe_date(base.year, base.month, to_int(m.group("d")))


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _month_day(m: re.Match, today: date) -> date | None:
    if m.group("d") is None and to_int(m.group("m")) == today.month:
        return None   # "12月份" said in December names no day
    month, day = to_int(m.group("m")), to_int(m.group("d") or "1")
    found = _safe_date(today.year, month, day)
    if found and found < today:                         # "12月10号" on Dec 20 -> next year
        found = _safe_date(today.year + 1, month, day)
    return found


def _named_month_part(m: re.Match, today: date) -> date | None:
    """"12月中旬" -> Dec 15, "1月底" -> Jan 31; next year once this year's has passed."""
    month, part = to_int(m.group("m")), m.group("part")
    if not 1 <= month <= 12:
        return None
    for year in (today.year, today.year + 1):
        first = date(year, month, 1)
        day = {"初": first, "上旬": first, "中旬": first.replace(day=15), "中": first.replace(day=15),
               "下旬": first.replace(day=21)}.get(part) or _month_end(first)
        if day >= today:
            return day
    return None


def _full_date(m: re.Match, today: date) -> date | None:
    return _safe_date(int(m.group("y")), int(m.group("m")), int(m.group("d")))


def _day_of_month(m: re.Match, today: date) -> date | None:
    day = to_int(m.group("d"))
    found = _safe_date(today.year, today.month, day)
    if found is None or found < today:
        nxt = today + relativedelta(months=1)
        found = _safe_date(nxt.year, nxt.month, day)
    return found


def _year_end(m: re.Match, today: date) -> date:
    return date(today.year, 12, 31)


def _national_day(m: re.Match, today: date) -> date:
    # The Golden Week ends on Oct 7; "国庆后" is the first working day after it.
    day = date(today.year, 10, 8)
    return day if day >= today else date(today.year + 1, 10, 8)


def _fixed(days: int) -> Callable[[re.Match, date], date]:
    return lambda m, today: today + timedelta(days=days)


_OWN_PERIOD = "*"   # the matched word is itself the part of the day (group "p")

# (pattern, resolver, period carried by the word). Longer phrases win over shorter overlapping ones.
DATE_RULES: list[tuple[re.Pattern, Callable[[re.Match, date], date | None], str | None]] = [
    (re.compile(r"大后天"), _fixed(3), None),
    (re.compile(r"后天"), _fixed(2), None),
    (re.compile(r"明(?:天|日|儿)"), _fixed(1), None),
    (re.compile(r"明早上?"), _fixed(1), "上午"),
    (re.compile(r"明晚上?"), _fixed(1), "晚上"),
    (re.compile(r"今(?:天|日|儿)"), _fixed(0), None),
    (re.compile(r"今早上?"), _fixed(0), "上午"),
    (re.compile(r"今晚上?"), _fixed(0), "晚上"),
    (re.compile(r"隔天|第二天"), _fixed(1), None),
    # A part of the day alone ("下午去孙丽家") is today; it counts only while that part is ahead.
    (re.compile(r"(?<![天早晚日儿])(?P<p>上午|中午|下午|傍晚|晚上)(?![0-9零一二两三四五六七八九十])"), _fixed(0),
     _OWN_PERIOD),
    (re.compile(r"(?:昨|前)(?:天|日|晚)"), _fixed(-1), None),   # past, so never chosen
    (re.compile(r"(?:过|再过)(?:几|些)天"), _fixed(3), None),
    (re.compile(r"过(?P<n>" + NUM + r")天"), _relative_days, None),
    (re.compile(r"(?P<n>" + NUM + r")(?:个)?(?:天|日)(?:后|以后|之后|内|之内)"), _relative_days, None),
    (re.compile(r"(?P<n>" + NUM + r")(?:个)?(?:周|星期|礼拜)(?:后|以后|之后|内|之内)"), _relative_weeks, None),
    (re.compile(r"半个?月(?:后|以后|之后|内|之内)"), _fixed(15), None),
    (re.compile(r"(?P<n>" + NUM + r")个月(?:后|以后|之后|内|之内)"), _relative_months, None),
    (re.compile(r"(?P<prefix>下下|下|上|这|本)?个?(?:周|星期|礼拜)(?P<wd>" + WEEKDAY + r")"), _weekday, None),
    (re.compile(r"下下?(?:个)?(?:周|星期|礼拜)(?![一二三四五六日天末1-7])"), _next_week, None),
    (re.compile(r"(?P<next>下个?)?月(?P<part>初|中|底|末|下旬)"), _month_part, None),
    (re.compile(r"(?P<next>下个?)月(?![0-9零一二两三四五六七八九十初中底末])"), _month_part, None),
    (re.compile(r"下个?月(?P<d>" + NUM + r")(?:号|日)"), _next_month_day, None),
    (re.compile(r"(?<![0-9个])(?P<m>" + NUM + r")月(?:份)?(?P<part>初|上旬|中旬|中|下旬|底|末)"), _named_month_part, None),
    (re.compile(r"(?:年底|年末|年前)"), _year_end, None),
    (re.compile(r"国庆(?:节)?(?:后|之后|以后|回来)"), _national_day, None),
    (re.compile(r"(?<![0-9])(?P<y>20\d\d)(?:[-/.年])(?P<m>\d{1,2})(?:[-/.月])(?P<d>\d{1,2})(?:日|号)?"),
     _full_date, None),
    (re.compile(r"(?<![0-9个])(?P<m>" + NUM + r")月(?:份)?(?:(?P<d>" + NUM + r")(?:号|日)?)?"), _month_day, None),
    (re.compile(r"(?<![0-9.])(?P<m>1[0-2]|0?[1-9])[./](?P<d>3[01]|[12][0-9]|0?[1-9])" + _NOT_DATE_AFTER),
     _month_day, None),
    (re.compile(r"(?<![0-9零一二两三四五六七八九十月第])(?P<d>" + NUM + r")(?:号|日)(?![楼线馆厅门机位])"),
     _day_of_month, None),
]

# ----------------------------------------------------------------------------- times of day
PERIODS = r"凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|夜里|晚|早"
TIME_RE = re.compile(
    r"(?P<period>" + PERIODS + r")?\s?(?P<h>[0-9]{1,2}|[零一二两三四五六七八九十]{1,3})(?:点|时)"
    r"(?P<min>半|一刻|三刻|整|[0-9]{1,2}|[零一二三四五六七八九十]{1,3})?(?:分)?")
CLOCK_RE = re.compile(r"(?P<period>" + PERIODS + r")?\s?(?<![0-9])(?P<h>[01]?[0-9]|2[0-3])[:：](?P<mi>[0-5][0-9])(?![0-9])")


def _hour_24(hour: int, period: str | None) -> int:
    if period in ("下午", "傍晚", "晚上", "夜里", "晚") and hour < 12:
        return hour + 12
    if period == "中午" and hour < 6:
        return hour + 12
    if period is None and 1 <= hour <= 6:   # nobody books a customer call at 3 a.m.
        return hour + 12
    return hour


def _minutes(text: str | None) -> int:
    named = {"整": 0, "半": 30, "一刻": 15, "三刻": 45}
    if not text:
        return 0
    return named[text] if text in named else to_int(text)


def _find_times(text: str) -> list[tuple[int, int, int, int, str | None, bool]]:
    """(start, end, hour, minute, period, certain). `certain` is False for a bare Chinese hour."""
    found = []
    for m in TIME_RE.finditer(text):
        try:
            hour, minute = to_int(m.group("h")), _minutes(m.group("min"))
        except (ValueError, TypeError):
            continue
        if not (0 <= hour <= 24 and 0 <= minute < 60):
            continue
        before = text[max(0, m.start() - 2):m.start()]
        if re.search(r"[0-9几这有差百分之]$", before) and not m.group("period"):
            continue   # "有两点要求", "百分之三点", "差一点"
        period = m.group("period")
        bare_cn = not period and not m.group("h").isdigit() and not m.group("min")
        # "一点"/"两点" without more context mean "a bit"/"two points", not a time.
        if bare_cn and to_int(m.group("h")) in (1, 2):
            certain = False
        else:
            certain = True
        start = m.start() if period else m.start("h")   # not the optional space before the hour
        found.append((start, m.end(), hour, minute, period, certain))
    for m in CLOCK_RE.finditer(text):
        period = m.group("period")
        start = m.start() if period else m.start("h")
        found.append((start, m.end(), int(m.group("h")), int(m.group("mi")), period, True))
    return found


# ----------------------------------------------------------------------------- extraction
def keep_longest(spans: list) -> list:
    """Keep the longest of overlapping spans (tuples starting with start, end), in text order."""
    kept: list = []
    for span in sorted(spans, key=lambda s: (-(s[1] - s[0]), s[0])):
        if all(span[1] <= k[0] or span[0] >= k[1] for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s[0])


def _is_standalone_period(text: str, found: tuple) -> bool:
    return text[found[0]:found[1]] in ("上午", "中午", "下午", "傍晚", "晚上")


def find_mentions(text: str, today: date) -> list[Mention]:
    """Every date/time phrase in `text`, each resolved against `today`, in order of appearance."""
    dates = []
    for pattern, resolve, period in DATE_RULES:
        for m in pattern.finditer(text):
            try:
                day = resolve(m, today)
            except ValueError:   # cn2an rejects odd numerals; the phrase is then not a date
                day = None
            if day is not None:
                dates.append((m.start(), m.end(), day, m.group("p") if period == _OWN_PERIOD else period))
    dates = keep_longest(dates)
    # "周五下午": the part of the day belongs to the date before it, it is not "today" on its own.
    dates = [d for d in dates if not (d[3] is not None and _is_standalone_period(text, d)
                                      and any(0 <= d[0] - o[1] <= 1 and re.fullmatch(r"[\s的]*", text[o[1]:d[0]])
                                              for o in dates if o is not d))]

    # Blank out the date phrases so "今晚8点" gives the hour "8点" and the date "今晚" carries 晚上.
    masked = list(text)
    for start, end, _day, _period in dates:
        masked[start:end] = " " * (end - start)
    times = keep_longest(_find_times("".join(masked)))

    mentions: list[Mention] = []
    used_times: set[int] = set()
    for start, end, day, period in dates:
        # A time right after the date ("明天下午三点", "12月8号 10:00") belongs to it.
        for i, (ts, te, hour, minute, tperiod, _certain) in enumerate(times):
            gap = text[end:ts]
            if i not in used_times and 0 <= ts - end <= 3 and re.fullmatch(r"[\s的,，]*", gap):
                used_times.add(i)
                at = time(_hour_24(hour, tperiod or period) % 24, minute)
                mentions.append(Mention(start, te, day, at))
                break
        else:
            # "下周三下午有空": a part of the day without an hour keeps the date alone.
            part = re.match(r"[\s的]*(" + PERIODS + ")", text[end:end + 4])
            mentions.append(Mention(start, end, day, None, part.group(1) if part else period))
    for i, (ts, te, hour, minute, tperiod, certain) in enumerate(times):
        if i in used_times or not certain:
            continue
        mentions.append(Mention(ts, te, None, time(_hour_24(hour, tperiod) % 24, minute)))
    return sorted(mentions, key=lambda mention: mention.start)


# When a part of the day begins: "今天下午去见客户" written at 10:00 is a plan; "今天上午拜访了"
# written at 11:00 is a report of something under way or done.
_PERIOD_STARTS = {"凌晨": 0, "早": 6, "早上": 6, "早晨": 6, "上午": 8, "中午": 11, "下午": 13,
                  "傍晚": 17, "晚": 18, "晚上": 18, "夜里": 21}


def _period_ahead(period: str | None, now: datetime) -> bool:
    return period is not None and now.hour < _PERIOD_STARTS.get(period, 0)


# Words right after a date that make it the next step ("下周一再联系", "周五前回款").
_ACTION_AFTER = re.compile(
    r"^[\s的]*(?:再|去|来|回访|跟进|联系|约|打|见|拜访|过去|电话|沟通|催|问|发|签|开|演示|给|交|付|到账|"
    r"回复|答复|前|之前|以前|以后|之后|左右|上门|过来|碰|聊|确认|出|报|安排)")


@dataclass(frozen=True)
class Followup:
    when: date | datetime | None                 # the chosen next follow-up
    spans: list[tuple[int, int]]                 # every date/time phrase (kept out of amounts)
    future_spans: list[tuple[int, int]]          # the phrases that name a moment still ahead


def resolve_followup(text: str, now: datetime, period_times: Mapping[str, time] | None = None) -> Followup:
    """The next follow-up named in `text` as seen at `now` (tz-aware).

    `when` is a `date` when only a day is named, a tz-aware `datetime` (in now's zone) when a time is.
    A part of the day without an hour ("明天下午再打") names the time `period_times` gives it
    (the playbook's `followup.period_times`, e.g. 下午 → 14:00).
    Of several moments ahead, the earliest one followed by an action word wins ("明天周日 后天再说"
    -> 后天); without such a word, the earliest.
    """
    today = now.date()
    mentions = find_mentions(text, today)
    ahead: list[tuple[datetime, date | datetime, Mention]] = []
    for mention in mentions:
        if mention.at is None:
            if mention.day is None or mention.day < today:
                continue
            if mention.day == today and not _period_ahead(mention.period, now):
                continue   # "今天拜访了…" reports the day; it is not the next follow-up
            value: date | datetime = mention.day
            key = datetime.combine(mention.day, time(0), now.tzinfo)
            at = (period_times or {}).get(mention.period or "")
            if at is not None:
                value = key = datetime.combine(mention.day, at, now.tzinfo)
        else:
            day = mention.day
            if day is None:   # time only: today if still ahead, else tomorrow
                day = today if datetime.combine(today, mention.at, now.tzinfo) > now else today + timedelta(days=1)
            value = datetime.combine(day, mention.at, now.tzinfo)
            if value < now:
                continue
            key = value
        if text[mention.end:mention.end + 1] == "了":
            continue      # "年底了", "周五了": a remark about the calendar, not a plan
        ahead.append((key, value, mention))
    acted = [a for a in ahead if _ACTION_AFTER.match(text[a[2].end:a[2].end + 6])]
    pool = acted or ahead
    best = min(pool, key=lambda a: a[0])[1] if pool else None
    return Followup(best, [(m.start, m.end) for m in mentions], [(a[2].start, a[2].end) for a in ahead])
