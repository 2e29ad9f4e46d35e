"""How long does a rep wait for crmbot's answer? End to end: a signed, encrypted WeCom callback
into `crmbot serve` (gunicorn) → inbox → `crmbot worker` ×2 → outbox → delivery → a local fake
WeCom, which stamps the time the reply arrives.

Phases (each message is `查 华东机电` from the demo's rep1; the reply is the customer's card):
  1. lone:     one message at a time, the next after the reply → reply latency p50 / p99
  2. burst:    10 messages/s for 10 s (on a fixed schedule, not waiting for replies) → every reply
               arrives, none twice, latency p50 / p99
  3. capacity: N messages sent as fast as 16 client threads can → messages/s from the first
               callback to the last reply

A reply is matched to its message through the store (the card's task_id is the outbox row's
card_id; the row's dedupe key names the inbox row, whose event_id is the callback's MsgId), so
reordering and duplicates are seen, not assumed away.

Processes: a private redis-server (no persistence), `crmbot serve --workers 2 --threads 4`,
`crmbot worker` ×2, the fake WeCom in this process (a thread). The database is --database-url
(PostgreSQL for real figures; it is migrated and the demo org seeded, idempotently) or a temp
SQLite file. The load generator shares the machine with everything else.

    /work/venv/bin/python bench/bench_reply.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/crmbot_bench
    /work/venv/bin/python bench/bench_reply.py --tiny      # seconds: CI's "does it still run" check
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, text  # noqa: E402

from bot.wecom import fake as wc_fake  # noqa: E402
from bench.processes import free_port, start_redis, stop  # noqa: E402
from bot.wecom.adapter import CallbackKeys  # noqa: E402
from crmbot.demo_data import DEMO_WECOM_CORP_ID  # noqa: E402

KEYS = dict(WECOM_CORP_ID=DEMO_WECOM_CORP_ID, WECOM_AGENT_ID="1000002", WECOM_SECRET="bench-secret",
            WECOM_TOKEN="benchtoken", WECOM_ENCODING_AES_KEY="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
QUERY = "查 华东机电"
TARGETS = {"lone_p50_ms": 50, "burst_p99_ms": 250, "capacity_msgs_s": 30}


# ------------------------------------------------------------------ processes


def crmbot(env: dict, *args: str, log: Path | None = None) -> subprocess.Popen:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115  (closed with the process)
    return subprocess.Popen([sys.executable, "-m", "crmbot.cli", *args], env=env, cwd=REPO,
                            stdout=out, stderr=subprocess.STDOUT)


def wait(predicate, timeout: float, what: str, procs: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        for proc in procs:
            if proc.poll() is not None:
                raise SystemExit(f"{' '.join(proc.args[-3:])} exited ({proc.returncode}) waiting for {what}")
        time.sleep(0.005)
    raise SystemExit(f"timed out after {timeout} s waiting for {what}")


# ------------------------------------------------------------------ the rep and the fake WeCom

class Rep:
    """Sends callbacks as rep1 and reads what the fake WeCom received."""

    def __init__(self, base_url: str, fake_state, db_url: str):
        self.base_url, self.fake = base_url, fake_state
        self.keys = CallbackKeys(token=KEYS["WECOM_TOKEN"], encoding_aes_key=KEYS["WECOM_ENCODING_AES_KEY"],
                                 corp_id=KEYS["WECOM_CORP_ID"])
        self.engine = create_engine(db_url)
        self.sent_at: dict[str, float] = {}
        self.next_msgid = int(time.time() * 1000)
        self.lock = threading.Lock()
        self.session = requests.Session()

    def send(self) -> str:
        with self.lock:
            self.next_msgid += 1
            msgid = str(self.next_msgid)
        params, body = wc_fake.build_callback(self.keys, wc_fake.text_xml(KEYS["WECOM_CORP_ID"], "rep1", QUERY,
                                                                          msg_id=msgid))
        self.sent_at[msgid] = time.time()
        r = requests.post(f"{self.base_url}/wecom/callback", params=params, data=body, timeout=30)
        if r.status_code != 200:
            raise SystemExit(f"callback answered {r.status_code}: {r.text[:200]}")
        return msgid

    def received(self) -> int:
        return len(self.fake.sent_to("/message/send"))

    def replies(self) -> dict[str, list[float]]:
        """MsgId → arrival times of its replies at the fake WeCom."""
        arrivals: dict[str, list[float]] = {}
        task_times = [(m["body"].get("template_card", {}).get("task_id"), m["time"])
                      for m in self.fake.sent_to("/message/send")]
        with self.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT o.card_id, i.event_id FROM outbox_message o JOIN inbox_event i "
                "ON o.dedupe_key LIKE 'reply:' || i.id || ':%' WHERE o.card_id IS NOT NULL")).all()
        msgid_of = {card_id: event_id for card_id, event_id in rows}
        for task_id, at in task_times:
            msgid = msgid_of.get(task_id)
            if msgid is not None:
                arrivals.setdefault(msgid, []).append(at)
        return arrivals

    def latencies_ms(self, msgids: list[str]) -> tuple[list[float], int, int]:
        """(latency of each reply, replies missing, replies beyond the first)"""
        arrivals = self.replies()
        got = [1000 * (min(arrivals[m]) - self.sent_at[m]) for m in msgids if m in arrivals]
        missing = sum(1 for m in msgids if m not in arrivals)
        extra = sum(len(arrivals[m]) - 1 for m in msgids if m in arrivals)
        return got, missing, extra


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


# ------------------------------------------------------------------ phases

def lone(rep: Rep, n: int, procs) -> dict:
    msgids = []
    for _ in range(n):
        before = rep.received()
        msgids.append(rep.send())
        wait(lambda: rep.received() > before, 30, "a lone reply", procs)
    lat, missing, extra = rep.latencies_ms(msgids)
    return {"n": n, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "missing": missing, "twice": extra}


def burst(rep: Rep, rate: float, seconds: float, procs, settle_s: float = 60) -> dict:
    n = int(rate * seconds)
    start = time.monotonic() + 0.2
    msgids: list[str] = []
    before = rep.received()

    def at(i: int) -> str:
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        return rep.send()

    with ThreadPoolExecutor(max(4, int(rate))) as pool:
        msgids = list(pool.map(at, range(n)))
    try:
        wait(lambda: rep.received() - before >= n, settle_s, f"{n} burst replies", procs)
    except SystemExit as exc:
        print(f"  burst: {exc}")
    lat, missing, extra = rep.latencies_ms(msgids)
    return {"n": n, "rate": rate, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "max_ms": max(lat, default=0),
            "missing": missing, "twice": extra}


def capacity(rep: Rep, n: int, procs, concurrency: int = 16) -> dict:
    before = rep.received()
    t0 = time.time()
    with ThreadPoolExecutor(concurrency) as pool:
        msgids = list(pool.map(lambda _: rep.send(), range(n)))
    accepted = time.time()
    wait(lambda: rep.received() - before >= n, 300, f"{n} capacity replies", procs)
    arrivals = rep.replies()
    last = max(min(arrivals[m]) for m in msgids if m in arrivals)
    missing = sum(1 for m in msgids if m not in arrivals)
    return {"n": n, "msgs_s": n / (last - t0), "accept_s": accepted - t0, "end_to_end_s": last - t0,
            "missing": missing, "twice": sum(len(arrivals[m]) - 1 for m in msgids if m in arrivals)}


# ------------------------------------------------------------------ main

def _status_kb(pid: int, field: str) -> int:
    """A memory figure of a process from /proc (Linux), in kB; 0 where unavailable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=None, help="PostgreSQL for real figures (default: temp SQLite)")
    ap.add_argument("--workers", type=int, default=2, help="crmbot worker processes")
    ap.add_argument("--lone", type=int, default=100, help="messages in the lone phase")
    ap.add_argument("--burst-rate", type=float, default=10)
    ap.add_argument("--burst-seconds", type=float, default=10)
    ap.add_argument("--capacity", type=int, default=600, help="messages in the capacity phase")
    ap.add_argument("--tiny", action="store_true", help="a few messages per phase (CI: the bench still runs)")
    ap.add_argument("--keep-logs", action="store_true", help="print where the process logs are and keep them")
    args = ap.parse_args()
    if args.tiny:
        args.lone, args.burst_rate, args.burst_seconds, args.capacity = 5, 5, 1, 10

    tmp = Path(tempfile.mkdtemp(prefix="bench-reply-"))
    db_url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    procs: list[subprocess.Popen] = []
    wecom_url, state, stop_wecom = wc_fake.start_fake_wecom(wc_fake.FakeWeComState(
        corp_id=KEYS["WECOM_CORP_ID"], secret=KEYS["WECOM_SECRET"], agent_id=int(KEYS["WECOM_AGENT_ID"])))
    try:
        redis_proc, redis_url = start_redis(tmp)
        procs.append(redis_proc)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CRMBOT_", "WECOM_", "DINGTALK_"))}
        env.update(KEYS, PYTHONPATH=str(REPO), CRMBOT_DATABASE_URL=db_url, CRMBOT_REDIS_URL=redis_url,
                   CRMBOT_SECRET_KEY="bench", WECOM_API_BASE=wecom_url)
        for step in (("db", "upgrade"), ("seed-demo",)):
            subprocess.run([sys.executable, "-m", "crmbot.cli", *step], env=env, cwd=REPO, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port = free_port()
        server = crmbot(env, "serve", "--port", str(port), "--workers", "2", "--threads", "4", log=tmp / "serve.log")
        workers = [crmbot(env, "worker", log=tmp / f"worker{i}.log") for i in range(args.workers)]
        procs += [server, *workers]
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return requests.get(f"{base}/healthz", timeout=2).ok
            except requests.RequestException:
                return False
        import redis
        from rq import Worker
        conn = redis.Redis.from_url(redis_url)
        wait(up, 60, "crmbot serve", procs)
        wait(lambda: Worker.count(connection=conn) >= args.workers, 60, "the workers", procs)

        rep = Rep(base, state, db_url)
        lone(rep, 3, procs)  # warm-up: connection pools, token, first queries
        results = {"lone": lone(rep, args.lone, procs)}
        print(f"lone `{QUERY}` ×{args.lone}: p50 {results['lone']['p50_ms']:.1f} ms, "
              f"p99 {results['lone']['p99_ms']:.1f} ms (target p50 ≤ {TARGETS['lone_p50_ms']} ms); "
              f"missing {results['lone']['missing']}, twice {results['lone']['twice']}")
        b = results["burst"] = burst(rep, args.burst_rate, args.burst_seconds, procs)
        print(f"burst {b['rate']:g} msg/s × {args.burst_seconds:g} s = {b['n']}: p50 {b['p50_ms']:.1f} ms, "
              f"p99 {b['p99_ms']:.1f} ms, max {b['max_ms']:.1f} ms (target p99 ≤ {TARGETS['burst_p99_ms']} ms); "
              f"missing {b['missing']}, twice {b['twice']}")
        c = results["capacity"] = capacity(rep, args.capacity, procs)
        print(f"capacity: {c['n']} messages in {c['end_to_end_s']:.1f} s = {c['msgs_s']:.1f} msg/s end to end "
              f"(callbacks accepted in {c['accept_s']:.1f} s; target ≥ {TARGETS['capacity_msgs_s']}); "
              f"missing {c['missing']}, twice {c['twice']}")
        print(f"load average after the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
              f"database: {db_url.split('://')[0]}")
        print("worker memory: " + ", ".join(f"peak {_status_kb(w.pid, 'VmHWM') / 1024:.0f} MB / now "
                                            f"{_status_kb(w.pid, 'VmRSS') / 1024:.0f} MB" for w in workers))
        lost = sum(results[p]["missing"] + results[p]["twice"] for p in results)
        if lost:
            raise SystemExit(f"{lost} replies missing or delivered twice")
    finally:
        for proc in reversed(procs):
            stop(proc)
        stop_wecom()
        if args.keep_logs:
            print(f"logs in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
