"""Headless Chromium (Debian's) and a real mini-app server on loopback, shared by the browser
tests and bench/bench_pages.py. Never downloads a browser: `playwright install` is not used."""
from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CRMBOT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 375, "height": 812}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium_missing_reason() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


@contextmanager
def serve(app) -> Iterator[str]:
    """The app on 127.0.0.1 with a free port, in a thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
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


def phone_page(browser, base_url: str):
    """A phone-sized page that may only talk to our server: any other host is blocked and
    recorded in page.foreign_requests (the pages must work offline, no CDN); script
    exceptions are recorded in page.js_errors."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN", user_agent="Mozilla/5.0 (iPhone) crmbot-e2e")
    page = context.new_page()
    page.foreign_requests = []
    page.js_errors = []

    def route(route_):
        if route_.request.url.startswith(base_url):
            route_.continue_()
        else:
            page.foreign_requests.append(route_.request.url)
            route_.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    return page
