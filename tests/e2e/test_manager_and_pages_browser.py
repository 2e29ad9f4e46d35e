"""The manager's home and dashboard, the error pages and the 20-character note rule, in headless
Chromium at 375×812."""
from __future__ import annotations

from sqlalchemy import update

from storage.models import Task
from tests.e2e.browser import phone_page
from tests.e2e.browser import shot
from tests.e2e.test_miniapp_browser import _clean, _login, site  # noqa: F401  (fixture)


def test_manager_home_shows_escalations_as_a_to_do_list(browser, site, database):  # noqa: F811
    base, data = site
    with database.transaction() as s:
        s.execute(update(Task).where(Task.id == data.task_rep2).values(escalation_level=1))
    page = phone_page(browser, base)
    _login(page, base, "manager", "/app/")
    row = page.locator("#escalations .cell", has_text="回访王建国")
    assert "王芳 · 已升级给经理" in row.inner_text()
    shot(page, "manager-home")
    row.get_by_role("button", name="已处理").click()
    page.locator("#toast", has_text="已完成").wait_for()
    assert page.locator("#escalations .cell", has_text="回访王建国").count() == 0
    _clean(page)


def test_dashboard_tiles_are_coloured_and_every_row_opens(browser, site):  # noqa: F811
    base, _data = site
    page = phone_page(browser, base)
    _login(page, base, "manager", "/app/dashboard")
    red = "rgb(250, 81, 81)"
    activation = page.locator("[data-metric=activation] .value")
    assert activation.inner_text() == "0%"
    assert activation.evaluate("e => getComputedStyle(e).color") == red          # not green at 0%
    overdue = page.locator("[data-metric=overdue_tasks] .value")
    assert overdue.evaluate("e => getComputedStyle(e).color") != "rgb(6, 173, 86)"
    assert "3个客户中2个已填信用代码或手机号" in page.inner_text("[data-metric=completeness]")
    shot(page, "dashboard")
    with page.expect_navigation():
        page.locator("[data-metric=new_leads]").click()
    assert page.locator("#drill .cell").count() >= 1 and page.locator("#drill div.cell").count() == 0
    shot(page, "dashboard-drill")
    with page.expect_navigation():
        page.locator("#drill .cell").first.click()
    page.wait_for_selector("html[data-ready='1']")
    assert "郑先生" in page.inner_text("main")
    _clean(page)


def test_pending_badge_stays_on_one_line(browser, site):  # noqa: F811
    base, data = site
    page = phone_page(browser, base)
    _login(page, base, "rep1", "/app/")
    tag = page.locator("#customers .tag.warn", has_text="待补全").first
    # the worst case, a long name that leaves the badge almost no room at the end of the line
    tag.evaluate("e => { e.parentElement.style.width = '24px'; }")
    box = tag.bounding_box()
    line = float(tag.evaluate("e => parseFloat(getComputedStyle(e).lineHeight) || 18"))
    assert box["height"] <= line * 1.5, "待补全 must not wrap"
    shot(page, "home")
    _clean(page)


def test_error_page_is_chinese_and_fits_a_phone(browser, site):  # noqa: F811
    base, _data = site
    page = phone_page(browser, base)
    _login(page, base, "rep1", "/app/")
    response = page.goto(f"{base}/app/no-such-page")
    assert response.status == 404
    assert page.inner_text("h1") == "页面不存在" and "返回首页" in page.inner_text("main")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert "favicon.svg" in page.evaluate("document.querySelector('link[rel=icon]').href")
    shot(page, "error-404")
    _clean(page)


def test_a_long_note_is_not_cut_and_the_rule_is_shown(browser, site, database, playbook):  # noqa: F811
    from storage.models import FollowUp
    base, data = site
    page = phone_page(browser, base)
    _login(page, base, "rep1", f"/app/customers/{data.c_rep1}")
    form = page.locator("form[data-followup]")
    long_note = "客户对方案整体满意但是希望交付周期再缩短两周并给书面承诺"
    form.locator("input[name=note]").fill(long_note)
    assert form.locator("input[name=note]").input_value() == long_note          # nothing cut
    assert form.locator("[data-note-rule]").is_visible()
    shot(page, "followup-long-note")
    with page.expect_navigation():
        form.get_by_role("button", name="保存跟进").click()
    with database.transaction() as s:
        latest = s.query(FollowUp).filter_by(customer_id=data.c_rep1).order_by(FollowUp.id.desc()).first()
        assert (latest.note, latest.transcript) == (None, long_note)
    _clean(page)
