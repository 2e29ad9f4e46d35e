"""The team's working-time calendar: what the reminder timers count.

A claim timeout of 10 minutes, a first contact within 2 hours, an escalation after 24 hours: each
counts only **working time**, so a lead assigned at 23:00 on the eve of 国庆 is reassigned 10 working
minutes after the next working morning starts, not while nobody can see it.

Working time is the playbook's `[working_hours]` (local time in `playbook.timezone`, minus the
optional lunch break) on China's working days: Monday to Friday, minus public holidays, plus the
调休 make-up days (a Saturday or Sunday that is worked). Holidays and make-up days come from the
maintained `chinese-calendar` library (it follows the State Council's yearly notice), never from a
table typed here. For a year the installed library does not cover yet (the notice comes out in
November for the next year), the calendar falls back to Monday–Friday and logs a warning once per
year: upgrade `chinese-calendar` when the notice is out.

All datetimes in and out are timezone-aware; results are in UTC. Naive datetimes are refused, since
guessing their zone is how a timer ends up eight hours off.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

from config.playbook import Playbook, WorkingHours

log = logging.getLogger(__name__)

# A working day is never further away than this (the longest Chinese holiday block is 9 days);
# the limit only turns a broken calendar into an error instead of an endless loop.
_MAX_DAYS_WITHOUT_WORK = 60

Segment = tuple[datetime, datetime]


def _aware(dt: datetime, name: str) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {dt!r}")
    return dt.astimezone(UTC)


@dataclass(frozen=True)
class WorkCalendar:
    hours: WorkingHours
    tz: ZoneInfo

    @classmethod
    def from_playbook(cls, playbook: Playbook) -> WorkCalendar:
        return cls(playbook.working_hours, playbook.tz)

    # ---- days
    def is_working_day(self, day: date) -> bool:
        """China's official working day (holidays and 调休 included); Monday–Friday for a year the
        installed chinese-calendar does not cover."""
        return _china_working_day(day)

    def _day_segments(self, day: date) -> tuple[Segment, ...]:
        return _segments(self.hours, self.tz, day)

    def _forward(self, moment: datetime) -> Iterator[Segment]:
        """Working segments that end after `moment`, clipped to start no earlier than it."""
        day, idle = moment.astimezone(self.tz).date(), 0
        while True:
            segments = self._day_segments(day)
            for start, end in segments:
                if end > moment:
                    yield max(start, moment), end
            idle = 0 if segments else idle + 1
            if idle > _MAX_DAYS_WITHOUT_WORK:
                raise RuntimeError(f"no working day in the {_MAX_DAYS_WITHOUT_WORK} days after {day}")
            day += timedelta(days=1)

    def _backward(self, moment: datetime) -> Iterator[Segment]:
        """Working segments that start before `moment`, latest first, clipped to end no later than it."""
        day, idle = moment.astimezone(self.tz).date(), 0
        while True:
            segments = self._day_segments(day)
            for start, end in reversed(segments):
                if start < moment:
                    yield start, min(end, moment)
            idle = 0 if segments else idle + 1
            if idle > _MAX_DAYS_WITHOUT_WORK:
                raise RuntimeError(f"no working day in the {_MAX_DAYS_WITHOUT_WORK} days before {day}")
            day -= timedelta(days=1)

    @property
    def day_length(self) -> timedelta:
        """Working time in one working day: "N days overdue" counts N of these."""
        h = self.hours
        length = datetime.combine(date.min, h.end) - datetime.combine(date.min, h.start)
        if h.lunch_start is not None:
            length -= datetime.combine(date.min, h.lunch_end) - datetime.combine(date.min, h.lunch_start)
        return length

    # ---- the API the timers use
    def is_working_time(self, dt: datetime) -> bool:
        dt = _aware(dt, "dt")
        return any(start <= dt < end for start, end in self._day_segments(dt.astimezone(self.tz).date()))

    def next_working_moment(self, dt: datetime) -> datetime:
        """`dt` itself (in UTC) if it is working time, else the start of the next working period."""
        dt = _aware(dt, "dt")
        return next(start for start, _ in self._forward(dt))

    def add_working(self, start: datetime, amount: timedelta) -> datetime:
        """The earliest moment at which `amount` of working time has elapsed since `start`
        (so ending exactly at 18:00 gives 18:00, not the next morning).

        A negative amount walks back: the latest moment `t` with `working_between(t, start) ==
        -amount`. That is the cutoff for an indexed range query: every row stamped at or before
        `add_working(now, -timeout)` has had at least `timeout` of working time.
        """
        start = _aware(start, "start")
        if amount == timedelta(0):
            return start
        if amount < timedelta(0):
            left = -amount
            for seg_start, seg_end in self._backward(start):
                if seg_end - seg_start >= left:
                    return seg_end - left
                left -= seg_end - seg_start
        left = amount
        for seg_start, seg_end in self._forward(start):
            if seg_end - seg_start >= left:
                return seg_start + left
            left -= seg_end - seg_start
        raise AssertionError("unreachable: the segment walks never end")

    def working_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from `a` to `b`; negative when `b` is before `a`."""
        a, b = _aware(a, "a"), _aware(b, "b")
        if b < a:
            return -self.working_between(b, a)
        total = timedelta(0)
        for start, end in self._forward(a):
            if start >= b:
                break
            total += min(end, b) - start
        return total


@lru_cache(maxsize=8192)
def _segments(hours: WorkingHours, tz: ZoneInfo, day: date) -> tuple[Segment, ...]:
    """The working periods of one local day, as UTC instants (scans ask for the same days often)."""
    if not _china_working_day(day):
        return ()
    if hours.lunch_start is None:
        bounds = [(hours.start, hours.end)]
    else:
        bounds = [(hours.start, hours.lunch_start), (hours.lunch_end, hours.end)]
    return tuple((_utc(day, a, tz), _utc(day, b, tz)) for a, b in bounds)


def _utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


@lru_cache(maxsize=8192)
def _library_working_day(day: date) -> bool | None:
    """chinese-calendar's answer, or None when the installed version has no data for that year."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return None


def _china_working_day(day: date) -> bool:
    official = _library_working_day(day)
    if official is not None:
        return official
    if day.year not in _WARNED_YEARS:
        _WARNED_YEARS.add(day.year)
        log.warning("chinese-calendar %s has no holidays for %s: counting Monday–Friday as working days "
                    "(upgrade chinese-calendar once the State Council's notice for %s is out)",
                    getattr(chinese_calendar, "__version__", "?"), day.year, day.year)
    return day.weekday() < 5


# One warning per uncovered year for the whole process, not per calendar object.
_WARNED_YEARS: set[int] = set()
