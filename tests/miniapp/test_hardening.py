"""Issue 15 on the mini-app, through the real routes: typed JSON bodies (400 naming the field in
Chinese, nothing written), ids and query text in range, LIKE wildcards, sessions revoked on logout
and on role/team change, single-use OAuth state, a safe `next`, and the security headers."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from storage import drafts
from storage.models import User
from tests.hostile import nested_json, snapshot
from tests.miniapp.helpers import CSRF, login


def refused(database, send, status: int = 400, field: str | None = None):
    before = snapshot(database)
    response = send()
    assert response.status_code == status, response.get_data(as_text=True)
    if field:
        assert response.json["field"] == field
        assert any("\u4e00" <= ch <= "\u9fff" for ch in response.json["error"])  # said in Chinese
    assert snapshot(database) == before
    return response


# ------------------------------------------------------------------ typed bodies


@pytest.mark.parametrize("body, field", [
    ({"name": "新公司", "contact_name": "张三", "contact_title": "职" * 101}, "contact_title"),
    ({"name": {"a": 1}}, "name"),
    ({"name": "公" * 201}, "name"),
    ({"name": "新公司", "grade": "AAAAA"}, "grade"),
    ({"name": "新公司", "platform": "qq"}, "platform"),
    ({"name": "新\u0000公司"}, "name"),
])
def test_new_customer_body_bounded_by_columns(client, data, database, body, field):
    login(client, "rep1")
    answer = refused(database, lambda: client.post("/api/customers", json=body, headers=CSRF), field=field)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in answer.json["error"])  # a Chinese sentence


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "1e20", "abc", 10 ** 20, -5, True, [1]])
def test_opportunity_amount_must_be_a_real_sum(client, data, database, amount):
    login(client, "rep1")
    refused(database, lambda: client.post(f"/api/customers/{data.c_rep1}/opportunities",
                                          json={"name": "二期", "amount": amount}, headers=CSRF), field="amount")
    refused(database, lambda: client.post(f"/api/opportunities/{data.opp_rep1}", json={"amount": amount},
                                          headers=CSRF), field="amount")


def test_json_constants_and_depth_are_refused(client, data, database):
    login(client, "rep1")
    for raw in (b'{"name": "x", "amount": NaN}', nested_json(3000), nested_json(40), b"\xff\xfe", b"[1]"):
        refused(database, lambda: client.post(f"/api/customers/{data.c_rep1}/opportunities", data=raw,
                                              content_type="application/json", headers=CSRF), field="body")


@pytest.mark.parametrize("body, field", [
    ({"tags": "已报价"}, "tags"),
    ({"tags": ["已报价"], "next_followup": "下周三"}, "next_followup"),
    ({"tags": ["已报价"], "opportunity_id": 2 ** 31}, "opportunity_id"),
    ({"tags": ["已报价"], "channel": "fax"}, "channel"),
    ({"tags": [{"a": 1}]}, "tags"),
])
def test_followup_body_is_typed(client, data, database, body, field):
    login(client, "rep1")
    refused(database, lambda: client.post(f"/api/customers/{data.c_rep1}/followups", json=body, headers=CSRF),
            field=field)


def test_other_bodies_are_typed(client, data, database):
    login(client, "rep1")
    refused(database, lambda: client.post("/api/links", json={"customer_id": "1; drop"}, headers=CSRF),
            field="customer_id")
    refused(database, lambda: client.post(f"/api/tasks/{data.task_rep1}", json={"action": "done", "result": "x" * 201},
                                          headers=CSRF), field="result")
    refused(database, lambda: client.post(f"/api/opportunities/{data.opp_rep1}/checklist",
                                          json={"stage": "x", "item": "y", "checked": "yes"}, headers=CSRF),
            field="checked")
    refused(database, lambda: client.post(f"/api/drafts/{data.draft_rep1}", json={"fields": []}, headers=CSRF),
            field="fields")


@pytest.mark.parametrize("route, body, field", [
    ("/api/opportunities/{opp}/won", {"amount": "八万"}, "amount"),
    ("/api/opportunities/{opp}/won", {"signed_on": "下周"}, "signed_on"),
    ("/api/opportunities/{opp}/lost", {"reason": ["价格"]}, "reason"),
    ("/api/opportunities/{opp}/lost", {"reason": "价格", "note": "长" * 201}, "note"),
    ("/api/opportunities/{opp}/reopen", {"note": 5}, "note"),
    ("/api/opportunities/{opp}/discount", {"percent": {"v": 8}}, "percent"),
    ("/api/opportunities/{opp}/skip", {"note": "跳过"}, "stage"),
    ("/api/approvals/1", {"decision": "yes"}, "decision"),
    ("/api/customers/{c}/merge", {"merged_id": "2"}, "merged_id"),
    ("/api/customers/{c}/merge", {"merged_id": 2, "choices": {"name": "both"}}, "choices"),
    ("/api/dashboard/coaching", {"rep_id": 0}, "rep_id"),
    ("/api/drafts/{draft}/confirm", {"duplicate_reason": ["同名不同公司"]}, "duplicate_reason"),
])
def test_deal_approval_and_merge_bodies_are_typed(client, data, database, route, body, field):
    """The routes that took loose JSON now read a model: a wrong type is a 400 naming the field."""
    login(client, "manager" if "coaching" in route or "approvals" in route or "merge" in route else "rep1")
    url = route.format(opp=data.opp_rep1, c=data.c_rep1, draft=data.draft_rep1)
    refused(database, lambda: client.post(url, json=body, headers=CSRF), field=field)


def test_an_amount_with_a_full_width_comma_is_the_same_sum(client, data, database):
    login(client, "rep1")
    resp = client.post(f"/api/customers/{data.c_rep1}/opportunities", json={"name": "备件", "amount": "80，000"},
                       headers=CSRF)
    assert resp.status_code == 201, resp.json
    assert float(resp.json["amount"]) == 80000


def test_draft_saved_with_a_bad_amount_is_refused_at_save_not_at_confirm(client, data, database):
    with database.transaction() as s:
        rep1 = s.scalars(select(User).where(User.wecom_userid == "rep1", User.org_id == data.world.org.id)).one()
        draft, _ = drafts.create_draft(s, rep1, "followup", {"customer_id": data.c_rep1, "tags": ["已报价"]})
        draft_id = draft.id
    login(client, "rep1")
    refused(database, lambda: client.post(f"/api/drafts/{draft_id}", json={"fields": {"amount": "abc"}},
                                          headers=CSRF), field="amount")
    refused(database, lambda: client.post(f"/api/drafts/{draft_id}", json={"fields": {"next_followup_at": "明天"}},
                                          headers=CSRF), field="next_followup_at")
    refused(database, lambda: client.post(f"/api/drafts/{data.draft_rep1}", json={"fields": {"title": "职" * 101}},
                                          headers=CSRF), field="title")
    assert client.post(f"/api/drafts/{draft_id}", json={"fields": {"amount": "12000.5"}}, headers=CSRF).status_code == 200
    assert client.post(f"/api/drafts/{draft_id}/confirm", headers=CSRF).status_code == 200


# ------------------------------------------------------------------ ids and query text


def test_ids_beyond_integer_are_not_found(client, data, database):
    login(client, "rep1")
    big = 2 ** 31
    assert client.get(f"/api/customers/{big}").status_code == 404
    refused(database, lambda: client.post(f"/api/customers/{big}/followups", json={"tags": ["已报价"]},
                                          headers=CSRF), status=404)
    assert client.get(f"/api/opportunities/{10 ** 20}").status_code == 404
    assert client.get(f"/api/customers?owner_id={big}").status_code == 400
    assert client.get("/api/dashboard/list?metric=x&rep=99999999999").status_code in (400, 403)


def test_query_text_with_nul_is_400(client, data):
    login(client, "rep1")
    assert client.get("/api/customers?q=%00").status_code == 400
    assert client.get("/api/links?external_userid=wm%00x").status_code == 400
    assert client.get("/api/customers?q=" + "查" * 101).status_code == 400


@pytest.mark.parametrize("q", ["%", "_", "%%", "_%", "，"])
def test_like_wildcards_match_themselves_only(client, data, q):
    login(client, "rep1")
    listed = client.get("/api/customers", query_string={"q": q})
    assert listed.status_code == 200
    assert listed.json["total"] == 0, listed.json
    assert client.get("/api/customers").json["total"] > 0  # the scope is not empty


# ------------------------------------------------------------------ sessions


def _cookie(client) -> str:
    return client.get_cookie("session").value


def test_logout_revokes_every_copy_of_the_cookie(client, data):
    login(client, "rep1")
    stolen = _cookie(client)
    assert client.get("/api/me").status_code == 200
    client.get("/app/logout")
    client.set_cookie("session", stolen)
    assert client.get("/api/me").status_code == 401
    login(client, "rep1")  # a new login works again
    assert client.get("/api/me").status_code == 200


@pytest.mark.parametrize("change", ["role", "team_id", "reports_to_id"])
def test_role_or_team_change_revokes_sessions(client, data, database, change):
    login(client, "rep1")
    assert client.get("/api/me").status_code == 200
    with database.transaction() as s:
        rep1 = s.get(User, data.world.rep1.id)
        setattr(rep1, change, {"role": "manager", "team_id": data.world.team_b.id,
                               "reports_to_id": data.world.manager_b.id}[change])
    assert client.get("/api/me").status_code == 401


def test_unrelated_user_edit_keeps_the_session(client, data, database):
    login(client, "rep1")
    with database.transaction() as s:
        s.get(User, data.world.rep1.id).preferred_platform = "dingtalk"
    assert client.get("/api/me").status_code == 200


def test_oauth_state_is_single_use_even_with_the_pre_callback_cookie(app, client, data):
    resp = client.get("/app/login/wecom")
    state = parse_qs(urlsplit(resp.location).query)["state"][0]
    before_callback = _cookie(client)
    wecom = app.extensions["crmbot"].client("wecom")
    wecom.codes["C1"] = "rep1"
    assert client.get(f"/app/login/wecom/callback?code=C1&state={state}").status_code == 302
    # replay: the cookie from before the callback still holds the state, Redis no longer does
    client.set_cookie("session", before_callback)
    wecom.codes["C2"] = "rep2"
    assert client.get(f"/app/login/wecom/callback?code=C2&state={state}").status_code == 400
    assert client.get("/api/me").status_code == 401


@pytest.mark.parametrize("next_url", ["/app/\nSet-Cookie: x=1", "/app/\r\nx", "/app/\x7f"])
def test_next_with_control_characters_is_refused_before_any_redirect(client, data, next_url):
    # the login callback used to put it into the Location header: a 500
    assert client.get("/app/login/wecom", query_string={"next": next_url}).status_code == 400
    assert client.get("/app/welcome", query_string={"next": next_url}).status_code == 400


@pytest.mark.parametrize("next_url", ["/app/ x", "/app/\u3000", "//evil.example/app/"])
def test_odd_next_after_login_goes_home(app, client, data, next_url):
    resp = client.get("/app/login/wecom", query_string={"next": next_url})
    state = parse_qs(urlsplit(resp.location).query)["state"][0]
    app.extensions["crmbot"].client("wecom").codes["C5"] = "rep1"
    done = client.get(f"/app/login/wecom/callback?code=C5&state={state}")
    assert done.status_code == 302 and done.location == "/app/"


def test_dingtalk_login_body_is_typed(client, data):
    answer = client.post("/app/login/dingtalk", json={"code": {"a": 1}}, headers=CSRF)
    assert answer.status_code == 400 and answer.json["field"] == "code"


# ------------------------------------------------------------------ headers


def test_pages_and_api_send_security_headers(client, data):
    login(client, "rep1")
    page = client.get(f"/app/customers/{data.c_rep1}")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "object-src 'none'" in csp
    assert "frame-ancestors 'self' https://*.work.weixin.qq.com" in csp and "https://*.dingtalk.com" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"
    api = client.get("/api/customers")
    assert api.headers["Cache-Control"] == "no-store" and api.headers["X-Content-Type-Options"] == "nosniff"
    static = client.get("/app/static/app.css?v=1")
    assert "no-store" not in static.headers.get("Cache-Control", "")


@pytest.mark.parametrize("path", ["/app/?q=%00", "/app/?status=a%00", "/app/sidebar?external_userid=wm%00",
                                  "/app/dashboard/list?metric=x&rep=%00", "/app/welcome?next=/app/%00"])
def test_pages_refuse_control_characters_in_the_query(client, data, path):
    login(client, "rep1")
    assert client.get(path).status_code == 400


@pytest.mark.parametrize("path", [f"/app/customers/{2 ** 31}", f"/api/tasks/{2 ** 31}", f"/api/drafts/{10 ** 20}",
                                  f"/api/opportunities/{2 ** 31}/stage"])
def test_ids_beyond_integer_are_not_found_on_every_route(client, data, database, path):
    login(client, "rep1")
    assert client.get(path).status_code in (404, 405)
    if path.startswith("/api/"):
        refused(database, lambda: client.post(path, json={"stage": "needs"}, headers=CSRF), status=404)
