"""A rep's message or card click arrives by HTTP: the adapter checks it and yields a neutral Event."""
from __future__ import annotations

import json

import pytest

from bot.dingtalk import fake
from bot.dingtalk.adapter import (
    CallbackRejected,
    receive_card_callback,
    receive_robot_message,
)
from bot.events import Event, Kind, Platform
from cards.dingtalk import button_text
from cards.model import Button, Card
from config.settings import load_settings

SECRET = fake.FAKE_APP_SECRET
NOW_MS = 1_763_000_000_000


@pytest.fixture
def settings():
    return load_settings(dingtalk_app_key=fake.FAKE_APP_KEY, dingtalk_app_secret=SECRET,
                         dingtalk_corp_id=fake.FAKE_CORP_ID,
                         crmbot_callback_max_bytes=4096, crmbot_timestamp_window_s=300)


def receive(message: dict, settings, **kw):
    headers, body = fake.build_robot_request(SECRET, message, timestamp_ms=NOW_MS)
    return receive_robot_message(headers, body, settings, now_ms=NOW_MS, **kw)


def test_text_message_becomes_text_event(settings):
    message = fake.text_message("华东机电 已报价 12万", sender="zhangsan", now_ms=NOW_MS)
    event, raw = receive(message, settings)
    assert raw == message
    assert event.platform == Platform.DINGTALK
    assert event.event_id == message["msgId"]
    assert (event.org, event.sender, event.kind) == (fake.FAKE_CORP_ID, "zhangsan", Kind.TEXT)
    assert event.payload == {"text": "华东机电 已报价 12万"}
    assert event.chat.conversation_id is None and not event.chat.is_group
    assert event.chat.reply_webhook == message["sessionWebhook"]
    assert event.chat.reply_webhook_expires_ms == NOW_MS + 90 * 60 * 1000
    assert event.created_at == NOW_MS // 1000


def test_bad_sign_is_rejected_403(settings):
    headers, body = fake.build_robot_request("another-secret", fake.text_message("hi"), timestamp_ms=NOW_MS)
    with pytest.raises(CallbackRejected) as err:
        receive_robot_message(headers, body, settings, now_ms=NOW_MS)
    assert err.value.status == 403 and "sign" in err.value.reason


def test_tampered_timestamp_breaks_the_sign(settings):
    headers, body = fake.build_robot_request(SECRET, fake.text_message("hi"), timestamp_ms=NOW_MS)
    headers["timestamp"] = str(NOW_MS + 1)
    with pytest.raises(CallbackRejected) as err:
        receive_robot_message(headers, body, settings, now_ms=NOW_MS)
    assert err.value.status == 403


def test_missing_headers_rejected(settings):
    with pytest.raises(CallbackRejected) as err:
        receive_robot_message({}, b"{}", settings, now_ms=NOW_MS)
    assert err.value.status == 403


def test_stale_timestamp_rejected_and_window_zero_disables(settings):
    old = NOW_MS - 301_000
    headers, body = fake.build_robot_request(SECRET, fake.text_message("hi"), timestamp_ms=old)
    with pytest.raises(CallbackRejected) as err:
        receive_robot_message(headers, body, settings, now_ms=NOW_MS)
    assert err.value.status == 403 and "stale" in err.value.reason
    # 299 s is still inside the window
    ok_headers, ok_body = fake.build_robot_request(SECRET, fake.text_message("hi"), timestamp_ms=NOW_MS - 299_000)
    assert receive_robot_message(ok_headers, ok_body, settings, now_ms=NOW_MS)[0] is not None
    no_window = settings.model_copy(update={"crmbot_timestamp_window_s": 0})
    event, _ = receive_robot_message(headers, body, no_window, now_ms=NOW_MS)
    assert event.kind == Kind.TEXT


def test_malformed_json_and_wrong_shape_are_400(settings):
    for body in (b"{not json", b"[1, 2]", "中文".encode("gbk")):
        headers, _ = fake.build_robot_request(SECRET, {}, timestamp_ms=NOW_MS)
        with pytest.raises(CallbackRejected) as err:
            receive_robot_message(headers, body, settings, now_ms=NOW_MS)
        assert err.value.status == 400
    headers, body = fake.build_robot_request(SECRET, {"msgtype": "text"}, timestamp_ms=NOW_MS)
    with pytest.raises(CallbackRejected) as err:
        receive_robot_message(headers, body, settings, now_ms=NOW_MS)
    assert err.value.status == 400 and "msgId" in err.value.reason


def test_oversized_body_is_413_before_anything_else(settings):
    message = fake.text_message("长" * 5000)
    headers, body = fake.build_robot_request("wrong-secret-too", message, timestamp_ms=NOW_MS)
    with pytest.raises(CallbackRejected) as err:
        receive_robot_message(headers, body, settings, now_ms=NOW_MS)
    assert err.value.status == 413


def test_missing_app_secret_refuses_everything():
    settings = load_settings(dingtalk_app_secret=None)
    headers, body = fake.build_robot_request("", fake.text_message("hi"), timestamp_ms=NOW_MS)
    with pytest.raises(CallbackRejected) as err:
        receive_robot_message(headers, body, settings, now_ms=NOW_MS)
    assert err.value.status == 403


def test_picture(settings):
    event, _ = receive(fake.picture_message("dl-pic-1"), settings)
    assert event.kind == Kind.IMAGE and event.payload == {"media_ref": "dl-pic-1"}


def test_audio_with_and_without_recognition(settings):
    event, _ = receive(fake.audio_message("dl-voice", recognition="明天去拜访王总", duration_ms=4200), settings)
    assert event.kind == Kind.VOICE
    assert event.payload["media_ref"] == "dl-voice"
    assert event.payload["recognition"] == "明天去拜访王总"
    assert event.payload["duration_ms"] == 4200
    event, _ = receive(fake.audio_message("dl-voice2", recognition=""), settings)
    assert event.payload["recognition"] is None


def test_video_and_file(settings):
    event, _ = receive(fake.file_message("dl-file", "报价单.xlsx"), settings)
    assert event.kind == Kind.FILE and event.payload == {"media_ref": "dl-file", "file_name": "报价单.xlsx"}
    event, _ = receive(fake.video_message("dl-video"), settings)
    assert event.kind == Kind.FILE and event.payload["media_ref"] == "dl-video"
    assert event.payload["file_name"].endswith(".mp4")


def test_rich_text_is_one_text_event_with_images(settings):
    message = fake.rich_text_message(["拜访了华东机电", ("picture", "dl-a"), " 名片如图 ", ("picture", "dl-b")])
    event, _ = receive(message, settings)
    assert event.kind == Kind.TEXT
    assert event.payload == {"text": "拜访了华东机电\n名片如图", "images": ["dl-a", "dl-b"]}


def test_unknown_type_is_unknown_not_an_error(settings):
    message = fake.robot_message("interactiveCard", "zhangsan", content={"x": 1})
    event, _ = receive(message, settings)
    assert event.kind == Kind.UNKNOWN and event.payload == {"type": "interactiveCard"}


def test_group_message_with_at(settings):
    message = fake.group_text_message("跟进一下这个客户", conversation_id="cidGroup42==",
                                      conversation_title="华东机电项目群")
    event, _ = receive(message, settings)
    assert event.chat.is_group and event.chat.conversation_id == "cidGroup42=="
    assert event.chat.title == "华东机电项目群"  # the group's name, for proposing its customer
    assert event.payload == {"text": "跟进一下这个客户"}  # the leading space after the @ is gone
    assert Event.from_dict(event.to_dict()) == event   # the inbox keeps it whole


def test_group_message_without_at_is_stored_but_ignored(settings):
    message = fake.group_text_message("大家好", at_robot=False)
    event, raw = receive(message, settings)
    assert event is None and raw["msgId"] == message["msgId"]


def test_outside_sender_is_unknown_with_empty_sender(settings):
    message = fake.text_message("你好", sender=None)
    event, _ = receive(message, settings)
    assert event.kind == Kind.UNKNOWN and event.sender == ""
    assert event.payload["type"] == "outside_sender" and event.payload["msgtype"] == "text"


def test_action_card_text_becomes_card_action(settings):
    # the text names no card: the inbox job finds it among the sender's cards (bot/card_taps.py)
    card = Card(card_id="fu-42", title="上海华东机电设备有限公司（正常）", subject="上海华东机电设备有限公司",
                buttons=(Button(text="已报价", key="tag:quoted"),))
    text = button_text(card, card.buttons[0])
    event, _ = receive(fake.text_message(text), settings)
    assert event.kind == Kind.CARD_ACTION
    assert event.payload == {"card_ref": "", "action": "", "params": {}, "via": "text",
                             "button_text": "☑ 已报价 · 上海华东机电设备有限公司"}


def test_action_card_text_in_the_format_before_issue_16_names_its_card(settings):
    event, _ = receive(fake.text_message("#操作 已报价 ‹fu-42|tag:quoted›"), settings)
    assert event.kind == Kind.CARD_ACTION
    assert event.payload == {"card_ref": "fu-42", "action": "tag:quoted", "params": {}, "via": "text"}


def test_text_that_only_looks_like_a_button_is_text(settings):
    for text in ("☑已报价", "我 ☑ 已报价 · 华东机电", "已报价 · 上海华东机电设备有限公司"):
        event, _ = receive(fake.text_message(text), settings)
        assert event.kind == Kind.TEXT, text


# --- card callbacks -------------------------------------------------------------------------------


def test_card_callback_click(settings):
    headers, body = fake.build_card_callback(SECRET, "out-7", "lisi", action_ids=["claim"],
                                             params={"lead": "42"}, timestamp_ms=NOW_MS)
    event, raw = receive_card_callback(headers, body, settings, now_ms=NOW_MS)
    assert raw["outTrackId"] == "out-7"
    assert (event.kind, event.sender, event.org) == (Kind.CARD_ACTION, "lisi", fake.FAKE_CORP_ID)
    assert event.payload == {"card_ref": "out-7", "action": "claim", "params": {"lead": "42"}}


def test_card_callback_event_id_is_stable_per_click_content(settings):
    def event_id(user, action, params):
        h, b = fake.build_card_callback(SECRET, "out-7", user, action_ids=[action], params=params,
                                        timestamp_ms=NOW_MS)
        return receive_card_callback(h, b, settings, now_ms=NOW_MS)[0].event_id

    first = event_id("lisi", "claim", {"a": "1"})
    assert first == event_id("lisi", "claim", {"a": "1"})          # a re-sent click dedupes
    assert first != event_id("wangwu", "claim", {"a": "1"})
    assert first != event_id("lisi", "snooze", {"a": "1"})
    assert first != event_id("lisi", "claim", {"a": "2"})


def test_card_callback_action_from_params_when_no_action_ids(settings):
    headers, body = fake.build_card_callback(SECRET, "out-8", "lisi", params={"action": "snooze"},
                                             timestamp_ms=NOW_MS)
    event, _ = receive_card_callback(headers, body, settings, now_ms=NOW_MS)
    assert event.payload["action"] == "snooze"


def test_card_callback_bad_signature_stale_and_bad_content(settings):
    headers, body = fake.build_card_callback("nope", "out-7", "lisi", ["claim"], timestamp_ms=NOW_MS)
    with pytest.raises(CallbackRejected) as err:
        receive_card_callback(headers, body, settings, now_ms=NOW_MS)
    assert err.value.status == 403
    headers, body = fake.build_card_callback(SECRET, "out-7", "lisi", ["claim"], timestamp_ms=NOW_MS - 3_600_000)
    with pytest.raises(CallbackRejected) as err:
        receive_card_callback(headers, body, settings, now_ms=NOW_MS)
    assert err.value.status == 403
    data = fake.card_callback_data("out-7", "lisi", ["claim"])
    data["content"] = "{broken"
    headers, _ = fake.build_card_callback(SECRET, "out-7", "lisi", timestamp_ms=NOW_MS)
    with pytest.raises(CallbackRejected) as err:
        receive_card_callback(headers, json.dumps(data).encode(), settings, now_ms=NOW_MS)
    assert err.value.status == 400
