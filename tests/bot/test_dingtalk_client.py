"""The DingTalk client against the local fake platform, over loopback HTTP."""
from __future__ import annotations

import pytest
import requests

from bot.dingtalk import fake
from bot.dingtalk.client import DingTalkClient, SendResult
from bot.errors import PermanentError, RateLimited, RetryableError
from cards.dingtalk import (
    render_action_card,
    render_interactive,
    render_markdown,
    render_text,
)
from cards.model import Button, Card


@pytest.fixture
def platform():
    base_url, state, stop = fake.start_fake_dingtalk()
    yield base_url, state
    stop()


def make_client(platform, redis_conn, **kw) -> DingTalkClient:
    base_url, state = platform
    args = dict(api_base=base_url, oapi_base=base_url, app_key=state.app_key, app_secret=state.app_secret,
                robot_code=None, redis=redis_conn, agent_id=state.agent_id, card_template_id="tpl.crmbot")
    args.update(kw)
    return DingTalkClient(**args)


@pytest.fixture
def client(platform, redis_conn):
    return make_client(platform, redis_conn)


def text_param(text: str) -> dict:
    return {"content": text}


def test_token_is_cached_in_redis_and_shared_between_clients(platform, redis_conn):
    _, state = platform
    one, two = make_client(platform, redis_conn), make_client(platform, redis_conn)
    one.send_to_users(["zhangsan"], "sampleText", text_param("早上好"))
    two.send_to_users(["lisi"], "sampleText", text_param("早上好"))
    assert state.token_requests == 1
    ttl = redis_conn.ttl(one._token_key)
    assert 7200 - 300 - 5 <= ttl <= 7200 - 300


def test_expired_token_is_refetched_and_call_retried_once(platform, client):
    _, state = platform
    client.send_to_users(["zhangsan"], "sampleText", text_param("1"))
    state.expire_tokens()                               # new API answers 401 InvalidAuthentication
    client.send_to_users(["zhangsan"], "sampleText", text_param("2"))
    assert state.token_requests == 2
    assert [s["msg_param"]["content"] for s in state.sent_to("batchSend")] == ["1", "2"]
    state.expire_tokens()                               # oapi answers errcode 42001
    assert client.send_work_notice(["zhangsan"], render_text("提醒")) is not None
    assert state.token_requests == 3


def test_token_rejected_twice_is_permanent(platform, client):
    _, state = platform
    state.fail_next(401, n=2, path="/v1.0/robot/oToMessages/batchSend")
    with pytest.raises(PermanentError):
        client.send_to_users(["zhangsan"], "sampleText", text_param("x"))
    assert state.token_requests == 2 and state.sent_to("batchSend") == []


def test_bad_app_secret_is_permanent(platform, redis_conn):
    client = make_client(platform, redis_conn, app_secret="wrong")
    with pytest.raises(PermanentError) as err:
        client.send_to_users(["zhangsan"], "sampleText", text_param("x"))
    assert err.value.code == "invalidClientIdOrSecret"


def test_batch_send_reports_flow_controlled_and_invalid_users(platform, client):
    _, state = platform
    state.flow_control("lisi")
    state.mark_invalid("ghost")
    result = client.send_to_users(["zhangsan", "lisi", "ghost"], "sampleText", text_param("周报提醒"))
    assert isinstance(result, SendResult) and result.process_query_key
    assert result.flow_controlled == ["lisi"] and result.invalid == ["ghost"]
    sent = state.sent_to("batchSend")[0]
    assert isinstance(sent["body"]["msgParam"], str)       # DingTalk wants a JSON string
    assert sent["delivered"] == ["zhangsan"]


def test_batch_send_takes_at_most_twenty_users(client):
    with pytest.raises(ValueError):
        client.send_to_users([f"u{i}" for i in range(21)], "sampleText", text_param("x"))


def test_rate_limit_and_server_errors_are_classified(platform, client):
    _, state = platform
    state.fail_next(429, path="/v1.0/robot/oToMessages/batchSend")
    with pytest.raises(RateLimited):
        client.send_to_users(["zhangsan"], "sampleText", text_param("x"))
    state.fail_next(503)
    with pytest.raises(RetryableError) as err:
        client.send_to_group("cidGroup==", "sampleText", text_param("x"))
    assert not isinstance(err.value, RateLimited)
    state.fail_next("html")                                  # the per-IP ban page
    with pytest.raises(RetryableError):
        client.send_to_group("cidGroup==", "sampleText", text_param("x"))
    state.fail_next(90018, path="/topapi/message/corpconversation/asyncsend_v2")
    with pytest.raises(RateLimited):
        client.send_work_notice(["zhangsan"], render_text("x"))
    state.fail_next(90020, path="/topapi/message/corpconversation/asyncsend_v2")
    with pytest.raises(PermanentError) as err:
        client.send_work_notice(["zhangsan"], render_text("x"))
    assert err.value.code == 90020 and not err.value.retryable
    assert state.sent_to("batchSend") == [] and state.sent_to("groupSend") == []
    client.send_to_group("cidGroup==", "sampleText", text_param("好了"))   # faults were one-shot
    assert len(state.sent_to("groupSend")) == 1


def test_timeout_and_refused_connection_are_retryable(platform, redis_conn, client):
    client.access_token()                       # token cached, so the next call goes straight out
    dead = make_client(platform, redis_conn, api_base="http://127.0.0.1:9")
    with pytest.raises(RetryableError):
        dead.send_to_users(["zhangsan"], "sampleText", text_param("x"))

    class SlowSession(requests.Session):
        def request(self, *args, **kwargs):
            raise requests.ReadTimeout("simulated")
    slow = make_client(platform, redis_conn, http=SlowSession())
    with pytest.raises(RetryableError):
        slow.send_to_group("cid==", "sampleText", text_param("x"))


def test_group_message_and_action_card_fallback(platform, client):
    _, state = platform
    card = Card(card_id="fu-1", title="跟进提醒", text="华东机电 31 天未联系",
                buttons=(Button("已跟进", key="done"), Button("稍后", key="snooze")))
    msg_key, msg_param = render_action_card(card)
    assert client.send_to_group("cidGroup==", msg_key, msg_param)
    sent = state.sent_to("groupSend")[0]
    assert sent["body"]["msgKey"] == "sampleActionCard2"
    assert sent["msg_param"]["actionTitle2"] == "稍后"


def test_interactive_card_create_then_update(platform, client):
    _, state = platform
    card = Card(card_id="lead-9", title="新线索", buttons=(Button("认领", key="claim"),))
    result = client.create_and_deliver_card("lead-9", render_interactive(card), user_id="zhangsan")
    assert result["deliverResults"][0]["success"] is True
    created = state.sent_to("cardCreate")[0]["body"]
    assert created["openSpaceId"] == "dtv1.card//IM_ROBOT.zhangsan"
    assert created["imRobotOpenDeliverModel"] == {"spaceType": "IM_ROBOT", "robotCode": state.robot_code}
    assert created["callbackType"] == "STREAM"

    done = Card(card_id="lead-9", title="新线索", done_note="已认领 · 张三")
    client.update_card("lead-9", {"done_note": "已认领 · 张三", "buttons": "[]"})
    assert state.cards["lead-9"]["done_note"] == "已认领 · 张三"
    assert state.cards["lead-9"]["title"] == "新线索"      # merged by key, not replaced
    client.update_card("lead-9", render_interactive(done), update_by_key=False)
    assert state.cards["lead-9"]["done"] == "true"


def test_group_card_with_http_callback(platform, client):
    _, state = platform
    client.create_and_deliver_card("lead-10", {"title": "x"}, open_conversation_id="cidG==",
                                   callback_route_key="crmbot")
    body = state.sent_to("cardCreate")[0]["body"]
    assert body["openSpaceId"] == "dtv1.card//IM_GROUP.cidG=="
    assert body["callbackType"] == "HTTP" and body["callbackRouteKey"] == "crmbot"
    assert "imGroupOpenDeliverModel" in body


def test_a_card_delivered_by_another_robot_is_refused(platform, redis_conn):
    """The deliver model names the robot that posts the card (platforms.md 2.6): a wrong robotCode
    is DingTalk's 400, a permanent error, in a group as in the 1:1 chat."""
    stranger = make_client(platform, redis_conn, robot_code="dingotherrobot")
    for target in ({"open_conversation_id": "cidG=="}, {"user_id": "zhangsan"}):
        with pytest.raises(PermanentError) as err:
            stranger.create_and_deliver_card("lead-11", {"title": "x"}, **target)
        assert err.value.code == "invalidParameter.robotCode"
    assert platform[1].sent_to("cardCreate") == []


def test_card_errors(client):
    with pytest.raises(PermanentError):
        client.update_card("never-sent", {"title": "x"})
    with pytest.raises(ValueError):
        client.create_and_deliver_card("x", {"fields": ["not", "a", "string"]}, user_id="u")
    with pytest.raises(ValueError):
        client.create_and_deliver_card("x", {"title": "t"})
    with pytest.raises(ValueError):
        client.create_and_deliver_card("x", {"title": "t"}, user_id="u", open_conversation_id="c")


def test_card_needs_a_template_id(platform, redis_conn):
    client = make_client(platform, redis_conn, card_template_id=None)
    with pytest.raises(ValueError):
        client.create_and_deliver_card("x", {"title": "t"}, user_id="u")


def test_file_download_and_size_limit(platform, redis_conn, client):
    _, state = platform
    voice = bytes(range(256)) * 40
    code = state.add_file(voice)
    assert client.download_message_file(code) == voice
    small = make_client(platform, redis_conn, max_download_bytes=1000)
    with pytest.raises(PermanentError) as err:
        small.download_message_file(code)
    assert err.value.code == "too_large"
    with pytest.raises(PermanentError):
        client.download_message_file("no-such-code")


def test_work_notice(platform, client):
    _, state = platform
    card = Card(card_id="wk-1", title="本周未跟进客户", text="共 3 位")
    task_id = client.send_work_notice(["zhangsan", "lisi"], render_markdown(card))
    notice = state.sent_to("workNotice")[0]
    assert notice["task_id"] == task_id and notice["users"] == ["zhangsan", "lisi"]
    assert notice["body"]["agent_id"] == state.agent_id
    assert notice["body"]["msg"]["markdown"]["title"] == "本周未跟进客户"


def test_work_notice_needs_agent_id(platform, redis_conn):
    with pytest.raises(ValueError):
        make_client(platform, redis_conn, agent_id=None).send_work_notice(["u"], render_text("x"))


def test_login_code_exchange_is_single_use(platform, client):
    _, state = platform
    state.add_auth_code("code-abc", "zhangsan")
    assert client.get_user_id_by_auth_code("code-abc") == "zhangsan"
    with pytest.raises(PermanentError) as err:
        client.get_user_id_by_auth_code("code-abc")
    assert err.value.code == 40078


def test_jsapi_ticket_cached(platform, client, redis_conn):
    _, state = platform
    assert client.get_jsapi_ticket() == state.jsapi_ticket
    state.jsapi_ticket = "changed"
    assert client.get_jsapi_ticket() != "changed"      # served from Redis


def test_reply_via_session_webhook(platform, client):
    _, state = platform
    url = state.session_webhook_url()
    client.reply_via_webhook(url, render_text("收到，已记录"))
    assert state.sent_to("webhook")[0]["body"]["text"]["content"] == "收到，已记录"
    with pytest.raises(PermanentError):
        client.reply_via_webhook(state.session_webhook_url(expires_in_s=-1), render_text("太晚了"))


def test_sent_endpoint_lists_everything(platform, client):
    base_url, _ = platform
    client.send_to_users(["zhangsan"], "sampleText", text_param("hi"))
    listing = requests.get(f"{base_url}/sent", timeout=5).json()
    assert [s["api"] for s in listing["sent"]] == ["batchSend"]


def test_while_another_process_refreshes_we_wait_for_its_token(platform, client, redis_conn):
    import threading
    _, state = platform
    redis_conn.set(client._token_key + ":lock", "1", ex=10)      # "another process" is refreshing
    threading.Timer(0.2, lambda: redis_conn.set(client._token_key, "token-from-other-process")).start()
    assert client.access_token() == "token-from-other-process"
    assert state.token_requests == 0


def test_register_card_callback_uses_the_app_secret(platform, client):
    _, state = platform
    result = client.register_card_callback("crmbot", "https://crm.example.com/dingtalk/card-callback")
    assert result["callbackUrl"] == "https://crm.example.com/dingtalk/card-callback"
    assert state.card_callbacks["crmbot"]["apiSecret"] == state.app_secret


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_image_upload_then_sample_image_message(client, platform):
    """A report chart: oapi media/upload, then batchSend sampleImageMsg with the media_id."""
    _, state = platform
    media_id = client.upload_media("image", PNG, "chart.png", "image/png")
    assert state.media[media_id][1] == PNG
    client.send_image_to_users(["zhangsan"], media_id)
    [sent] = [m for m in state.sent_to("batchSend") if m["body"]["msgKey"] == "sampleImageMsg"]
    assert sent["msg_param"] == {"photoURL": media_id}


def test_fake_refuses_what_dingtalk_refuses_for_images(client):
    with pytest.raises(PermanentError) as not_an_image:
        client.upload_media("image", b"GIF89a....", "chart.gif", "image/gif")
    assert not_an_image.value.code == 40005
    with pytest.raises(PermanentError) as too_big:
        client.upload_media("image", PNG + b"\x00" * fake.MEDIA_LIMITS["image"], "big.png", "image/png")
    assert too_big.value.code == 40006
    with pytest.raises(PermanentError):  # a media_id nobody uploaded
        client.send_image_to_users(["zhangsan"], "@lAnotuploaded")
