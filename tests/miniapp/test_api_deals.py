"""Closing, reopening and approvals from the opportunity page; the customer timeline shows them."""
from __future__ import annotations

from sqlalchemy import select

from storage.models import Approval, OutboxMessage
from tests.miniapp.helpers import CSRF, login


def _post(client, path, body=None):
    return client.post(path, json=body or {}, headers=CSRF)


def _to_last_but_one(client, data, playbook):
    for stage in ("needs", "proposal", "negotiation"):
        for item in playbook.stage(stage).checklist:
            _post(client, f"/api/opportunities/{data.opp_rep1}/checklist", {"stage": stage, "item": item, "checked": True})
        assert _post(client, f"/api/opportunities/{data.opp_rep1}/stage", {"stage": stage}).status_code == 200


def test_skip_is_refused_with_an_offer_to_ask(client, data, playbook):
    login(client, "rep1")
    refused = _post(client, f"/api/opportunities/{data.opp_rep1}/stage", {"stage": "proposal"})
    assert refused.status_code == 409 and refused.json["needs_approval"] is True
    opp = client.get(f"/api/opportunities/{data.opp_rep1}").json
    assert [s["key"] for s in opp["skip_to"]] == ["proposal", "negotiation", "won"]


def test_won_then_reopened_by_the_manager_and_lost(client, data, playbook, database):
    login(client, "rep1")
    _to_last_but_one(client, data, playbook)
    item = playbook.stage("won").checklist[0]
    _post(client, f"/api/opportunities/{data.opp_rep1}/checklist", {"stage": "won", "item": item, "checked": True})
    won = _post(client, f"/api/opportunities/{data.opp_rep1}/won", {"amount": "480000", "signed_on": "2026-03-02"})
    assert won.status_code == 200 and (won.json["status"], won.json["won_amount"]) == ("won", "480000.00")
    # at 赢单 the stage's checklist and steps are there to tick
    step = playbook.stage("won").steps[0]
    ticked = _post(client, f"/api/opportunities/{data.opp_rep1}/checklist", {"stage": "won", "item": step, "checked": True})
    assert ticked.status_code == 200
    assert {i["item"]: i["checked"] for i in ticked.json["current_items"]}[step] is True

    assert _post(client, f"/api/opportunities/{data.opp_rep1}/reopen").status_code == 403
    login(client, "manager")
    assert _post(client, f"/api/opportunities/{data.opp_rep1}/reopen").json["status"] == "open"
    login(client, "rep1")
    bad = _post(client, f"/api/opportunities/{data.opp_rep1}/lost", {"reason": "随便"})
    assert bad.status_code == 400 and bad.json["field"] == "lost_reason"
    lost = _post(client, f"/api/opportunities/{data.opp_rep1}/lost",
                 {"reason": "选择了竞品", "competitor": "某某机电", "note": "价格低两成"})
    assert lost.json["status"] == "lost" and lost.json["lost_competitor"] == "某某机电"

    timeline = client.get(f"/api/customers/{data.c_rep1}").json["timeline"]
    titles = [t["title"] for t in timeline]
    assert any(t.startswith("赢单") for t in titles) and any(t.startswith("丢单") for t in titles)
    assert any(t.startswith("重新打开") for t in titles)
    html = client.get(f"/app/customers/{data.c_rep1}").get_data(as_text=True)
    assert "丢单原因：选择了竞品" in html


def test_discount_asked_from_the_page_locks_then_approved_unlocks(client, data, database):
    login(client, "rep1")
    asked = _post(client, f"/api/opportunities/{data.opp_rep1}/discount", {"percent": "12"})
    assert asked.status_code == 202
    assert asked.json["pending"]["approver"] == "赵总监" and asked.json["pending"]["copy_to"] == "钱经理"
    assert {"amount", "discount"} <= set(asked.json["locked"])
    assert _post(client, f"/api/opportunities/{data.opp_rep1}", {"amount": "1"}).status_code == 409
    with database.transaction() as s:
        recipients = {m.recipient for m in s.scalars(select(OutboxMessage))}
        assert {"director", "manager"} <= recipients
        approval_id = s.scalars(select(Approval.id)).one()
    login(client, "manager")  # copied, not the approver
    assert _post(client, f"/api/approvals/{approval_id}", {"decision": "approve"}).status_code == 403
    login(client, "director")
    assert _post(client, f"/api/approvals/{approval_id}", {"decision": "reject"}).status_code == 400
    assert _post(client, f"/api/approvals/{approval_id}", {"decision": "approve"}).json["status"] == "approved"
    login(client, "rep1")
    opp = client.get(f"/api/opportunities/{data.opp_rep1}").json
    assert opp["pending"] is None and opp["discount_percent"] == "12" and "amount" not in opp["locked"]
    assert [a["status"] for a in opp["approvals"]] == ["approved"]


def test_a_won_deal_writes_money_and_dates_the_one_way(client, data, playbook):
    """200,000元 and 03-02 on the page and in the timeline, as on every card (cards/formats.py)."""
    login(client, "rep1")
    _to_last_but_one(client, data, playbook)
    item = playbook.stage("won").checklist[0]
    _post(client, f"/api/opportunities/{data.opp_rep1}/checklist", {"stage": "won", "item": item, "checked": True})
    assert _post(client, f"/api/opportunities/{data.opp_rep1}/won",
                 {"amount": "480000", "signed_on": "2026-03-02"}).status_code == 200
    html = client.get(f"/app/customers/{data.c_rep1}").get_data(as_text=True)
    assert "成交金额 480,000元 · 签约 03-02" in html and "¥" not in html
    [won] = [t for t in client.get(f"/api/customers/{data.c_rep1}").json["timeline"] if t["title"].startswith("赢单")]
    assert won["detail"] == "成交金额 480,000元，签约日期 03-02"
