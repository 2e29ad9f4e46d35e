"""A rep's day on WeCom, end to end over loopback HTTP: encrypted callback → inbox → worker →
outbox → the real client → the fake WeCom; a click comes back and the same card is updated."""
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
