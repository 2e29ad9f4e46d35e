"""Login: dev-login only in demo/test apps, WeCom OAuth with its anti-CSRF state, DingTalk's
auth code, sessions of switched-off users, the CSRF header, and the JS-SDK signature."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from bot.dingtalk import fake as dt_fake
from bot.dingtalk.client import DingTalkClient
from miniapp.api import jsapi_signature
from storage.models import User
from tests.miniapp.helpers import CSRF, login, make_app


def test_dev_login_is_absent_outside_demo(database, playbook, redis_conn, data):
    app = make_app(database, playbook, redis_conn, dev_login=False)
    client = app.test_client()
    assert client.get("/app/dev-login?user=rep1&corp=wwcorp001").status_code == 404
    assert client.get("/api/me").status_code == 401  # and no session was started


def test_dev_login_works_in_demo_mode(database, playbook, redis_conn, data):
    app = make_app(database, playbook, redis_conn, dev_login=False)
    app.config["CRMBOT_DEMO"] = True  # what create_app sets from CRMBOT_DEMO=1
    client = app.test_client()
    assert login(client, "rep2").status_code == 302
    assert client.get("/api/me").json["name"] == "王芳"


def test_dev_login_needs_the_org_when_a_userid_exists_in_two(client, data):
    # rep1 exists in both orgs (the outsider has the same platform id): ambiguous without corp
    resp = client.get("/app/dev-login?user=rep1")
    assert resp.status_code == 404
    assert "corp" in resp.get_data(as_text=True)
    assert login(client, "rep1", corp="wwother").status_code == 302
    assert client.get("/api/me").json["name"] == "外人"


def test_without_session_api_says_401_and_pages_send_to_welcome(client, data):
    resp = client.get("/api/customers")
    assert resp.status_code == 401
    assert "企业微信" in resp.json["error"]
    page = client.get("/app/customers/1")
    assert page.status_code == 302
    assert page.location.startswith("/app/welcome?next=/app/customers/1")
    welcome = client.get(page.location)
    assert "请从企业微信或钉钉打开" in welcome.get_data(as_text=True)


def test_switched_off_user_loses_access_on_next_request(client, data, database):
    login(client, "rep1")
    assert client.get("/api/me").status_code == 200
    with database.transaction() as s:
        s.get(User, data.world.rep1.id).active = False
    assert client.get("/api/me").status_code == 401
    assert client.get("/app/").status_code == 302


def test_wecom_oauth_round_trip(app, client, data):
    resp = client.get("/app/login/wecom?next=/app/sidebar?external_userid=wm1")
    assert resp.status_code == 302
    target = urlsplit(resp.location)
    assert target.netloc == "open.weixin.qq.com"
    assert target.fragment == "wechat_redirect"
    query = parse_qs(target.query)
    assert query["appid"] == ["wwcorp001"]
    assert query["scope"] == ["snsapi_base"]
    assert query["agentid"] == ["1000002"]
    assert query["redirect_uri"] == ["http://localhost/app/login/wecom/callback"]
    state = query["state"][0]

    wecom = app.extensions["crmbot"].client("wecom")
    wecom.codes["CODE1"] = "rep2"
    done = client.get(f"/app/login/wecom/callback?code=CODE1&state={state}")
    assert done.status_code == 302
    assert done.location == "/app/sidebar?external_userid=wm1"
    assert client.get("/api/me").json["name"] == "王芳"


def test_wecom_callback_refuses_a_forged_state(app, client, data):
    client.get("/app/login/wecom")
    app.extensions["crmbot"].client("wecom").codes["CODE2"] = "rep1"
    resp = client.get("/app/login/wecom/callback?code=CODE2&state=forged")
    assert resp.status_code == 400
    assert client.get("/api/me").status_code == 401


def test_wecom_callback_with_a_spent_code_fails_kindly(app, client, data):
    resp = client.get("/app/login/wecom")
    state = parse_qs(urlsplit(resp.location).query)["state"][0]
    resp = client.get(f"/app/login/wecom/callback?code=SPENT&state={state}")
    assert resp.status_code == 502
    assert "重新打开" in resp.get_data(as_text=True)


def test_wecom_member_without_a_crmbot_account_is_refused(app, client, data):
    resp = client.get("/app/login/wecom")
    state = parse_qs(urlsplit(resp.location).query)["state"][0]
    app.extensions["crmbot"].client("wecom").codes["C3"] = "stranger"
    resp = client.get(f"/app/login/wecom/callback?code=C3&state={state}")
    assert resp.status_code == 403
    assert "联系管理员" in resp.get_data(as_text=True)


def test_login_next_is_never_an_open_redirect(app, client, data):
    resp = client.get("/app/login/wecom?next=//evil.example/app/")
    state = parse_qs(urlsplit(resp.location).query)["state"][0]
    app.extensions["crmbot"].client("wecom").codes["C4"] = "rep1"
    done = client.get(f"/app/login/wecom/callback?code=C4&state={state}")
    assert done.location == "/app/"


def test_dingtalk_login_with_auth_code(app, client, data):
    app.extensions["crmbot"].client("dingtalk").codes["DCODE"] = "manager"
    assert client.post("/app/login/dingtalk", json={"code": "DCODE"}).status_code == 403  # no header
    resp = client.post("/app/login/dingtalk", json={"code": "DCODE", "next": "/app/dashboard"}, headers=CSRF)
    assert resp.status_code == 200
    assert resp.json["next"] == "/app/dashboard"
    assert client.get("/api/me").json["role"] == "manager"
    again = client.post("/app/login/dingtalk", json={"code": "DCODE"}, headers=CSRF)  # single use
    assert again.status_code == 502


@pytest.fixture
def dingtalk_app(database, playbook, redis_conn, data):
    """The app with the real DingTalk client, talking over loopback HTTP to the fake DingTalk."""
    base_url, state, stop = dt_fake.start_fake_dingtalk()
    app = make_app(database, playbook, redis_conn, dingtalk_app_key=state.app_key,
                   dingtalk_app_secret=state.app_secret, dingtalk_api_base=base_url, dingtalk_oapi_base=base_url)
    app.extensions["crmbot"].clients.pop("dingtalk")   # built from the settings on first use
    yield app, state
    stop()


def test_dingtalk_login_through_the_fake_dingtalk(dingtalk_app):
    app, state = dingtalk_app
    client = app.test_client()
    state.add_auth_code("authcode-rep2", "rep2")
    resp = client.post("/app/login/dingtalk", json={"code": "authcode-rep2", "next": "/app/"}, headers=CSRF)
    assert resp.status_code == 200 and resp.json == {"ok": True, "next": "/app/"}
    assert client.get("/api/me").json["name"] == "王芳"
    assert isinstance(app.extensions["crmbot"].client("dingtalk"), DingTalkClient)
    assert state.token_requests == 1          # the app token was fetched from the fake, over HTTP

    again = app.test_client().post("/app/login/dingtalk", json={"code": "authcode-rep2"}, headers=CSRF)
    assert again.status_code == 502 and again.json["error"] == "钉钉登录失败，请关闭页面后重新打开"   # single use

    state.add_auth_code("authcode-stranger", "stranger")
    stranger = app.test_client()
    refused = stranger.post("/app/login/dingtalk", json={"code": "authcode-stranger"}, headers=CSRF)
    assert refused.status_code == 403 and refused.json["error"] == "你的账号还没有开通销售助手，请联系管理员"
    assert stranger.get("/api/me").status_code == 401


def test_state_changing_api_calls_need_the_csrf_header(client, data):
    login(client, "rep1")
    resp = client.post(f"/api/customers/{data.c_rep1}/followups", json={"tags": ["已报价"]})
    assert resp.status_code == 403
    assert client.get(f"/api/customers/{data.c_rep1}").json["last_interaction_summary"].startswith("已拜访")


def test_jsapi_signature_matches_the_published_vector():
    # the example from WeChat's JS-SDK documentation
    assert jsapi_signature("sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
                           "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value") \
        == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


def test_jsapi_config_signs_our_url_without_fragment(client, data):
    login(client, "rep1")
    resp = client.get("/api/wecom/jsapi-config",
                      query_string={"url": "http://localhost/app/sidebar?x=1#section"})
    assert resp.status_code == 200
    config, agent = resp.json["config"], resp.json["agentConfig"]
    url = "http://localhost/app/sidebar?x=1"
    assert config["signature"] == jsapi_signature("corp-ticket-1", config["nonceStr"], config["timestamp"], url)
    assert agent["signature"] == jsapi_signature("agent-ticket-1", agent["nonceStr"], agent["timestamp"], url)
    assert config["signature"] != agent["signature"]
    assert agent["corpid"] == "wwcorp001" and agent["agentid"] == 1000002
    assert "getCurExternalContact" in agent["jsApiList"]


def test_jsapi_config_refuses_foreign_urls_and_anonymous_callers(app, data):
    anonymous = app.test_client()
    assert anonymous.get("/api/wecom/jsapi-config?url=http://localhost/app/").status_code == 401
    client = app.test_client()
    login(client, "rep1")
    resp = client.get("/api/wecom/jsapi-config", query_string={"url": "https://evil.example/page"})
    assert resp.status_code == 400
    assert resp.json["field"] == "url"


def test_welcome_offers_demo_logins_only_when_dev_login_is_on(database, playbook, redis_conn, data):
    on = make_app(database, playbook, redis_conn).test_client().get("/app/welcome").get_data(as_text=True)
    assert "/app/dev-login?user=rep1" in on
    off = make_app(database, playbook, redis_conn, dev_login=False).test_client().get("/app/welcome")
    assert "dev-login" not in off.get_data(as_text=True)
