"""Signed-but-malformed input (issue 15) through the real HTTP routes: each is a 4xx naming the
field or the check, never a 500 (which the platforms retry forever), and writes nothing."""
from __future__ import annotations

import json
import time

import pytest

from bot.wecom import fake as wc_fake
from tests.hostile import (dingtalk_card, dingtalk_robot, lead_post, make_edge_app, nested_json,
                           robot_text, snapshot, wecom_signed)
from tests.factories import build_world


@pytest.fixture
def app(database, playbook, redis_conn):
    app = make_edge_app(database, playbook, redis_conn)
    with database.transaction() as s:
        build_world(s)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def settings(app):
    return app.extensions["crmbot"].settings


def refused(database, send, status: int = 400, says: str | None = None):
    before = snapshot(database)
    response = send()
    assert response.status_code == status, response.get_data(as_text=True)
    if says:
        assert says in response.get_data(as_text=True)
    assert snapshot(database) == before
    return response


# ------------------------------------------------------------------ DingTalk robot callback

DINGTALK_ROBOT_CASES = {
    "msgId over 160 characters": (robot_text(msgId="m" * 161), "msgId"),
    "msgId as a number": (robot_text(msgId=12345), "msgId"),
    "text as a string": (robot_text(text="帮助"), "text"),
    "text content as an object": (robot_text(text={"content": {"a": 1}}), "text.content"),
    "senderStaffId longer than the userid column": (robot_text(senderStaffId="u" * 65), "senderStaffId"),
    "createAt beyond any clock": (robot_text(createAt=10 ** 30), "createAt"),
    "sessionWebhook not a web URL": (robot_text(sessionWebhook="file:///etc/passwd"), "sessionWebhook"),
    "NUL in the text": (robot_text(content="帮\u0000助"), "text.content"),
    "atUsers as a string": (robot_text(atUsers="all"), "atUsers"),
}


@pytest.mark.parametrize("case", DINGTALK_ROBOT_CASES)
def test_dingtalk_robot_malformed_fields_are_400_naming_the_field(client, settings, database, case):
    body, field = DINGTALK_ROBOT_CASES[case]
    refused(database, lambda: dingtalk_robot(client, settings, body), says=field)


@pytest.mark.parametrize("raw", [nested_json(3000), nested_json(40), b'{"msgId": NaN}', b'{"msgId": Infinity}',
                                 "{\"msgId\": \"中文\"}".encode("gbk"), b"[1, 2]", b"\xff\xfe{}",
                                 b'{"msgId": 1' + b"0" * 5000 + b"}"])
def test_dingtalk_robot_bodies_checked_before_parsing(client, settings, database, raw):
    refused(database, lambda: dingtalk_robot(client, settings, raw))


def test_dingtalk_content_string_deeply_nested_is_refused_or_ignored(client, settings, database):
    message = robot_text(msgtype="picture", content=nested_json(3000).decode())
    assert dingtalk_robot(client, settings, message).status_code < 500


# ------------------------------------------------------------------ DingTalk card callback

CARD = {"type": "actionCallback", "outTrackId": "cust-1-x", "corpId": "dingcorp001", "userId": "rep1",
        "content": json.dumps({"cardPrivateData": {"actionIds": ["tag:quoted"], "params": {}}})}
CARD_CASES = {
    "outTrackId over 128": ({**CARD, "outTrackId": "x" * 129}, "outTrackId"),
    "userId as an object": ({**CARD, "userId": {"a": 1}}, "userId"),
    "content not JSON": ({**CARD, "content": "{not json"}, "content"),
    "content nested deep": ({**CARD, "content": nested_json(3000).decode()}, "content"),
    "actionIds a string": ({**CARD, "content": json.dumps({"cardPrivateData": {"actionIds": "tag"}})}, "actionIds"),
    "corpId of another org": ({**CARD, "corpId": "dingother"}, None),
}


@pytest.mark.parametrize("case", CARD_CASES)
def test_card_callback_malformed_is_refused(client, settings, database, case):
    body, field = CARD_CASES[case]
    status = 403 if case.startswith("corpId") else 400
    refused(database, lambda: dingtalk_card(client, settings, body), status, says=field)


def test_card_callback_deep_json_body(client, settings, database):
    refused(database, lambda: dingtalk_card(client, settings, nested_json(3000)))


# ------------------------------------------------------------------ WeCom callback

@pytest.mark.parametrize("encoding", ["GBK", "Shift_JIS", "Big5", "gb2312"])
def test_wecom_envelope_declaring_a_legacy_encoding_is_400_even_unsigned(client, database, encoding):
    body = f'<?xml version="1.0" encoding="{encoding}"?><xml><Encrypt>abc</Encrypt></xml>'.encode()
    params = {"msg_signature": "x", "timestamp": str(int(time.time())), "nonce": "n"}
    refused(database, lambda: client.post("/wecom/callback", query_string=params, data=body),
            status=400)


@pytest.mark.parametrize("encoding", ["GBK", "Shift_JIS", "Big5"])
def test_wecom_signed_inner_xml_declaring_a_legacy_encoding_is_400(client, settings, database, encoding):
    inner = f'<?xml version="1.0" encoding="{encoding}"?>' + wc_fake.text_xml("wwcorp001", "rep1", "帮助")
    refused(database, lambda: wecom_signed(client, settings, inner), says="encoding")


def test_wecom_nesting_3000_deep_is_400(client, settings, database):
    deep = "<a>" * 3000 + "x" + "</a>" * 3000
    inner = wc_fake.text_xml("wwcorp001", "rep1", "帮助").replace("</xml>", deep + "</xml>")
    refused(database, lambda: wecom_signed(client, settings, inner), says="nested")
    envelope = ("<xml>" + deep + "<Encrypt>x</Encrypt></xml>").encode()
    params = {"msg_signature": "x", "timestamp": str(int(time.time())), "nonce": "n"}
    refused(database, lambda: client.post("/wecom/callback", query_string=params, data=envelope))


@pytest.mark.parametrize("inner, field", [
    (wc_fake.text_xml("wwcorp001", "rep1", "帮助", msg_id="9" * 161), "MsgId"),
    (wc_fake.text_xml("wwcorp001", "rep1", "x").replace("<Content>x</Content>", "<Content><a>1</a></Content>"),
     "Content"),
    (wc_fake.text_xml("wwcorp001", "u" * 65, "帮助"), "FromUserName"),
    (wc_fake.text_xml("wwcorp001", "rep1", "帮助", create_time="tomorrow"), "CreateTime"),
])
def test_wecom_fields_bounded_by_their_columns(client, settings, database, inner, field):
    refused(database, lambda: wecom_signed(client, settings, inner), says=field)


# ------------------------------------------------------------------ lead webhook

LEAD = {"submission_id": "form-1", "name": "郑先生", "company": "无锡恒达机械有限公司", "mobile": "13812340011"}
LEAD_CASES = {
    "budget 10^20": ({**LEAD, "budget": 10 ** 20}, "budget"),
    "budget NaN": (json.dumps({**LEAD}).replace("}", ', "budget": NaN}').encode(), None),
    "budget as text": ({**LEAD, "budget": "很多"}, "budget"),
    "budget as a float": ({**LEAD, "budget": 1.5}, "budget"),
    "company of 300 characters": ({**LEAD, "company": "公" * 300}, "company"),
    "name as an object": ({**LEAD, "name": {"a": 1}}, "name"),
    "name missing": ({k: v for k, v in LEAD.items() if k != "name"}, "name"),
    "note over 500": ({**LEAD, "note": "备" * 501}, "note"),
    "submission_id missing": ({k: v for k, v in LEAD.items() if k != "submission_id"}, "submission_id"),
    "attribution a list": ({**LEAD, "attribution": [1, 2]}, "attribution"),
    "nested 3000 deep": (nested_json(3000), None),
    "NUL in the name": ({**LEAD, "name": "郑\u0000"}, "name"),
}


@pytest.mark.parametrize("case", LEAD_CASES)
def test_lead_webhook_refuses_with_the_field_in_chinese(client, database, case):
    body, field = LEAD_CASES[case]
    answer = refused(database, lambda: lead_post(client, body))
    if field:
        assert answer.json["field"] == field
        assert "字段" in answer.json["error"]


def test_lead_webhook_still_takes_a_good_lead(client, database, app):
    answer = lead_post(client, {**LEAD, "budget": "200000"})
    assert answer.status_code == 201
    assert snapshot(database)["lead"] == 1
