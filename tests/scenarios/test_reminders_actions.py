"""More one-tap actions on reminder cards, through the fake WeCom: 转交 on a new lead, 推进阶段
refused by the checklist then a stuck reason, a manager's 转交 and 关闭 on an escalation."""
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from storage import customers, leads, opportunities
from storage.customers import ContactInput, CustomerInput
from storage.leads import LeadInput
from storage.models import Customer, Lead, Task, User
from tests.factories import NOW, build_world
from tests.jobs.helpers import after_working
from tests.stack import running_stack


@pytest.fixture
def stack(database, redis_conn, playbook):
    with database.transaction() as s:
        build_world(s)
    with running_stack(database, redis_conn) as st:
        yield st


def _now(playbook):
    return NOW.astimezone(playbook.tz).replace(hour=10, minute=30, second=0, microsecond=0)


def _cards(stack, user):
    return [m["body"]["template_card"] for m in stack.wecom.sent if m["path"].endswith("/message/send")
            and m["body"].get("msgtype") == "template_card" and m["body"]["touser"] == user]


def _texts(stack, user):
    return [m["body"]["text"]["content"] for m in stack.wecom.sent
            if m["body"].get("msgtype") == "text" and m["body"]["touser"] == user]


def _key(card, text):
    return next(b["key"] for b in card["button_list"] if b["text"] == text)


def _scan(stack, now, *names):
    for name in names:
        stack.runtime.clock.set(now)
        stack.runtime.queue.enqueue("jobs.rules.run_rule", name)
    stack.drain()


def _rep1(s):
    return s.scalars(select(User).where(User.wecom_userid == "rep1", User.org_id == 1)).one()


def _updates(stack) -> list[dict]:
    return [m["body"]["template_card"] for m in stack.wecom.sent if m["path"].endswith("/update_template_card")]


def _lead_owner(database) -> str:
    with database.transaction() as s:
        lead = s.scalars(select(Lead)).one()
        return s.get(User, lead.assignee_id).wecom_userid


def test_pass_a_new_lead_asks_to_whom_confirms_and_can_be_undone(stack, database, playbook):
    now = _now(playbook)
    with database.transaction() as s:
        leads.create_lead(s, 1, LeadInput(source="官网表单", name="陈先生", external_ref="x1"), now=now)
    _scan(stack, now, "lead_assignment")
    [card] = _cards(stack, "rep1")
    stack.wecom_click("rep1", card["task_id"], _key(card, "转交"))   # tap 1: to whom?
    stack.drain()
    picker = _updates(stack)[-1]
    assert [b["text"] for b in picker["button_list"]] == ["转给王芳", "取消"]   # rep1's team, not rep1
    assert _lead_owner(database) == "rep1" and _cards(stack, "rep2") == []   # nothing moved yet

    stack.wecom_click("rep1", card["task_id"], _key(picker, "转给王芳"))   # tap 2: the confirmation
    stack.drain()
    with database.transaction() as s:
        assert s.scalars(select(Lead)).one().assignment_count == 2
    assert _lead_owner(database) == "rep2" and len(_cards(stack, "rep2")) == 1
    done = _updates(stack)[-1]
    assert "已转交给王芳" in str(done) and [b["text"] for b in done["button_list"] if b.get("key")] == [
        f"撤销（{playbook.handover.undo_minutes}分钟内）"]
    # the old card cannot claim it any more: a retry is told so
    stack.wecom_click("rep1", card["task_id"], _key(card, "认领"))
    stack.drain()
    assert any("已经处理过了" in t for t in _texts(stack, "rep1"))

    stack.wecom_click("rep1", card["task_id"], _key(done, f"撤销（{playbook.handover.undo_minutes}分钟内）"))
    stack.drain()
    assert _lead_owner(database) == "rep1" and len(_cards(stack, "rep1")) == 2, _texts(stack, "rep1")   # offered to rep1 again
    with database.transaction() as s:
        offers = s.scalars(select(Task).where(Task.kind == "lead_assignment").order_by(Task.id)).all()
        assert [(t.status, t.result) for t in offers] == [("done", "已转交给王芳"), ("done", "已撤销转交"), ("open", None)]


def test_undo_is_refused_after_the_window_or_once_the_colleague_acted(stack, database, playbook):
    now = _now(playbook)
    with database.transaction() as s:
        leads.create_lead(s, 1, LeadInput(source="官网表单", name="陈先生", external_ref="x2"), now=now)
    _scan(stack, now, "lead_assignment")
    [card] = _cards(stack, "rep1")
    stack.wecom_click("rep1", card["task_id"], _key(card, "转交"))
    stack.drain()
    stack.wecom_click("rep1", card["task_id"], _key(_updates(stack)[-1], "转给王芳"))
    stack.drain()
    done = _updates(stack)[-1]
    [offer] = _cards(stack, "rep2")
    stack.wecom_click("rep2", offer["task_id"], _key(offer, "认领"))     # rep2 acted
    stack.drain()
    stack.wecom_click("rep1", card["task_id"], _key(done, f"撤销（{playbook.handover.undo_minutes}分钟内）"))
    stack.drain()
    assert any("同事已经处理了这条线索" in t for t in _texts(stack, "rep1"))
    assert _lead_owner(database) == "rep2"


def test_stuck_deal_advance_refused_by_checklist_then_reason(stack, database, playbook):
    now = _now(playbook)
    entered = now - timedelta(days=playbook.stage("initial").max_days + 1)
    with database.transaction() as s:
        rep = _rep1(s)
        c = customers.create_customer(s, rep, CustomerInput(kind="person", name="刘女士", mobile="13700001111",
                                                            contacts=[ContactInput(name="刘女士")]), playbook, now=now)
        c.last_interaction_at = now - timedelta(days=1)
        opportunities.create_opportunity(s, rep, c.id, "厂房改造", playbook, now=entered)
    _scan(stack, now, "stage_stuck")
    [card] = [c for c in _cards(stack, "rep1") if "商机停滞" in c["main_title"]["title"]]
    stack.wecom_click("rep1", card["task_id"], "advance")
    stack.drain()
    assert any("还需完成" in t and "客户已书面确认需求清单" in t for t in _texts(stack, "rep1"))
    with database.transaction() as s:
        assert s.scalars(select(Task).where(Task.kind == "stage_stuck")).one().status == "open"
    reason = playbook.stuck_reasons[1]
    stack.wecom_click("rep1", card["task_id"], _key(card, reason))
    stack.drain()
    with database.transaction() as s:
        task = s.scalars(select(Task).where(Task.kind == "stage_stuck")).one()
        assert task.status == "done" and task.result == f"停滞原因：{reason}"


def test_manager_reassigns_then_director_closes(stack, database, playbook):
    now = _now(playbook)
    with database.transaction() as s:
        c = customers.create_customer(s, _rep1(s), CustomerInput(kind="person", name="刘女士", mobile="13700001111"),
                                      playbook, now=now)
        c.last_interaction_at = now - timedelta(days=60)
    _scan(stack, now, "silent_customer")
    rule = playbook.rules.escalation
    _scan(stack, after_working(playbook, now, hours=rule.manager_after_hours, minutes=1), "escalation")
    [esc] = [c for c in _cards(stack, "manager") if c["source"]["desc"] == "升级给经理"]
    stack.wecom_click("manager", esc["task_id"], _key(esc, "转交"))
    stack.drain()
    stack.wecom_click("manager", esc["task_id"], _key(_updates(stack)[-1], "转给王芳"))
    stack.drain()
    with database.transaction() as s:
        task = s.scalars(select(Task).where(Task.kind == "silent_customer")).one()
        rep2 = s.scalars(select(User).where(User.wecom_userid == "rep2")).one()
        assert task.assignee_id == rep2.id and s.scalars(select(Customer)).one().owner_id == rep2.id
    assert any(c["source"]["desc"] == "同事转交" for c in _cards(stack, "rep2"))

    _scan(stack, after_working(playbook, now, hours=rule.director_after_hours, minutes=1), "escalation")
    [top] = [c for c in _cards(stack, "director") if c["source"]["desc"] == "升级给总监"]
    assert "王芳" in json.dumps(top, ensure_ascii=False)
    stack.wecom_click("director", top["task_id"], _key(top, "关闭"))
    stack.drain()
    with database.transaction() as s:
        task = s.scalars(select(Task).where(Task.kind == "silent_customer")).one()
        assert task.status == "closed" and "赵总监" in task.result
