"""Stage changes gated by the next stage's checklist; locked fields stay read-only."""
from __future__ import annotations

from storage.models import Opportunity, StageChange
from tests.miniapp.helpers import CSRF, login


def _tick(client, opp_id, stage, item, checked=True):
    return client.post(f"/api/opportunities/{opp_id}/checklist", headers=CSRF,
                       json={"stage": stage, "item": item, "checked": checked})


def test_stage_change_is_blocked_until_every_item_is_ticked(client, data, database, playbook):
    login(client, "rep1")
    opp = client.get(f"/api/opportunities/{data.opp_rep1}").json
    assert (opp["stage"], opp["next_stage"], opp["ready"]) == ("initial", "needs", False)
    items = [i["item"] for i in opp["next_items"]]
    assert items == list(playbook.stage("needs").checklist)

    blocked = client.post(f"/api/opportunities/{data.opp_rep1}/stage", json={"stage": "needs"}, headers=CSRF)
    assert blocked.status_code == 400
    assert all(item in blocked.json["error"] for item in items)

    for item in items[:-1]:
        assert _tick(client, data.opp_rep1, "needs", item).json["ready"] is False
    still = client.post(f"/api/opportunities/{data.opp_rep1}/stage", json={"stage": "needs"}, headers=CSRF)
    assert still.status_code == 400 and items[-1] in still.json["error"]
    assert _tick(client, data.opp_rep1, "needs", items[-1]).json["ready"] is True

    moved = client.post(f"/api/opportunities/{data.opp_rep1}/stage", json={"stage": "needs"}, headers=CSRF)
    assert moved.status_code == 200
    assert moved.json["stage"] == "needs" and moved.json["next_stage"] == "proposal"
    with database.transaction() as s:
        assert s.get(Opportunity, data.opp_rep1).stage == "needs"
        assert [c.to_stage for c in s.query(StageChange).filter_by(opportunity_id=data.opp_rep1)
                .order_by(StageChange.id)] == ["initial", "needs"]


def test_unticking_disables_again(client, data):
    login(client, "rep1")
    items = client.get(f"/api/opportunities/{data.opp_rep1}").json["next_items"]
    for i in items:
        _tick(client, data.opp_rep1, "needs", i["item"])
    assert _tick(client, data.opp_rep1, "needs", items[0]["item"], checked=False).json["ready"] is False


def test_unknown_checklist_item_is_refused(client, data):
    login(client, "rep1")
    resp = _tick(client, data.opp_rep1, "needs", "随便写的")
    assert resp.status_code == 400 and resp.json["field"] == "item"


def test_amount_locks_at_negotiation(client, data, playbook):
    login(client, "rep1")
    assert client.post(f"/api/opportunities/{data.opp_rep1}", json={"amount": "600000"},
                       headers=CSRF).json["amount"] == "600000.00"
    for stage in ("needs", "proposal", "negotiation"):
        for item in playbook.stage(stage).checklist:
            _tick(client, data.opp_rep1, stage, item)
        assert client.post(f"/api/opportunities/{data.opp_rep1}/stage", json={"stage": stage},
                           headers=CSRF).status_code == 200
    opp = client.get(f"/api/opportunities/{data.opp_rep1}").json
    assert "amount" in opp["locked"]
    refused = client.post(f"/api/opportunities/{data.opp_rep1}", json={"amount": "1"}, headers=CSRF)
    assert refused.status_code == 409 and "锁定" in refused.json["error"]
    assert client.get(f"/api/opportunities/{data.opp_rep1}").json["amount"] == "600000.00"


def test_customer_page_renders_the_gate(client, data):
    login(client, "rep1")
    html = client.get(f"/app/customers/{data.c_rep1}").get_data(as_text=True)
    assert f'data-advance="{data.opp_rep1}" data-stage="needs" disabled' in html
    assert "客户已书面确认需求清单" in html


def test_create_opportunity(client, data):
    login(client, "rep1")
    resp = client.post(f"/api/customers/{data.c_rep1}/opportunities", json={"name": "备件年单"}, headers=CSRF)
    assert resp.status_code == 201 and resp.json["stage"] == "initial"
    empty = client.post(f"/api/customers/{data.c_rep1}/opportunities", json={"name": " "}, headers=CSRF)
    assert empty.status_code == 400 and empty.json["field"] == "name"
