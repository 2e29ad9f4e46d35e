"""Rules 4–7 on a controllable clock: follow-up due and overdue, silent customers, stuck deals,
and the escalation chain rep → manager → director."""
from datetime import timedelta

from sqlalchemy import select

from storage import customers, opportunities
from storage.customers import ContactInput, CustomerInput
from storage.models import Task
from tests.factories import NOW
from tests.jobs.helpers import after_working, cards_to, local, run, tasks_of, texts_to


def escalation_cards(database, user_id):
    return [c for c in cards_to(database, user_id) if c["source"].startswith("升级")]


def _customer(database, world, playbook, **scan_columns):
    with database.transaction() as s:
        rep = s.merge(world.rep1)
        c = customers.create_customer(s, rep, CustomerInput(
            kind="company", name="上海华东机电设备有限公司", credit_code="91310115MA1H7XQ819",
            industry="机械设备", contacts=[ContactInput(name="王建国", mobile="13816620001")]), playbook, now=NOW)
        for key, value in scan_columns.items():
            setattr(c, key, value)
        return c.id


def test_followup_due_reminds_then_escalates_when_overdue(rt, database, world, playbook):
    due = local(playbook, "2026-03-04 09:00")
    _customer(database, world, playbook, next_followup_at=due, last_interaction_at=due - timedelta(days=2),
              last_interaction_summary="已报价")
    assert run(rt, due - timedelta(minutes=1))["followup_due"] == 0
    assert run(rt, due + timedelta(minutes=1))["followup_due"] == 1
    [task] = tasks_of(database, "followup_due")
    assert task.assignee_id == world.rep1.id and task.escalation_level == 0
    card = cards_to(database, world.rep1.id)[-1]
    assert "今日跟进" in card["title"] and "已报价" in card["text"]
    assert run(rt, due + timedelta(hours=1))["followup_due"] == 0

    overdue = due + timedelta(days=playbook.rules.followup_due.overdue_days, minutes=1)
    run(rt, overdue)
    [task] = tasks_of(database, "followup_due")
    assert task.escalation_level >= 1
    manager_cards = escalation_cards(database, world.manager.id)
    assert len(manager_cards) == 1
    assert [b["text"] for b in manager_cards[0]["buttons"] if b.get("key")] == ["催办", "转交", "关闭"]


def test_silent_customer_gets_a_wake_up_card_with_the_filled_template(rt, database, world, playbook):
    days = playbook.rules.silent_customer.days
    last = local(playbook, "2026-02-01 15:00")
    _customer(database, world, playbook, last_interaction_at=last, last_interaction_summary="竞品对比中：在比价",
              next_followup_at=None)
    assert run(rt, last + timedelta(days=days) - timedelta(minutes=1))["silent_customer"] == 0
    now = last + timedelta(days=days, hours=1)
    assert run(rt, now)["silent_customer"] == 1
    card = cards_to(database, world.rep1.id)[-1]
    assert "上海华东机电设备有限公司" in card["title"] and f"{days}天" in card["title"]
    # the day written the one way of every card: without the year inside this one
    assert "上次联系：02-01（竞品对比中" in card["text"] and "2026-02-01" not in str(card)
    assert {"label": "上次联系", "value": "02-01"} in card["fields"]
    # the playbook's template, filled: contact, rep, company, last contact, topic
    assert "王建国您好，我是李明" in card["text"] and "机械设备" in card["text"]
    assert [b["text"] for b in card["buttons"] if b.get("key")] == [
        "已联系", f"{playbook.rules.silent_customer.snooze_days}天后提醒", "转交同事", "标记流失"]
    assert run(rt, now + timedelta(minutes=1))["silent_customer"] == 0
    assert run(rt, now + timedelta(days=3))["silent_customer"] == 0


def test_lost_and_never_contacted_customers_are_not_silent(rt, database, world, playbook):
    old = local(playbook, "2025-12-01 10:00")
    _customer(database, world, playbook, last_interaction_at=old, status="lost")
    now = local(playbook, "2026-03-04 10:30")
    assert run(rt, now)["silent_customer"] == 0


def test_stuck_opportunity_shows_next_checklist_and_reasons(rt, database, world, playbook):
    cid = _customer(database, world, playbook, last_interaction_at=local(playbook, "2026-03-01 10:00"))
    entered = local(playbook, "2026-02-01 10:00")
    with database.transaction() as s:
        rep = s.merge(world.rep1)
        opp = opportunities.create_opportunity(s, rep, cid, "数控机床采购", playbook, amount=300000, now=entered)
        opportunities.set_checklist_item(s, rep, opp.id, "needs", "已确认预算范围", True, playbook)
    max_days = playbook.stage("initial").max_days
    assert run(rt, entered + timedelta(days=max_days) - timedelta(hours=1))["stage_stuck"] == 0
    assert run(rt, entered + timedelta(days=max_days, hours=1))["stage_stuck"] == 1
    card = cards_to(database, world.rep1.id)[-1]
    assert "数控机床采购" in card["title"]
    assert "✓已确认预算范围" in card["text"] and "□已确认决策人" in card["text"]
    keys = [b["key"] for b in card["buttons"] if b.get("key")]
    assert keys == ["advance"] + [f"stuck:{i}" for i in range(len(playbook.stuck_reasons))]
    assert run(rt, entered + timedelta(days=max_days, hours=2))["stage_stuck"] == 0


def test_escalation_chain_rep_manager_director(rt, database, world, playbook):
    last = local(playbook, "2026-01-01 10:00")
    _customer(database, world, playbook, last_interaction_at=last)
    created_at = local(playbook, "2026-03-04 10:30")
    run(rt, created_at)
    [task] = tasks_of(database, "silent_customer")
    rule = playbook.rules.escalation
    # 24 h of working time, not of the wall clock: a wall-clock day later nothing happens yet
    assert run(rt, created_at + timedelta(hours=rule.manager_after_hours, minutes=1))["escalation"] == 0
    assert run(rt, after_working(playbook, created_at, hours=rule.manager_after_hours - 1))["escalation"] == 0
    assert run(rt, after_working(playbook, created_at, hours=rule.manager_after_hours, minutes=1))["escalation"] == 1
    assert tasks_of(database, "silent_customer")[0].escalation_level == 1
    assert [c["source"] for c in escalation_cards(database, world.manager.id)] == ["升级给经理"]
    assert escalation_cards(database, world.director.id) == []
    assert any("已升级给经理钱经理" in t for t in texts_to(database, world.rep1.id))
    assert run(rt, after_working(playbook, created_at, hours=rule.manager_after_hours, minutes=5))["escalation"] == 0

    assert run(rt, after_working(playbook, created_at, hours=rule.director_after_hours, minutes=1))["escalation"] == 1
    assert tasks_of(database, "silent_customer")[0].escalation_level == 2
    director_cards = escalation_cards(database, world.director.id)
    assert [c["source"] for c in director_cards] == ["升级给总监"]
    assert "超过48个工作小时未处理" in str(director_cards[0]["fields"])
    assert any("已升级给总监赵总监" in t for t in texts_to(database, world.rep1.id))
    assert run(rt, created_at + timedelta(hours=rule.director_after_hours + 5))["escalation"] == 0


def test_a_task_found_very_late_reaches_the_director_in_one_scan(rt, database, world, playbook):
    """A scheduler that was down for days: the scan catches up on everything overdue."""
    last = local(playbook, "2026-01-01 10:00")
    _customer(database, world, playbook, last_interaction_at=last)
    created_at = local(playbook, "2026-03-04 10:30")
    run(rt, created_at)
    run(rt, created_at + timedelta(days=14))
    assert tasks_of(database, "silent_customer")[0].escalation_level == 2
    assert len(escalation_cards(database, world.manager.id)) == 1
    assert len(escalation_cards(database, world.director.id)) == 1


def test_closed_tasks_are_not_escalated(rt, database, world, playbook):
    last = local(playbook, "2026-01-01 10:00")
    _customer(database, world, playbook, last_interaction_at=last)
    created_at = local(playbook, "2026-03-04 10:30")
    run(rt, created_at)
    with database.transaction() as s:
        task = s.scalars(select(Task).where(Task.kind == "silent_customer")).one()
        task.status = "done"
    assert run(rt, created_at + timedelta(days=3))["escalation"] == 0
    assert escalation_cards(database, world.manager.id) == []


def test_escalation_to_a_dingtalk_manager_also_raises_a_work_notice(rt, database, world, playbook):
    from storage.models import OutboxMessage, User
    with database.transaction() as s:
        s.get(User, world.manager.id).preferred_platform = "dingtalk"
    _customer(database, world, playbook, last_interaction_at=local(playbook, "2026-01-01 10:00"))
    created_at = local(playbook, "2026-03-04 10:30")
    run(rt, created_at)
    run(rt, after_working(playbook, created_at, hours=playbook.rules.escalation.manager_after_hours, minutes=1))
    with database.transaction() as s:
        rows = [r for r in s.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient_user_id == world.manager.id))
            if r.payload.get("card", {}).get("source") == "升级给经理"]
        assert sorted(r.action for r in rows) == ["notice", "send"]
        assert all(r.platform == "dingtalk" for r in rows)
        # the rep, on WeCom, gets no notice row: a WeCom app message already is one
        rep_rows = s.scalars(select(OutboxMessage).where(OutboxMessage.recipient_user_id == world.rep1.id)).all()
        assert "notice" not in {r.action for r in rep_rows}
