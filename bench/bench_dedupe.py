"""Benchmark of the duplicate check (`storage.dedupe.find_duplicates`) on a large store.

    /work/venv/bin/python bench/bench_dedupe.py                     # 1,000,000 customers, PostgreSQL
    /work/venv/bin/python bench/bench_dedupe.py --reuse             # keep the loaded crmbot_bench_dedupe
    /work/venv/bin/python bench/bench_dedupe.py --tiny              # 2,000 customers on SQLite (CI)

Loads one org with N generated companies (city + brand + trade + legal form, the shapes of
tests/storage/make_dedupe_pairs.py, plus one contact with a mobile each) with PostgreSQL's COPY,
then adds the left-hand names of the labelled pairs (tests/storage/dedupe_pairs.jsonl). It then:

1. precision / recall end to end: for every labelled pair, `find_duplicates(b)` among all N
   customers; the pair is predicted a duplicate when a's customer is returned;
2. latency: `find_duplicates` for --queries candidates (a third variants of existing names, a
   third new names, a third a known mobile plus a name), each inside an open transaction as a
   write path runs it (the call is timed, not BEGIN/COMMIT), after a warm-up; prints p50 / p95 /
   p99 / max in ms and the load average (the machine may be shared);
3. the EXPLAIN ANALYZE of the name pre-filter, to show the indexes are used.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.playbook import load_playbook  # noqa: E402
from config.settings import DEFAULT_PLAYBOOK  # noqa: E402
from storage import places  # noqa: E402
from storage.customers import initials  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.dedupe import Candidate, find_duplicates, name_keys, parse_company  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Contact, Customer, Org, User  # noqa: E402
from storage.validators import normalize_name  # noqa: E402
from tests.storage.make_dedupe_pairs import HOMOPHONES  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PAIRS = Path(__file__).resolve().parents[1] / "tests" / "storage" / "dedupe_pairs.jsonl"
T0 = datetime(2026, 3, 4, 2, 30, tzinfo=timezone.utc)
BRAND_CHARS = ("华东南北中新恒泰鑫盛隆兴达通宏远博瑞丰源金银昌明德信诚安康嘉永长海江河山川天宇星辰"
               "凯旋鸿运腾飞卓越精工联创汇智聚力恒生万和祥云瑞祥同仁正大鼎立九州东方亚太环球"
               "星火光明红旗春秋晨曦碧水青松翠柏紫金白云蓝天绿洲阳光未来时代世纪宏图伟业科润")
TRADES = ("机电设备", "贸易", "电子科技", "信息技术", "建筑工程", "物流", "化工", "医药", "食品", "纺织",
          "服装", "五金制品", "汽车零部件", "新材料", "环保科技", "软件", "网络科技", "教育咨询",
          "文化传媒", "广告", "餐饮管理", "物业管理", "房地产开发", "投资管理", "电力工程", "新能源",
          "光电", "精密机械", "模具", "包装", "印刷", "家具", "陶瓷", "建材", "钢结构", "水务",
          "生物科技", "医疗器械", "仪器仪表", "自动化设备", "智能科技", "数据科技", "供应链管理",
          "进出口", "实业", "农业发展", "茶业", "酒业", "旅游开发", "人力资源", "会展服务", "装饰工程")
LEGAL = ("有限公司", "股份有限公司", "有限责任公司", "集团有限公司")
CITIES = places.CITIES


def random_company(rnd: random.Random) -> str:
    brand = "".join(rnd.choice(BRAND_CHARS) for _ in range(rnd.choice((2, 2, 2, 3))))
    city = rnd.choice(CITIES) if rnd.random() < 0.9 else ""
    return f"{city}{brand}{rnd.choice(TRADES)}{rnd.choice(LEGAL)}"


def create_database(name: str) -> str:
    admin = Database(ADMIN_URL)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not conn.execute(text("select 1 from pg_database where datname = :n"), {"n": name}).scalar():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def customer_row(cid: int, org_id: int, owner_id: int, name: str) -> dict:
    key, city, pinyin = name_keys("company", name)
    return dict(id=cid, org_id=org_id, kind="company", name=name, normalized_name=normalize_name(name),
                name_initials=initials(name), name_key=key, name_city=city, name_pinyin=pinyin,
                status="incomplete", owner_id=owner_id, created_at=T0, updated_at=T0)


def load(db: Database, n: int, pair_names: list[str], seed: int = 7) -> tuple[int, dict[str, int], list]:
    """Returns the org id, the customer id of each pair's left-hand name, and (name, mobile) samples."""
    rnd = random.Random(seed)
    with db.transaction() as s:
        org = Org(name="基准测试公司")
        s.add(org)
        s.flush()
        owners = []
        for i in range(20):
            user = User(org_id=org.id, name=f"销售{i:02d}", role="rep", wecom_userid=f"rep{i}")
            s.add(user)
            s.flush()
            owners.append(user.id)
        org_id = org.id
    names = [random_company(rnd) for _ in range(n)] + pair_names
    pair_ids = {name: n + 1 + i for i, name in enumerate(pair_names)}
    samples = []
    started = time.perf_counter()
    rows = (customer_row(i + 1, org_id, owners[i % len(owners)], name) for i, name in enumerate(names))
    contacts = []
    for i, name in enumerate(names):
        mobile = f"13{(i * 7919 + 10_000_000) % 1_000_000_000:09d}"
        contacts.append(dict(id=i + 1, org_id=org_id, customer_id=i + 1, name="联系人", mobile=mobile,
                             created_at=T0))
        if i < n and i % (max(n // 300, 1)) == 0:
            samples.append((name, mobile))
    if db.engine.dialect.name == "postgresql":
        _copy(db, "customer", list(customer_row(1, 0, 0, "x")), rows)
        _copy(db, "contact", ["id", "org_id", "customer_id", "name", "mobile", "created_at"], iter(contacts))
        with db.engine.begin() as conn:
            conn.execute(text("SELECT setval('customer_id_seq', (SELECT max(id) FROM customer))"))
            conn.execute(text("SELECT setval('contact_id_seq', (SELECT max(id) FROM contact))"))
            conn.execute(text("ANALYZE customer; ANALYZE contact"))
    else:
        with db.engine.begin() as conn:
            conn.execute(insert(Customer), list(rows))
            conn.execute(insert(Contact), contacts)
    print(f"loaded {len(names):,} customers and contacts in {time.perf_counter() - started:.1f} s")
    return org_id, pair_ids, samples


def _copy(db: Database, table: str, columns: list[str], rows) -> None:
    raw = db.engine.raw_connection()
    try:
        with raw.cursor() as cur:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
        raw.commit()
    finally:
        raw.close()


def variant(rnd: random.Random, name: str) -> str:
    key, city, _ = name_keys("company", name)
    choice = rnd.randrange(3)
    if choice == 0:
        return f"{city or ''}{key[:4]}"
    if choice == 1:
        return f"{key}（{city}）有限公司" if city else f"{key}集团"
    typo = next((key[:i] + HOMOPHONES[ch] + key[i + 1:] for i, ch in enumerate(key) if ch in HOMOPHONES), key)
    return f"{city or ''}{typo}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=600)
    parser.add_argument("--database-url", help="default: crmbot_bench_dedupe on the local PostgreSQL")
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded database")
    parser.add_argument("--tiny", action="store_true", help="2,000 customers on SQLite, 60 queries (CI)")
    args = parser.parse_args()
    playbook = load_playbook(DEFAULT_PLAYBOOK)
    pairs = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]
    pair_names = sorted({p["a"] for p in pairs})
    tmp = None
    if args.tiny:
        args.customers, args.queries = 2_000, 60
        if not args.database_url:
            tmp = tempfile.TemporaryDirectory()
            args.database_url = f"sqlite:///{tmp.name}/bench.db"
    url = args.database_url or create_database("crmbot_bench_dedupe")
    db = Database(url)
    loaded = False
    if args.reuse:
        with db.engine.connect() as conn:
            try:
                loaded = conn.execute(text("select count(*) from customer")).scalar() >= args.customers
            except Exception:  # noqa: BLE001 - no schema yet
                loaded = False
    if not loaded:
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(url)
        org_id, pair_ids, samples = load(db, args.customers, pair_names)
    else:
        with db.transaction() as s:
            org_id = s.scalar(select(Org.id).where(Org.name == "基准测试公司"))
            rows = s.execute(select(Customer.name, Customer.id).where(Customer.id > args.customers)).all()
            pair_ids = {name: cid for name, cid in rows}
            step = max(args.customers // 300, 1)
            samples = [(n, m) for n, m in s.execute(
                select(Customer.name, Contact.mobile).join(Contact, Contact.customer_id == Customer.id)
                .where(Customer.id <= args.customers, Customer.id % step == 1))]
        print("reusing the loaded database")
    print(f"store: {db.engine.dialect.name}, {args.customers + len(pair_names):,} customers")

    # 1. precision / recall through the real query
    tp = fp = fn = tn = 0
    for pair in pairs:
        with db.transaction() as s:
            found = {m.customer_id for m in find_duplicates(s, org_id, Candidate(name=pair["b"]),
                                                             playbook=playbook, limit=10)}
        predicted = pair_ids[pair["a"]] in found
        tp += predicted and pair["dup"]
        fp += predicted and not pair["dup"]
        fn += (not predicted) and pair["dup"]
        tn += (not predicted) and not pair["dup"]
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    print(f"labelled pairs: {len(pairs)} ({tp + fn} duplicates); precision {precision:.3f}, "
          f"recall {recall:.3f} (tp {tp}, fp {fp}, fn {fn}, tn {tn}) at name_threshold "
          f"{playbook.dedupe.name_threshold}")

    # 2. latency
    rnd = random.Random(3)
    candidates = []
    for i in range(args.queries + 50):
        name, mobile = rnd.choice(samples)
        kind = i % 3
        if kind == 0:
            candidates.append(Candidate(name=variant(rnd, name)))
        elif kind == 1:
            candidates.append(Candidate(name=random_company(rnd), contact_name="王伟"))
        else:
            candidates.append(Candidate(name=random_company(rnd), mobile=mobile))
    timings, cpu, hits = [], [], 0
    for i, candidate in enumerate(candidates):
        with db.transaction() as s:
            s.execute(text("SELECT 1"))  # the write path's transaction is already open when it checks
            started, started_cpu = time.perf_counter(), time.process_time()
            found = find_duplicates(s, org_id, candidate, playbook=playbook)
            elapsed = (time.perf_counter() - started) * 1000
            elapsed_cpu = (time.process_time() - started_cpu) * 1000
        if i >= 50:
            timings.append(elapsed)
            cpu.append(elapsed_cpu)
            hits += bool(found)
    timings.sort()
    cpu.sort()

    def pct(p: float) -> float:
        return timings[min(len(timings) - 1, int(round(p / 100 * (len(timings) - 1))))]

    print(f"load average (1 min) at the end of the timed run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"find_duplicates over {len(timings)} candidates ({hits} with a match): "
          f"p50 {pct(50):.1f} ms, p95 {pct(95):.1f} ms, p99 {pct(99):.1f} ms, max {timings[-1]:.1f} ms, "
          f"mean {statistics.mean(timings):.1f} ms")
    print(f"  of which this process's CPU (normalising, scoring, SQLAlchemy): p50 {cpu[len(cpu) // 2]:.1f} ms, "
          f"p99 {cpu[min(len(cpu) - 1, int(round(0.99 * (len(cpu) - 1))))]:.1f} ms")

    # 3. the plan of the name pre-filter
    if db.engine.dialect.name == "postgresql":
        wanted = parse_company("上海华东机电设备有限公司")
        with db.engine.begin() as conn:
            plan = conn.execute(text(
                "EXPLAIN ANALYZE SELECT id, name_key, name_city, name_pinyin FROM customer "
                "WHERE org_id = :o AND merged_into_id IS NULL AND kind = 'company' "
                "AND (name_key LIKE :head OR name_pinyin = :p) "
                "ORDER BY similarity(name_key, :k) DESC LIMIT 200"),
                {"o": org_id, "k": wanted.core, "head": wanted.core[:2] + "%", "p": wanted.pinyin}).scalars().all()
        print("\n".join(plan))
        uses_index = any("ix_customer_name_key_trgm" in line for line in plan)
        print("name pre-filter uses the trigram index:", uses_index)
    db.dispose()
    if tmp is not None:
        tmp.cleanup()
    ok = precision >= 0.95 and recall >= 0.95
    print("targets (recall >= 0.95 at precision >= 0.95):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
