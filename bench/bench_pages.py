"""How heavy and how fast the mini-app's two busiest pages are, in Debian's headless Chromium
at 375×812 against a real server on 127.0.0.1.

For the sidebar (a rep, a linked chat) and the dashboard (a manager): bytes transferred
(Resource Timing transferSize of the page and everything it loads), domInteractive from
Navigation Timing, and the page's own ready marker (performance.mark("crmbot-ready"), set when
its script has wired every button). Each page is measured cold (empty cache) and warm (cached
CSS/JS), on plain loopback and under an emulated weak 4G link (Chrome DevTools throttling).

    /work/venv/bin/python bench/bench_pages.py [--runs 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import fakeredis  # noqa: E402

from config.playbook import load_playbook  # noqa: E402
from config.settings import DEFAULT_PLAYBOOK  # noqa: E402
from storage import links  # noqa: E402
from storage.db import Database  # noqa: E402
from tests.e2e.browser import chromium, chromium_missing_reason, phone_page, serve  # noqa: E402
from tests.factories import NOW  # noqa: E402
from tests.miniapp.helpers import make_app, seed  # noqa: E402

# "weak 4G": 150 ms round trip, 1.6 Mbit/s down, 750 kbit/s up (DevTools' "Fast 3G"-like profile)
WEAK_4G = {"offline": False, "latency": 150, "downloadThroughput": 1_600_000 / 8,
           "uploadThroughput": 750_000 / 8}

MEASURE = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const ready = performance.getEntriesByName('crmbot-ready')[0];
  return {bytes: nav.transferSize + res.reduce((s, r) => s + r.transferSize, 0),
          body: nav.decodedBodySize + res.reduce((s, r) => s + r.decodedBodySize, 0),
          requests: 1 + res.length, names: res.map(r => r.name.split('/').pop()), interactive: nav.domInteractive,
          ready: ready ? ready.startTime : null};
}"""


def measure(browser, base: str, who: str, path: str, runs: int, network: dict | None) -> dict:
    cold, warm = [], []
    for _ in range(runs):
        page = phone_page(browser, base, guard=False)
        page.goto(f"{base}/app/dev-login?user={who}&corp=wwcorp001")
        if network:
            cdp = page.context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.clearBrowserCache")
            cdp.send("Network.emulateNetworkConditions", network)
        else:
            page.context.new_cdp_session(page).send("Network.clearBrowserCache")
        for bucket in (cold, warm):
            page.goto(base + path)
            page.wait_for_selector("html[data-ready='1']")
            bucket.append(page.evaluate(MEASURE))
        assert not page.foreign_requests and not page.js_errors
        page.context.close()
    return {"cold": _median(cold), "warm": _median(warm)}


def _median(samples: list[dict]) -> dict:
    return {key: statistics.median(s[key] for s in samples) for key in samples[0] if key != "names"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    missing = chromium_missing_reason()
    if missing:
        print(f"cannot run: {missing}", file=sys.stderr)
        return 2
    playbook = load_playbook(DEFAULT_PLAYBOOK)
    with tempfile.TemporaryDirectory() as tmp:
        database = Database(f"sqlite:///{tmp}/bench.db")
        app = make_app(database, playbook, fakeredis.FakeRedis())
        data = seed(database, playbook)
        with database.transaction() as s:
            links.link_chat(s, s.merge(data.world.rep1), "wecom", "wmBENCH", data.c_rep1, now=NOW)
        pages = [("sidebar", "rep1", "/app/sidebar?external_userid=wmBENCH"),
                 ("dashboard", "manager", "/app/dashboard")]
        with serve(app) as base, chromium() as browser:
            print(f"{'page':<10} {'network':<9} {'cache':<5} {'requests':>8} {'transferred':>12} "
                  f"{'decoded':>9} {'domInteractive':>15} {'ready':>9}")
            for name, who, path in pages:
                for label, network in (("loopback", None), ("weak 4G", WEAK_4G)):
                    result = measure(browser, base, who, path, args.runs, network)
                    for cache in ("cold", "warm"):
                        r = result[cache]
                        print(f"{name:<10} {label:<9} {cache:<5} {r['requests']:>8.0f} "
                              f"{r['bytes'] / 1024:>9.1f} KB {r['body'] / 1024:>6.1f} KB "
                              f"{r['interactive']:>12.0f} ms {r['ready']:>6.0f} ms")
        database.dispose()
    print(f"(median of {args.runs} runs; weak 4G = {WEAK_4G['latency']} ms RTT, "
          f"{WEAK_4G['downloadThroughput'] * 8 / 1e6:.1f} Mbit/s down)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
