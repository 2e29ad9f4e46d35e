from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from storage import customers, followups, leads, tasks
from storage.customers import CustomerInput
from storage.errors import InvalidInput, PermissionDenied
from storage.followups import FollowUpInput
from storage.models import FollowUp, Task
from tests.factories import NOW, build_world

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)  # 11:00 in Shanghai


@pytest.fixture
def ctx(database, playbook):
    with database.transaction() as s:
        w = build_world(s)
        cid = customers.create_customer(s, w.rep1, CustomerInput(kind="company", name="甲公司"), playbook, now=NOW).id
    return w, cid


def test_one_tap_followup_updates_customer_and_closes_answered_tasks(database, playbook, ctx):
    w, cid = ctx
    with database.transaction() as s:
        tasks.ensure_task(s, tasks.TaskSpec(org_id=w.org.id, kind="silent_customer", subject_type="customer",
                                            subject_id=cid, customer_id=cid, assignee_id=w.rep1.id,
                                            title="唤醒", dedupe_key=f"silent:{cid}"), now=NOW)
    with database.transaction() as s:
        f = followups.log_followup(s, w.rep1, FollowUpInput(customer_id=cid, tags=["已报价", "#老板未拍板"],
                                                            note="下周再约"), playbook, now=NOW)
        assert f.tags == ["quoted", "boss_undecided"]
        c = customers.get_customer(s, w.rep1, cid)
        assert c.last_interaction_at == NOW and "已报价、老板未拍板" in c.last_interaction_summary
        # default next follow-up: today + 2 days at 09:00 Shanghai
        assert c.next_followup_at == datetime(2026, 11, 25, 1, 0, tzinfo=timezone.utc)
        silent = s.scalars(select(Task).where(Task.kind == "silent_customer")).one()
        assert silent.status == "done"


def test_date_only_next_followup_due_at_default_time(database, playbook, ctx):
    w, cid = ctx
    with database.transaction() as s:
        f = followups.log_followup(s, w.rep1, FollowUpInput(customer_id=cid, tags=["已约演示"],
                                                            next_followup=date(2026, 11, 27)), playbook, now=NOW)
        assert f.next_followup_at == datetime(2026, 11, 27, 1, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("data, field", [
    (dict(tags=["不存在的标签"]), "tags"),
    (dict(tags=[]), "tags"),
    (dict(tags=["暂缓"]), "pause_reason"),
    (dict(tags=["暂缓"], pause_reason="心情不好"), "pause_reason"),
    (dict(tags=["已报价"], note="这是一句超过二十个字的备注内容用来测试长度限制是否生效"), "note"),
])
def test_refusals_write_nothing(database, playbook, ctx, data, field):
    w, cid = ctx
    with pytest.raises(InvalidInput) as err:
        with database.transaction() as s:
            followups.log_followup(s, w.rep1, FollowUpInput(customer_id=cid, **data), playbook, now=NOW)
    assert err.value.field == field
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(FollowUp)) == 0
        assert customers.get_customer(s, w.rep1, cid).last_interaction_at is None


def test_pause_with_reason(database, playbook, ctx):
    w, cid = ctx
    with database.transaction() as s:
        f = followups.log_followup(s, w.rep1, FollowUpInput(customer_id=cid, tags=["暂缓"],
                                                            pause_reason="客户预算未批复"), playbook, now=NOW)
        assert f.pause_reason == "客户预算未批复"


def test_same_source_event_twice_is_one_followup(database, playbook, ctx):
    w, cid = ctx
    for _ in range(2):
        with database.transaction() as s:
            followups.log_followup(s, w.rep1, FollowUpInput(customer_id=cid, tags=["已报价"],
                                                            source_event_id="wecom:123"), playbook, now=NOW)
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(FollowUp)) == 1


def test_another_reps_customer_refused(database, playbook, ctx):
    w, cid = ctx
    with pytest.raises(PermissionDenied):
        with database.transaction() as s:
            followups.log_followup(s, w.rep2, FollowUpInput(customer_id=cid, tags=["已报价"]), playbook, now=NOW)


def test_followup_marks_claimed_lead_contacted(database, playbook, ctx):
    w, _ = ctx
    with database.transaction() as s:
        lead, _ = leads.create_lead(s, w.org.id, leads.LeadInput(source="官网表单", name="周先生",
                                                                 company="乙公司", industry="制造业"), now=NOW)
        assert leads.assign(s, lead, playbook, now=NOW).id in (w.rep1.id, w.rep2.id)
        assignee = lead.assignee
        leads.claim(s, assignee, lead.id, playbook, now=NOW)
        followups.log_followup(s, assignee, FollowUpInput(customer_id=lead.customer_id, tags=["已加微信"]),
                               playbook, now=NOW + timedelta(minutes=30))
        assert lead.status == "contacted" and lead.contacted_at == NOW + timedelta(minutes=30)
