"""How fast does crmbot answer a WeCom callback? (design: "aim for milliseconds"; WeCom gives 5 s)

Fires signed + encrypted WeCom text callbacks (unique MsgIds) at `crmbot serve` (gunicorn, gthread)
on loopback and, in the same run at the same concurrency, at a bare Flask + wechatpy endpoint served
by the same gunicorn settings that only verifies, decrypts and answers. Reports ack latency p50/p99
and requests/s for both and crmbot's throughput as a share of the bare endpoint's.

What crmbot does per request here is the full ack path of production: signature check, AES decrypt,
XML parse, INSERT into the inbox (one transaction, committed), enqueue of the processing job on rq.
The queue is rq on a private redis-server started by this script (no worker runs: the jobs wait in
Redis, so the measurement is the web tier alone). The database is a temp SQLite file in WAL mode
unless --database-url points at PostgreSQL (e.g. the CI test database; it gets migrated).

The load generator runs on the same machine (Python threads + requests) and takes CPU from the
servers; the numbers are what this box sustains with everything on it, not a server-only figure.

    /work/venv/bin/python bench/bench_callback.py [--requests 1200] [--concurrency 1,4,16] [--workers 2]
        [--database-url URL] [--redis-url URL]

A tiny run (tests/bench keeps it runnable): --requests 10 --warmup 2 --rounds 1 --concurrency 1.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.wecom import fake as wc_fake  # noqa: E402
from bench.processes import free_port, start_redis, stop  # noqa: E402
from bot.wecom.adapter import CallbackKeys  # noqa: E402

KEYS = dict(WECOM_CORP_ID="wwbench000000001", WECOM_AGENT_ID="1000002", WECOM_SECRET="bench-secret",
            WECOM_TOKEN="benchtoken", WECOM_ENCODING_AES_KEY="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
MAX_PHASE_S = 120  # a phase that takes longer is cut off (and says so)


# ------------------------------------------------------------------ the bare endpoint (gunicorn loads this)

def bare_app():
    """Flask + wechatpy: verify, decrypt, answer "" — the floor for any WeCom callback endpoint."""
    from flask import Flask, Response, request
    from wechatpy.enterprise.crypto import WeChatCrypto

    crypto = WeChatCrypto(os.environ["WECOM_TOKEN"], os.environ["WECOM_ENCODING_AES_KEY"],
                          os.environ["WECOM_CORP_ID"])
    app = Flask("bare")

    @app.post("/wecom/callback")
    def callback():
        a = request.args
        crypto.decrypt_message(request.get_data(), a["msg_signature"], a["timestamp"], a["nonce"])
        return Response("", status=200)

    return app


# ------------------------------------------------------------------ processes


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Wait for the server to answer; stop it if it never does (no stray servers after a failure)."""
    try:
        _wait(url, proc, timeout)
    except BaseException:
        stop(proc)
        raise


def _wait(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early ({proc.returncode}); command: {proc.args}")
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not come up in {timeout} s")


def server_env(database_url: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRMBOT_", "WECOM_", "DINGTALK_"))}
    env.update(KEYS, PYTHONPATH=str(REPO), CRMBOT_DATABASE_URL=database_url, CRMBOT_REDIS_URL=redis_url,
               CRMBOT_SECRET_KEY="bench", WECOM_API_BASE="http://127.0.0.1:9")
    return env


def start_crmbot(env: dict, workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    subprocess.run([sys.executable, "-m", "crmbot.cli", "db", "upgrade"], env=env, cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "crmbot.cli", "serve", "--port", str(port),
                             "--workers", str(workers), "--threads", str(threads)],
                            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_until_up(f"{base}/healthz", proc)
    return proc, base


def start_bare(env: dict, workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", str(workers),
                             "--threads", str(threads), "-k", "gthread", "bench.bench_callback:bare_app()"],
                            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_until_up(f"{base}/", proc)
    return proc, base


# ------------------------------------------------------------------ load

@dataclass
class Result:
    name: str
    concurrency: int
    sent: int
    ok: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    cut_off: bool

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))]


_msg_ids = iter(range(10**12, 10**13))
_msg_lock = threading.Lock()


def build_requests(n: int, keys: CallbackKeys) -> list[tuple[dict, bytes]]:
    """Encrypted, signed callbacks with unique MsgIds, built before the clock starts."""
    out = []
    for i in range(n):
        with _msg_lock:
            msg_id = next(_msg_ids)
        inner = wc_fake.text_xml(keys.corp_id, f"rep{i % 50}", "跟进 华东机电 #已报价 下周三再约", msg_id=msg_id)
        out.append(wc_fake.build_callback(keys, inner, agent_id=KEYS["WECOM_AGENT_ID"]))
    return out


def fire(name: str, base: str, calls: list[tuple[dict, bytes]], concurrency: int) -> Result:
    url = f"{base}/wecom/callback"
    local = threading.local()
    latencies: list[float] = []
    lock = threading.Lock()
    counts = {"ok": 0, "errors": 0, "sent": 0}
    deadline = time.monotonic() + MAX_PHASE_S

    def one(call: tuple[dict, bytes]) -> None:
        if time.monotonic() > deadline:
            return
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        params, body = call
        t0 = time.perf_counter()
        try:
            r = session.post(url, params=params, data=body, timeout=10)
            good = r.status_code == 200
        except requests.RequestException:
            good = False
        elapsed = (time.perf_counter() - t0) * 1000
        with lock:
            counts["sent"] += 1
            if good:
                counts["ok"] += 1
                latencies.append(elapsed)
            else:
                counts["errors"] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, calls))
    seconds = time.perf_counter() - started
    return Result(name, concurrency, counts["sent"], counts["ok"], counts["errors"], seconds, latencies,
                  cut_off=counts["sent"] < len(calls))


def merge(parts: list[Result]) -> Result:
    first = parts[0]
    return Result(first.name, first.concurrency, sum(p.sent for p in parts), sum(p.ok for p in parts),
                  sum(p.errors for p in parts), sum(p.seconds for p in parts),
                  [x for p in parts for x in p.latencies_ms], any(p.cut_off for p in parts))


def inbox_rows(database_url: str) -> int:
    from sqlalchemy import create_engine, text
    engine = create_engine(database_url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM inbox_event")).scalar_one()
    engine.dispose()
    return count


# ------------------------------------------------------------------ main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1200, help="measured requests per phase")
    parser.add_argument("--warmup", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per endpoint and level")
    parser.add_argument("--concurrency", default="1,4,16", help="comma-separated client concurrency levels")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers for both servers")
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker")
    parser.add_argument("--database-url", default=None, help="default: a temp SQLite file")
    parser.add_argument("--redis-url", default=None,
                        help="an existing Redis the rq jobs may be queued in (default: a private redis-server)")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="crmbot-bench-"))
    database_url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    procs: list[subprocess.Popen] = []
    if args.redis_url:
        redis_url = args.redis_url
    else:
        redis_proc, redis_url = start_redis(tmp)
        procs.append(redis_proc)
    env = server_env(database_url, redis_url)
    keys = CallbackKeys.from_settings(_Keys())
    results: list[Result] = []
    try:
        crmbot_proc, crmbot_base = start_crmbot(env, args.workers, args.threads)
        procs.append(crmbot_proc)
        bare_proc, bare_base = start_bare(env, args.workers, args.threads)
        procs.append(bare_proc)
        before = inbox_rows(database_url)
        expected_rows = 0
        targets = (("bare flask+wechatpy", bare_base), ("crmbot serve", crmbot_base))
        for level in levels:
            for name, base in targets:
                fire(name, base, build_requests(args.warmup, keys), level)  # warm-up, not reported
                expected_rows += args.warmup if name == "crmbot serve" else 0
            # Alternate the two endpoints in rounds: the machine is shared, and a load spike from
            # elsewhere then hits both sides instead of skewing one.
            chunks = {name: [] for name, _ in targets}
            for _ in range(args.rounds):
                for name, base in targets:
                    chunks[name].append(fire(name, base, build_requests(args.requests // args.rounds, keys), level))
            for name, _ in targets:
                result = merge(chunks[name])
                results.append(result)
                if name == "crmbot serve":
                    expected_rows += result.ok
        stored = inbox_rows(database_url) - before
    finally:
        for proc in reversed(procs):
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)

    db_kind = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite (WAL, temp file)"
    redis_kind = "the given Redis" if args.redis_url else "a private redis-server"
    print(f"WeCom callback ack latency — gunicorn gthread {args.workers} workers x {args.threads} threads, "
          f"{db_kind}, rq on {redis_kind} (no worker), {os.cpu_count()} CPUs shared with the client")
    print(f"{'endpoint':<22}{'conc':>5}{'ok':>7}{'err':>5}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}")
    for r in results:
        flag = "  (cut off at time limit)" if r.cut_off else ""
        print(f"{r.name:<22}{r.concurrency:>5}{r.ok:>7}{r.errors:>5}{r.pct(50):>9.1f}{r.pct(99):>9.1f}"
              f"{r.rps:>9.0f}{flag}")
    for level in levels:
        bare = next(r for r in results if r.concurrency == level and r.name.startswith("bare"))
        ours = next(r for r in results if r.concurrency == level and r.name == "crmbot serve")
        share = ours.rps / bare.rps * 100 if bare.rps else float("nan")
        print(f"concurrency {level}: crmbot throughput = {share:.0f}% of bare; crmbot p99 = {ours.pct(99):.1f} ms "
              f"(target < 50 ms: {'met' if ours.pct(99) < 50 else 'NOT met'}; "
              f"throughput target >= 70%: {'met' if share >= 70 else 'NOT met'})")
    print(f"inbox rows written by crmbot: {stored} (expected {expected_rows}: one per accepted callback)")


class _Keys:
    wecom_token = KEYS["WECOM_TOKEN"]
    wecom_encoding_aes_key = KEYS["WECOM_ENCODING_AES_KEY"]
    wecom_corp_id = KEYS["WECOM_CORP_ID"]
    wecom_agent_id = KEYS["WECOM_AGENT_ID"]


if __name__ == "__main__":
    main()
