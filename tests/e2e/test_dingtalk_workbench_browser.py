"""The DingTalk workbench in headless Chromium: the page's silent login and a group's 关联客户 page.

Inside DingTalk the vendored dingtalk-jsapi (the real SDK, unchanged) asks the client's native
bridge for an auth code. The browser has no DingTalk client, so each page gets, before any script
runs, the one thing the client would provide: iOS DingTalk's `WebViewJavascriptBridge`, answering
`runtime.permission.requestAuthCodeV2` with a code the test registered in the fake DingTalk. From
there everything is real: app.js → POST /app/login/dingtalk → the real DingTalk client →
`topapi/v2/user/getuserinfo` on the fake DingTalk over loopback HTTP → the session."""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from sqlalchemy import select

from bot.dingtalk import fake as dt_fake
from cards.links import ChatRef, chat_page_link
from storage.models import ChatLink
from tests.e2e.browser import link_from_search, phone_page, require_browser, serve, shot
from tests.e2e.test_miniapp_browser import _clean   # the checks every page passes
from tests.miniapp.helpers import make_app, seed

pytestmark = pytest.mark.e2e

require_browser()

# DingTalk's iOS webview user agent (the SDK reads the platform and the client version from it)
DINGTALK_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
               "Mobile/15E148 AliApp(DingTalk/7.6.10) com.laiwang.DingTalk/37463946 Channel/201200 "
               "language/zh-Hans-CN UT4Aplus/0.0.6 WK")
GROUP = "cidBrowserGroup01=="

# What the DingTalk client injects: the bridge the SDK calls. It reports each call to the test
# (page.bridge_calls, kept across navigations) and answers the auth-code request with the code the
# test put in window.__authCode.
BRIDGE = """
window.WebViewJavascriptBridge = {
  init: function () {},
  registerHandler: function () {},
  callHandler: function (name, params, callback) {
    window.__recordBridgeCall(name, JSON.parse(JSON.stringify(params)));
    var answer = name === "runtime.permission.requestAuthCodeV2"
      ? { errorCode: "0", result: { code: window.__authCode } }
      : { errorCode: "1", errorMessage: "not available in this test: " + name };
    setTimeout(function () { callback(answer); }, 0);
  }
};
"""


@pytest.fixture
def site(database, playbook, redis_conn):
    data = seed(database, playbook)
    fake_url, state, stop = dt_fake.start_fake_dingtalk()
    app = make_app(database, playbook, redis_conn, dingtalk_app_key=state.app_key,
                   dingtalk_app_secret=state.app_secret, dingtalk_api_base=fake_url, dingtalk_oapi_base=fake_url)
    app.extensions["crmbot"].clients.pop("dingtalk")   # the real client, built from the settings
    try:
        with serve(app) as base:
            yield base, data, state
    finally:
        stop()


def dingtalk_page(browser, base: str, code: str):
    """A phone page that looks like DingTalk's webview, whose bridge hands out `code`."""
    page = phone_page(browser, base, user_agent=DINGTALK_UA)
    page.bridge_calls = []
    page.expose_function("__recordBridgeCall", lambda name, params: page.bridge_calls.append((name, params)))
    page.add_init_script(BRIDGE + f"window.__authCode = {json.dumps(code)};")
    return page


def test_opening_the_workbench_logs_the_rep_in_silently(browser, site):
    base, _data, state = site
    state.add_auth_code("ddcode-rep1", "rep1")
    page = dingtalk_page(browser, base, "ddcode-rep1")
    page.goto(f"{base}/app/")                       # no session: the welcome page takes over
    page.wait_for_url(f"{base}/app/")
    page.locator("h1", has_text="李明，今天要做的").wait_for()
    auth = [params for name, params in page.bridge_calls if name == "runtime.permission.requestAuthCodeV2"]
    assert len(auth) == 1
    assert auth[0]["corpId"] == "dingcorp001" and auth[0]["clientId"] == state.app_key
    assert state.auth_codes == {}                   # the code was spent at the fake DingTalk
    _clean(page)


@pytest.mark.parametrize("case, expected", [
    ("spent", "钉钉登录失败，请关闭页面后重新打开"),
    ("stranger", "你的账号还没有开通销售助手，请联系管理员"),
])
def test_a_refused_login_says_why_in_chinese(browser, site, case, expected):
    base, _data, state = site
    if case == "stranger":
        state.add_auth_code("ddcode-x", "stranger")    # a DingTalk member without a crmbot account
    # "spent": the code is unknown to DingTalk (used before, or expired)
    page = dingtalk_page(browser, base, "ddcode-x")
    page.goto(f"{base}/app/")
    page.locator("#welcome-status", has_text=expected).wait_for()
    assert page.url.startswith(f"{base}/app/welcome")
    assert page.evaluate("fetch('/api/me').then(r => r.status)") == 401
    shot(page, f"dingtalk-login-{case}")
    _clean(page)


def test_the_group_card_link_logs_in_links_the_group_and_a_colleague_sees_who(browser, site, database):
    base, data, state = site
    link = chat_page_link(base, "test-secret", ChatRef(data.world.org.id, "dingtalk", GROUP, "苏州精工项目群"))
    path = link.removeprefix(base)

    state.add_auth_code("ddcode-rep1", "rep1")
    page = dingtalk_page(browser, base, "ddcode-rep1")
    page.goto(f"{base}/app/welcome?next={quote(path, safe='')}")   # where an unlogged tap on the link lands
    page.wait_for_url(link)
    page.wait_for_selector("html[data-ready='1']")
    assert "群“苏州精工项目群”还没有关联客户" in page.inner_text("#link")
    link_from_search(page, "精工", "苏州精工机械有限公司")
    with database.transaction() as s:
        assert s.scalars(select(ChatLink.customer_id).where(ChatLink.external_id == GROUP)).one() == data.c_rep1
    shot(page, "dingtalk-group-linked")
    _clean(page)

    state.add_auth_code("ddcode-rep2", "rep2")
    colleague = dingtalk_page(browser, base, "ddcode-rep2")
    colleague.goto(link)                             # not logged in: welcome, login, back to the page
    colleague.locator(".conflict", has_text="该群已被李明关联到客户“苏州精工机械有限公司”（负责人：李明）").wait_for()
    assert colleague.locator("#link-search").count() == 0
    shot(colleague, "dingtalk-group-conflict")
    _clean(colleague)
