"""A rep's day on WeCom, end to end over loopback HTTP: encrypted callback → inbox → worker →
outbox → the real client → the fake WeCom; a click comes back and the same card is updated."""
import pytest
from sqlalchemy import func, select

from bot.wecom import fake as wc_fake
from storage import customers
from storage.models import FollowUp, InboxEvent, OutboxMessage


def _cards(state):
    return [m for m in state.sent if m["path"].endswith("/message/send")
            and m["body"].get("msgtype") == "template_card"]


def test_lookup_card_then_click_updates_it_in_place(stack, database):
    r = stack.wecom_text("rep1", "查 华东机电")
    assert r.status_code == 200 and r.text == ""
    stack.drain()
    cards = _cards(stack.wecom)
    assert len(cards) == 1
    card = cards[0]["body"]["template_card"]
    assert card["card_type"] == "button_interaction" and "华东机电" in card["main_title"]["title"]
    assert cards[0]["body"]["touser"] == "rep1"
    key = card["button_list"][0]["key"]
    assert key == "tag:quoted"

    stack.wecom_click("rep1", card["task_id"], key)
    stack.drain()
    updates = [m for m in stack.wecom.sent if m["path"].endswith("/update_template_card")]
    assert len(updates) == 1
    body = updates[0]["body"]
    assert body["userids"] == ["rep1"]
    assert "已记跟进：已报价" in body["template_card"]["main_title"]["desc"]
    assert "李明" in body["template_card"]["main_title"]["desc"]
    with database.transaction() as s:
        followup = s.scalars(select(FollowUp)).one()
        assert followup.tags == ["quoted"] and followup.channel == "card"


def test_same_msgid_three_times_has_one_effect(stack, database):
    for _ in range(3):  # WeCom retries a callback it did not get in time
        assert stack.wecom_text("rep1", "跟进 华东机电 #已报价 下周三再约", msg_id=777001).status_code == 200
    stack.drain()
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(InboxEvent)) == 1
        assert s.scalar(select(func.count()).select_from(FollowUp)) == 1
    texts = [m for m in stack.wecom.sent if m["body"].get("msgtype") == "text"]
    assert len(texts) == 1 and "已记录跟进" in texts[0]["body"]["text"]["content"]


def test_domain_refusal_answers_in_chinese_and_writes_nothing(stack, database):
    stack.wecom_text("rep2", "新客户 王五 13900001111 南京金陵化工")
    stack.wecom_text("rep1", "新客户 王五 139000 南京某公司")  # bad mobile
    stack.drain()
    texts = [m["body"]["text"]["content"] for m in stack.wecom.sent if m["body"].get("msgtype") == "text"]
    assert any("手机号" in t for t in texts)
    with database.transaction() as s:
        names = [c.name for c in customers.search_customers(s, s.merge(_director(s)), None, limit=50)[0]]
    assert "南京某公司" not in names and "南京金陵化工" in names


def _director(s):
    from storage.models import User
    return s.scalars(select(User).where(User.role == "director")).first()


def test_unknown_sender_is_told_and_nothing_else_happens(stack):
    stack.wecom_text("stranger", "帮助")
    stack.drain()
    texts = [m["body"]["text"]["content"] for m in stack.wecom.sent if m["body"].get("msgtype") == "text"]
    assert texts == ["你的账号还没有开通 crmbot，请联系管理员把你加入销售团队后再试。"]


def test_delivery_survives_expired_token_and_rate_limit(stack, database):
    stack.wecom.expire_tokens()
    stack.wecom.fail_next(45009, n=1, path="/cgi-bin/message/send")
    stack.wecom_text("rep1", "帮助")
    stack.drain()
    with database.transaction() as s:
        row = s.scalars(select(OutboxMessage)).one()
        # the rate-limit answer put the message back with a backoff; the sweep delivers it
        assert row.status == "pending" and row.attempts == 1 and "45009" in (row.last_error or "")
        row.next_attempt_at = row.created_at  # time passes
    from jobs.outbound import deliver
    assert deliver(row.id) == "sent"
    with database.transaction() as s:
        assert s.get(OutboxMessage, row.id).status == "sent"
    texts = [m for m in stack.wecom.sent if m["body"].get("msgtype") == "text"]
    assert len(texts) == 1  # sent exactly once


def test_add_external_contact_offers_matching_customer(stack, database):
    stack.wecom.add_external_contact("wmEXT001", "王建国", corp_name="上海华东机电设备有限公司",
                                     follow_user=[{"userid": "rep1", "remark_mobiles": ["13816620001"]}])
    stack.wecom_post(wc_fake.contact_event_xml(stack.settings.wecom_corp_id, "rep1", "wmEXT001"))
    stack.drain()
    card = _cards(stack.wecom)[-1]["body"]["template_card"]
    assert "新好友 王建国" in card["main_title"]["title"]
    link_button = card["button_list"][0]
    assert link_button["key"].startswith("link:")
    stack.wecom_click("rep1", card["task_id"], link_button["key"])
    stack.drain()
    with database.transaction() as s:
        from storage.links import find_link
        link = find_link(s, 1, "wecom", "wmEXT001")
        assert link is not None


# ------------------------------------------------------------------ refusals over HTTP

def _inbox_count(database) -> int:
    with database.transaction() as s:
        return s.scalar(select(func.count()).select_from(InboxEvent))


def _refusals(stack):
    import time
    corp = stack.settings.wecom_corp_id
    good_params, good_body = wc_fake.build_callback(stack.settings, wc_fake.text_xml(corp, "rep1", "帮助"))
    stale_params, stale_body = wc_fake.build_callback(stack.settings, wc_fake.text_xml(corp, "rep1", "帮助"),
                                                      timestamp=int(time.time()) - 3600)
    entity = (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x "boom">]>'
              b'<xml><ToUserName>&x;</ToUserName><Encrypt>abc</Encrypt></xml>')
    return {
        "bad signature": (dict(good_params, msg_signature="0" * 40), good_body, 403),
        "stale timestamp": (stale_params, stale_body, 403),
        "not XML": (good_params, b"{\"not\": \"xml\"}", 400),
        "entity declaration": (good_params, entity, 400),
        "oversized body": (good_params, b"<xml>" + b"a" * (300 * 1024) + b"</xml>", 413),
    }


def test_every_refusal_has_its_status_and_writes_nothing(stack, database):
    import requests
    for name, (params, body, status) in _refusals(stack).items():
        r = requests.post(f"{stack.base_url}/wecom/callback", params=params, data=body, timeout=10)
        assert r.status_code == status, name
    stack.drain()
    assert _inbox_count(database) == 0
    assert stack.wecom.sent == []


def test_url_verification_answers_the_plaintext(stack):
    import requests
    params, expected = wc_fake.build_verify_request(stack.settings)
    r = requests.get(f"{stack.base_url}/wecom/callback", params=params, timeout=10)
    assert r.status_code == 200 and r.text == expected
    r = requests.get(f"{stack.base_url}/wecom/callback", params=dict(params, msg_signature="x" * 40), timeout=10)
    assert r.status_code == 403


# ------------------------------------------------------------------ a worker killed mid-delivery

class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside: nothing after this line runs."""


def test_worker_killed_after_sending_delivers_the_card_once(stack, database, monkeypatch):
    import jobs.inbox
    import jobs.outbound as outbound
    # the handler queues the card; delivery is left to the worker we are about to kill
    monkeypatch.setattr(jobs.inbox, "_deliver_replies", lambda rt, ctx: None)
    stack.wecom_text("rep1", "查 华东机电")
    stack.drain()
    with database.transaction() as s:
        outbox_id = s.scalars(select(OutboxMessage.id).where(OutboxMessage.card_id.is_not(None))).one()

    def killed(*args, **kwargs):
        raise WorkerKilled()

    with monkeypatch.context() as m:
        m.setattr(outbound, "_finish", killed)  # dies between WeCom's answer and our commit
        with pytest.raises(WorkerKilled):
            outbound.deliver(outbox_id)
    assert len(_cards(stack.wecom)) == 1  # WeCom has the card; our record still says "sending"
    with database.transaction() as s:
        row = s.get(OutboxMessage, outbox_id)
        assert row.status == "sending"
        row.next_attempt_at = row.created_at  # the lease expires; the restarted worker's sweep finds it
    assert outbound.deliver(outbox_id) == "sent"
    # the retry did reach WeCom, which refused the reused task_id: the rep has exactly one card
    assert stack.wecom.call_count("/message/send") == 2
    assert len(_cards(stack.wecom)) == 1
    with database.transaction() as s:
        done = s.get(OutboxMessage, outbox_id)
        assert done.status == "sent" and "already delivered" in done.result["note"]
