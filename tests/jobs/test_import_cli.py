"""`crmbot import` as a real process: exit 0 with refused rows reported, the dry run writes nothing,
and a run SIGKILLed halfway then started again ends with every row once."""
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from config.settings import DEFAULT_PLAYBOOK
from storage.models import Customer, ImportRow
from tests.factories import build_world
from tests.storage.import_files import write_csv

ROOT = Path(__file__).resolve().parents[2]

# the customer writer SIGKILLs its own process inside the third batch, after the insert and before
# the commit: what an OOM kill or a deploy looks like from the database's side
KILLED_IMPORT = """
import os, signal
from storage import imports
write = imports._WRITERS["customers"]
calls = {"n": 0}
def killing_write(session, actor, rows, options):
    calls["n"] += 1
    created = write(session, actor, rows, options)
    if calls["n"] == int(os.environ["KILL_IN_BATCH"]):
        session.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return created
imports._WRITERS["customers"] = killing_write
from crmbot.cli import main
main()
"""


def _import(database, tmp_path, *args, kill_in_batch=None):
    playbook = tmp_path / "playbook.toml"
    playbook.write_text(DEFAULT_PLAYBOOK.read_text(encoding="utf-8").replace(
        "batch_rows = 1000", "batch_rows = 10"), encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRMBOT_")}
    environ.update(CRMBOT_DATABASE_URL=database.url, CRMBOT_PLAYBOOK=str(playbook))
    program = ["-m", "crmbot.cli"]
    if kill_in_batch is not None:
        environ["KILL_IN_BATCH"] = str(kill_in_batch)
        program = ["-c", KILLED_IMPORT]
    return subprocess.run([sys.executable, *program, "import", *args], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=120)


def _counts(database):
    with database.transaction() as s:
        return (s.scalar(select(func.count()).select_from(Customer)),
                s.scalar(select(func.count()).select_from(ImportRow)),
                s.scalar(select(func.count(func.distinct(Customer.name))).select_from(Customer)))


def _sheet(tmp_path, n):
    path = tmp_path / "customers.csv"
    rows = [["客户名称", "手机", "负责人"]]
    rows += [[f"测试客户{i:03d}有限公司", f"139{i:08d}", "李明"] for i in range(n)]
    rows += [["坏号码公司", "1.38123E+10", "李明"]]
    write_csv(path, rows, "gbk")
    return path


def test_dry_run_then_a_killed_import_restarted_ends_with_every_row_once(database, tmp_path):
    with database.transaction() as s:
        build_world(s)
    path = _sheet(tmp_path, 45)

    dry = _import(database, tmp_path, str(path), "--as", "director", "--org", "wwcorp001", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr[-2000:]
    summary = json.loads(dry.stdout.strip().splitlines()[-1])
    assert (summary["counts"]["new"], summary["counts"]["invalid"]) == (45, 1)
    assert _counts(database) == (0, 0, 0)

    killed = _import(database, tmp_path, str(path), "--as", "director", "--org", "wwcorp001",
                     kill_in_batch=3)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert _counts(database) == (20, 20, 20)  # two committed batches of ten; the third rolled back

    again = _import(database, tmp_path, str(path), "--as", "director", "--org", "wwcorp001", "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    assert summary["counts"]["imported_before"] == 20 and summary["counts"]["imported"] == 25
    assert _counts(database) == (45, 45, 45)

    third = _import(database, tmp_path, str(path), "--as", "director", "--org", "wwcorp001", "--json")
    assert json.loads(third.stdout.strip().splitlines()[-1])["counts"]["imported"] == 0
    assert _counts(database) == (45, 45, 45)


def test_unknown_importer_and_rep_are_refused(database, tmp_path):
    with database.transaction() as s:
        build_world(s)
    path = _sheet(tmp_path, 1)
    nobody = _import(database, tmp_path, str(path), "--as", "nobody", "--dry-run")
    assert nobody.returncode != 0 and "找不到导入人" in nobody.stderr
    rep = _import(database, tmp_path, str(path), "--as", "rep2", "--org", "wwcorp001", "--dry-run")
    assert rep.returncode != 0 and "只有经理" in rep.stderr
