"""What the dashboard tells a manager, computed from a small team's month."""
from datetime import timedelta

from storage import customers, deal_insights, followups, opportunities
from storage.customers import CustomerInput
from storage.followups import FollowUpInput
from storage.models import Task
from storage.permissions import visible_user_ids
from tests.factories import NOW, build_world


def _deal(s, rep, playbook, name, mobile, *, entered=NOW):
    c = customers.create_customer(s, rep, CustomerInput(kind="person", name=name, mobile=mobile), playbook, now=entered)
    return opportunities.create_opportunity(s, rep, c.id, f"{name}项目", playbook, amount=100000, now=entered)


def test_losses_conversion_velocity_stuck_and_coaching(database, playbook):
    target = playbook.targets.weekly_effective_followups
    with database.transaction() as s:
        w = build_world(s)
        lost = [("价格不合适", w.rep1), ("价格不合适", w.rep2), ("选择了竞品", w.rep1), ("联系不上", w.rep1),
                ("需求取消", w.rep2)]
        for i, (reason, rep) in enumerate(lost):
            o = _deal(s, rep, playbook, f"甲{i}", f"1370000{i:04d}")
            opportunities.close_lost(s, rep, o.id, opportunities.LostInput(reason), playbook, now=NOW)
        won = _deal(s, w.rep2, playbook, "乙", "13800000001", entered=NOW - timedelta(days=20))
        for item in playbook.stage("needs").checklist:
            opportunities.set_checklist_item(s, w.rep2, won.id, "needs", item, True, playbook)
        opportunities.change_stage(s, w.rep2, won.id, "needs", playbook, now=NOW - timedelta(days=10))
        stuck = _deal(s, w.rep1, playbook, "丙", "13800000002", entered=NOW - timedelta(days=40))
        c = stuck.customer_id
        for i in range(target + 1):
            followups.log_followup(s, w.rep2, FollowUpInput(customer_id=won.customer_id, tags=["已报价"]), playbook,
                                   now=NOW - timedelta(hours=1 + i))
        followups.log_followup(s, w.rep1, FollowUpInput(customer_id=c, tags=["已拜访"]), playbook,
                               now=NOW - timedelta(days=8))
        found = deal_insights.build(s, w.org.id, visible_user_ids(s, w.manager), playbook, NOW)

        assert found.loss_reasons == [("价格不合适", 2), ("联系不上", 1), ("选择了竞品", 1)]  # top 3, ties by name
        reps = {r.name: r for r in found.reps}
        assert set(reps) == {"李明", "王芳"}  # the manager's team only
        assert reps["李明"].conversion == 0 and reps["王芳"].conversion == 0
        assert reps["王芳"].velocity_days == 10.0 and found.median_velocity == 10.0
        assert reps["李明"].weekly_followups == [0, 1] and reps["李明"].under_target_weeks == 2
        assert [r.name for r in found.under_target] == ["李明"]
        assert [r.name for r in found.beat_target] == ["王芳"]
        [deal] = found.stuck
        assert (deal.name, deal.days) == ("丙项目", 40) and "客户已书面确认需求清单" in deal.action

        task, created = deal_insights.schedule_coaching(s, w.manager, w.rep1, playbook, NOW)
        again, created_again = deal_insights.schedule_coaching(s, w.manager, w.rep1, playbook, NOW)
        assert created and not created_again and task.id == again.id
        assert s.get(Task, task.id).assignee_id == w.manager.id
