"""`crmbot rules run` as a person types it: a table by default, JSON with --json, a clear error
for a bad --now."""
import json
from datetime import timedelta

from click.testing import CliRunner

from crmbot.cli import main
from jobs.rules import RULES
from storage import customers
from storage.customers import CustomerInput
from tests.factories import NOW
from tests.jobs.helpers import local


def _env(database):
    return {"CRMBOT_DATABASE_URL": database.url, "CRMBOT_REDIS_URL": ""}


def test_rules_run_prints_each_rule_and_is_idempotent(rt, database, world, playbook):
    with database.transaction() as s:
        c = customers.create_customer(s, s.merge(world.rep1), CustomerInput(
            kind="person", name="刘女士", mobile="13700001111"), playbook, now=NOW)
        c.last_interaction_at = local(playbook, "2026-01-01 10:00")
    runner = CliRunner()
    first = runner.invoke(main, ["rules", "run", "--now", "2026-03-04T10:30:00", "--json"], env=_env(database))
    assert first.exit_code == 0, first.output
    result = json.loads(first.output.strip().splitlines()[-1])
    assert list(result) == [r.name for r in RULES] and result["silent_customer"] == 1

    table = runner.invoke(main, ["rules", "run", "--now", "2026-03-04T10:31:00+08:00"], env=_env(database))
    assert table.exit_code == 0, table.output
    lines = table.output.strip().splitlines()
    assert lines[-1].startswith("total")
    silent = next(line for line in lines if line.startswith("silent_customer"))
    assert silent.split()[1] == "0"


def test_rules_run_refuses_a_bad_time(rt, database):
    out = CliRunner().invoke(main, ["rules", "run", "--now", "昨天"], env=_env(database))
    assert out.exit_code != 0 and "ISO-8601" in out.output


def test_first_run_horizon_bounds_a_first_scan(rt, database, world, playbook):
    days = playbook.rules.silent_customer.days
    with database.transaction() as s:
        rep = s.merge(world.rep1)
        for i, extra_days in enumerate((1, 10)):  # silent for days+1 and days+10
            c = customers.create_customer(s, rep, CustomerInput(kind="person", name=f"客户{i}",
                                                                mobile=f"1370000111{i}"), playbook, now=NOW)
            c.last_interaction_at = local(playbook, "2026-03-04 10:30") - timedelta(days=days + extra_days)
    out = CliRunner().invoke(main, ["rules", "run", "--now", "2026-03-04T10:30:00", "--json",
                                    "--first-run-horizon-hours", "48"], env=_env(database))
    assert out.exit_code == 0, out.output
    assert json.loads(out.output.strip().splitlines()[-1])["silent_customer"] == 1
