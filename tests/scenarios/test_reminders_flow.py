"""The reminder engine end to end over loopback: a signed lead form post → assignment card on the
fake WeCom → 认领; a scan run by the worker → wake-up card → a tap changes the task and the same
card is updated; an escalation card lets the manager 催办 / 关闭 (催办 past the rep's reminder cap and
at night: test_first_week.py, on every platform). In CI the jobs run on a real rq worker against
real Redis and PostgreSQL (tests/stack.py)."""
import json
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select

from bot.lead_webhook import sign
from storage import customers
from storage.customers import ContactInput, CustomerInput
from storage.models import Customer, FollowUp, Lead, OutboxMessage, Task
from tests.factories import NOW, build_world
from tests.jobs.helpers import after_working
from tests.stack import running_stack

SECRET = "form-secret-0001"
SOURCES = {"website": {"secret": SECRET, "label": "官网表单", "org_id": 1}}


@pytest.fixture
def stack(database, redis_conn, playbook):
    with database.transaction() as s:
        build_world(s)
    with running_stack(database, redis_conn, crmbot_lead_sources=SOURCES) as st:
        yield st


def _cards(stack, user):
    return [m["body"]["template_card"] for m in stack.wecom.sent if m["path"].endswith("/message/send")
            and m["body"].get("msgtype") == "template_card" and m["body"]["touser"] == user]


def _updates(stack):
    return [m["body"] for m in stack.wecom.sent if m["path"].endswith("/update_template_card")]


def _post_lead(stack, body: dict, secret=SECRET, source="website"):
    raw = json.dumps(body, ensure_ascii=False).encode()
    return requests.post(f"{stack.base_url}/api/leads", data=raw, timeout=10, headers={
        "Content-Type": "application/json", "X-Crmbot-Source": source,
        "X-Crmbot-Signature": sign(secret, raw)})


def _key(card, text):
    return next(b["key"] for b in card["button_list"] if b["text"] == text)


def _daytime(playbook) -> datetime:
    """A working hour today in the org's time zone, so nothing waits for quiet hours."""
    return NOW.astimezone(playbook.tz).replace(hour=10, minute=30, second=0, microsecond=0)


def test_signed_lead_post_is_assigned_at_once_and_claimed_with_one_tap(stack, database):
    form = {"submission_id": "sub-9001", "name": "陈先生", "company": "苏州精工机械", "mobile": "13912345678",
            "industry": "制造业", "budget": "200000", "note": "想了解数控机床"}
    r = _post_lead(stack, form)
    assert r.status_code == 201 and r.json()["created"] is True
    stack.drain()
    [card] = _cards(stack, "rep1")
    assert "苏州精工机械" in card["main_title"]["title"]
    assert [b["text"] for b in card["button_list"] if b.get("key")][:2] == ["认领", "转交"]

    again = _post_lead(stack, form)  # the form retries: same lead, nothing new
    assert again.status_code == 200 and again.json() == {"lead_id": r.json()["lead_id"], "created": False}
    assert _post_lead(stack, form, secret="wrong").status_code == 401
    assert _post_lead(stack, form, source="unknown").status_code == 401
    bad = _post_lead(stack, {"name": "没有编号"})
    assert bad.status_code == 400 and "submission_id" in bad.json()["error"]

    stack.wecom_click("rep1", card["task_id"], _key(card, "认领"))
    stack.drain()
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 1
        lead = s.scalars(select(Lead)).one()
        assert lead.status == "claimed" and lead.customer_id is not None
        task = s.scalars(select(Task).where(Task.kind == "lead_assignment")).one()
        assert task.status == "done" and task.result == "已认领"
    [update] = _updates(stack)
    assert "已认领" in update["template_card"]["main_title"]["desc"]


def _silent_customer(database, playbook, now):
    with database.transaction() as s:
        from storage.models import User
        rep = s.scalars(select(User).where(User.wecom_userid == "rep1", User.org_id == 1)).one()
        c = customers.create_customer(s, rep, CustomerInput(
            kind="company", name="上海华东机电设备有限公司", credit_code="91310115MA1H7XQ819",
            contacts=[ContactInput(name="王建国", mobile="13816620001")]), playbook, now=now)
        c.last_interaction_at = now - timedelta(days=playbook.rules.silent_customer.days + 2)
        c.last_interaction_summary = "已报价"
        return c.id


def _scan(stack, now):
    for name in ("silent_customer", "escalation"):
        stack.runtime.clock.set(now)
        stack.runtime.queue.enqueue("jobs.rules.run_rule", name)
    stack.drain()


def test_wake_up_card_tap_logs_the_contact_and_updates_the_card(stack, database, playbook):
    now = _daytime(playbook)
    customer_id = _silent_customer(database, playbook, now)
    _scan(stack, now)
    [card] = _cards(stack, "rep1")
    assert "上海华东机电设备有限公司" in card["main_title"]["title"]
    stack.wecom_click("rep1", card["task_id"], _key(card, "已联系"))
    stack.drain()
    with database.transaction() as s:
        task = s.scalars(select(Task).where(Task.kind == "silent_customer")).one()
        assert task.status == "done"
        followup = s.scalars(select(FollowUp)).one()
        assert followup.customer_id == customer_id and followup.channel == "card"
    [update] = _updates(stack)
    assert "已联系" in update["template_card"]["main_title"]["desc"]
    _scan(stack, now + timedelta(minutes=1))
    assert len(_cards(stack, "rep1")) == 1  # nothing new: the customer is no longer silent


def test_snooze_and_mark_lost(stack, database, playbook):
    now = _daytime(playbook)
    _silent_customer(database, playbook, now)
    _scan(stack, now)
    [card] = _cards(stack, "rep1")
    days = playbook.rules.silent_customer.snooze_days
    stack.wecom_click("rep1", card["task_id"], _key(card, f"{days}天后提醒"))
    stack.drain()
    with database.transaction() as s:
        task = s.scalars(select(Task).where(Task.kind == "silent_customer")).one()
        assert task.status == "open"
        assert task.due_at.astimezone(playbook.tz).date() == (NOW.astimezone(playbook.tz) + timedelta(days=days)).date()
        later = s.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("%:later:%"))).one()
        assert later.status == "held" and later.next_attempt_at == task.due_at  # comes back that day
    assert len(_updates(stack)) == 1


def test_escalated_task_manager_nudges_then_closes(stack, database, playbook):
    now = _daytime(playbook)
    _silent_customer(database, playbook, now)
    _scan(stack, now)
    _scan(stack, after_working(playbook, now, hours=playbook.rules.escalation.manager_after_hours, minutes=1))
    [escalation] = [c for c in _cards(stack, "manager") if c["source"]["desc"] == "升级给经理"]
    texts = [m["body"]["text"]["content"] for m in stack.wecom.sent
             if m["body"].get("msgtype") == "text" and m["body"]["touser"] == "rep1"]
    assert any("已升级给经理" in t for t in texts)

    stack.wecom_click("manager", escalation["task_id"], _key(escalation, "催办"))
    stack.drain()
    nudges = [c for c in _cards(stack, "rep1") if c["source"]["desc"] == "催办"]
    assert len(nudges) == 1 and "钱经理" in json.dumps(nudges[0], ensure_ascii=False)
    # 催办 updated the manager's card, so it cannot be tapped twice; a copy would be refused
    with database.transaction() as s:
        task = s.scalars(select(Task).where(Task.kind == "silent_customer")).one()
        assert task.status == "open" and task.escalation_level == 1

    # the rep's nudge card: the rep marks it lost
    stack.wecom_click("rep1", nudges[0]["task_id"], _key(nudges[0], "标记流失"))
    stack.drain()
    with database.transaction() as s:
        task = s.scalars(select(Task).where(Task.kind == "silent_customer")).one()
        assert task.status == "done" and task.result == "已标记流失"
        assert s.scalars(select(Customer)).one().status == "lost"
