"""Timers that count only working time, end to end on both platforms: a lead assigned during quiet
hours, or on the eve of 国庆, is offered to its rep on the team's next working morning and reassigned
10 working minutes after that — never while nobody can see it; a lead claimed in the mini-app
closes its 新线索 task, so nothing escalates later."""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta

import chinese_calendar
import pytest
import requests
from sqlalchemy import select

from bot.lead_webhook import sign
from crmbot.simulator.conversation import dingtalk_messages, wecom_messages
from storage.models import Lead, Task, User
from tests.factories import build_world
from tests.jobs.helpers import after_working
from tests.stack import running_stack

SECRET = "lead-form-secret-for-tests"
SOURCES = {"website": {"secret": SECRET, "label": "官网表单", "org_id": 1}}
CSRF = {"X-Requested-With": "crmbot"}


@pytest.fixture(params=["wecom", "dingtalk"])
def stack(request, database, redis_conn):
    with database.transaction() as s:
        build_world(s)
        for user in s.scalars(select(User)):
            user.preferred_platform = request.param
    with running_stack(database, redis_conn, crmbot_lead_sources=SOURCES) as st:
        st.platform = request.param
        yield st


def _local(stack, text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=stack.runtime.playbook.tz)


def _at(stack, when: datetime, *jobs: tuple) -> None:
    """Move the clock to `when` and run what the scheduler would run then."""
    stack.runtime.clock.set(when)
    for job in jobs:
        stack.runtime.queue.enqueue(*job)
    stack.drain()


def _tick(stack, when: datetime) -> None:
    _at(stack, when, ("jobs.pacing.release_held",), ("jobs.rules.run_rule", "claim_timeout"),
        ("jobs.rules.run_rule", "escalation"))


def _post_lead(stack, submission: str) -> int:
    raw = json.dumps({"submission_id": submission, "name": "陈先生", "company": "苏州精工机械",
                      "mobile": "13912345678", "industry": "制造业"}, ensure_ascii=False).encode()
    r = requests.post(f"{stack.base_url}/api/leads", data=raw, timeout=10, headers={
        "Content-Type": "application/json", "X-Crmbot-Source": "website", "X-Crmbot-Signature": sign(SECRET, raw)})
    assert r.status_code == 201, r.text
    stack.drain()
    return r.json()["lead_id"]


def _offers(stack, user: str) -> list[dict]:
    """新线索 cards `user` received on the stack's platform."""
    received = wecom_messages(stack.wecom, user, {}) if stack.platform == "wecom" else \
        dingtalk_messages(stack.dingtalk, user)
    return [m["card"] for m in received if m["type"] == "card" and "新线索" in m["card"]["title"]]


def _lead(database, lead_id: int) -> Lead:
    with database.transaction() as s:
        return s.get(Lead, lead_id)


def _rep(database, uid: str) -> int:
    with database.transaction() as s:
        return s.scalars(select(User.id).where(User.wecom_userid == uid, User.org_id == 1)).one()


def _first_working_morning_after(day: date, start: time) -> datetime:
    """From China's official calendar directly, not from our WorkCalendar."""
    day += timedelta(days=1)
    while not chinese_calendar.is_workday(day):
        day += timedelta(days=1)
    return datetime.combine(day, start)


@pytest.mark.parametrize("assigned", ["2026-03-04 23:00", "2026-09-30 23:00"],
                         ids=["quiet-hours", "national-day-eve"])
def test_a_night_lead_is_offered_next_working_morning_and_reassigned_ten_working_minutes_later(
        stack, database, assigned):
    playbook = stack.runtime.playbook
    night = _local(stack, assigned)
    stack.runtime.clock.set(night)
    lead_id = _post_lead(stack, f"sub-{assigned}")
    first = _lead(database, lead_id).assignee_id
    first_uid = "rep1" if first == _rep(database, "rep1") else "rep2"
    morning = _first_working_morning_after(night.date(), playbook.working_hours.start).replace(tzinfo=playbook.tz)

    # all night (and all holiday): nobody sees the offer, so nothing is reassigned
    for when in (night + timedelta(minutes=20), night + timedelta(hours=9, minutes=30), morning - timedelta(minutes=1)):
        _tick(stack, when)
        assert _offers(stack, first_uid) == []
        assert _lead(database, lead_id).assignment_count == 1
    # the working morning: the offer arrives, and the 10 minutes start now
    _tick(stack, morning)
    [offer] = _offers(stack, first_uid)
    assert "苏州精工机械" in offer["title"]
    minutes = playbook.rules.claim_timeout.minutes
    _tick(stack, morning + timedelta(minutes=minutes - 1))
    assert _lead(database, lead_id).assignment_count == 1
    _tick(stack, after_working(playbook, morning, minutes=minutes, seconds=30))
    lead = _lead(database, lead_id)
    assert lead.assignment_count == 2 and lead.assignee_id != first
    second_uid = "rep2" if first_uid == "rep1" else "rep1"
    assert len(_offers(stack, second_uid)) == 1


def test_a_lead_claimed_in_the_mini_app_closes_its_task_and_never_escalates(stack, database):
    playbook = stack.runtime.playbook
    morning = _local(stack, "2026-03-04 10:00")
    stack.runtime.clock.set(morning)
    lead_id = _post_lead(stack, "sub-miniapp")
    uid = "rep1" if _lead(database, lead_id).assignee_id == _rep(database, "rep1") else "rep2"
    assert len(_offers(stack, uid)) == 1

    stack.app.config.update(CRMBOT_DEV_LOGIN=True, SESSION_COOKIE_SECURE=False)
    client = stack.app.test_client()
    assert client.get(f"/app/dev-login?user={uid}&corp={stack.settings.wecom_corp_id}").status_code in (200, 302)
    r = client.post(f"/api/leads/{lead_id}/claim", headers=CSRF, json={})
    assert r.status_code == 200, r.get_data(as_text=True)
    with database.transaction() as s:
        [task] = s.scalars(select(Task).where(Task.kind == "lead_assignment")).all()
        assert task.status == "done" and task.result == "已认领"

    # a day and two of working time later: no reassignment, no escalation of a lead already claimed
    _tick(stack, after_working(playbook, morning, hours=playbook.rules.escalation.director_after_hours, minutes=5))
    lead = _lead(database, lead_id)
    assert lead.status == "claimed" and lead.assignment_count == 1
    with database.transaction() as s:
        assert s.scalars(select(Task).where(Task.kind == "lead_assignment", Task.escalation_level > 0)).all() == []
        assert len(s.scalars(select(Task).where(Task.kind == "lead_assignment")).all()) == 1
