"""The manager dashboard: figures computed from the store, scoped to the manager's subtree,
each drilling down to the rows behind it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from storage import followups, leads
from storage.models import User
from tests.factories import NOW
from tests.miniapp.helpers import CSRF, login


def _figures(client, days=7):
    board = client.get(f"/api/dashboard?days={days}").json
    return board, {h["key"]: h for h in board["headlines"]}


def test_headlines_for_the_manager(client, data):
    login(client, "manager")
    board, figures = _figures(client)
    assert len(board["headlines"]) <= 5
    assert figures["new_leads"]["value"] == "1"
    assert figures["activation"]["value"] == "0%"           # claimed nothing, logged nothing yet
    assert figures["overdue_tasks"]["value"] == "2"          # rep1's and rep2's
    assert figures["completeness"]["value"] == "67%"         # 2 of 3 customers in team A
    assert figures["conversion"]["value"] == "0%"
    assert [r["name"] for r in board["reps"]] == ["李明", "王芳"]  # team A only, not 张伟


def test_activation_counts_a_follow_up_within_72_hours(client, data, database, playbook):
    login(client, "rep1")
    claimed = client.post(f"/api/leads/{data.lead_rep1}/claim", headers=CSRF).json
    client.post(f"/api/customers/{claimed['customer_id']}/followups", json={"tags": ["已加微信"]}, headers=CSRF)
    # a second lead, assigned 4 days ago and followed up only after 80 hours: not activated
    now = NOW
    with database.transaction() as s:
        rep2 = s.get(User, data.world.rep2.id)
        lead, _ = leads.create_lead(s, data.world.org.id, leads.LeadInput(
            source="展会", name="冯女士", mobile="13912340012"), now=now - timedelta(days=4))
        lead.assignee_id, lead.status, lead.assigned_at = rep2.id, "assigned", now - timedelta(days=4)
        s.flush()
        lead = leads.claim(s, rep2, lead.id, playbook, now=now - timedelta(days=4))
        followups.log_followup(s, rep2, followups.FollowUpInput(
            customer_id=lead.customer_id, tags=["已报价"], occurred_at=now - timedelta(days=4) + timedelta(hours=80)),
            playbook, now=now)
    login(client, "manager")
    board, figures = _figures(client)
    assert figures["new_leads"]["value"] == "2"
    assert figures["activation"]["value"] == "50%"
    rows = {r["name"]: r for r in board["reps"]}
    assert (rows["李明"]["activated"], rows["李明"]["new_leads"]) == (1, 1)
    assert (rows["王芳"]["activated"], rows["王芳"]["new_leads"]) == (0, 1)
    late = client.get("/api/dashboard/list?metric=not_activated").json
    assert [i["title"] for i in late["items"]] == ["冯女士"]
    # today only (since local midnight): the 4-day-old lead drops out; the seeded one, created
    # 3 hours ago, stays unless that was before midnight
    _board, today = _figures(client, days=1)
    local_now = now.astimezone(playbook.tz)
    expected = 1 if (local_now - timedelta(hours=3)).date() == local_now.date() else 0
    assert today["new_leads"]["value"] == str(expected)


def test_funnel_and_stage_drill_down(client, data, playbook):
    login(client, "rep1")
    for item in playbook.stage("needs").checklist:
        client.post(f"/api/opportunities/{data.opp_rep1}/checklist", headers=CSRF,
                    json={"stage": "needs", "item": item, "checked": True})
    client.post(f"/api/opportunities/{data.opp_rep1}/stage", json={"stage": "needs"}, headers=CSRF)
    login(client, "manager")
    board, figures = _figures(client)
    funnel = {f["key"]: f for f in board["funnel"]}
    assert funnel["initial"]["reached"] == 1 and funnel["needs"]["reached"] == 1
    assert funnel["needs"]["rate"] == 100 and funnel["proposal"]["reached"] == 0
    assert funnel["needs"]["current"] == 1 and funnel["initial"]["current"] == 0
    assert figures["conversion"]["value"] == "100%"
    listing = client.get("/api/dashboard/list?metric=stage&stage=needs").json
    assert [i["title"] for i in listing["items"]] == ["数控机床采购"]
    assert listing["items"][0]["customer_id"] == data.c_rep1


def test_drill_downs_match_the_figures(client, data):
    login(client, "manager")
    overdue = client.get("/api/dashboard/list?metric=overdue_tasks").json
    assert sorted(i["title"] for i in overdue["items"]) == ["回访王建国", "回访苏州精工"]
    incomplete = client.get("/api/dashboard/list?metric=incomplete_customers").json
    assert [i["title"] for i in incomplete["items"]] == ["无锡华润包装"]
    per_rep = client.get(f"/api/dashboard/list?metric=overdue_tasks&rep={data.world.rep2.id}").json
    assert [i["title"] for i in per_rep["items"]] == ["回访王建国"]
    assert client.get("/api/dashboard/list?metric=bogus").status_code == 400
    assert client.get("/api/dashboard?days=3").status_code == 400


def test_director_sees_the_org_and_other_manager_only_their_team(client, data):
    login(client, "director")
    assert {r["name"] for r in client.get("/api/dashboard").json["reps"]} == {"李明", "王芳", "张伟"}
    login(client, "manager_b")
    board = client.get("/api/dashboard").json
    assert [r["name"] for r in board["reps"]] == ["张伟"]
    assert {h["key"]: h["value"] for h in board["headlines"]}["overdue_tasks"] == "0"


def test_dashboard_pages(client, data):
    login(client, "rep1")
    assert client.get("/app/dashboard").status_code == 403
    assert client.get("/api/dashboard").status_code == 403
    assert client.get("/api/dashboard/list?metric=customers").status_code == 403
    login(client, "manager")
    html = client.get("/app/dashboard").get_data(as_text=True)
    for text in ("新线索", "72小时激活率", "逾期任务", "阶段转化率", "资料完整度", "李明", "王芳", "初步接触"):
        assert text in html
    assert "张伟" not in html
    assert "/app/dashboard/list?metric=overdue_tasks" in html
    drill = client.get("/app/dashboard/list?metric=overdue_tasks&days=7").get_data(as_text=True)
    assert "回访苏州精工" in drill and "回访王建国" in drill
