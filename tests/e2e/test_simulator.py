"""The IM simulator in headless Chromium at phone size: rep1 sends 查 华东机电 on WeCom, taps the
card's first tag, and sees the same card change. Needs Debian's /usr/bin/chromium (never
`playwright install`); skipped without it unless CRMBOT_REQUIRE_BROWSER=1."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.demo_process import running_demo

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.e2e

if not CHROMIUM.exists():
    if os.environ.get("CRMBOT_REQUIRE_BROWSER") == "1":
        raise RuntimeError("CRMBOT_REQUIRE_BROWSER=1 but /usr/bin/chromium is missing (apt-get install chromium)")
    pytest.skip("/usr/bin/chromium is missing (apt-get install chromium); set CRMBOT_REQUIRE_BROWSER=1 to fail",
                allow_module_level=True)


@pytest.fixture
def demo(tmp_path):
    with running_demo(tmp_path) as base:
        yield base


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 375, "height": 812}, locale="zh-CN",
                                      device_scale_factor=2, is_mobile=True, has_touch=True)
        page = context.new_page()
        page.set_default_timeout(20_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


def test_rep_looks_up_a_customer_and_taps_a_tag(demo, page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(f"{demo}/dev/simulator")
    page.wait_for_selector("#user option[value=rep1]", state="attached")
    page.select_option("#user", "rep1")
    page.click(".tab[data-platform=wecom]")
    assert page.locator(".tab.active").inner_text() == "企业微信"

    page.fill("#text", "查 华东机电")
    page.click("#send")
    # the demo's scheduler may have pushed reminder cards too: take the lookup's answer
    card = page.locator(".msg.bot .card").filter(
        has=page.locator(".title", has_text="上海华东机电设备有限公司（")).last
    card.wait_for()
    assert card.locator(".title").inner_text().startswith("上海华东机电设备有限公司")
    first_tag = card.locator(".buttons button").first
    assert first_tag.inner_text() == "已报价"
    # nothing overflows the phone's width
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=str(ARTIFACTS / "simulator-card.png"), full_page=True)

    first_tag.click()
    card.locator(".updated").wait_for()
    updated = card
    assert "已记跟进：已报价" in updated.locator(".desc").inner_text()
    assert updated.locator(".buttons button").count() == 0   # the tags are gone: no second tap
    assert page.locator(".msg.me").last.inner_text() == "点击了「已报价」"
    page.screenshot(path=str(ARTIFACTS / "simulator-card-updated.png"), full_page=True)


def test_dingtalk_card_updates_in_place_in_the_browser(demo, page):
    page.goto(f"{demo}/dev/simulator")
    page.wait_for_selector("#user option[value=rep1]", state="attached")
    page.click(".tab[data-platform=dingtalk]")
    page.select_option("#user", "rep1")
    page.click(".chip:has-text('查 华东机电')")
    # the demo's scheduler may have pushed reminder cards too: take the lookup's answer
    card = page.locator(".msg.bot .card").filter(
        has=page.locator(".title", has_text="上海华东机电设备有限公司（")).last
    card.wait_for()
    assert "华东机电" in card.locator(".title").inner_text()
    card.locator(".buttons button").first.click()
    # the demo's DingTalk app has an interactive card template: the same card says what was done,
    # and no internal key is ever shown to the rep
    page.locator(".msg.bot .card", has_text="已记跟进：已报价").wait_for()
    assert page.locator(".msg.me").last.inner_text().startswith("点击了「已报价」")
    assert "#操作" not in page.content() and "tag:quoted" not in page.locator("#messages").inner_text()
    page.screenshot(path=str(ARTIFACTS / "simulator-dingtalk.png"), full_page=True)
