"""The fake WeCom itself: it must refuse what WeCom refuses, or tests against it prove nothing."""
from __future__ import annotations

import threading

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from bot.errors import PermanentError, RateLimited, RetryableError
from bot.wecom.client import WeComClient
from bot.wecom.fake import FakeWeComState, create_fake_wecom_blueprint, start_fake_wecom


@pytest.fixture
def fake_wecom():
    base_url, state, stop = start_fake_wecom()
    yield base_url, state
    stop()


@pytest.fixture
def client(fake_wecom, redis_conn):
    base_url, state = fake_wecom
    return WeComClient(base_url, state.corp_id, state.secret, state.agent_id, redis_conn)


def card(**overrides) -> dict:
    body = {"card_type": "button_interaction", "task_id": "t-1", "main_title": {"title": "跟进"},
            "button_list": [{"text": "已报价", "style": 1, "key": "tag:quoted"}]}
    return {"msgtype": "template_card", "template_card": {**body, **overrides}}


def errcode_of(call) -> int | str | None:
    with pytest.raises(PermanentError) as info:
        call()
    return info.value.code


def test_task_id_is_unique_per_app_forever(client):
    client.send("zhangsan", card(task_id="fu-42"))
    assert errcode_of(lambda: client.send("lisi", card(task_id="fu-42"))) == 40058
    assert client.send("lisi", card(task_id="fu-43")).response_code


def test_card_shapes_wecom_refuses(client):
    assert errcode_of(lambda: client.send("u", card(task_id=None))) == 40058
    assert errcode_of(lambda: client.send("u", card(task_id="has space"))) == 40058
    assert errcode_of(lambda: client.send("u", card(task_id="x" * 129))) == 40058
    assert errcode_of(lambda: client.send("u", card(task_id="b7", button_list=[]))) == 40058
    seven = [{"text": str(i), "key": f"k{i}"} for i in range(7)]
    assert errcode_of(lambda: client.send("u", card(task_id="b8", button_list=seven))) == 40058
    twice = [{"text": "a", "key": "same"}, {"text": "b", "key": "same"}]
    assert errcode_of(lambda: client.send("u", card(task_id="b9", button_list=twice))) == 40058
    notice = {"card_type": "text_notice", "main_title": {"title": "提醒"}}
    assert errcode_of(lambda: client.send("u", {"msgtype": "template_card", "template_card": notice})) == 42045


def test_text_longer_than_2048_bytes_is_refused(client):
    long_text = {"msgtype": "text", "text": {"content": "客" * 683}}  # 2049 bytes
    assert errcode_of(lambda: client.send("u", long_text)) == 45002
    assert client.send("u", {"msgtype": "text", "text": {"content": "客" * 682}}).msgid


def test_sent_endpoint_lists_messages_and_updates(fake_wecom, client):
    base_url, state = fake_wecom
    sent = client.send("zhangsan", card(task_id="s-1"))
    client.update_template_card(["zhangsan"], sent.response_code, replace_name="已处理")
    listed = requests.get(base_url + "/sent", timeout=5).json()
    assert [entry["path"] for entry in listed] == ["/cgi-bin/message/send",
                                                   "/cgi-bin/message/update_template_card"]
    assert listed[0]["body"]["template_card"]["task_id"] == "s-1"
    assert listed[1]["time"] >= listed[0]["time"]


def test_callback_response_codes_from_the_state_are_single_use(client, fake_wecom):
    _, state = fake_wecom
    code = state.new_response_code()  # what a simulated click carries
    client.update_template_card(["zhangsan"], code, template_card=card()["template_card"])
    assert errcode_of(lambda: client.update_template_card(["zhangsan"], code, replace_name="x")) == 60140


def test_fail_next_counts_and_scopes_by_path(client, fake_wecom):
    _, state = fake_wecom
    client.access_token()
    state.fail_next(45009, n=2, path="/cgi-bin/message/send")
    assert client.get_jsapi_ticket()  # another path is not affected
    for _ in range(2):
        with pytest.raises(RateLimited):
            client.send("u", {"msgtype": "text", "text": {"content": "x"}})
    assert client.send("u", {"msgtype": "text", "text": {"content": "x"}}).msgid


def test_blueprint_mounted_under_the_demo_prefix(redis_conn):
    """The demo mounts the fake at /dev/fake/wecom/ on the app itself."""
    state = FakeWeComState()
    app = Flask("demo")
    app.register_blueprint(create_fake_wecom_blueprint(state), url_prefix="/dev/fake/wecom")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        base_url = f"http://127.0.0.1:{server.server_port}/dev/fake/wecom"
        client = WeComClient(base_url, state.corp_id, state.secret, state.agent_id, redis_conn)
        state.fail_next(502, path="/cgi-bin/message/send")
        with pytest.raises(RetryableError):
            client.send("zhangsan", {"msgtype": "text", "text": {"content": "x"}})
        client.send("zhangsan", {"msgtype": "text", "text": {"content": "你好"}})
        listed = requests.get(base_url + "/sent", timeout=5).json()
        assert [e["body"]["text"]["content"] for e in listed] == ["你好"]
    finally:
        server.shutdown()
        server.server_close()
