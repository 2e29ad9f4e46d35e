"""Deal lifecycle and approvals in the store: skips need approval, every stage's items tick
(赢单's steps too), close won/lost/reopen, discount tiers with copies, locks and escalation."""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from storage import approvals, customers, opportunities
from storage.customers import CustomerInput
from storage.errors import Conflict, InvalidInput, PermissionDenied
from storage.models import Approval, AuditLog, Opportunity
from tests.factories import build_world

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)  # a Tuesday, 10:00 in Shanghai


@pytest.fixture
def deal(database, playbook):
    with database.transaction() as s:
        w = build_world(s)
        cid = customers.create_customer(s, w.rep1, CustomerInput(kind="company", name="丙公司"), playbook,
                                        now=NOW).id
        oid = opportunities.create_opportunity(s, w.rep1, cid, "丙公司产线改造", playbook,
                                               amount="150000", now=NOW).id
    return w, oid


def _tick(s, user, oid, playbook, *stages):
    for stage in stages:
        for item in playbook.stage(stage).checklist:
            opportunities.set_checklist_item(s, user, oid, stage, item, True, playbook)


def test_a_rep_cannot_skip_a_stage_but_may_ask(database, playbook, deal):
    w, oid = deal
    with database.transaction() as s:
        _tick(s, w.rep1, oid, playbook, "proposal")
    with pytest.raises(opportunities.SkipNeedsApproval) as refused:
        with database.transaction() as s:
            opportunities.change_stage(s, w.rep1, oid, "proposal", playbook, now=NOW)
    assert "跳过阶段需要经理审批" in refused.value.message
    with database.transaction() as s:
        assert s.get(Opportunity, oid).stage == "initial"  # the refusal wrote nothing
        asked = approvals.request_stage_skip(s, w.rep1, oid, "proposal", playbook, now=NOW)
        assert asked.approver.id == w.manager.id and not asked.decided
        approval_id = asked.approval.id
    with pytest.raises(PermissionDenied):
        with database.transaction() as s:
            approvals.decide(s, w.director, approval_id, True, playbook, now=NOW)
    with database.transaction() as s:
        approvals.decide(s, w.manager, approval_id, True, playbook, now=NOW)
        o = s.get(Opportunity, oid)
        assert o.stage == "proposal"
        assert opportunities.stage_history(s, oid)[-1].reason == "钱经理同意跳过阶段"
    with pytest.raises(Conflict, match="已处理"):
        with database.transaction() as s:
            approvals.decide(s, w.manager, approval_id, False, playbook, now=NOW, reason="x")


def test_every_stage_ticks_including_the_last_and_its_steps(database, playbook, deal):
    w, oid = deal
    with database.transaction() as s:
        for stage in playbook.stages:
            for item in opportunities.stage_items(playbook, stage.key):
                opportunities.set_checklist_item(s, w.rep1, oid, stage.key, item, True, playbook)
        o = s.get(Opportunity, oid)
        assert o.checklist["won"] == list(playbook.stage("won").checklist)
        assert o.won_steps == list(playbook.stage("won").steps)
    with pytest.raises(InvalidInput, match="清单项不存在"):
        with database.transaction() as s:
            opportunities.set_checklist_item(s, w.rep1, oid, "won", "随便", True, playbook)


def test_close_won_then_reopen_by_a_manager_only(database, playbook, deal):
    w, oid = deal
    with database.transaction() as s:
        _tick(s, w.rep1, oid, playbook, "needs", "proposal", "negotiation", "won")
        for stage in ("needs", "proposal", "negotiation"):
            opportunities.change_stage(s, w.rep1, oid, stage, playbook, now=NOW)
        o = opportunities.close_won(s, w.rep1, oid, opportunities.WonInput(amount=Decimal("148000"),
                                                                         signed_on=date(2026, 11, 23)),
                                    playbook, now=NOW)
        assert (o.status, o.stage, o.won_amount, o.signed_on) == ("won", "won", Decimal("148000"), date(2026, 11, 23))
    with pytest.raises(PermissionDenied):
        with database.transaction() as s:
            opportunities.reopen(s, w.rep1, oid, playbook, now=NOW)
    with database.transaction() as s:
        o = opportunities.reopen(s, w.manager, oid, playbook, now=NOW)
        assert o.status == "open" and o.won_amount is None
        actions = list(s.scalars(select(AuditLog.action).where(AuditLog.entity == "opportunity",
                                                               AuditLog.entity_id == oid)))
        assert "opportunity.won" in actions and "opportunity.reopen" in actions


def test_close_won_from_an_early_stage_needs_a_skip(database, playbook, deal):
    w, oid = deal
    with pytest.raises(opportunities.SkipNeedsApproval):
        with database.transaction() as s:
            opportunities.close_won(s, w.rep1, oid, opportunities.WonInput(), playbook, now=NOW)


def test_close_lost_needs_a_playbook_reason(database, playbook, deal):
    w, oid = deal
    with pytest.raises(InvalidInput, match="价格不合适"):
        with database.transaction() as s:
            opportunities.close_lost(s, w.rep1, oid, opportunities.LostInput(reason="不知道"), playbook, now=NOW)
    with database.transaction() as s:
        o = opportunities.close_lost(s, w.rep1, oid, opportunities.LostInput(
            reason="选择了竞品", competitor="某某机电", note="对方低价"), playbook, now=NOW)
        assert (o.status, o.lost_reason, o.lost_competitor) == ("lost", "选择了竞品", "某某机电")
    with pytest.raises(Conflict, match="丢单"):
        with database.transaction() as s:
            opportunities.change_stage(s, w.rep1, oid, "needs", playbook, now=NOW)


@pytest.mark.parametrize("percent,level,copied", [("4", "rep", None), ("8", "manager", "director"),
                                                  ("12%", "director", "manager")])
def test_discount_tiers_and_copies_above_100k(database, playbook, deal, percent, level, copied):
    w, oid = deal
    with database.transaction() as s:
        asked = approvals.request_discount(s, w.rep1, oid, percent, playbook, now=NOW)
        people = {"rep": w.rep1.id, "manager": w.manager.id, "director": w.director.id}
        assert asked.approval.level == level and asked.approver.id == people[level]
        assert (asked.copy_to.id if asked.copy_to else None) == (people[copied] if copied else None)
        assert asked.decided == (level == "rep")
        assert (s.get(Opportunity, oid).discount_percent is not None) == (level == "rep")


def test_no_copy_at_or_below_100k(database, playbook, deal):
    w, oid = deal
    with database.transaction() as s:
        s.get(Opportunity, oid).amount = Decimal("100000")
        asked = approvals.request_discount(s, w.rep1, oid, "12", playbook, now=NOW)
        assert asked.approver.id == w.director.id and asked.copy_to is None


def test_amount_and_discount_locked_while_pending(database, playbook, deal):
    w, oid = deal
    with database.transaction() as s:
        approval_id = approvals.request_discount(s, w.rep1, oid, "8", playbook, now=NOW).approval.id
    with pytest.raises(Conflict, match="锁定"):
        with database.transaction() as s:
            opportunities.update_opportunity(s, w.rep1, oid, {"amount": "1"}, playbook)
    with pytest.raises(Conflict, match="审批中"):
        with database.transaction() as s:
            approvals.request_discount(s, w.rep1, oid, "9", playbook, now=NOW)
    with pytest.raises(InvalidInput, match="原因"):
        with database.transaction() as s:
            approvals.decide(s, w.manager, approval_id, False, playbook, now=NOW)
    with database.transaction() as s:
        approvals.decide(s, w.manager, approval_id, False, playbook, now=NOW, reason="折扣过高")
        assert s.get(Opportunity, oid).discount_percent is None
        opportunities.update_opportunity(s, w.rep1, oid, {"amount": "140000"}, playbook)
        assert [a.status for a in approvals.history(s, oid)] == ["rejected"]


def test_unanswered_request_moves_up_once_then_waits(database, playbook, deal):
    w, oid = deal
    with database.transaction() as s:
        approval_id = approvals.request_discount(s, w.rep1, oid, "8", playbook, now=NOW).approval.id
        due = s.get(Approval, approval_id).escalate_at
    assert due > NOW
    with database.transaction() as s:
        assert approvals.due_for_escalation(s, due - timedelta(minutes=1)) == []
        [row] = approvals.due_for_escalation(s, due)
        moved = approvals.escalate(s, row, playbook, now=due)
        assert moved.moved_up and moved.approver.id == w.director.id and row.copy_to_id == w.manager.id
        again = row.escalate_at
    with database.transaction() as s:
        [row] = approvals.due_for_escalation(s, again)
        resent = approvals.escalate(s, row, playbook, now=again)
        assert not resent.moved_up and row.escalate_at is None
        assert approvals.due_for_escalation(s, again + timedelta(days=30)) == []


def test_escalation_counts_working_time(playbook):
    """4 working hours (the playbook's) skip lunch, the night and the weekend."""
    tz = playbook.tz
    assert playbook.approvals.escalate_after_working_hours == 4
    tuesday = datetime(2026, 11, 24, 10, 0, tzinfo=tz)
    assert approvals.escalation_due(playbook, tuesday) == datetime(2026, 11, 24, 15, 0, tzinfo=tz)
    friday_evening = datetime(2026, 11, 27, 17, 0, tzinfo=tz)
    assert approvals.escalation_due(playbook, friday_evening) == datetime(2026, 11, 30, 12, 0, tzinfo=tz)
