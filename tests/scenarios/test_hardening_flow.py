"""Hardening (issue 15) end to end. No impersonation: a captured DingTalk (timestamp, sign) pair cannot carry another body,
the org is the configured app's, and on WeCom the org is the corp whose keys decrypted the message.
Through the real HTTP callback, the real worker and the fake platforms."""
from __future__ import annotations

import json

import pytest

import requests
from sqlalchemy import func, select

from bot.dingtalk import fake as dt_fake
from bot.wecom import fake as wc_fake
from storage.models import Customer, InboxEvent, OutboxMessage


def _count(database, model) -> int:
    with database.transaction() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_replayed_dingtalk_sign_with_another_sender_is_refused(stack, database):
    # rep1 asks for help: DingTalk signs only the timestamp
    help_msg = stack.dingtalk_message("text", "rep1", text={"content": "帮助"})
    headers, body = dt_fake.build_robot_request(stack.settings.dingtalk_app_secret, help_msg)
    assert requests.post(f"{stack.base_url}/dingtalk/callback", headers=headers, data=body,
                         timeout=10).status_code == 200
    stack.drain()
    inbox, outbox, found = _count(database, InboxEvent), _count(database, OutboxMessage), _count(database, Customer)

    # someone who captured those headers posts rep2's "new customer" with them
    forged = stack.dingtalk_message("text", "rep2", text={"content": "新客户 伪造公司 13912345678 伪造公司"})
    forged_body = json.dumps(forged, ensure_ascii=False).encode()
    answer = requests.post(f"{stack.base_url}/dingtalk/callback", headers=headers, data=forged_body, timeout=10)
    stack.drain()
    assert answer.status_code == 403
    assert (_count(database, InboxEvent), _count(database, OutboxMessage), _count(database, Customer)) \
        == (inbox, outbox, found)
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Customer).where(Customer.name.like("%伪造%"))) == 0

    # the very same request again is DingTalk retrying: accepted, and the inbox dedupes it
    again = requests.post(f"{stack.base_url}/dingtalk/callback", headers=headers, data=body, timeout=10)
    stack.drain()
    assert again.status_code == 200
    assert _count(database, InboxEvent) == inbox


def test_dingtalk_body_naming_another_corp_is_refused(stack, database):
    message = dt_fake.robot_message("text", "rep1", corp_id="dingother", text={"content": "待办"},
                                    session_webhook=stack.dingtalk.session_webhook_url())
    answer = stack.dingtalk_post(message)
    assert answer.status_code == 403
    assert _count(database, InboxEvent) == 0


def test_dingtalk_org_comes_from_configuration_not_the_body(stack, database):
    message = stack.dingtalk_message("text", "rep1", text={"content": "帮助"})
    del message["chatbotCorpId"], message["senderCorpId"]
    assert stack.dingtalk_post(message).status_code == 200
    with database.transaction() as s:
        event = s.scalars(select(InboxEvent)).one().event
    assert event["org"] == stack.settings.dingtalk_corp_id


def test_wecom_org_is_the_corp_that_decrypted_it(stack, database):
    # a message claiming to be for the other org (whose rep is also called "rep1"), encrypted with our keys
    inner = wc_fake.text_xml("wwother", "rep1", "待办")
    params, body = wc_fake.build_callback(stack.settings, inner)
    answer = requests.post(f"{stack.base_url}/wecom/callback", params=params, data=body, timeout=10)
    stack.drain()
    assert answer.status_code == 403
    assert (_count(database, InboxEvent), _count(database, OutboxMessage)) == (0, 0)
    assert stack.wecom.sent == []


@pytest.mark.parametrize("query", ["%", "_", "%%"])
def test_chat_lookup_with_a_wildcard_lists_nothing(stack, query):
    assert stack.wecom_text("rep1", f"查 {query}").status_code == 200
    stack.drain()
    sent = [m for m in stack.wecom.sent if m["path"].endswith("/message/send")]
    assert len(sent) == 1
    assert sent[0]["body"]["msgtype"] == "text" and "没有找到" in sent[0]["body"]["text"]["content"]
