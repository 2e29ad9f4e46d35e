"""Issue 16's bullets that had a test on one platform only, now on WeCom, DingTalk with classic
ActionCards and DingTalk with interactive cards: a claimed lead's card (instruction gone, 打开 leads
to the customer, the done line whole), 转交 and 转交同事 that ask to whom and can be undone, a 催办
never held by the rep's reminder cap and at night saying when it will arrive, 添加为联系人 for a
contact already on the customer. Through the real stack and the fake platforms; what a person sees
is read back with the simulator's readers."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from storage import customers, leads
from storage.customers import ContactInput, CustomerInput
from storage.leads import LeadInput
from storage.models import Contact, Customer, Lead, OutboxMessage, Task, User
from tests.factories import NOW, build_world
from tests.jobs.helpers import after_working
from tests.scenarios.test_both_platforms import PLATFORMS, Rep
from tests.stack import running_stack

HUADONG = "上海华东机电设备有限公司"


@pytest.fixture(params=PLATFORMS)
def stack(request, database, redis_conn, playbook):
    with database.transaction() as s:
        w = build_world(s)
        customers.create_customer(s, w.rep1, CustomerInput(
            kind="company", name=HUADONG, credit_code="91310115MA1H7XQ819",
            contacts=[ContactInput(name="王建国", mobile="13816620001")]), playbook, now=NOW)
        # cards pushed by the rules reach a person on the platform under test
        s.execute(update(User).values(preferred_platform="wecom" if request.param == "wecom" else "dingtalk"))
    overrides = {"dingtalk_card_template_id": "tpl-crmbot"} if request.param == "dingtalk-card" else {}
    with running_stack(database, redis_conn, **overrides) as st:
        st.platform = request.param
        yield st


def _morning(playbook):
    return NOW.astimezone(playbook.tz).replace(hour=10, minute=30, second=0, microsecond=0)


def _run(stack, now, *rules):
    for name in rules:
        stack.runtime.clock.set(now)
        stack.runtime.queue.enqueue("jobs.rules.run_rule", name)
    stack.drain()


def _offer_a_lead(stack, database, playbook):
    now = _morning(playbook)
    with database.transaction() as s:
        leads.create_lead(s, 1, LeadInput(source="官网表单", name="陈先生", company="苏州精工机械",
                                          mobile="13912345678", external_ref="fw-1"), now=now)
    _run(stack, now, "lead_assignment")


def _shown(card: dict) -> str:
    return " ".join(str(card.get(k) or "") for k in ("title", "desc", "text", "markdown", "done_note"))


def _with_button(cards: list[dict], text: str) -> list[dict]:
    return [c for c in cards if any(b["text"] == text for b in c["buttons"])]


def _key(rep: Rep, card: dict, text: str) -> str:
    return next(b["key"] for b in card["buttons"] if b["text"] == text)


def _assignee(database) -> str:
    with database.transaction() as s:
        lead = s.scalars(select(Lead)).one()
        return s.get(User, lead.assignee_id).wecom_userid


def test_a_claimed_leads_card_loses_its_instruction_and_opens_the_customer(stack, database, playbook):
    rep = Rep(stack, stack.platform, "rep1")
    _offer_a_lead(stack, database, playbook)
    [offer] = _with_button(rep.cards(), "认领")
    minutes = playbook.rules.claim_timeout.minutes
    assert f"请在{minutes}分钟内认领" in _shown(offer)
    rep.click(offer, _key(rep, offer, "认领"))
    with database.transaction() as s:
        lead = s.scalars(select(Lead)).one()
        assert lead.status == "claimed" and lead.customer_id
        customer_url = f"http://crmbot.test/app/customers/{lead.customer_id}"
    if stack.platform == "dingtalk":
        # a classic ActionCard cannot change: the rep is told in one whole line, with no instruction
        [told] = [t for t in rep.texts() if "已认领" in t]
        assert re.search(r"已认领 · 李明 \d\d-\d\d \d\d:\d\d$", told) and "请在" not in told
        return
    [card] = [c for c in rep.cards() if c["updated"]]
    assert "请在" not in _shown(card) and "认领，超时" not in _shown(card)
    # the done line is whole: what, who and when, never cut inside the time
    assert re.search(r"已认领 · 李明 \d\d-\d\d \d\d:\d\d", _shown(card))
    # 打开 (and the card itself) now lead to the customer the lead became, not to /app/
    assert card["link"] == customer_url
    assert [b["url"] for b in card["buttons"] if b["url"]] == [customer_url]
    assert not [b for b in card["buttons"] if b["key"]]


def test_transfer_asks_to_whom_then_undo_takes_it_back(stack, database, playbook):
    rep1, rep2 = Rep(stack, stack.platform, "rep1"), Rep(stack, stack.platform, "rep2")
    _offer_a_lead(stack, database, playbook)
    [offer] = _with_button(rep1.cards(), "转交")
    rep1.click(offer, _key(rep1, offer, "转交"))
    [picker] = _with_button(rep1.cards(), "转给王芳")          # rep1's team, not rep1, and 取消
    assert [b["text"] for b in picker["buttons"] if b["key"]] == ["转给王芳", "取消"]
    assert _assignee(database) == "rep1" and rep2.cards() == []   # nothing moved before the confirmation

    rep1.click(picker, _key(rep1, picker, "转给王芳"))
    assert _assignee(database) == "rep2" and len(_with_button(rep2.cards(), "认领")) == 1
    undo_text = f"撤销（{playbook.handover.undo_minutes}分钟内）"
    [done] = _with_button(rep1.cards(), undo_text)
    assert "已转交给王芳" in _shown(done)
    rep1.click(done, _key(rep1, done, undo_text))
    assert _assignee(database) == "rep1"
    with database.transaction() as s:
        offers = s.scalars(select(Task).where(Task.kind == "lead_assignment").order_by(Task.id)).all()
        assert [t.status for t in offers] == ["done", "done", "open"]   # offered to rep1 again


def _silent(stack, database, playbook):
    now = _morning(playbook)
    with database.transaction() as s:
        s.execute(update(Customer).values(last_interaction_at=now.replace(year=now.year - 1),
                                          last_interaction_summary="已报价"))
    _run(stack, now, "silent_customer", "escalation")
    return now


def _owner(database) -> str:
    with database.transaction() as s:
        return s.scalars(select(User.wecom_userid).join(Customer, Customer.owner_id == User.id)).one()


def test_handing_a_silent_customer_to_a_colleague_asks_to_whom_and_can_be_undone(stack, database, playbook):
    rep1, rep2 = Rep(stack, stack.platform, "rep1"), Rep(stack, stack.platform, "rep2")
    _silent(stack, database, playbook)
    [card] = _with_button(rep1.cards(), "转交同事")
    rep1.click(card, _key(rep1, card, "转交同事"))
    [picker] = _with_button(rep1.cards(), "转给王芳")
    assert _owner(database) == "rep1"                                    # nothing moved yet
    rep1.click(picker, _key(rep1, picker, "转给王芳"))
    assert _owner(database) == "rep2" and _with_button(rep2.cards(), "已联系")   # the task went along
    undo_text = f"撤销（{playbook.handover.undo_minutes}分钟内）"
    [done] = _with_button(rep1.cards(), undo_text)
    rep1.click(done, _key(rep1, done, undo_text))
    assert _owner(database) == "rep1"


def _escalated(stack, database, playbook):
    """The silent customer's task escalated to the manager: (the manager's card, when)."""
    now = _silent(stack, database, playbook)
    later = after_working(playbook, now, hours=playbook.rules.escalation.manager_after_hours, minutes=1)
    _run(stack, later, "silent_customer", "escalation")
    [escalation] = _with_button(Rep(stack, stack.platform, "manager").cards(), "催办")
    return escalation, later


def test_a_nudge_is_never_held_by_the_reps_reminder_cap(stack, database, playbook):
    manager, rep1 = Rep(stack, stack.platform, "manager"), Rep(stack, stack.platform, "rep1")
    escalation, later = _escalated(stack, database, playbook)
    with database.transaction() as s:                  # rep1 has had a full hour of reminders already
        rep = s.scalars(select(User).where(User.wecom_userid == "rep1", User.org_id == 1)).one()
        for i in range(playbook.delivery.max_cards_per_hour):
            s.add(OutboxMessage(dedupe_key=f"rule:filler:{i}", org_id=1, platform="x", recipient="rep1",
                                recipient_user_id=rep.id, action="send", payload={"text": "x"}, context={},
                                status="sent", attempts=1, next_attempt_at=later, result={},
                                created_at=later - timedelta(minutes=5)))
    before = len(rep1.cards())
    stack.runtime.clock.set(later + timedelta(minutes=1))
    manager.click(escalation, _key(manager, escalation, "催办"))
    nudges = rep1.cards()[before:]
    assert len(nudges) == 1 and "钱经理" in str(nudges[0])
    with database.transaction() as s:
        assert s.scalars(select(OutboxMessage).where(OutboxMessage.status == "held")).all() == []


def test_a_nudge_at_night_is_held_and_the_manager_is_told_when_it_arrives(stack, database, playbook):
    manager, rep1 = Rep(stack, stack.platform, "manager"), Rep(stack, stack.platform, "rep1")
    escalation, later = _escalated(stack, database, playbook)
    nudges_before = len(rep1.cards())

    stack.runtime.clock.set(later.astimezone(playbook.tz).replace(hour=23, minute=0))
    manager.click(escalation, _key(manager, escalation, "催办"))
    assert len(rep1.cards()) == nudges_before                        # held for the night
    said = " ".join(manager.texts() + [_shown(c) for c in manager.cards()])
    assert "已催办李明（对方处于免打扰时段，将在明天08:00送达）" in said


def test_add_as_contact_refuses_a_contact_the_customer_already_has(stack, database):
    rep = Rep(stack, stack.platform, "rep1")
    rep.send(f"新客户 王总 13816620001 {HUADONG}")               # 王建国's mobile, rep1's own customer
    [offer] = _with_button(rep.cards(), "添加为联系人")
    assert "可能已存在" in offer["title"]
    rep.click(offer, _key(rep, offer, "添加为联系人"))
    assert any("已有这位联系人：王建国" in t for t in rep.texts())
    with database.transaction() as s:
        assert [c.name for c in s.scalars(select(Contact))] == ["王建国"]
