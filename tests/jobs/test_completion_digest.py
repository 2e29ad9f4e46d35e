"""The weekly 补全 digest: one card per rep with 待补全 customers, once a week, main button 去补全;
no task per customer, nothing for a rep whose customers are complete."""
from datetime import timedelta

from storage import customers
from storage.customers import CustomerInput
from tests.jobs.helpers import cards_to, local, run, tasks_of

CODE = "9144030071526726XG"


def test_one_digest_per_rep_and_week(rt, database, world, playbook):
    created = local(playbook, "2026-03-04 10:00")  # a Wednesday
    with database.transaction() as s:
        for name in ("宁波东海贸易", "杭州西子电梯", "苏州金螳螂建筑装饰"):
            customers.create_customer(s, s.merge(world.rep1), CustomerInput(kind="company", name=name),
                                      playbook, now=created)
        customers.create_customer(s, s.merge(world.rep2), CustomerInput(
            kind="company", name="深圳华南电子", credit_code=CODE), playbook, now=created)
    assert tasks_of(database, "data_completion") == []          # no task per customer
    monday = local(playbook, "2026-03-09 09:29")
    assert run(rt, monday)["completion_digest"] == 0            # before digest_at
    assert run(rt, monday + timedelta(minutes=1))["completion_digest"] == 1
    assert run(rt, monday + timedelta(hours=3))["completion_digest"] == 0   # once a week
    [card] = [c for c in cards_to(database, world.rep1.id) if "待补全" in c["title"]]
    assert card["title"].startswith("本周待补全：3个客户")
    assert "宁波东海贸易（缺信用代码，已等4天）" in card["text"]
    assert [b["text"] for b in card["buttons"]] == ["去补全"] and card["buttons"][0]["url"].endswith("?status=incomplete")
    assert [c for c in cards_to(database, world.rep2.id) if "待补全" in c["title"]] == []
    assert run(rt, monday + timedelta(days=7, minutes=1))["completion_digest"] == 1   # next week again
