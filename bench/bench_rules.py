"""Benchmark of the rule scans on a large PostgreSQL store.

    /work/venv/bin/python bench/bench_rules.py [--scale 1.0] [--reuse] [--catch-up-hours 24]
        [--database-url postgresql+psycopg://…/crmbot_bench] [--tiny]

Creates (or reuses with --reuse) the database crmbot_bench (or the one --database-url names; it is
created on that server if missing, and its public schema is dropped and rebuilt), migrates it and
loads, at --scale 1.0,
1,000,000 customers, 5,000,000 follow-ups, 200,000 leads, 100,000 opportunities and 100,000 open
tasks, generated inside PostgreSQL (INSERT … SELECT generate_series: nothing streams through
Python). Then, as a worker would:

1. catch-up cycle: every rule once with no cursors and a horizon of --catch-up-hours (a scheduler
   that was down that long; creates that many hours' worth of tasks and cards);
2. steady cycle: every rule once a minute later — what the scheduler runs every minute;
3. repeat: the same minute again (idempotent: creates nothing).

It prints the seconds per rule and per cycle, the tasks created, the peak memory of this process
(ru_maxrss, and tracemalloc's peak of Python allocations during the cycles), and the EXPLAIN of
every distinct SELECT the rules ran in the steady cycle, flagging any sequential scan of a large
table.

`--tiny` (scale 0.0001: 100 customers, 500 follow-ups, …) runs in seconds; tests/bench runs it so the
bench cannot rot. PostgreSQL only: the load uses generate_series and the EXPLAIN check is PostgreSQL's.
"""
from __future__ import annotations

import argparse
import re
import resource
import sys
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.playbook import load_playbook  # noqa: E402
from config.settings import DEFAULT_PLAYBOOK, load_settings  # noqa: E402
from crmbot.runtime import Runtime  # noqa: E402
from jobs.rules import RULES, run_all  # noqa: E402
from jobs.runtime import set_runtime  # noqa: E402
from storage.db import Database  # noqa: E402

BIG_TABLES = ("customer", "follow_up", "lead", "task", "opportunity", "outbox_message", "stage_change")
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/crmbot_bench"
TINY_SCALE = 0.0001
T0 = datetime(2026, 3, 4, 2, 30, tzinfo=timezone.utc)  # 10:30 in Shanghai: outside quiet hours


class NoQueue:
    """Deliveries are not part of the scan: the outbox rows wait for the sweep."""

    def enqueue(self, *args, **kwargs) -> None:
        pass


def create_database(url: str) -> str:
    """Create the database `url` names on its server if it does not exist yet."""
    target = make_url(url)
    if not target.drivername.startswith("postgresql"):
        raise SystemExit(f"bench_rules needs PostgreSQL (generate_series, EXPLAIN); got {target.drivername}")
    admin = Database(target.set(database="postgres").render_as_string(hide_password=False))
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not conn.execute(text("select 1 from pg_database where datname = :n"), {"n": target.database}).scalar():
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    return url


def load(db: Database, url: str, scale: float) -> None:
    from storage.migrate import upgrade
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(url)
    n_customers, n_followups = int(1_000_000 * scale), int(5_000_000 * scale)
    n_leads, n_opps, n_tasks = int(200_000 * scale), int(100_000 * scale), int(100_000 * scale)
    t0 = T0.isoformat()
    steps = [
        ("org, teams, people", f"""
         INSERT INTO org (id, name, created_at) VALUES (1, '基准测试公司', '{t0}');
         INSERT INTO team (id, org_id, parent_id, name, kind) VALUES (1, 1, NULL, '华东大区', 'region');
         INSERT INTO team (id, org_id, parent_id, name, kind)
           SELECT g, 1, 1, CASE g WHEN 2 THEN '华东一组' WHEN 3 THEN '大客户组' ELSE '销售' || g || '组' END, 'group'
           FROM generate_series(2, 21) g;
         INSERT INTO user_account (id, org_id, team_id, name, role, reports_to_id, wecom_userid, active, created_at, start_date)
           VALUES (1, 1, 1, '总监', 'director', NULL, 'd1', true, '{t0}', '2024-01-01');
         INSERT INTO user_account (id, org_id, team_id, name, role, reports_to_id, wecom_userid, active, created_at, start_date)
           SELECT g, 1, g, '经理' || g, 'manager', 1, 'm' || g, true, '{t0}', '2024-01-01' FROM generate_series(2, 21) g;
         INSERT INTO user_account (id, org_id, team_id, name, role, reports_to_id, wecom_userid, active, created_at, start_date)
           SELECT g, 1, 2 + (g % 20), '销售' || g, 'rep', 2 + (g % 20), 'r' || g, true, '{t0}', '2024-01-01'
           FROM generate_series(100, 299) g;
         SELECT setval('user_account_id_seq', 1000); SELECT setval('team_id_seq', 100); SELECT setval('org_id_seq', 10);"""),
        (f"{n_customers:,} customers", f"""
         INSERT INTO customer (id, org_id, kind, name, normalized_name, name_initials, name_key, name_pinyin,
                               pinyin_keys, identifier, mobile, status,
                               owner_id, industry, last_interaction_at, last_interaction_summary, next_followup_at,
                               created_at, updated_at)
         SELECT i, 1, 'person', '客户' || i, '客户' || i, 'kh', '客户' || i, 'kehu' || i, '|kh|kehu|',
                'mobile:' || (13000000000 + i), (13000000000 + i)::text,
                CASE i % 20 WHEN 0 THEN 'lost' WHEN 1 THEN 'incomplete' ELSE 'active' END,
                100 + (i % 200), '制造业',
                '{t0}'::timestamptz - ((i::bigint * 7919) % (400 * 86400)) * interval '1 second', '已报价',
                CASE WHEN i % 10 < 3 THEN '{t0}'::timestamptz + (((i::bigint * 104729) % (60 * 86400)) - 10 * 86400) * interval '1 second' END,
                '{t0}'::timestamptz - interval '500 days', '{t0}'
         FROM generate_series(1, {n_customers}) i;
         SELECT setval('customer_id_seq', {n_customers} + 1);"""),
        (f"{n_followups:,} follow-ups", f"""
         INSERT INTO follow_up (org_id, customer_id, author_id, channel, tags, occurred_at)
         SELECT 1, 1 + (j % {n_customers}), 100 + (j % 200), 'chat',
                CASE WHEN j % 3 = 0 THEN '[]'::json ELSE '["quoted"]'::json END,
                '{t0}'::timestamptz - ((j::bigint * 15485863) % (400 * 86400)) * interval '1 second'
         FROM generate_series(1, {n_followups}) j;"""),
        (f"{n_leads:,} leads", f"""
         INSERT INTO lead (org_id, source, external_ref, attribution, name, status, assignee_id, team_id,
                           assignment_count, assigned_at, claimed_at, contacted_at, customer_id, created_at)
         SELECT 1, '官网表单', 'form-' || k, '{{}}'::json, '线索' || k,
                CASE WHEN k % 1000 = 0 THEN 'new' WHEN k % 100 = 0 THEN 'contacted' WHEN k % 100 < 3 THEN 'assigned' WHEN k % 100 < 6 THEN 'claimed'
                     ELSE 'contacted' END,
                CASE WHEN k % 1000 = 0 THEN NULL ELSE 100 + (k % 200) END,
                CASE WHEN k % 1000 = 0 THEN NULL ELSE 2 END,
                CASE WHEN k % 1000 = 0 THEN 0 ELSE 1 END,
                CASE WHEN k % 1000 = 0 THEN NULL ELSE c + interval '1 minute' END,
                CASE WHEN k % 100 >= 3 OR (k % 100 = 0 AND k % 1000 <> 0) THEN c + interval '5 minutes' END,
                CASE WHEN k % 100 >= 6 OR (k % 100 = 0 AND k % 1000 <> 0) THEN c + interval '3 hours' END,
                CASE WHEN k % 100 >= 3 OR (k % 100 = 0 AND k % 1000 <> 0) THEN 1 + (k % {n_customers}) END, c
         FROM (SELECT k, '{t0}'::timestamptz - ((k::bigint * 48611) % (400 * 86400)) * interval '1 second' AS c
               FROM generate_series(1, {n_leads}) k) s;"""),
        (f"{n_opps:,} opportunities", f"""
         INSERT INTO opportunity (org_id, customer_id, owner_id, name, stage, stage_entered_at, checklist, won_steps,
                                  status, created_at)
         SELECT 1, 1 + (o % {n_customers}), 100 + (o % 200), '商机' || o,
                (ARRAY['initial','needs','proposal','negotiation','won'])[1 + o % 5],
                '{t0}'::timestamptz - ((o::bigint * 7727) % (100 * 86400)) * interval '1 second', '{{}}'::json, '[]'::json,
                CASE WHEN o % 5 = 4 THEN 'won' ELSE 'open' END, '{t0}'::timestamptz - interval '120 days'
         FROM generate_series(1, {n_opps}) o;"""),
        (f"{n_tasks:,} open tasks", f"""
         INSERT INTO task (org_id, kind, subject_type, subject_id, customer_id, assignee_id, title, due_at, status,
                           escalation_level, dedupe_key, created_at)
         SELECT 1, 'followup_due', 'customer', 1 + (t % {n_customers}), 1 + (t % {n_customers}), 100 + (t % 200),
                '跟进', '{t0}'::timestamptz - ((t::bigint * 6007) % (30 * 86400)) * interval '1 second', 'open',
                0, 'bench:' || t, '{t0}'::timestamptz - interval '31 days'
         FROM generate_series(1, {n_tasks}) t;"""),
        ("analyze", "ANALYZE;"),
    ]
    for label, sql in steps:
        started = time.perf_counter()
        with db.engine.begin() as conn:
            for statement in [s for s in sql.split(";") if s.strip()]:
                conn.execute(text(statement))
        print(f"  loaded {label:<24} {time.perf_counter() - started:7.1f} s", flush=True)


class SelectLog:
    """Every distinct SELECT the rules send, with one set of its parameters, for EXPLAIN."""

    def __init__(self, engine):
        self.seen: dict[str, tuple] = {}
        self.engine = engine
        self.on = False
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        if self.on and statement.lstrip().upper().startswith("SELECT") and "FROM" in statement.upper():
            shape = re.sub(r"\s+", " ", statement)
            if shape not in self.seen:
                self.seen[shape] = (statement, parameters)

    def explain(self) -> list[tuple[str, str, list[str]]]:
        rows = []
        self.on = False
        with self.engine.connect() as conn:
            for shape, (statement, parameters) in self.seen.items():
                plan = [r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters)]
                seq = [t for t in BIG_TABLES if re.search(rf"Seq Scan on {t}\b", "\n".join(plan))]
                rows.append((shape, "SEQ SCAN on " + ",".join(seq) if seq else "index", plan))
        return rows


def cycle(rt: Runtime, now: datetime, horizon: timedelta | None) -> tuple[dict, dict, float]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    created = run_all(rt, now, timings, horizon=horizon)
    return created, timings, time.perf_counter() - started


def report(title: str, created: dict, timings: dict, total: float) -> None:
    print(f"\n{title}: {total:.2f} s, {sum(created.values())} tasks/escalations")
    for rule in RULES:
        print(f"  {rule.name:<16} {timings[rule.name] * 1000:9.1f} ms  {created[rule.name]:>7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--tiny", action="store_true", help=f"--scale {TINY_SCALE}: seconds, for the test that "
                        "keeps this bench runnable")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a PostgreSQL database this bench may wipe")
    parser.add_argument("--reuse", action="store_true", help="keep the loaded data (only reset tasks made by the bench)")
    parser.add_argument("--catch-up-hours", type=float, default=24.0)
    args = parser.parse_args()
    if args.tiny:
        args.scale = TINY_SCALE

    url = create_database(args.database_url)
    db = Database(url)
    if not args.reuse:
        print(f"loading {make_url(url).database} at scale {args.scale}", flush=True)
        load(db, url, args.scale)
    else:
        with db.engine.begin() as conn:  # forget what an earlier bench run created
            for sql in ("DELETE FROM card_record", "DELETE FROM outbox_message", "DELETE FROM rule_cursor",
                        "DELETE FROM audit_log", "DELETE FROM task WHERE dedupe_key NOT LIKE 'bench:%'",
                        "UPDATE task SET escalation_level = 0, escalated_at = NULL WHERE dedupe_key LIKE 'bench:%'",
                        "UPDATE lead SET status = 'new', assignee_id = NULL, assigned_at = NULL, assignment_count = 0 "
                        "WHERE external_ref LIKE 'form-%' AND (substring(external_ref from 6)::int % 1000) = 0",
                        "ANALYZE"):
                conn.execute(text(sql))
    with db.engine.connect() as conn:
        sizes = {t: conn.execute(text(f'select count(*) from "{t}"')).scalar() for t in
                 ("customer", "follow_up", "lead", "opportunity", "task")}
    print("rows:", ", ".join(f"{t} {n:,}" for t, n in sizes.items()))

    settings = load_settings(crmbot_database_url=url)
    rt = Runtime(settings=settings, playbook=load_playbook(DEFAULT_PLAYBOOK), db=db, redis=None, queue=NoQueue())
    set_runtime(rt)
    selects = SelectLog(db.engine)

    tracemalloc.start()
    horizon = timedelta(hours=args.catch_up_hours)
    report(f"catch-up cycle ({args.catch_up_hours:g} h of history, no cursors)", *cycle(rt, T0, horizon))
    tracemalloc.reset_peak()
    selects.on = True
    steady = cycle(rt, T0 + timedelta(minutes=1), None)
    report("steady cycle (one minute later)", *steady)
    report("repeat of the same minute", *cycle(rt, T0 + timedelta(minutes=1), None))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"\npeak Python allocations in the steady cycles (tracemalloc): {peak / 1e6:.1f} MB")
    print(f"peak RSS of this worker process (ru_maxrss, whole run): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

    plans = selects.explain()
    bad = [p for p in plans if p[1] != "index"]
    print(f"\nEXPLAIN of {len(plans)} distinct SELECTs in the steady cycle: {len(bad)} with a sequential scan "
          f"of a large table")
    if args.scale < 0.1:
        print("(at this scale the tables are tiny and the planner rightly prefers sequential scans: "
              "judge the plans at --scale 1.0)")
    for shape, verdict, plan in plans:
        print(f"\n-- [{verdict}] {shape[:300]}")
        for line in plan[:8]:
            print("   " + line)
    db.dispose()


if __name__ == "__main__":
    main()
