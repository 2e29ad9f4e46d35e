"""Customers, the sidebar's links, drafts, tasks and leads through the API."""
from __future__ import annotations

from storage.models import ChatLink, Customer, Task
from tests.miniapp.helpers import CSRF, credit_code, login


def test_list_search_and_paging(client, data):
    login(client, "manager")
    page1 = client.get("/api/customers?per_page=2&page=1").json
    assert page1["total"] == 3 and page1["pages"] == 2 and len(page1["items"]) == 2
    page2 = client.get("/api/customers?per_page=2&page=2").json
    assert len(page2["items"]) == 1
    assert {c["id"] for c in page1["items"] + page2["items"]} == {data.c_rep1, data.c_rep1_incomplete, data.c_rep2}
    first = page1["items"][0]
    assert {"id", "name", "owner", "status", "grade", "identifier_missing"} <= set(first)

    assert [c["name"] for c in client.get("/api/customers?q=szjg").json["items"]] == ["苏州精工机械有限公司"]
    # initials of any part of the name, full pinyin, a contact's initials: the chat's rules (issue 16)
    for q in ("jgjx", "jinggong", "zg"):
        assert [c["name"] for c in client.get(f"/api/customers?q={q}").json["items"]] == ["苏州精工机械有限公司"], q
    assert {c["name"] for c in client.get("/api/customers?q=jg").json["items"]} == {"苏州精工机械有限公司", "王建国"}
    assert [c["name"] for c in client.get("/api/customers?q=0139002").json["items"]] == ["王建国"]
    assert [c["name"] for c in client.get("/api/customers?q=周工").json["items"]] == ["苏州精工机械有限公司"]
    incomplete = client.get("/api/customers?status=incomplete").json["items"]
    assert [c["name"] for c in incomplete] == ["无锡华润包装"] and incomplete[0]["status_label"] == "待补全"
    assert client.get("/api/customers?status=bogus").status_code == 400
    assert client.get("/api/customers?page=x").status_code == 400


def test_complete_identifier_makes_the_customer_active(client, data, database):
    login(client, "rep1")
    detail = client.get(f"/api/customers/{data.c_rep1_incomplete}").json
    assert detail["identifier_missing"] is True
    assert detail["open_tasks"] == []  # 待补全 is in the weekly digest, not a task per customer
    bad = client.post(f"/api/customers/{data.c_rep1_incomplete}/identifier", json={"credit_code": "123"},
                      headers=CSRF)
    assert bad.status_code == 400 and bad.json["field"] == "credit_code"
    code = credit_code("91320200MA1N54321")
    ok = client.post(f"/api/customers/{data.c_rep1_incomplete}/identifier", json={"credit_code": code},
                     headers=CSRF)
    assert ok.status_code == 200 and ok.json["status"] == "active"
    with database.transaction() as s:
        assert s.get(Customer, data.c_rep1_incomplete).identifier == f"uscc:{code}"
        assert s.query(Task).filter_by(customer_id=data.c_rep1_incomplete, status="open").count() == 0


def test_link_a_chat_in_two_taps_and_see_it_again(client, data, database):
    login(client, "rep1")
    assert client.get("/api/links?external_userid=wmA").json == {"linked": False, "conflict": None,
                                                                 "customer": None}
    resp = client.post("/api/links", json={"external_userid": "wmA", "customer_id": data.c_rep1}, headers=CSRF)
    assert resp.status_code == 201 and resp.json["customer"]["id"] == data.c_rep1
    state = client.get("/api/links?external_userid=wmA").json
    assert state["linked"] and state["customer"]["name"] == "苏州精工机械有限公司"
    html = client.get("/app/sidebar?external_userid=wmA").get_data(as_text=True)
    assert "苏州精工机械有限公司" in html and "data-followup" in html


def test_a_chat_linked_by_a_colleague_names_the_owner(client, data):
    login(client, "rep2")
    client.post("/api/links", json={"external_userid": "wmB", "customer_id": data.c_rep2}, headers=CSRF)
    login(client, "rep1")
    state = client.get("/api/links?external_userid=wmB").json
    assert state["linked"] and state["customer"] is None
    assert "王芳" in state["conflict"]
    relink = client.post("/api/links", json={"external_userid": "wmB", "customer_id": data.c_rep1}, headers=CSRF)
    assert relink.status_code == 409 and "王芳" in relink.json["error"]
    html = client.get("/app/sidebar?external_userid=wmB").get_data(as_text=True)
    assert "已被同事关联" in html and "13900139002" not in html


def test_create_customer_from_the_sidebar_links_it(client, data, database):
    login(client, "rep1")
    resp = client.post("/api/customers", headers=CSRF, json={
        "kind": "company", "name": "嘉兴新材料有限公司", "contact_name": "吴总",
        "contact_mobile": "13600136006", "external_userid": "wmC"})
    assert resp.status_code == 201 and resp.json["status"] == "incomplete"
    with database.transaction() as s:
        link = s.query(ChatLink).filter_by(external_id="wmC").one()
        assert link.customer_id == resp.json["id"]
        assert s.get(Customer, link.customer_id).contacts[0].wecom_external_userid == "wmC"


def test_duplicate_customer_names_the_owner_and_writes_nothing(client, data, database):
    login(client, "rep1")
    resp = client.post("/api/customers", headers=CSRF, json={
        "kind": "person", "name": "王先生", "mobile": "13900139002", "external_userid": "wmD"})
    assert resp.status_code == 409
    assert "王芳" in resp.json["error"]
    with database.transaction() as s:
        assert s.query(ChatLink).filter_by(external_id="wmD").count() == 0
        assert s.query(Customer).filter_by(name="王先生").count() == 0


def test_drafts_edit_confirm_discard(client, data, database):
    login(client, "rep1")
    assert [d["id"] for d in client.get("/api/drafts").json["items"]] == [data.draft_rep1]
    edited = client.post(f"/api/drafts/{data.draft_rep1}", json={"fields": {"title": "采购总监"}}, headers=CSRF)
    assert edited.json["fields"]["title"] == "采购总监"
    unknown = client.post(f"/api/drafts/{data.draft_rep1}", json={"fields": {"owner_id": 1}}, headers=CSRF)
    assert unknown.status_code == 400
    confirmed = client.post(f"/api/drafts/{data.draft_rep1}/confirm", headers=CSRF)
    assert confirmed.status_code == 200 and confirmed.json["status"] == "confirmed"
    customer = client.get(f"/api/customers/{confirmed.json['result_customer_id']}").json
    assert customer["name"] == "杭州新锐科技有限公司"
    assert customer["contacts"][0]["title"] == "采购总监"
    again = client.post(f"/api/drafts/{data.draft_rep1}/confirm", headers=CSRF)
    assert again.status_code == 409
    assert client.post(f"/api/drafts/{data.draft_rep1}/discard", headers=CSRF).status_code == 409
    assert client.get("/api/drafts").json["items"] == []


def test_tasks_and_leads(client, data, database):
    login(client, "rep1")
    listed = client.get("/api/tasks").json["items"]
    mine = next(t for t in listed if t["id"] == data.task_rep1)
    assert mine["overdue"] is True
    assert client.post(f"/api/tasks/{data.task_rep1}", json={"action": "x"}, headers=CSRF).status_code == 400
    done = client.post(f"/api/tasks/{data.task_rep1}", json={"action": "done"}, headers=CSRF)
    assert done.json["status"] == "done"
    assert client.post(f"/api/tasks/{data.task_rep1}", json={"action": "done"}, headers=CSRF).status_code == 409

    claimed = client.post(f"/api/leads/{data.lead_rep1}/claim", headers=CSRF)
    assert claimed.status_code == 200 and claimed.json["status"] == "claimed"
    assert client.get(f"/api/customers/{claimed.json['customer_id']}").json["name"] == "无锡恒达机械有限公司"


def test_home_page_lists_my_work(client, data):
    login(client, "rep1")
    html = client.get("/app/").get_data(as_text=True)
    for text in ("郑先生", "回访苏州精工", "杭州新锐科技有限公司", "苏州精工机械有限公司", "待补全"):
        assert text in html
    assert 'class="cell link" href="/app/customers/%d"' % data.c_rep1 in html
    assert "王建国" not in html and "回访王建国" not in html
    filtered = client.get("/app/?status=incomplete").get_data(as_text=True)
    assert "无锡华润包装" in filtered and 'class="cell link" href="/app/customers/%d"' % data.c_rep1 not in filtered


def test_unknown_api_path_answers_json(client, data):
    login(client, "rep1")
    resp = client.get("/api/nothing-here")
    assert resp.status_code == 404 and resp.json["error"]


def test_static_files_are_served_locally_and_cached_by_content_hash(client, data):
    login(client, "rep1")
    html = client.get("/app/").get_data(as_text=True)
    assert "https://" not in html and "http://" not in html  # nothing from a CDN
    import re
    css = re.search(r'href="(/app/static/app\.css\?v=[0-9a-f]{10})"', html).group(1)
    js = re.search(r'src="(/app/static/app\.js\?v=[0-9a-f]{10})"', html).group(1)
    for url in (css, js):
        resp = client.get(url)
        assert resp.status_code == 200 and "max-age=31536000" in resp.headers["Cache-Control"]


def test_sidebar_prefills_new_customer_from_the_wecom_contact(app, client, data):
    app.extensions["crmbot"].client("wecom").contacts["wmNEW"] = {
        "external_contact": {"external_userid": "wmNEW", "name": "孙女士", "type": 1, "corp_name": "绍兴纺织"},
        "follow_user": [{"userid": "rep2", "remark_mobiles": ["13500000000"]},
                        {"userid": "rep1", "remark_mobiles": ["13511112222"], "remark_corp_name": "x"}]}
    login(client, "rep1")
    html = client.get("/app/sidebar?external_userid=wmNEW").get_data(as_text=True)
    assert 'name="name" required maxlength="200" placeholder="公司名或姓名" value="绍兴纺织"' in html
    assert 'value="孙女士"' in html and 'value="13511112222"' in html and "13500000000" not in html
    # WeCom refusing (unknown contact) leaves the form empty, the page still works
    empty = client.get("/app/sidebar?external_userid=wmUNKNOWN")
    assert empty.status_code == 200 and "新建客户并关联" in empty.get_data(as_text=True)


def test_unknown_platform_is_refused(client, data):
    login(client, "rep1")
    resp = client.post("/api/links", json={"external_userid": "wmP", "customer_id": data.c_rep1,
                                           "platform": "qq"}, headers=CSRF)
    assert resp.status_code == 400 and resp.json["field"] == "platform"
    assert client.get("/api/links?external_userid=wmP&platform=qq").status_code == 400
    assert client.get("/app/sidebar?external_userid=wmP&platform=qq").status_code == 400


def test_an_unexpected_failure_answers_json(app, client, data, monkeypatch):
    import miniapp.reads
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(miniapp.reads, "customer_page", broken)
    login(client, "rep1")
    resp = client.get(f"/api/customers/{data.c_rep1}")
    assert resp.status_code == 500 and resp.json["error"] == "服务器出错了，请稍后重试"
