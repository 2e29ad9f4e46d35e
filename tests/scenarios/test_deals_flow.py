"""Deals through the real callbacks, worker and fake platforms, on WeCom, DingTalk ActionCards and
DingTalk interactive cards: a skip refused then approved by the manager, won and lost with
reasons, a 12% discount on a 150,000-yuan deal approved in place by the director with the manager
copied, and a pending request that escalates once its working hours have passed. The stack's clock
starts at tests.factories.NOW (a Wednesday, 10:00 in Shanghai), whatever the wall clock says."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from storage import customers, opportunities
from storage.customers import ContactInput, CustomerInput
from storage.models import Approval, Opportunity, User
from tests.factories import NOW, build_world
from tests.scenarios.test_both_platforms import PLATFORMS, Rep
from tests.stack import running_stack

DEAL = "华东机电年度采购"


@pytest.fixture(params=PLATFORMS)
def stack(request, database, redis_conn, playbook):
    with database.transaction() as s:
        w = build_world(s)
        if request.param != "wecom":  # everyone is reached where they work
            for u in (w.director, w.manager, w.rep1, w.rep2):
                u.preferred_platform = "dingtalk"
        c = customers.create_customer(s, w.rep1, CustomerInput(
            kind="company", name="上海华东机电设备有限公司", credit_code="91310115MA1H7XQ819",
            contacts=[ContactInput(name="王建国", mobile="13816620001")]), playbook, now=NOW)
        opportunities.create_opportunity(s, w.rep1, c.id, DEAL, playbook, amount="150000", now=NOW)
    overrides = {"dingtalk_card_template_id": "tpl-crmbot"} if request.param == "dingtalk-card" else {}
    with running_stack(database, redis_conn, **overrides) as st:
        st.platform = request.param
        yield st


def _run_at(stack, rule: str, at: datetime) -> None:
    """One rule's scan with the runtime's clock set to `at` (the injected clock)."""
    stack.runtime.clock.set(at)
    stack.runtime.queue.enqueue("jobs.rules.run_rule", rule)
    stack.drain()


def _opp(database) -> Opportunity:
    with database.transaction() as s:
        o = s.scalars(select(Opportunity).where(Opportunity.name == DEAL)).one()
        s.expunge(o)
        return o


def _tick(database, playbook, *stages):
    with database.transaction() as s:
        rep = s.scalars(select(User).where(User.wecom_userid == "rep1", User.org_id == 1)).one()
        o = s.scalars(select(Opportunity).where(Opportunity.name == DEAL)).one()
        for stage in stages:
            for item in playbook.stage(stage).checklist:
                opportunities.set_checklist_item(s, rep, o.id, stage, item, True, playbook)


def _move(database, playbook, *stages):
    _tick(database, playbook, *stages)
    with database.transaction() as s:
        rep = s.scalars(select(User).where(User.wecom_userid == "rep1", User.org_id == 1)).one()
        o = s.scalars(select(Opportunity).where(Opportunity.name == DEAL)).one()
        for stage in stages:
            opportunities.change_stage(s, rep, o.id, stage, playbook, now=NOW)


def _approval_card(person: Rep) -> dict:
    cards = [c for c in person.cards() if "审批" in c["title"] and not c["title"].startswith("抄送")]
    assert cards, person.messages()
    return cards[-1]


def _key(card, text_start):
    return next(b["key"] for b in card["buttons"] if b["key"] and b["text"].startswith(text_start))


def _finished(stack, person: Rep, note: str) -> bool:
    """The approver's card now says what was done (ActionCards cannot change: a text says it)."""
    if stack.platform == "dingtalk":
        return any(note in t for t in person.texts())
    card = _approval_card(person)
    return card["updated"] and note in ((card.get("desc") or "") + (card.get("done_note") or ""))


def _updated_without_click(stack, person: Rep, note: str) -> bool:
    """A card changed by the server, not by a click (WeCom: with the send reply's response code,
    which the click-based reader cannot map, so the update call itself is read)."""
    if stack.platform != "wecom":
        return _finished(stack, person, note)
    import json
    return any(m["path"].endswith("/update_template_card") and person.user in m["body"]["userids"]
               and note in json.dumps(m["body"], ensure_ascii=False) for m in stack.wecom.sent)


def test_skip_refused_then_approved_by_the_manager(stack, database, playbook):
    rep, manager = Rep(stack, stack.platform, "rep1"), Rep(stack, stack.platform, "manager")
    _tick(database, playbook, "proposal")
    rep.send(f"推进 {DEAL} 方案报价")
    assert _opp(database).stage == "initial"
    assert any("跳过阶段需要经理审批" in t and "钱经理" in t for t in rep.texts())

    card = _approval_card(manager)
    assert "跳过阶段" in card["title"]
    manager.click(card, _key(card, "同意"))
    assert _opp(database).stage == "proposal"
    assert _finished(stack, manager, "已同意")
    assert any("已推进到“方案报价”" in t for t in rep.texts())


def test_won_and_lost_with_reasons(stack, database, playbook):
    rep = Rep(stack, stack.platform, "rep1")
    _move(database, playbook, "needs", "proposal", "negotiation")
    rep.send(f"赢单 {DEAL}")  # 赢单's own checklist is not ticked yet: refused, nothing written
    assert _opp(database).status == "open"
    assert any("客户已确认合同终稿" in t for t in rep.texts())
    _tick(database, playbook, "won")
    rep.send(f"赢单 {DEAL} 14.8万 2026-03-02")
    o = _opp(database)
    assert (o.status, o.stage, o.won_amount, str(o.signed_on)) == ("won", "won", Decimal("148000.00"), "2026-03-02")
    # money and dates written the one way of every card and page (cards/formats.py)
    assert any("成交金额 148,000元，签约日期 03-02" in t for t in rep.texts()), rep.texts()

    manager = Rep(stack, stack.platform, "manager")
    rep.send(f"重开 {DEAL}")
    assert any("只有经理或总监" in t for t in rep.texts()) and _opp(database).status == "won"
    manager.send(f"重开 {DEAL}")
    assert _opp(database).status == "open"

    rep.send(f"丢单 {DEAL} 太贵了")
    assert _opp(database).status == "open"
    assert any("价格不合适" in t for t in rep.texts())
    rep.send(f"丢单 {DEAL} 选择了竞品 某某机电 对方报价低两成")
    o = _opp(database)
    assert (o.status, o.lost_reason, o.lost_competitor, o.lost_note) == ("lost", "选择了竞品", "某某机电", "对方报价低两成")


def test_12_percent_on_150k_goes_to_the_director_with_the_manager_copied(stack, database, playbook):
    rep = Rep(stack, stack.platform, "rep1")
    director, manager = Rep(stack, stack.platform, "director"), Rep(stack, stack.platform, "manager")
    rep.send(f"申请折扣 {DEAL} 12% 客户年度框架")
    assert any("赵总监" in t and "抄送钱经理" in t for t in rep.texts())
    with database.transaction() as s:
        a = s.scalars(select(Approval)).one()
        assert (a.level, a.status, a.discount_percent) == ("director", "pending", Decimal("12.00"))
    copies = [c for c in manager.cards() if c["title"].startswith("抄送")]
    assert len(copies) == 1 and not [b for b in copies[0]["buttons"] if b["key"]]
    assert [c for c in manager.cards() if not c["title"].startswith("抄送")] == []

    rep.send(f"申请折扣 {DEAL} 3%")  # locked while pending
    assert any("审批中" in t for t in rep.texts())

    card = _approval_card(director)
    assert "12%" in card["title"]
    shown = json.dumps(card, ensure_ascii=False)
    assert "150,000元" in shown and "132,000元" in shown and "¥" not in shown
    assert any("折扣 12%（150,000元）" in t for t in rep.texts())
    director.click(card, _key(card, "同意"))
    assert _finished(stack, director, "已同意")
    o = _opp(database)
    assert o.discount_percent == Decimal("12.00")
    with database.transaction() as s:
        assert opportunities.pending_approval(s, o.id) is None
    assert any("已同意" in t and "已解锁" in t for t in rep.texts())
    assert any(t.startswith("抄送｜") and "已同意" in t for t in manager.texts())


def test_reject_with_a_reason(stack, database, playbook):
    rep, manager = Rep(stack, stack.platform, "rep1"), Rep(stack, stack.platform, "manager")
    rep.send(f"申请折扣 {DEAL} 8%")
    card = _approval_card(manager)
    reason = playbook.approvals.reject_reasons[0]
    manager.click(card, _key(card, "驳回"))
    assert _finished(stack, manager, f"已驳回：{reason}")
    assert _opp(database).discount_percent is None
    assert any(f"被驳回：{reason}" in t for t in rep.texts())


def test_pending_request_escalates_after_working_hours(stack, database, playbook):
    rep, director, manager = (Rep(stack, stack.platform, u) for u in ("rep1", "director", "manager"))
    rep.send(f"申请折扣 {DEAL} 8%")
    first = _approval_card(manager)
    with database.transaction() as s:
        due = s.scalars(select(Approval)).one().escalate_at
    _run_at(stack, "approval_escalation", due - timedelta(minutes=1))
    assert [c for c in director.cards() if c["title"].startswith("折扣审批")] == []  # a copy only (> 100,000)
    _run_at(stack, "approval_escalation", due)
    card = _approval_card(director)
    assert "升级" in card["title"]
    with database.transaction() as s:
        a = s.scalars(select(Approval)).one()
        assert (a.level, a.escalations) == ("director", 1)
    assert any("已升级给总监赵总监" in t for t in rep.texts())
    assert _updated_without_click(stack, manager, "已升级给总监赵总监")  # no more 同意 on the manager's card
    manager.click(first, _key(first, "同意"))            # a stale tap changes nothing
    assert _opp(database).discount_percent is None
    director.click(card, _key(card, "同意"))
    assert _opp(database).discount_percent == Decimal("8.00")


def _images_received(stack, user: str) -> list[bytes]:
    """PNG images `user` received, read back from what the fake platform stored on upload."""
    if stack.platform == "wecom":
        media_ids = [m["body"]["image"]["media_id"] for m in stack.wecom.sent
                     if m["path"].endswith("/message/send") and m["body"].get("msgtype") == "image"
                     and m["body"]["touser"] == user]
        return [stack.wecom._media[mid][0] for mid in media_ids]
    photos = [m["msg_param"]["photoURL"] for m in stack.dingtalk.sent_to("batchSend")
              if m["body"]["msgKey"] == "sampleImageMsg" and user in m["body"]["userIds"]]
    return [stack.dingtalk.media[p][1] for p in photos]


def test_weekly_brief_carries_charts_and_says_what_to_do(stack, database, playbook):
    from storage import followups
    from storage.followups import FollowUpInput
    from tests.cards.test_charts import _bar_heights

    monday = datetime(2026, 3, 9, 9, 0, tzinfo=playbook.tz)
    target = playbook.targets.weekly_effective_followups
    with database.transaction() as s:
        rep1 = s.scalars(select(User).where(User.wecom_userid == "rep1", User.org_id == 1)).one()
        rep2 = s.scalars(select(User).where(User.wecom_userid == "rep2", User.org_id == 1)).one()
        c2 = customers.create_customer(s, rep2, CustomerInput(kind="person", name="刘女士", mobile="13700001111"),
                                       playbook, now=monday - timedelta(days=20))
        for i in range(target + 2):  # 王芳 beats the weekly target
            followups.log_followup(s, rep2, FollowUpInput(customer_id=c2.id, tags=["已报价"]), playbook,
                                   now=monday - timedelta(days=1, minutes=i))
        c1 = s.scalars(select(Opportunity)).one().customer_id
        followups.log_followup(s, rep1, FollowUpInput(customer_id=c1, tags=["已拜访"]), playbook,
                               now=monday - timedelta(days=2))  # 李明: far under, two weeks running
    _run_at(stack, "reports", monday + timedelta(minutes=1))

    manager, rep2_view = Rep(stack, stack.platform, "manager"), Rep(stack, stack.platform, "rep2")
    import json
    seen = json.dumps(manager.messages(), ensure_ascii=False)   # the brief, as the manager sees it
    assert "本周过程健康简报" in seen and "安排辅导" in seen and "李明" in seen
    assert any("王芳" in t and "超过目标" in t for t in rep2_view.texts())

    [chart] = _images_received(stack, "manager")   # no deal lost this month: the follow-up chart only
    assert chart.startswith(b"\x89PNG") and len(chart) <= 1024 * 1024
    heights = _bar_heights(chart)
    assert len(heights) == 2 and heights[1] > heights[0] > 0   # 王芳 12, 李明 1
    assert abs(heights[1] / heights[0] - (target + 2)) < 0.5
