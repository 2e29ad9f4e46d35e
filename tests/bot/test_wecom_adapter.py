"""WeCom callbacks in: the published sample, a freshly encrypted message of every kind, and
each way a request is refused."""
from __future__ import annotations

import time

import pytest

from bot.events import Kind, Platform
from bot.wecom import fake
from bot.wecom.adapter import CallbackRejected, receive, verify_url
from config.settings import load_settings

# WeCom's published sample (WXBizMsgCrypt demo): Token, EncodingAESKey, CorpID and two requests.
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "wx5823bf96d3bd56c7"
SAMPLE_VERIFY = {"msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "timestamp": "1409659589",
                 "nonce": "263014780",
                 "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="}
SAMPLE_POST_PARAMS = {"msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6", "timestamp": "1409659813",
                      "nonce": "1372623149"}
SAMPLE_POST_BODY = (
    b"<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA["
    b"RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911"
    b"L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLx"
    b"AUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9"
    b"nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/u"
    b"h9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==]]>"
    b"</Encrypt><AgentID><![CDATA[218]]></AgentID></xml>")


def make_settings(window_s: int = 300, max_bytes: int = 256 * 1024):
    return load_settings(wecom_token=TOKEN, wecom_encoding_aes_key=AES_KEY, wecom_corp_id=CORP_ID,
                         wecom_agent_id=1000002, wecom_secret="s",
                         crmbot_timestamp_window_s=window_s, crmbot_callback_max_bytes=max_bytes)


@pytest.fixture
def settings():
    return make_settings()


def rejected(call) -> CallbackRejected:
    with pytest.raises(CallbackRejected) as info:
        call()
    return info.value


# -- the published sample ---------------------------------------------------------------------

def test_published_verify_request_answers_the_sample_plaintext():
    assert verify_url(SAMPLE_VERIFY, make_settings(window_s=0)) == "1616140317555161061"


def test_published_message_decrypts_to_its_text():
    event, raw = receive(SAMPLE_POST_PARAMS, SAMPLE_POST_BODY, make_settings(window_s=0))
    assert (event.kind, event.payload) == (Kind.TEXT, {"text": "hello"})
    assert (event.event_id, event.sender, event.org) == ("4561255354251345929", "mycreate", CORP_ID)
    assert event.platform is Platform.WECOM and event.created_at == 1409659813
    assert raw["AgentID"] == "218"


def test_published_verify_request_is_stale_with_the_window_on():
    assert rejected(lambda: verify_url(SAMPLE_VERIFY, make_settings(window_s=300))).status == 403


def test_fresh_verify_request_round_trips(settings):
    params, expected = fake.build_verify_request(settings)
    assert verify_url(params, settings) == expected


# -- every kind, freshly encrypted ---------------------------------------------------------------

def roundtrip(settings, inner_xml: str):
    params, body = fake.build_callback(settings, inner_xml)
    return receive(params, body, settings)


def test_text(settings):
    event, raw = roundtrip(settings, fake.text_xml(CORP_ID, "zhangsan", " 华东机电\n已报价 <b>&]]>\n", msg_id=77))
    assert event.kind is Kind.TEXT and event.payload == {"text": " 华东机电\n已报价 <b>&]]>\n"}
    assert event.event_id == "77" and event.sender == "zhangsan"
    assert raw["MsgType"] == "text"


def test_image(settings):
    event, _ = roundtrip(settings, fake.image_xml(CORP_ID, "zhangsan", "MEDIA1", pic_url="https://p/1"))
    assert event.kind is Kind.IMAGE
    assert event.payload == {"media_ref": "MEDIA1", "pic_url": "https://p/1"}


def test_voice(settings):
    event, _ = roundtrip(settings, fake.voice_xml(CORP_ID, "zhangsan", "MEDIA2"))
    assert event.kind is Kind.VOICE and event.payload == {"media_ref": "MEDIA2", "format": "amr"}


def test_menu_click_and_enter(settings):
    click, _ = roundtrip(settings, fake.event_xml(CORP_ID, "zhangsan", "click", {"EventKey": "menu:today"}))
    assert click.kind is Kind.MENU_CLICK and click.payload == {"key": "menu:today"}
    enter, _ = roundtrip(settings, fake.event_xml(CORP_ID, "zhangsan", "enter_agent", {"EventKey": ""}))
    assert enter.kind is Kind.ENTER and enter.payload == {}
    assert click.event_id != enter.event_id


def test_button_click(settings):
    event, _ = roundtrip(settings, fake.card_event_xml(CORP_ID, "zhangsan", "fu-42", "tag:quoted",
                                                      response_code="RC1"))
    assert event.kind is Kind.CARD_ACTION and event.sender == "zhangsan"
    assert event.payload == {"card_ref": "fu-42", "action": "tag:quoted", "response_code": "RC1",
                             "params": {}, "card_type": "button_interaction", "from_menu": False}


def test_vote_submit_keeps_one_option_as_a_list(settings):
    xml = fake.card_event_xml(CORP_ID, "zhangsan", "vote-1", "submit", card_type="vote_interaction",
                              selected={"stage": ["quoted"], "tags": ["a", "b"]})
    event, raw = roundtrip(settings, xml)
    assert event.payload["params"] == {"stage": ["quoted"], "tags": ["a", "b"]}
    assert isinstance(raw["SelectedItems"]["SelectedItem"], list)


def test_customer_added_and_removed_both_ways(settings):
    added, _ = roundtrip(settings, fake.contact_event_xml(CORP_ID, "zhangsan", "wmCUST", state="expo2024",
                                                         welcome_code="WC1"))
    assert added.kind is Kind.CONTACT_ADDED and added.sender == "zhangsan"  # not "sys"
    assert added.payload == {"external_userid": "wmCUST", "state": "expo2024", "welcome_code": "WC1"}

    by_rep, _ = roundtrip(settings, fake.contact_event_xml(CORP_ID, "zhangsan", "wmCUST", "del_external_contact"))
    by_customer, _ = roundtrip(settings, fake.contact_event_xml(CORP_ID, "zhangsan", "wmCUST", "del_follow_user"))
    assert (by_rep.kind, by_rep.payload) == (Kind.CONTACT_REMOVED, {"external_userid": "wmCUST", "by": "rep"})
    assert by_customer.payload == {"external_userid": "wmCUST", "by": "customer"}


def test_anything_else_is_unknown_not_an_error(settings):
    video, _ = roundtrip(settings, fake._inner_xml(CORP_ID, "zhangsan", "video", {"MediaId": "M", "MsgId": 5}))
    assert video.kind is Kind.UNKNOWN and video.payload == {"type": "video"}
    edit, _ = roundtrip(settings, fake.contact_event_xml(CORP_ID, "zhangsan", "wmC", "edit_external_contact"))
    assert edit.kind is Kind.UNKNOWN
    assert edit.payload == {"type": "event:change_external_contact:edit_external_contact"}


# -- dedupe keys --------------------------------------------------------------------------------

def test_a_retried_event_keeps_its_key_and_distinct_events_differ(settings):
    xml = fake.contact_event_xml(CORP_ID, "zhangsan", "wmA", create_time=1700000000, welcome_code="W")
    first, _ = roundtrip(settings, xml)
    retry, _ = roundtrip(settings, xml)  # WeCom resends the same XML, newly encrypted
    assert first.event_id == retry.event_id
    # Same member, same second, same event type: only the customer differs.
    other, _ = roundtrip(settings, fake.contact_event_xml(CORP_ID, "zhangsan", "wmB", create_time=1700000000,
                                                         welcome_code="W"))
    assert other.event_id != first.event_id
    click_a, _ = roundtrip(settings, fake.card_event_xml(CORP_ID, "u", "t1", "k", response_code="A",
                                                        create_time=1700000000))
    click_b, _ = roundtrip(settings, fake.card_event_xml(CORP_ID, "u", "t1", "k", response_code="B",
                                                        create_time=1700000000))
    assert click_a.event_id != click_b.event_id
    assert first.event_id.startswith("evt:change_external_contact:") and len(first.event_id) <= 128


# -- refusals -------------------------------------------------------------------------------------

def test_bad_signature_is_403(settings):
    params, body = fake.build_callback(settings, fake.text_xml(CORP_ID, "u", "hi"))
    params["msg_signature"] = "0" * 40
    assert rejected(lambda: receive(params, body, settings)).status == 403


def test_message_for_another_app_key_is_403(settings):
    other = load_settings(wecom_token=TOKEN, wecom_encoding_aes_key="A" * 43, wecom_corp_id=CORP_ID)
    params, body = fake.build_callback(other, fake.text_xml(CORP_ID, "u", "hi"))
    assert rejected(lambda: receive(params, body, settings)).status == 403


def test_stale_timestamp_is_403_and_window_zero_disables_it():
    old = int(time.time()) - 3600
    params, body = fake.build_callback(make_settings(), fake.text_xml(CORP_ID, "u", "hi"), timestamp=old)
    assert rejected(lambda: receive(params, body, make_settings(window_s=300))).status == 403
    event, _ = receive(params, body, make_settings(window_s=0))
    assert event.payload == {"text": "hi"}


def test_timestamp_window_uses_now(settings):
    params, body = fake.build_callback(settings, fake.text_xml(CORP_ID, "u", "hi"), timestamp=1_000_000)
    assert receive(params, body, settings, now=1_000_100)[0].kind is Kind.TEXT
    assert rejected(lambda: receive(params, body, settings, now=1_000_301)).status == 403


def test_body_not_xml_is_400(settings):
    params, _ = fake.build_callback(settings, fake.text_xml(CORP_ID, "u", "hi"))
    assert rejected(lambda: receive(params, b"{\"json\": true}", settings)).status == 400


def test_doctype_and_entities_are_400(settings):
    params, body = fake.build_callback(settings, fake.text_xml(CORP_ID, "u", "hi"))
    with_entity = b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x "boom">]>' + body.replace(
        b"<ToUserName>", b"<ToUserName>&x;")
    with_doctype = b"<!DOCTYPE xml>" + body
    assert rejected(lambda: receive(params, with_entity, settings)).status == 400
    assert rejected(lambda: receive(params, with_doctype, settings)).status == 400


def test_oversized_body_is_413():
    small = make_settings(max_bytes=200)
    params, body = fake.build_callback(small, fake.text_xml(CORP_ID, "u", "很长" * 200))
    error = rejected(lambda: receive(params, body, small))
    assert error.status == 413 and "exceeds" in error.reason


def test_missing_parameters_and_encrypt_are_400(settings):
    params, body = fake.build_callback(settings, fake.text_xml(CORP_ID, "u", "hi"))
    assert rejected(lambda: receive({"timestamp": params["timestamp"]}, body, settings)).status == 400
    assert rejected(lambda: receive(params, b"<xml><ToUserName>x</ToUserName></xml>", settings)).status == 400
    assert rejected(lambda: verify_url({k: v for k, v in SAMPLE_VERIFY.items() if k != "echostr"},
                                       make_settings(window_s=0))).status == 400


def test_verify_with_bad_signature_is_403():
    params = {**SAMPLE_VERIFY, "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd4"}
    assert rejected(lambda: verify_url(params, make_settings(window_s=0))).status == 403


def test_unconfigured_wecom_is_503():
    bare = load_settings(wecom_token=None, wecom_encoding_aes_key=None, wecom_corp_id=None)
    assert rejected(lambda: verify_url(SAMPLE_VERIFY, bare)).status == 503
