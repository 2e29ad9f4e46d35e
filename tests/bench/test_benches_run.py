"""Every script under bench/ runs at a tiny scale and prints its figures, so no bench can rot.

Each bench runs as a subprocess, the way a person runs it, with the arguments in `TINY` below. The
database is the test one: with CRMBOT_TEST_DATABASE_URL set (CI), database benches get a sibling
database `<test database>_bench` on that server, made fresh for this module and dropped after it (a
bench may wipe its database; the test database stays the tests'); without it they use SQLite where
they support it and skip, saying why, where they need PostgreSQL. With CRMBOT_TEST_REDIS_URL set,
benches that need Redis use it.

A new `bench/bench_*.py` needs an entry in `TINY`: its tiny-scale arguments and the figures it must
print. This test says so when one is missing.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / "bench"
SCRIPTS = sorted(BENCH_DIR.glob("bench_*.py"))
PG_URL = os.environ.get("CRMBOT_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("CRMBOT_TEST_REDIS_URL")
TIMEOUT_S = 300  # a tiny run takes seconds; this only stops a hung bench
NUMBER = r"[\d.,]+"


@dataclass(frozen=True)
class Backends:
    postgresql_url: str | None   # a PostgreSQL database the bench may wipe, or None without PostgreSQL
    redis_url: str | None        # the test Redis, or None (a bench may start its own redis-server)
    tmp: Path


# ---------------------------------------------------------------- what a bench may need (None = present)
def needs_postgresql(b: Backends) -> str | None:
    return None if b.postgresql_url else "needs PostgreSQL: set CRMBOT_TEST_DATABASE_URL"


def needs_redis(b: Backends) -> str | None:
    if b.redis_url or shutil.which("redis-server"):
        return None
    return "needs Redis: set CRMBOT_TEST_REDIS_URL or install redis-server"


def needs_chromium(b: Backends) -> str | None:
    from tests.e2e.browser import chromium_missing_reason
    missing = chromium_missing_reason()
    if missing and os.environ.get("CRMBOT_REQUIRE_BROWSER") == "1":  # CI: a missing browser is a failure
        pytest.fail(f"CRMBOT_REQUIRE_BROWSER=1 but {missing}")
    return missing


def needs_cjk_font(b: Backends) -> str | None:
    cardgen = sys.modules.get("ocr_cardgen")  # tests/ocr_asr loads it by path under this name
    if cardgen is None:
        spec = importlib.util.spec_from_file_location("ocr_cardgen", ROOT / "tests" / "ocr_asr" / "cardgen.py")
        cardgen = importlib.util.module_from_spec(spec)
        sys.modules["ocr_cardgen"] = cardgen  # dataclasses look their module up while it executes
        spec.loader.exec_module(cardgen)
    return None if cardgen.find_font("sans") else f"needs a CJK font: apt-get install -y {cardgen.FONT_PACKAGE}"


@dataclass(frozen=True)
class Tiny:
    args: Callable[[Backends], list[str]]  # tiny-scale command-line arguments
    figures: tuple[str, ...]               # regular expressions the output must contain
    needs: tuple[Callable[[Backends], str | None], ...] = ()
    marks: tuple = ()


TINY: dict[str, Tiny] = {
    "bench_callback.py": Tiny(
        args=lambda b: ["--requests", "10", "--warmup", "2", "--rounds", "1", "--concurrency", "1",
                        "--workers", "1", "--threads", "1"]
        + (["--database-url", b.postgresql_url] if b.postgresql_url else [])
        + (["--redis-url", b.redis_url] if b.redis_url else []),
        figures=(rf"bare flask\+wechatpy\s+1\s+10\s+0\s+{NUMBER}\s+{NUMBER}\s+\d+",
                 rf"crmbot serve\s+1\s+10\s+0\s+{NUMBER}\s+{NUMBER}\s+\d+",
                 r"inbox rows written by crmbot: (\d+) \(expected \1:"),
        needs=(needs_redis,)),
    "bench_charts.py": Tiny(
        args=lambda b: ["--runs", "1"],
        figures=(rf"loss_reasons \(\d+ bars\)\s+{NUMBER}\s+{NUMBER}\s+[\d,]+", r"image cap: [\d,]+ bytes"),
        needs=(needs_cjk_font,)),
    "bench_dedupe.py": Tiny(  # 2,000 customers on SQLite, 60 queries, and the labelled pairs
        args=lambda b: ["--tiny"],
        figures=(r"labelled pairs: \d+ .*precision [\d.]+, recall [\d.]+",
                 rf"find_duplicates over \d+ candidates .*p99 {NUMBER} ms")),
    "bench_reply.py": Tiny(  # a few messages per phase through serve + 2 workers + the fake WeCom
        args=lambda b: ["--tiny"] + (["--database-url", b.postgresql_url] if b.postgresql_url else []),
        figures=(rf"lone `查 华东机电` ×\d+: p50 {NUMBER} ms, p99 {NUMBER} ms .*missing 0, twice 0",
                 rf"burst .*p99 {NUMBER} ms.*missing 0, twice 0",
                 rf"capacity: \d+ messages in {NUMBER} s = {NUMBER} msg/s .*missing 0, twice 0"),
        needs=(needs_redis,)),
    "bench_import.py": Tiny(  # 2,000 rows on SQLite in a temp folder, five crmbot import processes
        args=lambda b: ["--tiny"],
        figures=(rf"dry run, 1/5 file\s+{NUMBER} s wall\s+{NUMBER} s CPU\s+peak RSS\s+\d+ MB",
                 rf"import\s+{NUMBER} s wall .*'imported': \d+",
                 r"import again .*'imported_before': \d+, 'skipped': 1}",   # a rerun writes nothing
                 r"rows/s import: [\d,]+")),
    "bench_pages.py": Tiny(
        args=lambda b: ["--runs", "1"],
        figures=(rf"sidebar\s+loopback\s+cold\s+\d+\s+{NUMBER} KB", rf"dashboard\s+weak 4G\s+warm\s+\d+\s+{NUMBER} KB"),
        needs=(needs_chromium,), marks=(pytest.mark.e2e,)),
    "bench_parse_note.py": Tiny(
        args=lambda b: ["--rounds", "1", "--book-size", "50"],
        figures=(r"development\s+\d+ notes: dates [\d.]+%", r"held-out 3\s+\d+ notes",
                 rf"throughput\s+{NUMBER} notes/s \({NUMBER} ms/note", rf"throughput\s+{NUMBER} notes/s with \d+ customers")),
    "bench_rules.py": Tiny(
        args=lambda b: ["--tiny", "--database-url", b.postgresql_url],
        figures=(r"rows: customer 100, follow_up 500",
                 rf"catch-up cycle .*: {NUMBER} s, \d+ tasks",
                 rf"steady cycle \(one minute later\): {NUMBER} s",
                 rf"repeat of the same minute: {NUMBER} s, 0 tasks",   # idempotent
                 r"peak RSS .*: \d+ MB", r"EXPLAIN of \d+ distinct SELECTs"),
        needs=(needs_postgresql,)),
    "bench_scan_card.py": Tiny(
        args=lambda b: ["--cards", "1", "--sets", "clean"],
        figures=(r"model load: \d+ ms", r"\[overall\] fields right \d+/8 = [\d.]+%\s+median \d+ ms"),
        needs=(needs_cjk_font,), marks=(pytest.mark.slow,)),
    "bench_transcribe.py": Tiny(  # the shortest voice fixture, once
        args=lambda b: ["--repeat", "1", str(ROOT / "tests" / "ocr_asr" / "fixtures" / "audio" / "note_huadong.amr")],
        figures=(r"engine \w+: loaded in [\d.]+ s", rf"overall: {NUMBER} s audio in {NUMBER} s, RTF {NUMBER}",
                 r"mean CER over 1 fixtures"),
        marks=(pytest.mark.slow,)),
}


def test_bench_scripts_are_found_and_each_has_a_tiny_run():
    assert SCRIPTS, f"no bench/bench_*.py found under {BENCH_DIR}"
    names = {p.name for p in SCRIPTS}
    missing = sorted(names - TINY.keys())
    assert not missing, (f"{missing}: add an entry to TINY in {Path(__file__).name} with the tiny-scale "
                         "arguments (seconds) and the figures the script must print")
    stale = sorted(TINY.keys() - names)
    assert not stale, f"{stale}: in TINY but no such script in {BENCH_DIR}; remove the entry"


@pytest.fixture(scope="module")
def backends(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    if not PG_URL:
        yield Backends(postgresql_url=None, redis_url=REDIS_URL, tmp=tmp)
        return
    url = make_url(PG_URL)
    name = f"{url.database}_bench"  # benches may drop its schema: never the test database itself
    _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    yield Backends(postgresql_url=url.set(database=name).render_as_string(hide_password=False),
                   redis_url=REDIS_URL, tmp=tmp)
    _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(url, *statements: str) -> None:
    from storage.db import Database
    admin = Database(url.set(database="postgres").render_as_string(hide_password=False))
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for statement in statements:
            conn.execute(text(statement))
    admin.dispose()


def _params():
    for script in SCRIPTS:
        tiny = TINY.get(script.name)
        yield pytest.param(script, id=script.stem, marks=tiny.marks if tiny else ())


@pytest.mark.parametrize("script", list(_params()))
def test_bench_runs_at_tiny_scale_and_prints_its_figures(script: Path, backends: Backends):
    tiny = TINY.get(script.name)
    if tiny is None:
        pytest.fail(f"{script.name} has no entry in TINY ({Path(__file__).name}): add its tiny-scale arguments "
                    "and the figures it prints")
    for need in tiny.needs:
        reason = need(backends)
        if reason:
            pytest.skip(f"{script.name} {reason}")
    command = [sys.executable, str(script), *tiny.args(backends)]
    run = subprocess.run(command, cwd=backends.tmp, capture_output=True, text=True, timeout=TIMEOUT_S,
                         env=_bench_env())
    output = run.stdout
    where = f"\n$ {' '.join(command)}\n--- stdout\n{output[-4000:]}\n--- stderr\n{run.stderr[-4000:]}"
    assert run.returncode == 0, f"{script.name} exited {run.returncode}{where}"
    for figure in tiny.figures:
        assert re.search(figure, output), f"{script.name} did not print /{figure}/{where}"


def _bench_env() -> dict[str, str]:
    """The caller's environment minus the test-backend variables (each bench gets its backends as
    arguments) and with no stray CRMBOT_DATABASE_URL/REDIS_URL pointing a bench at another store."""
    drop = ("CRMBOT_DATABASE_URL", "CRMBOT_REDIS_URL", "CRMBOT_TEST_DATABASE_URL", "CRMBOT_TEST_REDIS_URL")
    return {k: v for k, v in os.environ.items() if k not in drop}
