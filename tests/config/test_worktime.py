"""The working-time calendar the reminder timers count with (config/worktime.py).

Dates are real 2025/2026 Chinese calendar facts from the State Council's notices (国办发明电〔2024〕12号
for 2025, 〔2025〕7号 for 2026): if the installed chinese-calendar disagrees, these tests say so.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import worktime
from config.playbook import WorkingHours, load_playbook
from config.settings import DEFAULT_PLAYBOOK
from config.worktime import WorkCalendar

SH = ZoneInfo("Asia/Shanghai")
PLAYBOOK = load_playbook(DEFAULT_PLAYBOOK)
CAL = WorkCalendar.from_playbook(PLAYBOOK)  # 09:00–18:00, lunch 12:00–13:00
NO_LUNCH = WorkCalendar(WorkingHours(start=time(9), end=time(18)), SH)


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def test_default_playbook_working_hours():
    hours = PLAYBOOK.working_hours
    assert (hours.start, hours.end, hours.lunch_start, hours.lunch_end) == (time(9), time(18), time(12), time(13))


# ---------------------------------------------------------------- holidays and 调休 from the library
@pytest.mark.parametrize("day, working", [
    ((2026, 9, 30), True),     # Wednesday, eve of 国庆
    ((2026, 10, 1), False),    # 国庆 2026-10-01 … 10-07
    ((2026, 10, 5), False),    # a Monday inside 国庆
    ((2026, 10, 7), False),
    ((2026, 10, 8), True),
    ((2026, 10, 10), True),    # Saturday, 调休 make-up day for 国庆
    ((2026, 10, 11), False),   # the Sunday after it
    ((2026, 9, 20), True),     # Sunday, 调休 make-up day for 国庆
    ((2026, 9, 25), False),    # Friday, 中秋
    ((2026, 2, 14), True),     # Saturday, 调休 for 春节
    ((2026, 2, 16), False),    # 春节 (除夕)
    ((2026, 11, 28), False),   # an ordinary Saturday
    ((2026, 11, 30), True),    # an ordinary Monday
    ((2025, 9, 28), True),     # Sunday, 调休 for 国庆 2025
    ((2025, 10, 8), False),    # 国庆 2025 lasted to 10-08
])
def test_working_days_follow_the_official_calendar(day, working):
    assert CAL.is_working_day(datetime(*day).date()) is working
    assert CAL.is_working_time(sh(*day, 10, 30)) is working


def test_friday_night_before_national_day_waits_for_the_next_working_morning():
    # 2025: Friday 09-26 23:00; the next working day is the 调休 Sunday 09-28.
    friday = sh(2025, 9, 26, 23)
    assert CAL.next_working_moment(friday) == sh(2025, 9, 28, 9)
    assert CAL.add_working(friday, timedelta(minutes=10)) == sh(2025, 9, 28, 9, 10)
    # 2026: the eve of 国庆 (Wednesday 09-30) 23:00 waits for Thursday 10-08, a week later.
    eve = sh(2026, 9, 30, 23)
    assert not CAL.is_working_time(eve)
    assert CAL.next_working_moment(eve) == sh(2026, 10, 8, 9)
    assert CAL.add_working(eve, timedelta(minutes=10)) == sh(2026, 10, 8, 9, 10)
    assert CAL.working_between(eve, sh(2026, 10, 8, 9, 10)) == timedelta(minutes=10)


def test_ten_working_minutes_from_friday_1755():
    assert CAL.add_working(sh(2026, 11, 27, 17, 55), timedelta(minutes=10)) == sh(2026, 11, 30, 9, 5)
    # Friday 10-09 is followed by the 调休 Saturday 10-10: the timer runs on Saturday morning.
    assert CAL.add_working(sh(2026, 10, 9, 17, 55), timedelta(minutes=10)) == sh(2026, 10, 10, 9, 5)
    # Exactly used up at closing time: 18:00 itself, not the next morning.
    assert CAL.add_working(sh(2026, 11, 27, 17, 55), timedelta(minutes=5)) == sh(2026, 11, 27, 18)


def test_weekend():
    saturday = sh(2026, 11, 28, 10)
    assert not CAL.is_working_time(saturday)
    assert CAL.next_working_moment(saturday) == sh(2026, 11, 30, 9)
    assert CAL.working_between(sh(2026, 11, 27, 18), sh(2026, 11, 30, 9)) == timedelta(0)
    assert CAL.working_between(sh(2026, 11, 27, 17), sh(2026, 11, 30, 10)) == timedelta(hours=2)


def test_make_up_saturday_counts_like_a_weekday():
    assert CAL.is_working_time(sh(2026, 10, 10, 9))
    assert CAL.working_between(sh(2026, 10, 10, 0), sh(2026, 10, 11, 0)) == timedelta(hours=8)
    assert CAL.next_working_moment(sh(2026, 10, 9, 20)) == sh(2026, 10, 10, 9)


def test_day_boundaries():
    assert CAL.is_working_time(sh(2026, 11, 30, 9))
    assert not CAL.is_working_time(sh(2026, 11, 30, 8, 59, 59))
    assert CAL.is_working_time(sh(2026, 11, 30, 17, 59, 59))
    assert not CAL.is_working_time(sh(2026, 11, 30, 18))
    assert CAL.next_working_moment(sh(2026, 11, 30, 9)) == sh(2026, 11, 30, 9)
    assert CAL.next_working_moment(sh(2026, 11, 30, 14, 7)) == sh(2026, 11, 30, 14, 7)


def test_lunch_and_night_are_skipped():
    assert not CAL.is_working_time(sh(2026, 11, 30, 12, 30))
    assert CAL.next_working_moment(sh(2026, 11, 30, 12, 30)) == sh(2026, 11, 30, 13)
    assert CAL.add_working(sh(2026, 11, 30, 11, 50), timedelta(minutes=20)) == sh(2026, 11, 30, 13, 10)
    assert CAL.working_between(sh(2026, 11, 30, 11), sh(2026, 11, 30, 14)) == timedelta(hours=2)
    # across the night: Monday 17:00 → Tuesday 10:00 is one hour plus one hour
    assert CAL.working_between(sh(2026, 11, 30, 17), sh(2026, 12, 1, 10)) == timedelta(hours=2)
    # a whole working day is 8 hours with lunch, 9 without
    assert CAL.working_between(sh(2026, 12, 1), sh(2026, 12, 2)) == timedelta(hours=8)
    assert NO_LUNCH.working_between(sh(2026, 12, 1), sh(2026, 12, 2)) == timedelta(hours=9)
    assert NO_LUNCH.add_working(sh(2026, 11, 30, 11, 50), timedelta(minutes=20)) == sh(2026, 11, 30, 12, 10)


def test_escalation_after_24_working_hours_spans_three_working_days():
    # a task due Monday 10:00: 24 working hours = 3 days of 8 h → Thursday 10:00
    assert CAL.add_working(sh(2026, 11, 30, 10), timedelta(hours=24)) == sh(2026, 12, 3, 10)


def test_negative_amount_gives_the_range_query_cutoff():
    now = sh(2026, 10, 8, 9, 5)     # first working morning after 国庆
    cutoff = CAL.add_working(now, -timedelta(minutes=10))
    assert cutoff == sh(2026, 9, 30, 17, 55)
    assert CAL.working_between(cutoff, now) == timedelta(minutes=10)
    # latest such moment: starting right at a period's start, not in the gap before it
    assert CAL.add_working(sh(2026, 11, 30, 13, 30), -timedelta(minutes=30)) == sh(2026, 11, 30, 13)


def test_results_are_utc_and_naive_datetimes_are_refused():
    result = CAL.next_working_moment(datetime(2026, 11, 28, 2, tzinfo=UTC))
    assert result.tzinfo is UTC and result == datetime(2026, 11, 30, 1, tzinfo=UTC)
    assert CAL.add_working(datetime(2026, 11, 30, 2, tzinfo=UTC), timedelta(0)).tzinfo is UTC
    for call in (lambda: CAL.is_working_time(datetime(2026, 11, 30, 10)),
                 lambda: CAL.next_working_moment(datetime(2026, 11, 30, 10)),
                 lambda: CAL.add_working(datetime(2026, 11, 30, 10), timedelta(minutes=1)),
                 lambda: CAL.working_between(datetime(2026, 11, 30, 10), sh(2026, 11, 30, 11))):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()


def test_other_time_zone_from_the_playbook():
    berlin = WorkCalendar(WorkingHours(start=time(9), end=time(17)), ZoneInfo("Europe/Berlin"))
    # 2026-11-30 09:00 in Berlin (UTC+1) is 08:00 UTC
    assert berlin.next_working_moment(datetime(2026, 11, 30, 7, tzinfo=UTC)) == datetime(2026, 11, 30, 8, tzinfo=UTC)


def test_uncovered_year_falls_back_to_weekdays_and_warns_once(monkeypatch, caplog):
    monkeypatch.setattr(worktime, "_WARNED_YEARS", set())
    worktime._segments.cache_clear()  # days already computed would not ask (and warn) again
    with pytest.raises(NotImplementedError):  # the library itself has no data that far ahead
        worktime.chinese_calendar.is_workday(datetime(2099, 1, 1).date())
    caplog.set_level(logging.WARNING, logger="config.worktime")
    assert CAL.is_working_time(sh(2099, 1, 1, 10))        # a Thursday: no holiday table, so working
    assert not CAL.is_working_time(sh(2099, 1, 3, 10))    # a Saturday
    assert CAL.add_working(sh(2099, 1, 2, 17, 55), timedelta(minutes=10)) == sh(2099, 1, 5, 9, 5)
    warnings = [r for r in caplog.records if "2099" in r.getMessage()]
    assert len(warnings) == 1 and "chinese-calendar" in warnings[0].getMessage()


# ---------------------------------------------------------------- properties
# 2025 (covered), 2026 (covered, 国庆 and 春节 blocks) and into 2027 (fallback, at the time of writing)
moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 3, 31),
                       timezones=st.just(UTC))
amounts = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=4))
calendars = st.sampled_from([CAL, NO_LUNCH])
prop = settings(deadline=None, max_examples=150)


@prop
@given(calendars, moments, amounts)
def test_add_working_then_working_between_gives_the_amount_back(cal, start, amount):
    end = cal.add_working(start, amount)
    assert end >= start
    assert cal.working_between(start, end) == amount
    if amount:  # the earliest such moment: it lies inside or at the close of a working period
        assert cal.is_working_time(end - timedelta(microseconds=1))


@prop
@given(calendars, moments, amounts)
def test_walking_back_gives_the_latest_cutoff(cal, now, amount):
    cutoff = cal.add_working(now, -amount)
    assert cutoff <= now
    assert cal.working_between(cutoff, now) == amount
    if amount:  # latest: one microsecond later is already less working time
        assert cal.working_between(cutoff + timedelta(microseconds=1), now) < amount


@prop
@given(calendars, moments, moments)
def test_working_between_then_add_working_lands_no_later(cal, a, b):
    a, b = min(a, b), max(a, b)
    elapsed = cal.working_between(a, b)
    assert timedelta(0) <= elapsed <= b - a
    assert cal.working_between(b, a) == -elapsed
    back = cal.add_working(a, elapsed)
    assert back <= b and cal.working_between(back, b) == timedelta(0)


@prop
@given(calendars, moments, amounts, amounts)
def test_add_working_is_additive(cal, start, first, second):
    assert cal.add_working(cal.add_working(start, first), second) == cal.add_working(start, first + second)


@prop
@given(calendars, moments, moments, moments)
def test_working_between_adds_up_over_a_split(cal, a, b, c):
    a, b, c = sorted((a, b, c))
    assert cal.working_between(a, b) + cal.working_between(b, c) == cal.working_between(a, c)


@prop
@given(calendars, moments)
def test_next_working_moment(cal, dt):
    nxt = cal.next_working_moment(dt)
    assert nxt >= dt and cal.is_working_time(nxt)
    assert cal.working_between(dt, nxt) == timedelta(0)
    assert (nxt == dt) is cal.is_working_time(dt)
    local = nxt.astimezone(SH)
    assert cal.is_working_day(local.date()) and cal.hours.start <= local.time() < cal.hours.end


def test_day_length_is_one_full_working_day():
    assert CAL.day_length == timedelta(hours=8) and NO_LUNCH.day_length == timedelta(hours=9)
    for cal in (CAL, NO_LUNCH):
        assert cal.working_between(sh(2026, 12, 1), sh(2026, 12, 2)) == cal.day_length
        # "3 days overdue" from Friday 10:00 lands on Wednesday 10:00 (weekend skipped)
        assert cal.add_working(sh(2026, 11, 27, 10), 3 * cal.day_length) == sh(2026, 12, 2, 10)
