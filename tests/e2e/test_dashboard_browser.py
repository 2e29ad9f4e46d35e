"""The manager dashboard's 该做什么 part in headless Chromium at 375×812: the charts load as images,
安排辅导 is one tap, and a report's link opens on the section it mentions. Screenshots go to
test-artifacts/; with CRMBOT_DOCS_SCREENSHOTS=1 they also refresh docs/screenshots/ (kept in
the repo, so an ordinary test run does not rewrite them)."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select

from storage import customers, followups, opportunities
from storage.customers import CustomerInput
from storage.followups import FollowUpInput
from storage.models import Task, User
from tests.e2e.browser import chromium, phone_page, require_browser, serve, shot
from tests.factories import NOW
from tests.miniapp.helpers import make_app, seed

pytestmark = pytest.mark.e2e

require_browser()



def _team_month(database, playbook, data) -> None:
    """A month of a small team: lost and won deals, a stuck one, a rep above target."""
    now = NOW  # the app's clock (tests.miniapp.helpers.make_app) starts there
    w = data.world
    with database.transaction() as s:
        rep1, rep2 = s.get(User, w.rep1.id), s.get(User, w.rep2.id)
        for i, (owner, reason) in enumerate([(rep1, "价格不合适"), (rep1, "价格不合适"), (rep2, "选择了竞品"),
                                             (rep1, "选择了竞品"), (rep2, "价格不合适"), (rep2, "需求取消")]):
            c = customers.create_customer(s, owner, CustomerInput(kind="person", name=f"客户{i}",
                                                                  mobile=f"1370000{i:04d}"), playbook, now=now)
            o = opportunities.create_opportunity(s, owner, c.id, f"设备采购{i}", playbook, amount=100000, now=now)
            opportunities.close_lost(s, owner, o.id, opportunities.LostInput(reason=reason), playbook, now=now)
        for i in range(3):  # rep2 wins three, rep1 none: conversion against the median
            c = customers.create_customer(s, rep2, CustomerInput(kind="person", name=f"赢单客户{i}",
                                                                 mobile=f"1380000{i:04d}"), playbook, now=now)
            o = opportunities.create_opportunity(s, rep2, c.id, f"产线改造{i}", playbook, amount=200000,
                                                 now=now - timedelta(days=30))
            o.stage = "negotiation"
            for item in playbook.stage("won").checklist:
                opportunities.set_checklist_item(s, rep2, o.id, "won", item, True, playbook)
            opportunities.close_won(s, rep2, o.id, opportunities.WonInput(), playbook, now=now)
        stuck = opportunities.get_opportunity(s, rep1, data.opp_rep1)
        stuck.stage_entered_at = now - timedelta(days=40)
        for i in range(playbook.targets.weekly_effective_followups + 3):
            followups.log_followup(s, rep2, FollowUpInput(customer_id=data.c_rep2, tags=["已报价"]), playbook,
                                   now=now - timedelta(hours=2 + i))


@pytest.fixture
def site(database, playbook, redis_conn):
    data = seed(database, playbook)
    _team_month(database, playbook, data)
    with serve(make_app(database, playbook, redis_conn)) as base, chromium() as browser:
        yield base, data, browser




def test_manager_dashboard_says_what_to_do(site, database):
    base, data, browser = site
    page = phone_page(browser, base)
    page.goto(f"{base}/app/dev-login?user=manager&corp=wwcorp001&next={quote('/app/dashboard?days=7', safe='')}")
    page.wait_for_selector("html[data-ready='1']")
    # the page's CSP forbids eval, so poll with evaluate (a function, not a string to eval)
    for _ in range(100):
        if page.evaluate("() => Array.from(document.images).every(i => i.complete)"):
            break
        page.wait_for_timeout(100)
    loaded = page.eval_on_selector_all("img.chart", "imgs => imgs.map(i => [i.alt, i.naturalWidth])")
    assert loaded and all(width == 768 for _, width in loaded), loaded
    assert "价格不合适" in page.inner_text("#losses")
    assert "设备采购" not in page.inner_text("#stuck") and "数控机床采购" in page.inner_text("#stuck")
    assert "王芳" in page.inner_text(".praise")
    shot(page, "dashboard-viewport", full_page=False)  # what the first screen shows
    shot(page, "dashboard-full")

    coach = page.locator("#coaching [data-under] button").first
    coach.click()
    page.locator("#coaching [data-under] button", has_text="已安排").first.wait_for()
    with database.transaction() as s:
        assert s.scalars(select(Task).where(Task.kind == "coaching")).all()
    assert page.js_errors == [] and page.foreign_requests == []

    page.goto(f"{base}/app/dashboard?days=7&focus=stuck")  # the weekly brief's link
    page.wait_for_selector("html[data-ready='1']")
    first = page.eval_on_selector("#todo > .group", "g => g.id")
    assert first == "stuck"
    shot(page, "dashboard-focus-stuck", full_page=False)
