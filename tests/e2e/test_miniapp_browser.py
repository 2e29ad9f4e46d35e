"""The mini-app in headless Chromium at 375×812 against a real server on 127.0.0.1: what a rep
and a manager do with their thumbs. Screenshots go to test-artifacts/."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from storage.models import CaptureDraft, ChatLink, FollowUp, Opportunity, Task
from tests.e2e.browser import link_from_search, phone_page, require_browser, serve, shot
from tests.miniapp.helpers import make_app, seed

pytestmark = pytest.mark.e2e

require_browser()



@pytest.fixture
def site(database, playbook, redis_conn):
    data = seed(database, playbook)
    with serve(make_app(database, playbook, redis_conn)) as base:
        yield base, data


def _login(page, base, who, next_path):
    page.goto(f"{base}/app/dev-login?user={who}&corp=wwcorp001&next={quote(next_path, safe='')}")
    page.wait_for_selector("html[data-ready='1']")




def _clean(page):
    assert page.foreign_requests == [], "pages must not load anything from another host"
    assert page.js_errors == []


def test_link_a_chat_then_log_a_follow_up_in_two_taps(browser, site, database):
    base, data = site
    page = phone_page(browser, base)
    _login(page, base, "rep1", "/app/sidebar?external_userid=wmE2E&name=" + quote("周工"))
    assert "这个聊天还没有关联客户" in page.inner_text("#link")
    shot(page, "sidebar-unlinked")

    link_from_search(page, "szjg", "苏州精工机械有限公司")  # pinyin initials of 苏州精工
    with database.transaction() as s:
        assert s.query(ChatLink).filter_by(external_id="wmE2E").one().customer_id == data.c_rep1
    shot(page, "sidebar-linked")

    # the follow-up: tap 1 = a tag chip, tap 2 = 保存
    page.get_by_role("button", name="已报价").click()
    with page.expect_navigation():
        page.get_by_role("button", name="保存跟进").click()
    page.wait_for_selector("html[data-ready='1']")
    assert "跟进：已报价" in page.inner_text("#timeline")
    with database.transaction() as s:
        latest = s.query(FollowUp).filter_by(customer_id=data.c_rep1).order_by(FollowUp.id.desc()).first()
        assert latest.tags == ["quoted"] and latest.channel == "sidebar"
    shot(page, "sidebar-followup-saved")
    _clean(page)


def test_pause_asks_for_a_reason_and_the_note_counter_counts(browser, site, database):
    base, data = site
    page = phone_page(browser, base)
    _login(page, base, "rep1", f"/app/customers/{data.c_rep1}")
    page.get_by_role("button", name="暂缓").click()
    reasons = page.locator("[data-reasons-box]")
    assert reasons.is_visible()
    page.fill("input[name=note]", "客户下月再谈")
    assert page.inner_text("[data-counter]") == "6/20"
    page.get_by_role("button", name="保存跟进").click()
    page.locator("#toast", has_text="暂缓原因").wait_for()  # refused: no reason chosen
    reasons.get_by_role("button", name="项目延期").click()
    with page.expect_navigation():
        page.get_by_role("button", name="保存跟进").click()
    with database.transaction() as s:
        latest = s.query(FollowUp).filter_by(customer_id=data.c_rep1).order_by(FollowUp.id.desc()).first()
        assert (latest.pause_reason, latest.note) == ("项目延期", "客户下月再谈")
    _clean(page)


def test_stage_change_blocked_by_the_checklist_then_allowed(browser, site, database):
    base, data = site
    page = phone_page(browser, base)
    _login(page, base, "rep1", f"/app/customers/{data.c_rep1}")
    box = page.locator(f"[data-checklist='{data.opp_rep1}']")
    advance = box.get_by_role("button", name="推进到“需求确认”")
    assert advance.is_disabled()
    checks = box.locator("input[type=checkbox]")
    assert checks.count() == 3
    checks.nth(0).check()
    checks.nth(1).check()
    assert advance.is_disabled()
    shot(page, "stage-blocked")
    checks.nth(2).check()
    page.locator("[data-advance]:not([disabled])").wait_for()  # no eval: the page's CSP forbids it
    with database.transaction() as s:  # every tick was saved as it was made
        assert len(s.get(Opportunity, data.opp_rep1).checklist["needs"]) == 3
    with page.expect_navigation():
        advance.click()
    page.wait_for_selector("html[data-ready='1']")
    assert "需求确认" in page.inner_text(f"[data-opp='{data.opp_rep1}'] .card-hd")
    assert "推进到“方案报价”" in page.inner_text(f"[data-opp='{data.opp_rep1}']")
    with database.transaction() as s:
        assert s.get(Opportunity, data.opp_rep1).stage == "needs"
    shot(page, "stage-advanced")
    _clean(page)


def test_edit_and_confirm_a_capture_draft(browser, site, database):
    base, data = site
    page = phone_page(browser, base)
    _login(page, base, "rep1", "/app/")
    card = page.locator(f"[data-draft='{data.draft_rep1}']")
    assert card.locator("input[name=company]").input_value() == "杭州新锐科技有限公司"
    shot(page, "home")
    card.get_by_role("button", name="编辑").click()
    card.locator("input[name=title]").fill("采购总监")
    card.get_by_role("button", name="保存修改").click()
    page.locator("#toast", has_text="已保存修改").wait_for()
    with page.expect_navigation():
        card.get_by_role("button", name="确认").click()
    page.wait_for_selector("html[data-ready='1']")
    assert "杭州新锐科技有限公司" in page.inner_text(".customer-head")
    assert "采购总监" in page.inner_text("#contacts")
    with database.transaction() as s:
        assert s.get(CaptureDraft, data.draft_rep1).status == "confirmed"
    shot(page, "draft-confirmed")
    _clean(page)


def test_complete_a_missing_identifier(browser, site):
    base, data = site
    page = phone_page(browser, base)
    _login(page, base, "rep1", f"/app/customers/{data.c_rep1_incomplete}")
    form = page.locator(f"[data-identifier='{data.c_rep1_incomplete}']")
    form.locator("input").fill("123")
    form.get_by_role("button", name="补全").click()
    page.locator("#toast", has_text="统一社会信用代码").wait_for()
    from tests.miniapp.helpers import credit_code
    form.locator("input").fill(credit_code("91320200MA1N54321"))
    with page.expect_navigation():
        form.get_by_role("button", name="补全").click()
    page.wait_for_selector("html[data-ready='1']")
    assert "待补全" not in page.inner_text(".customer-head")
    _clean(page)


def test_manager_opens_the_dashboard_and_drills_down(browser, site):
    base, data = site
    page = phone_page(browser, base)
    _login(page, base, "manager", "/app/dashboard")
    figures = page.locator("#headlines .figure")
    assert figures.count() == 5
    assert "李明" in page.inner_text("#reps") and "张伟" not in page.inner_text("#reps")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, "the dashboard must fit a phone without sideways scrolling"
    shot(page, "dashboard")
    with page.expect_navigation():
        page.locator("[data-metric=overdue_tasks]").click()
    assert "逾期任务" in page.inner_text("h1")
    assert "回访苏州精工" in page.inner_text("#drill") and "回访王建国" in page.inner_text("#drill")
    shot(page, "dashboard-drill")
    with page.expect_navigation():
        page.locator("#drill .cell", has_text="回访苏州精工").click()
    page.wait_for_selector("html[data-ready='1']")
    assert "苏州精工机械有限公司" in page.inner_text(".customer-head")
    _clean(page)


def test_inside_wecom_a_page_without_session_starts_oauth(browser, site):
    from playwright.sync_api import Error as PlaywrightError
    base, _data = site
    page = phone_page(browser, base, user_agent="Mozilla/5.0 (iPhone) wxwork/4.1.30 MicroMessenger/7.0.1")
    with page.expect_request(lambda r: r.url.startswith("https://open.weixin.qq.com/"), timeout=10_000) as oauth:
        try:
            page.goto(f"{base}/app/customers/1")
        except PlaywrightError:
            pass  # the hop to open.weixin.qq.com is blocked: there is no WeCom here
    url = oauth.value.url
    assert url.startswith("https://open.weixin.qq.com/connect/oauth2/authorize?appid=wwcorp001")
    assert "scope=snsapi_base" in url and "state=" in url
    assert page.js_errors == []


def test_outside_the_clients_the_welcome_page_says_where_to_open(browser, site):
    base, _data = site
    page = phone_page(browser, base)
    page.goto(f"{base}/app/")
    page.wait_for_selector("html[data-ready='1']")
    assert "请从企业微信或钉钉打开" in page.inner_text("h1")
    shot(page, "welcome")
    _clean(page)


def test_a_voice_draft_is_pointed_at_a_customer_then_confirmed(browser, site, database):
    from storage import drafts
    from storage.models import User
    base, data = site
    with database.transaction() as s:
        draft, _ = drafts.create_draft(s, s.get(User, data.world.rep1.id), "followup", {
            "tags": ["已报价"], "note": "报了二十万", "transcript": "今天给他们报了二十万"})
        draft_id = draft.id
    page = phone_page(browser, base)
    _login(page, base, "rep1", "/app/")
    card = page.locator(f"[data-draft='{draft_id}']")
    card.get_by_role("button", name="确认").click()
    page.locator("#toast", has_text="请先选择").wait_for()  # no customer yet: refused, nothing lost
    card.get_by_role("button", name="编辑").click()
    card.locator("select[name=customer_id]").select_option(label="苏州精工机械有限公司")
    card.get_by_role("button", name="保存修改").click()
    page.locator("#toast", has_text="已保存修改").wait_for()
    with page.expect_navigation():
        card.get_by_role("button", name="确认").click()
    page.wait_for_selector("html[data-ready='1']")
    assert "跟进：已报价" in page.inner_text("#timeline")
    with database.transaction() as s:
        latest = s.query(FollowUp).filter_by(customer_id=data.c_rep1).order_by(FollowUp.id.desc()).first()
        assert (latest.note, latest.channel) == ("报了二十万", "voice")
    _clean(page)


def test_create_a_customer_from_the_sidebar(browser, site, database):
    base, data = site
    page = phone_page(browser, base)
    _login(page, base, "rep1", "/app/sidebar?external_userid=wmNEW2&name=" + quote("钱女士"))
    form = page.locator("form[data-create-customer]")
    assert form.locator("input[name=contact_name]").input_value() == "钱女士"
    form.get_by_text("个人").click()
    assert not form.locator("input[name=credit_code]").is_visible()  # a person's identifier is the mobile
    form.locator("input[name=name]").fill("钱女士")
    form.locator("input[name=contact_mobile]").fill("13900139002")  # 王芳's customer already has it
    form.get_by_role("button", name="新建并关联").click()
    page.locator("#toast", has_text="王芳").wait_for()  # duplicate refused, owner named
    form.locator("input[name=contact_mobile]").fill("13511223344")
    with page.expect_navigation():
        form.get_by_role("button", name="新建并关联").click()
    page.wait_for_selector("html[data-ready='1']")
    assert "钱女士" in page.inner_text(".customer-head")
    with database.transaction() as s:
        assert s.query(ChatLink).filter_by(external_id="wmNEW2").count() == 1
    _clean(page)


def test_add_a_contact_with_two_mobiles_and_an_english_name_then_edit_it(browser, site, database):
    from storage.models import Contact
    base, data = site
    page = phone_page(browser, base)
    _login(page, base, "rep1", f"/app/customers/{data.c_rep1}")
    adding = page.locator("details.add-contact")
    adding.locator("summary").click()
    form = adding.locator("form")
    for name, value in (("name", "王伟"), ("title", "销售总监"), ("mobile", "13912345678"),
                        ("mobile2", "138 1234 5678"), ("fax", "13912340000"), ("english_name", "David Wang")):
        form.locator(f"input[name={name}]").fill(value)
    form.get_by_role("button", name="保存").click()
    page.locator("#toast", has_text="传真号码不能是手机号").wait_for()   # refused, the form keeps what was typed
    form.locator("input[name=fax]").fill("0512-62345679")
    with page.expect_navigation():
        form.get_by_role("button", name="保存").click()
    page.wait_for_selector("html[data-ready='1']")
    row = page.locator(".cell.contact", has_text="王伟")
    assert row.locator("a[data-mobile]").all_inner_texts() == ["13912345678", "13812345678"]
    assert "David Wang" in row.inner_text() and "传真 0512-62345679" in row.inner_text()
    shot(page, "customer-contact-extras")
    row.locator("details.edit-contact summary").click()
    row.locator("input[name=english_title]").fill("Sales Director")
    with page.expect_navigation():
        row.get_by_role("button", name="保存").click()
    page.wait_for_selector("html[data-ready='1']")
    assert "Sales Director" in page.locator(".cell.contact", has_text="王伟").inner_text()
    with database.transaction() as s:
        wang = s.query(Contact).filter_by(name="王伟").one()
        assert (wang.mobile2, wang.fax, wang.english_title) == ("13812345678", "0512-62345679", "Sales Director")
    _clean(page)


def test_a_possible_duplicate_offers_the_match_and_create_anyway(browser, site, database):
    """可能重复 in the sidebar: the colleague's customer is shown (tappable), and 仍然创建 takes one
    of the playbook's reasons in one more tap; the manager's review is raised."""
    base, data = site
    page = phone_page(browser, base)
    _login(page, base, "rep2", "/app/sidebar?external_userid=wmDUP1&name=" + quote("周工"))
    form = page.locator("form[data-create-customer]")
    form.locator("input[name=name]").fill("苏州精工")
    form.get_by_role("button", name="新建并关联").click()
    sheet = page.locator("#dup-sheet")
    sheet.wait_for()
    match = sheet.locator("a.cell", has_text="苏州精工机械有限公司")
    assert "负责人：李明" in match.inner_text()
    assert match.get_attribute("href") == f"/app/customers/{data.c_rep1}"
    shot(page, "sidebar-possible-duplicate")
    with page.expect_navigation():
        sheet.get_by_role("button", name="同名不同公司").click()
    page.wait_for_selector("html[data-ready='1']")
    assert "苏州精工" in page.inner_text(".customer-head")
    with database.transaction() as s:
        link = s.query(ChatLink).filter_by(external_id="wmDUP1").one()
        assert link.customer_id != data.c_rep1
        review = s.query(Task).filter_by(kind="duplicate_review").one()
        assert review.customer_id == data.c_rep1
    _clean(page)


def test_pages_work_under_their_content_security_policy(browser, site):
    """Issue 15's headers: every page a rep or manager opens runs with the CSP on and violates it
    nowhere (no inline script, no foreign host, no eval in our script)."""
    base, data = site
    page = phone_page(browser, base)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    for who, path in [("rep1", "/app/"), ("rep1", f"/app/customers/{data.c_rep1}"),
                      ("rep1", "/app/sidebar?external_userid=wmCSP"), ("manager", "/app/dashboard")]:
        _login(page, base, who, path)
        response = page.goto(f"{base}{path}")
        assert "frame-ancestors" in response.headers["content-security-policy"]
        page.wait_for_selector("html[data-ready='1']")
    assert violations == [] and page.js_errors == []
    _clean(page)
