"""Benchmark of `crmbot import` on a large customer sheet.

    .venv/bin/python bench/bench_import.py [--rows 100000] [--database-url URL] [--tiny]

Builds an .xlsx of --rows customer rows (openpyxl write-only; a title row, a header on row 3, a mix of
credit codes, mobiles stored as numbers, text dates, owners by name and by userid, 2% invalid and 1%
repeated rows), creates a fresh database (PostgreSQL by default: crmbot_bench_import, dropped and
created; --database-url for another), seeds the demo org (`crmbot seed-demo`), then runs, each as its
own `crmbot import` process:

1. a dry run and an import of a file 1/5 the size (other customers; for the memory-flatness comparison),
2. the dry run of the full file,
3. the import of the full file,
4. the same import again (idempotent: imports nothing).

For each it prints wall seconds and the process's peak RSS (ru_maxrss of the child). Targets
(issue 12): import ≤ 120 s, dry run ≤ 60 s, peak RSS ≤ 300 MB and flat in file size.
--tiny runs 2,000 rows on SQLite in a temp folder (CI smoke).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage.validators import credit_code_check_char  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_DB = "crmbot_bench_import"
OWNERS = ["李明", "王芳", "张伟", "rep1", "rep2", "manager"]
GRADES = ["意向客户", "B级", "一般客户", "C级", None]
INDUSTRIES = ["机械", "制造", "商贸", "IT", "电子元件", None]


def build_sheet(path: Path, rows: int, seed: int = 7, prefix: str = "测试客户", offset: int = 0) -> None:
    """`prefix` and `offset` keep two files' customers apart (names, credit codes, mobiles)."""
    import openpyxl
    rnd = random.Random(seed)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("客户台账")
    ws.append(["客户名单（导出）"])
    ws.append([])
    ws.append(["客户名称", "统一社会信用代码", "联系人", "手机", "负责人", "客户状态", "行业", "创建日期", "地址"])
    for i in range(rows):
        if i and rnd.random() < 0.01:
            j = rnd.randrange(i)          # a repeated row: the file's own duplicate
        else:
            j = i
        j += offset
        body = f"913100{j:011d}"
        code = body + credit_code_check_char(body) if j % 3 else None
        mobile: object = 13000000000 + j * 7 if j % 2 else f"1{(3, 5, 8)[j % 3]}{j % 1000000000:09d}"
        if rnd.random() < 0.02:
            mobile = "1.38123E+10"        # invalid: lossy scientific notation
        date = f"2023/{1 + j % 12}/{1 + j % 28}" if j % 2 else 44927 + j % 700
        ws.append([f"{prefix}{j:06d}机电设备有限公司 ", code, f"联系人{j % 997}", mobile, OWNERS[j % len(OWNERS)],
                   GRADES[j % len(GRADES)], INDUSTRIES[j % len(INDUSTRIES)], date, f"上海市浦东新区测试路{j}号"])
    ws.append(["合计"])
    wb.save(path)


def run_cli(env: dict, *args: str) -> tuple[float, float, float, dict | None]:
    """One `crmbot` child: wall seconds, its CPU seconds (user + system), its own peak RSS in MB
    (os.wait4 gives that child's rusage, not the max over all children), the JSON summary. CPU
    seconds say what the run costs when other work shares the two cores."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "crmbot.cli", *args], cwd=ROOT, env=env,
                                stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"crmbot {' '.join(args)} failed:\n{stderr[-3000:]}")
    summary = None
    lines = stdout.strip().splitlines()
    if lines and lines[-1].startswith("{"):
        summary = json.loads(lines[-1])
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, summary


def fresh_database(url: str | None, tiny: bool, folder: Path) -> str:
    if tiny and not url:
        return f"sqlite:///{folder / 'bench.db'}"
    if url:
        return url
    from sqlalchemy import create_engine, text
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {BENCH_DB}"))
    admin.dispose()
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DB}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--tiny", action="store_true", help="2,000 rows on SQLite (CI)")
    args = ap.parse_args()
    rows = 2_000 if args.tiny else args.rows
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        small, full = folder / "small.xlsx", folder / "full.xlsx"
        t0 = time.perf_counter()
        build_sheet(small, rows // 5, seed=3, prefix="小表客户", offset=5_000_000)
        build_sheet(full, rows)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
        print(f"sheets built in {time.perf_counter() - t0:.1f} s: {rows:,} rows, "
              f"{full.stat().st_size / 1e6:.1f} MB (.xlsx); {rows // 5:,} rows, {small.stat().st_size / 1e6:.1f} MB", flush=True)
        url = fresh_database(args.database_url, args.tiny, folder)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRMBOT_")}
        env.update(CRMBOT_DATABASE_URL=url)
        subprocess.run([sys.executable, "-m", "crmbot.cli", "seed-demo"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        common = ["--as", "director", "--json"]
        results = []
        for label, path, extra in (("dry run, 1/5 file", small, ["--dry-run"]), ("import, 1/5 file", small, []),
                                   ("dry run", full, ["--dry-run"]), ("import", full, []),
                                   ("import again", full, [])):
            elapsed, cpu, rss, summary = run_cli(env, "import", str(path), *common, *extra)
            counts = {k: v for k, v in (summary or {}).get("counts", {}).items() if v}
            results.append((label, elapsed, rss, counts))
            print(f"{label:18} {elapsed:7.1f} s wall  {cpu:7.1f} s CPU  peak RSS {rss:6.0f} MB  {counts}",
                  flush=True)
        print(f"\ndatabase: {url.split('@')[-1]}; rows/s import: {rows / results[3][1]:,.0f}; "
              f"targets: import ≤ 120 s, dry run ≤ 60 s, RSS ≤ 300 MB and flat")


if __name__ == "__main__":
    main()
