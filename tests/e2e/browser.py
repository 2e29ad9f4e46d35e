"""Headless Chromium (Debian's) and a real mini-app server on loopback, shared by the browser
tests and bench/bench_pages.py. Never downloads a browser: `playwright install` is not used."""
from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import WSGIRequestHandler, make_server

CHROMIUM = os.environ.get("CRMBOT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 375, "height": 812}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


DOCS_SHOTS = ARTIFACTS.parent / "docs" / "screenshots"


def require_browser() -> None:
    """Call at the top of a browser test module: skip it when Chromium is missing, unless CI asks
    for the browser (CRMBOT_REQUIRE_BROWSER=1), where a missing browser is an error."""
    import pytest

    missing = chromium_missing_reason()
    if missing:
        if os.environ.get("CRMBOT_REQUIRE_BROWSER") == "1":
            raise RuntimeError(f"CRMBOT_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing, allow_module_level=True)


def shot(page, name: str, full_page: bool = True, docs: bool = True) -> Path:
    """test-artifacts/NAME.png (NAME may name a folder: walk/…); with CRMBOT_DOCS_SCREENSHOTS=1 also
    docs/screenshots/<file name> (the pictures the docs show are refreshed by running the browser
    tests that way). `docs=False`: a picture only for test-artifacts/."""
    path = ARTIFACTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    if docs and os.environ.get("CRMBOT_DOCS_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SHOTS / path.name)
    return path


def chromium_missing_reason() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # one line per request drowns the test output
        pass


@contextmanager
def serve(app) -> Iterator[str]:
    """The app on 127.0.0.1 with a free port, in a thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@contextmanager
def chromium() -> Iterator:
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def phone_page(browser, base_url: str, guard: bool = True,
               user_agent: str = "Mozilla/5.0 (iPhone) crmbot-e2e"):
    """A phone-sized page that may only talk to our server: any other host is blocked and
    recorded in page.foreign_requests (the pages must work offline, no CDN); script
    exceptions are recorded in page.js_errors. guard=False skips the request routing, which
    turns Chromium's HTTP cache off (the benchmark's warm loads need it); foreign requests are
    then only observed."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN", user_agent=user_agent)
    page = context.new_page()
    page.foreign_requests = []
    page.js_errors = []

    def route(route_):
        if route_.request.url.startswith(base_url):
            route_.continue_()
        else:
            page.foreign_requests.append(route_.request.url)
            route_.abort()

    if guard:
        page.route("**/*", route)
    else:
        page.on("request", lambda r: None if r.url.startswith(base_url) else page.foreign_requests.append(r.url))
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    return page


def link_from_search(page, query: str, customer: str) -> None:
    """On the sidebar / group page: search, tap 关联 beside `customer`, wait for the linked page."""
    page.fill("#link-search", query)
    result = page.locator("#link-results .cell", has_text=customer)
    result.wait_for()
    with page.expect_navigation():
        result.get_by_role("button", name="关联").click()
    page.wait_for_selector("html[data-ready='1']")
    assert customer in page.inner_text(".customer-head")
