"""Mini-app master data: show before create, create anyway with a reason, 撞单 on an identifier,
merge with its permission matrix, and old links of a merged customer."""
from sqlalchemy import select

from storage.models import Customer, Task
from tests.miniapp.helpers import CSRF, credit_code, login


def _create(client, name, **extra):
    return client.post("/api/customers", headers=CSRF, json={"kind": "company", "name": name, **extra})


def test_same_company_typed_three_ways_is_shown_before_create(client, data, database):
    login(client, "rep2")
    for typed in ("苏州精工机械有限公司", "苏州精工", "精工机械（苏州）有限公司"):
        resp = _create(client, typed)
        assert resp.status_code == 409, typed
        assert resp.json["error"] == "可能重复：苏州精工机械有限公司（负责人：李明）"
        assert resp.json["matches"][0]["customer_id"] == data.c_rep1
        assert resp.json["reasons"]  # the playbook's 仍然创建 reasons
    with database.transaction() as s:
        assert s.scalars(select(Customer).where(Customer.owner_id == data.world.rep2.id,
                                                Customer.kind == "company")).all() == []


def test_create_anyway_needs_a_playbook_reason_and_tells_the_manager(client, data, database, app):
    login(client, "rep2")
    assert _create(client, "苏州精工", duplicate_reason="随便").status_code == 400
    resp = _create(client, "苏州精工", duplicate_reason="同名不同公司")
    assert resp.status_code == 201
    with database.transaction() as s:
        review = s.scalars(select(Task).where(Task.kind == "duplicate_review")).one()
        assert review.assignee_id == data.world.manager.id and review.customer_id == data.c_rep1
    sent = app.extensions["crmbot"].clients["wecom"].sent
    assert [m["touser"] for m in sent] == ["manager"]
    card = sent[0]["template_card"]
    assert "撞单" in card["main_title"]["title"]
    assert {b["key"] for b in card["button_list"] if b.get("key")} >= {"merge", "keep", "transfer"}


def test_identifier_of_another_rep_is_a_collision_with_a_review(client, data, database, app):
    login(client, "rep2")
    code = credit_code("91320500MA1M12345")
    resp = _create(client, "完全不同的名字", credit_code=code)
    assert resp.status_code == 409 and "李明" in resp.json["error"] and "撞单" in resp.json["error"]
    with database.transaction() as s:
        assert s.get(Customer, data.c_rep1).owner_id == data.world.rep1.id
        assert s.scalar(select(Customer.id).where(Customer.name == "完全不同的名字")) is None
        assert s.scalars(select(Task).where(Task.kind == "duplicate_review")).one().id == resp.json["review_task_id"]


def _copy_of_c_rep1(client):
    login(client, "rep2")
    resp = _create(client, "苏州精工", duplicate_reason="同名不同公司")
    assert resp.status_code == 201
    return resp.json["id"]


def test_merge_permission_matrix(client, data, database):
    copy = _copy_of_c_rep1(client)
    body = {"merged_id": copy}
    login(client, "rep1")  # a rep never merges
    assert client.post(f"/api/customers/{data.c_rep1}/merge", headers=CSRF, json=body).status_code == 403
    login(client, "manager_b")  # a manager of another subtree
    assert client.post(f"/api/customers/{data.c_rep1}/merge", headers=CSRF, json=body).status_code == 403
    login(client, "rep1", corp="wwother")  # another org: not found
    assert client.post(f"/api/customers/{data.c_rep1}/merge", headers=CSRF, json=body).status_code in (401, 404)
    login(client, "manager")
    page = client.get(f"/app/customers/{data.c_rep1}/merge?with={copy}")
    assert page.status_code == 200 and "确认合并" in page.get_data(as_text=True)
    resp = client.post(f"/api/customers/{data.c_rep1}/merge", headers=CSRF,
                       json={"merged_id": copy, "choices": {"name": "into"}})
    assert resp.status_code == 200 and resp.json["into_id"] == data.c_rep1
    again = client.post(f"/api/customers/{data.c_rep1}/merge", headers=CSRF, json=body)
    assert again.status_code == 409 and "已经合并" in again.json["error"]
    with database.transaction() as s:
        assert s.scalars(select(Task).where(Task.kind == "duplicate_review")).one().status == "done"
    # the old link of the merged customer opens the surviving one
    old = client.get(f"/app/customers/{copy}")
    assert old.status_code == 302 and old.headers["Location"].endswith(f"/app/customers/{data.c_rep1}")
    assert client.get(f"/api/customers/{copy}").json["id"] == data.c_rep1


def test_dashboard_shows_data_health_by_rep_and_team(client, data):
    login(client, "rep2")
    assert _create(client, "苏州精工", duplicate_reason="同名不同公司").status_code == 201  # an open review
    login(client, "manager")
    health = client.get("/api/dashboard").json["data_health"]
    assert [r["name"] for r in health["reps"]] == ["李明", "王芳"]           # team A only, ranked
    rep1 = health["reps"][0]
    assert rep1["customers"] == 2 and rep1["fields"]["identifier"] == 0.5 and rep1["fields"]["grade"] == 0
    assert health["teams"][0]["name"] == "华东一组" and health["open_reviews"] == 1
    assert health["ageing"]["7天内"] == 2   # 无锡华润包装 and the new copy wait for a code
    page = client.get("/app/dashboard").get_data(as_text=True)
    assert "资料健康" in page and "待审核撞单 1 条" in page
    login(client, "rep1")
    assert client.get("/api/dashboard").status_code == 403


def test_draft_confirmed_anyway_with_a_reason(client, data, database):
    """A card-photo draft that looks like a colleague's customer: 409 with the matches and the
    reasons, then 仍然创建 with one of them creates it and raises the review."""
    from storage import drafts
    from storage.models import User
    with database.transaction() as s:
        rep2 = s.get(User, data.world.rep2.id)
        draft, _ = drafts.create_draft(s, rep2, "customer", {"name": "周经理", "company": "苏州精工机械有限公司"})
        draft_id = draft.id
    login(client, "rep2")
    first = client.post(f"/api/drafts/{draft_id}/confirm", headers=CSRF, json={})
    assert first.status_code == 409
    assert first.json["matches"][0]["customer_id"] == data.c_rep1 and first.json["reasons"]
    assert client.post(f"/api/drafts/{draft_id}/confirm", headers=CSRF,
                       json={"duplicate_reason": "随便"}).status_code == 400
    done = client.post(f"/api/drafts/{draft_id}/confirm", headers=CSRF,
                       json={"duplicate_reason": first.json["reasons"][0]})
    assert done.status_code == 200, done.json
    with database.transaction() as s:
        created = s.get(Customer, done.json["result_customer_id"])
        assert created.owner_id == data.world.rep2.id
        assert s.scalars(select(Task).where(Task.kind == "duplicate_review")).one().customer_id == data.c_rep1
