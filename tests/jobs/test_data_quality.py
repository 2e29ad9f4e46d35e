"""Data quality over time: completeness recorded weekly, ONE coaching task for the manager after
two weeks under the threshold, a monthly data-quality card to each manager and director."""
from datetime import timedelta

from storage import customers
from storage.customers import ContactInput, CustomerInput
from tests.jobs.helpers import cards_to, local, run, tasks_of

CODE = "9144030071526726XG"


def _customers(database, world, playbook, at):
    with database.transaction() as s:
        for name in ("宁波东海贸易", "杭州西子电梯"):   # rep1: nothing but a name
            customers.create_customer(s, s.merge(world.rep1), CustomerInput(kind="company", name=name),
                                      playbook, now=at)
        customers.create_customer(s, s.merge(world.rep2), CustomerInput(  # rep2: complete
            kind="company", name="深圳华南电子", credit_code=CODE, industry="电子", grade="A",
            contacts=[ContactInput(name="陈总", mobile="13912345678")]), playbook, now=at)
        s.flush()
        from storage.models import Customer
        s.query(Customer).filter_by(name="深圳华南电子").one().next_followup_at = at + timedelta(days=3)


def test_coaching_after_two_weeks_under_the_threshold(rt, database, world, playbook):
    _customers(database, world, playbook, local(playbook, "2026-03-04 10:00"))
    week1 = local(playbook, "2026-03-09 09:30")
    run(rt, week1)
    assert sorted(t.result for t in tasks_of(database, "data_health_week")) == ["0.000", "1.000"]
    assert tasks_of(database, "data_coaching") == []            # one week is not a trend
    run(rt, week1 + timedelta(days=7))
    [coaching] = tasks_of(database, "data_coaching")
    assert coaching.assignee_id == world.manager.id and coaching.subject_id == world.rep1.id
    assert "连续2周低于85%" in coaching.detail
    assert any("辅导李明" in c["title"] for c in cards_to(database, world.manager.id))
    run(rt, week1 + timedelta(days=14))
    assert len(tasks_of(database, "data_coaching")) == 1        # still open: not another one


def test_monthly_data_quality_card_ranks_the_reps(rt, database, world, playbook):
    _customers(database, world, playbook, local(playbook, "2026-03-04 10:00"))
    run(rt, local(playbook, "2026-04-01 08:59"))
    assert [c for c in cards_to(database, world.manager.id) if "资料质量" in c["title"]] == []
    run(rt, local(playbook, "2026-04-01 09:00"))
    [card] = [c for c in cards_to(database, world.manager.id) if "资料质量" in c["title"]]
    assert card["title"] == "2026年04月资料质量"
    assert card["text"].splitlines()[:2] == ["1. 王芳：100%", "2. 李明：0%（低于标准）"]
    assert [c for c in cards_to(database, world.director.id) if "资料质量" in c["title"]]
    run(rt, local(playbook, "2026-04-01 12:00"))
    assert len([c for c in cards_to(database, world.manager.id) if "资料质量" in c["title"]]) == 1
