"""The permission matrix over the API: a rep sees their own records, a manager their team, a
director the org, nobody another org's. A refused id answers 403/404 with a Chinese message and
none of the record's data, and nothing is changed."""
from __future__ import annotations

import pytest

from storage.models import CaptureDraft, Customer, FollowUp, Task
from tests.miniapp.helpers import CSRF, login


def _refused(resp, *leaks: str) -> None:
    assert resp.status_code in (403, 404), resp.get_data(as_text=True)
    body = resp.get_data(as_text=True)
    assert resp.json["error"] and any("\u4e00" <= ch <= "\u9fff" for ch in resp.json["error"])
    for leak in leaks:
        assert leak not in body


@pytest.mark.parametrize("who, customer, allowed", [
    ("rep1", "c_rep1", True), ("rep1", "c_rep2", False), ("rep1", "c_rep3", False),
    ("rep2", "c_rep2", True), ("rep2", "c_rep1", False),
    ("manager", "c_rep1", True), ("manager", "c_rep2", True), ("manager", "c_rep3", False),
    ("manager_b", "c_rep3", True), ("manager_b", "c_rep1", False),
    ("director", "c_rep1", True), ("director", "c_rep3", True),
])
def test_customer_by_id(client, data, who, customer, allowed):
    login(client, who)
    resp = client.get(f"/api/customers/{getattr(data, customer)}")
    if allowed:
        assert resp.status_code == 200
        assert resp.json["id"] == getattr(data, customer)
    else:
        assert resp.status_code == 403
        _refused(resp, "苏州精工", "王建国", "上海大客户", "13900139002")


def test_another_org_sees_not_found(client, data):
    login(client, "rep1", corp="wwother")  # the outsider
    resp = client.get(f"/api/customers/{data.c_rep1}")
    assert resp.status_code == 404
    _refused(resp, "苏州精工")
    assert client.get("/api/customers").json["total"] == 0


def test_rep_requests_another_reps_task_and_draft_by_id(client, data, database):
    login(client, "rep1")
    _refused(client.get(f"/api/tasks/{data.task_rep2}"), "回访王建国")
    _refused(client.post(f"/api/tasks/{data.task_rep2}", json={"action": "done"}, headers=CSRF), "回访王建国")
    _refused(client.get(f"/api/drafts/{data.draft_rep2}"), "刘总", "南京某公司")
    _refused(client.post(f"/api/drafts/{data.draft_rep2}/confirm", headers=CSRF), "刘总")
    _refused(client.post(f"/api/drafts/{data.draft_rep2}/discard", headers=CSRF), "刘总")
    _refused(client.post(f"/api/drafts/{data.draft_rep2}", json={"fields": {"name": "改"}}, headers=CSRF), "刘总")
    with database.transaction() as s:
        assert s.get(Task, data.task_rep2).status == "open"
        draft = s.get(CaptureDraft, data.draft_rep2)
        assert draft.status == "pending" and draft.fields["name"] == "刘总"
    # own ones work
    assert client.get(f"/api/tasks/{data.task_rep1}").json["title"] == "回访苏州精工"
    assert client.get(f"/api/drafts/{data.draft_rep1}").json["fields"]["company"] == "杭州新锐科技有限公司"


def test_rep_cannot_write_to_another_reps_customer(client, data, database, playbook):
    login(client, "rep1")
    _refused(client.post(f"/api/customers/{data.c_rep2}/followups", json={"tags": ["已报价"]}, headers=CSRF))
    _refused(client.post(f"/api/customers/{data.c_rep1_incomplete + 100}/identifier",
                         json={"credit_code": "x"}, headers=CSRF))
    _refused(client.post(f"/api/customers/{data.c_rep3}/identifier", json={"credit_code": "x"}, headers=CSRF))
    _refused(client.post(f"/api/customers/{data.c_rep2}/opportunities", json={"name": "偷单"}, headers=CSRF))
    _refused(client.post("/api/links", json={"external_userid": "wmZ", "customer_id": data.c_rep2}, headers=CSRF))
    with database.transaction() as s:
        assert s.query(FollowUp).filter_by(customer_id=data.c_rep2).count() == 0
        assert s.get(Customer, data.c_rep2).last_interaction_at is None


def test_opportunity_of_another_rep(client, data):
    login(client, "rep2")
    _refused(client.get(f"/api/opportunities/{data.opp_rep1}"), "数控机床")
    _refused(client.post(f"/api/opportunities/{data.opp_rep1}/checklist",
                         json={"stage": "needs", "item": "已确认预算范围", "checked": True}, headers=CSRF))
    _refused(client.post(f"/api/opportunities/{data.opp_rep1}/stage", json={"stage": "needs"}, headers=CSRF))
    login(client, "manager")
    assert client.get(f"/api/opportunities/{data.opp_rep1}").json["name"] == "数控机床采购"


def test_lead_of_another_rep_cannot_be_claimed(client, data):
    login(client, "rep2")
    _refused(client.post(f"/api/leads/{data.lead_rep1}/claim", headers=CSRF), "郑先生")


def test_customer_list_is_scoped(client, data):
    names = {}
    for who in ("rep1", "rep2", "manager", "manager_b", "director"):
        login(client, who)
        names[who] = {c["name"] for c in client.get("/api/customers?per_page=100").json["items"]}
    assert names["rep1"] == {"苏州精工机械有限公司", "无锡华润包装"}
    assert names["rep2"] == {"王建国"}
    assert names["manager"] == names["rep1"] | names["rep2"]
    assert names["manager_b"] == {"上海大客户集团"}
    assert names["director"] == names["manager"] | names["manager_b"]


def test_pages_refuse_another_reps_customer_without_data(client, data):
    login(client, "rep1")
    resp = client.get(f"/app/customers/{data.c_rep2}")
    assert resp.status_code == 403
    body = resp.get_data(as_text=True)
    assert "无权查看" in body and "王建国" not in body


def test_dashboard_drill_into_another_team_is_refused(client, data):
    login(client, "manager")
    resp = client.get(f"/api/dashboard/list?metric=customers&rep={data.world.rep3.id}")
    assert resp.status_code == 403
    _refused(resp, "上海大客户")
    page = client.get(f"/app/dashboard/list?metric=customers&rep={data.world.rep3.id}")
    assert page.status_code == 403 and "上海大客户" not in page.get_data(as_text=True)
