"""The one-tap follow-up from the customer page and the sidebar."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from storage.models import Customer, FollowUp, Task
from tests.factories import NOW
from tests.miniapp.helpers import CSRF, login


def _today(playbook):
    return NOW.astimezone(playbook.tz).date()


def test_one_tap_logs_updates_the_customer_and_closes_the_task(client, data, database, playbook):
    login(client, "rep1")
    resp = client.post(f"/api/customers/{data.c_rep1}/followups", json={"tags": ["quoted"]}, headers=CSRF)
    assert resp.status_code == 201, resp.json
    assert resp.json["customer"]["last_interaction_summary"] == "已报价"
    with database.transaction() as s:
        followup = s.get(FollowUp, resp.json["id"])
        assert followup.tags == ["quoted"] and followup.channel == "app"
        customer = s.get(Customer, data.c_rep1)
        due = customer.next_followup_at.astimezone(playbook.tz)
        assert due.date() == _today(playbook) + timedelta(days=playbook.followup.default_next_days)
        assert s.get(Task, data.task_rep1).status == "done"  # the follow-up answered it


def test_note_date_and_channel(client, data, database, playbook):
    login(client, "rep1")
    day = (_today(playbook) + timedelta(days=5)).isoformat()
    resp = client.post(f"/api/customers/{data.c_rep1}/followups", headers=CSRF, json={
        "tags": ["已约演示"], "note": "周五下午演示", "next_followup": day, "channel": "sidebar"})
    assert resp.status_code == 201
    with database.transaction() as s:
        f = s.get(FollowUp, resp.json["id"])
        assert (f.note, f.channel, f.tags) == ("周五下午演示", "sidebar", ["demo_booked"])
        assert f.next_followup_at.astimezone(playbook.tz).date().isoformat() == day


def test_note_longer_than_the_playbook_allows_is_kept_whole_and_the_rule_is_said(client, data, database,
                                                                                 playbook):
    """The same rule as in chat: never cut; a long note is the follow-up's full record."""
    login(client, "rep1")
    note = "很" * (playbook.followup.note_max_chars + 1)
    resp = client.post(f"/api/customers/{data.c_rep1}/followups", json={"tags": ["已报价"], "note": note},
                       headers=CSRF)
    assert resp.status_code == 201
    assert resp.json["note_kept"].startswith(f"备注{playbook.followup.note_max_chars}字以内显示在卡片上")
    with database.transaction() as s:
        f = s.get(FollowUp, resp.json["id"])
        assert (f.note, f.transcript) == (None, note)


def test_followup_form_states_the_note_rule_and_does_not_cut(client, data, playbook):
    login(client, "rep1")
    html = client.get(f"/app/customers/{data.c_rep1}").get_data(as_text=True)
    assert 'name="note" maxlength' not in html
    assert f"备注{playbook.followup.note_max_chars}字以内显示在卡片上，更长的内容会完整保存为跟进记录" in html


def test_pause_needs_a_reason_from_the_playbook(client, data, playbook):
    login(client, "rep1")
    url = f"/api/customers/{data.c_rep1}/followups"
    missing = client.post(url, json={"tags": ["暂缓"]}, headers=CSRF)
    assert missing.status_code == 400 and missing.json["field"] == "pause_reason"
    reason = playbook.tag("paused").reasons[0]
    ok = client.post(url, json={"tags": ["暂缓"], "pause_reason": reason}, headers=CSRF)
    assert ok.status_code == 201


def test_nothing_chosen_and_bad_input_are_explained(client, data):
    login(client, "rep1")
    url = f"/api/customers/{data.c_rep1}/followups"
    assert client.post(url, json={}, headers=CSRF).json["field"] == "tags"
    assert client.post(url, json={"tags": ["不存在的标签"]}, headers=CSRF).json["field"] == "tags"
    assert client.post(url, json={"tags": "已报价"}, headers=CSRF).status_code == 400
    bad_date = client.post(url, json={"tags": ["已报价"], "next_followup": "明天"}, headers=CSRF)
    assert bad_date.status_code == 400 and bad_date.json["field"] == "next_followup"
    past = client.post(url, json={"tags": ["已报价"], "next_followup": "2020-01-01"}, headers=CSRF)
    assert past.status_code == 400 and past.json["field"] == "next_followup"


def test_a_double_tap_lands_once(client, data, database):
    login(client, "rep1")
    body = {"tags": ["已报价"], "request_id": "form-abc"}
    first = client.post(f"/api/customers/{data.c_rep1}/followups", json=body, headers=CSRF)
    second = client.post(f"/api/customers/{data.c_rep1}/followups", json=body, headers=CSRF)
    assert first.json["id"] == second.json["id"]
    with database.transaction() as s:
        assert s.query(FollowUp).filter_by(customer_id=data.c_rep1).count() == 2  # seeded + this one


def test_the_timeline_shows_the_new_follow_up_first(client, data):
    login(client, "rep1")
    client.post(f"/api/customers/{data.c_rep1}/followups", json={"tags": ["竞品对比中"], "note": "在比价"},
                headers=CSRF)
    timeline = client.get(f"/api/customers/{data.c_rep1}").json["timeline"]
    assert timeline[0]["kind"] == "followup"
    assert timeline[0]["title"] == "跟进：竞品对比中" and "在比价" in timeline[0]["detail"]
    kinds = {entry["kind"] for entry in timeline}
    assert kinds == {"followup", "task", "stage"}
