"""Quiet hours and the per-hour limit: what falls due at night is held and delivered at the end
of quiet hours, merged into one digest per rep when several; beyond max_cards_per_hour, a digest."""
from datetime import time, timedelta

from bot.outbound import in_quiet_hours
from config.playbook import Delivery
from storage import customers
from storage.customers import CustomerInput
from tests.factories import NOW
from tests.jobs.helpers import local, outbox, release_at, run


def _silent_customers(database, world, playbook, n, last):
    with database.transaction() as s:
        rep = s.merge(world.rep1)
        for i in range(n):
            c = customers.create_customer(s, rep, CustomerInput(
                kind="person", name=f"客户{i}", mobile=f"1370000{i:04d}"), playbook, now=NOW)
            c.last_interaction_at = last


def test_quiet_hours_window():
    from config.playbook import QuietHours
    night = QuietHours(start=time(22), end=time(8))
    assert in_quiet_hours(time(23, 30), night) and in_quiet_hours(time(7, 59), night)
    assert not in_quiet_hours(time(8), night) and not in_quiet_hours(time(21, 59), night)
    day = QuietHours(start=time(12), end=time(13))
    assert in_quiet_hours(time(12, 30), day) and not in_quiet_hours(time(13, 1), day)


def test_night_reminders_wait_and_become_one_digest(rt, database, world, playbook):
    night = local(playbook, "2026-03-04 23:10")
    _silent_customers(database, world, playbook, 3, night - timedelta(days=playbook.rules.silent_customer.days, hours=1))
    assert run(rt, night)["silent_customer"] == 3
    rows = outbox(database, world.rep1.id)
    assert len(rows) == 3 and {r.status for r in rows} == {"held"}
    end = local(playbook, "2026-03-05 08:00")
    assert {r.next_attempt_at for r in rows} == {end}
    assert rt.queue.jobs == []  # nothing handed to delivery at night (reports to managers included)

    assert release_at(rt, end - timedelta(minutes=1)) == {"released": 0, "digests": 0, "merged": 0}
    released = release_at(rt, end)
    # rep1's three reminders → one digest; the managers' and director's single reports go out as they are
    assert (released["digests"], released["merged"]) == (1, 3)
    rows = outbox(database, world.rep1.id)
    assert [r.status for r in rows[:3]] == ["digested"] * 3
    digest = rows[3]
    assert digest.status == "pending" and digest.payload["card"]["title"] == "待办汇总（3条）"
    assert "客户0" in digest.payload["card"]["text"] and "客户2" in digest.payload["card"]["text"]
    assert ("jobs.outbound.deliver", (digest.id,)) in rt.queue.jobs
    assert release_at(rt, end)["digests"] == 0  # released once


def test_a_single_night_reminder_goes_out_as_itself(rt, database, world, playbook):
    night = local(playbook, "2026-03-04 06:00")
    _silent_customers(database, world, playbook, 1, night - timedelta(days=playbook.rules.silent_customer.days, hours=1))
    run(rt, night)
    [row] = outbox(database, world.rep1.id)
    assert row.status == "held"
    assert release_at(rt, local(playbook, "2026-03-04 08:00"))["digests"] == 0
    [row] = outbox(database, world.rep1.id)
    assert row.status == "pending" and "card" in row.payload and "待办汇总" not in row.payload["card"]["title"]


def test_beyond_the_hourly_limit_a_digest(rt, database, world, playbook):
    limit = 2
    rt.playbook = playbook.model_copy(update={"delivery": Delivery(max_cards_per_hour=limit)})
    now = local(playbook, "2026-03-04 10:30")
    _silent_customers(database, world, playbook, 5, now - timedelta(days=playbook.rules.silent_customer.days, hours=1))
    assert run(rt, now)["silent_customer"] == 5
    rows = outbox(database, world.rep1.id)
    assert [r.status for r in rows] == ["pending"] * limit + ["held"] * 3
    assert {r.next_attempt_at for r in rows[limit:]} == {now + timedelta(hours=1)}
    assert release_at(rt, now + timedelta(minutes=59))["merged"] == 0
    assert release_at(rt, now + timedelta(hours=1)) == {"released": 0, "digests": 1, "merged": 3}
    assert outbox(database, world.rep1.id)[-1].payload["card"]["title"] == "待办汇总（3条）"
