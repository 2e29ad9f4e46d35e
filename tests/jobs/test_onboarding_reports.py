"""Rules 8–9: a new rep's one step a day, ticked off by what they really did; the daily activation
report to directors and the Monday brief to managers, each sent once per period."""
from datetime import timedelta

from storage import customers, followups, leads
from storage.customers import ContactInput, CustomerInput
from storage.followups import FollowUpInput
from storage.leads import LeadInput
from storage.models import User
from tests.factories import NOW
from tests.jobs.helpers import cards_to, local, outbox, run, tasks_of, texts_to


def _new_rep(database, world, start):
    with database.transaction() as s:
        rep = User(org_id=world.org.id, name="周新", role="rep", team_id=world.team_a.id,
                   reports_to_id=world.manager.id, wecom_userid="rep_new", start_date=start)
        s.add(rep)
        s.flush()
        return rep.id


def test_first_week_one_step_a_day_ticked_by_real_work(rt, database, world, playbook):
    day1 = local(playbook, "2026-03-02 09:30")
    rep_id = _new_rep(database, world, day1.date())
    assert run(rt, day1)["onboarding"] == 1
    assert run(rt, day1 + timedelta(hours=2))["onboarding"] == 0
    [step] = tasks_of(database, "onboarding")
    assert step.assignee_id == rep_id and step.dedupe_key.endswith("record_customer")
    assert "第1天" in cards_to(database, rep_id)[0]["title"]

    with database.transaction() as s:  # the rep records a customer in the store
        rep = s.get(User, rep_id)
        c = customers.create_customer(s, rep, CustomerInput(
            kind="person", name="刘女士", mobile="13700001111",
            contacts=[ContactInput(name="刘女士", mobile="13700001111")]), playbook, now=NOW)
        customer_id = c.id
    run(rt, day1 + timedelta(hours=3))
    assert tasks_of(database, "onboarding")[0].status == "done"
    assert any("新人任务完成" in t for t in texts_to(database, rep_id))

    day2 = day1 + timedelta(days=1)
    assert run(rt, day2)["onboarding"] == 1
    tag_step = tasks_of(database, "onboarding")[1]
    assert tag_step.dedupe_key.endswith("tag_followup") and tag_step.status == "open"
    with database.transaction() as s:
        followups.log_followup(s, s.get(User, rep_id), FollowUpInput(customer_id=customer_id, tags=["已加微信"]),
                               playbook, now=day2 + timedelta(minutes=5))
    run(rt, day2 + timedelta(minutes=10))
    assert tasks_of(database, "onboarding")[1].status == "done"
    assert run(rt, day1 + timedelta(days=3))["onboarding"] == 0   # day 4: no step in the playbook
    assert run(rt, day1 + timedelta(days=8))["onboarding"] == 0   # after the first week: nothing


def test_daily_activation_report_to_directors_once(rt, database, world, playbook):
    report_at = local(playbook, "2026-03-05 10:00")
    hours = playbook.reports.activation_hours
    cohort_time = report_at - timedelta(hours=hours + 2)
    with database.transaction() as s:
        for i, contacted in enumerate([True, True, False, False]):
            lead, _ = leads.create_lead(s, world.org.id, LeadInput(source="官网表单", name=f"客户{i}",
                                                                   external_ref=f"r{i}"), now=cohort_time)
            lead.status, lead.assignee_id, lead.assigned_at = "assigned", world.rep1.id, cohort_time
            if contacted:
                lead.status, lead.contacted_at = "contacted", cohort_time + timedelta(hours=5)
        too_new, _ = leads.create_lead(s, world.org.id, LeadInput(source="官网表单", name="新线索",
                                                                  external_ref="new"), now=report_at)
    run(rt, report_at - timedelta(minutes=1))
    before = [c for c in cards_to(database, world.director.id) if c["source"] == "每日报告"]
    assert before == []
    run(rt, report_at + timedelta(minutes=1))
    [card] = [c for c in cards_to(database, world.director.id) if c["source"] == "每日报告"]
    assert f"{hours}小时激活率 50%" in card["title"]
    assert {"label": "新线索", "value": "4"} in card["fields"]
    assert "客户2" in card["text"] and "客户3" in card["text"] and "客户0" not in card["text"]
    assert card["link"].endswith("/app/dashboard/list?metric=not_activated&days=1")  # what it mentions
    images = [m for m in outbox(database, world.director.id) if "image" in m.payload]
    assert len(images) == 1 and images[0].dedupe_key.endswith(":chart:followups")
    run(rt, report_at + timedelta(hours=3))
    assert len([c for c in cards_to(database, world.director.id) if c["source"] == "每日报告"]) == 1


def test_weekly_brief_per_rep_to_each_manager(rt, database, world, playbook):
    monday = local(playbook, "2026-03-02 09:00")  # 2026-03-02 is a Monday
    assert monday.weekday() == playbook.reports.weekly_weekday
    with database.transaction() as s:
        rep = s.merge(world.rep1)
        c = customers.create_customer(s, rep, CustomerInput(
            kind="person", name="刘女士", mobile="13700001111"), playbook, now=monday - timedelta(days=6))
        for i, tags in enumerate([["已报价"], [], ["已拜访"]]):
            followups.log_followup(s, rep, FollowUpInput(customer_id=c.id, tags=tags, note=None if tags else "聊了聊"),
                                   playbook, now=monday - timedelta(days=5 - i))
    assert [c for c in cards_to(database, world.manager.id) if c["source"] == "每周简报"] == []
    run(rt, monday + timedelta(minutes=1))
    [card] = [c for c in cards_to(database, world.manager.id) if c["source"] == "每周简报"]
    assert "李明：有效跟进2次" in card["text"] and "王芳：有效跟进0次" in card["text"]
    assert "/app/dashboard?days=7&focus=" in card["link"]  # the dashboard, filtered to what it mentions
    [brief_b] = [c for c in cards_to(database, world.manager_b.id) if c["source"] == "每周简报"]
    assert "张伟" in brief_b["text"] and "李明" not in brief_b["text"]
    run(rt, monday + timedelta(days=2))  # Wednesday: the same week's brief is not sent again
    assert len([c for c in cards_to(database, world.manager.id) if c["source"] == "每周简报"]) == 1
