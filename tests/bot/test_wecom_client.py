"""The real WeComClient against the fake WeCom over loopback HTTP."""
from __future__ import annotations

import socket

import pytest
import requests

from bot.errors import CardCodeSpent, PermanentError, RateLimited, RetryableError
from bot.wecom.client import WeComClient
from bot.wecom.fake import start_fake_wecom

TEXT = {"msgtype": "text", "text": {"content": "今天有 3 位客户待跟进"}}


@pytest.fixture
def fake_wecom():
    base_url, state, stop = start_fake_wecom()
    yield base_url, state
    stop()


@pytest.fixture
def state(fake_wecom):
    return fake_wecom[1]


def make_client(fake_wecom, redis_conn, **kwargs) -> WeComClient:
    base_url, state = fake_wecom
    return WeComClient(base_url, state.corp_id, kwargs.pop("secret", state.secret), state.agent_id,
                       redis_conn, **kwargs)


@pytest.fixture
def client(fake_wecom, redis_conn):
    return make_client(fake_wecom, redis_conn)


# -- access_token -------------------------------------------------------------------------------

def test_token_is_fetched_once_and_shared_through_redis(fake_wecom, redis_conn, state):
    first = make_client(fake_wecom, redis_conn)
    second = make_client(fake_wecom, redis_conn)  # another process, same Redis
    first.send("zhangsan", TEXT)
    second.send("lisi", TEXT)
    second.send("lisi", TEXT)
    assert state.call_count("/cgi-bin/gettoken") == 1
    assert state.call_count("/cgi-bin/message/send") == 3
    ttl = redis_conn.ttl(first._token_key)
    assert 0 < ttl <= 7200 - 300  # refreshed before WeCom's expiry


def test_expired_token_is_refetched_and_the_call_retried_once(client, state):
    client.send("zhangsan", TEXT)
    state.expire_tokens()
    result = client.send("zhangsan", TEXT)
    assert result.msgid
    assert state.call_count("/cgi-bin/gettoken") == 2
    assert state.call_count("/cgi-bin/message/send") == 3  # ok, rejected (42001), retried ok
    assert len(state.sent_to("/message/send")) == 2


def test_a_token_refreshed_by_another_process_is_not_refetched(fake_wecom, redis_conn, state):
    a = make_client(fake_wecom, redis_conn)
    b = make_client(fake_wecom, redis_conn)
    stale = a.access_token()
    state.expire_tokens()
    fresh = b._refresh_token(rejected=stale)
    assert fresh != stale
    assert a._refresh_token(rejected=stale) == fresh  # a sees b's token, no second gettoken
    assert state.call_count("/cgi-bin/gettoken") == 2


def test_only_one_retry_when_the_token_keeps_being_rejected(client, state):
    client.access_token()
    state.fail_next(40014, n=2, path="/cgi-bin/message/send")
    with pytest.raises(PermanentError) as info:
        client.send("zhangsan", TEXT)
    assert info.value.code == 40014
    assert state.call_count("/cgi-bin/message/send") == 2


def test_bad_secret_is_permanent(fake_wecom, redis_conn):
    client = make_client(fake_wecom, redis_conn, secret="wrong")
    with pytest.raises(PermanentError) as info:
        client.send("zhangsan", TEXT)
    assert info.value.code == 40001 and not info.value.retryable


# -- error classification -----------------------------------------------------------------------

def test_rate_limit_raises_rate_limited(client, state):
    state.fail_next(45009, path="/cgi-bin/message/send")
    with pytest.raises(RateLimited) as info:
        client.send("zhangsan", TEXT)
    assert info.value.code == 45009 and info.value.retryable
    assert client.send("zhangsan", TEXT).msgid  # no internal retry: the next call goes through


def test_system_busy_is_retryable(client, state):
    state.fail_next(-1, path="/cgi-bin/message/send")
    with pytest.raises(RetryableError) as info:
        client.send("zhangsan", TEXT)
    assert info.value.code == -1 and not isinstance(info.value, RateLimited)


def test_http_5xx_is_retryable(client, state):
    state.fail_next(502, path="/cgi-bin/message/send")
    with pytest.raises(RetryableError) as info:
        client.send("zhangsan", TEXT)
    assert info.value.code == 502
    assert state.call_count("/cgi-bin/message/send") == 1


def test_connection_refused_and_timeout_are_retryable(redis_conn, fake_wecom):
    _, state = fake_wecom
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    dead = WeComClient(f"http://127.0.0.1:{closed_port}", state.corp_id, state.secret, state.agent_id,
                       redis_conn)
    with pytest.raises(RetryableError) as info:
        dead.send("zhangsan", TEXT)
    assert info.value.code == "connection"
    assert state.secret not in str(info.value) and "corpsecret=***" in str(info.value)

    class SlowSession(requests.Session):
        def request(self, *args, **kwargs):
            raise requests.ReadTimeout("read timed out")

    slow = make_client(fake_wecom, redis_conn, http=SlowSession())
    with pytest.raises(RetryableError) as info:
        slow.access_token()
    assert info.value.code == "timeout"


def test_other_errcodes_are_permanent_with_the_code(client, state):
    with pytest.raises(PermanentError) as info:
        client.send("zhangsan", {"msgtype": "sticker", "sticker": {}})
    assert info.value.code == 40008 and not info.value.retryable


# -- messages -----------------------------------------------------------------------------------

def test_send_records_the_body_and_overrides_touser_and_agentid(client, state):
    client.send("zhangsan", {**TEXT, "touser": "somebody_else", "agentid": 1})
    (entry,) = state.sent_to("/cgi-bin/message/send")
    assert entry["body"]["touser"] == "zhangsan" and entry["body"]["agentid"] == state.agent_id
    assert entry["body"]["text"]["content"] == "今天有 3 位客户待跟进"


def test_send_with_some_invalid_users_is_partial_not_an_error(client, state):
    state.set_members(["zhangsan"])
    result = client.send("zhangsan|ghost|left_company", TEXT)
    assert result.msgid and result.invalid_users == ("ghost", "left_company")
    with pytest.raises(PermanentError) as info:
        client.send("ghost", TEXT)
    assert info.value.code == 81013


def button_card(task_id: str) -> dict:
    return {"msgtype": "template_card", "template_card": {
        "card_type": "button_interaction", "task_id": task_id, "main_title": {"title": "跟进：华东机电"},
        "button_list": [{"text": "已报价", "style": 1, "key": "tag:quoted"}]}}


def test_update_card_then_reusing_the_code_is_card_code_spent(client, state):
    sent = client.send("zhangsan", button_card("fu-42"))
    assert sent.response_code
    client.update_template_card(["zhangsan"], sent.response_code, replace_name="已报价")
    with pytest.raises(CardCodeSpent) as info:
        client.update_template_card(["zhangsan"], sent.response_code, replace_name="again")
    assert info.value.code == 60140
    (update,) = state.sent_to("/cgi-bin/message/update_template_card")
    assert update["body"]["button"] == {"replace_name": "已报价"}
    assert update["body"]["userids"] == ["zhangsan"]


def test_update_card_needs_exactly_one_of_card_or_replace_name(client):
    with pytest.raises(ValueError):
        client.update_template_card(["zhangsan"], "RC", template_card={"x": 1}, replace_name="y")
    with pytest.raises(ValueError):
        client.update_template_card(["zhangsan"], "RC")


# -- media --------------------------------------------------------------------------------------

def test_media_download_returns_bytes_type_and_name(client, state):
    content = bytes(range(256)) * 40
    media_id = state.add_media(content, "image/jpeg", "名片.jpg")
    assert client.download_media(media_id) == (content, "image/jpeg", "名片.jpg")


def test_media_error_comes_back_as_json_with_http_200(client, state):
    with pytest.raises(PermanentError) as info:
        client.download_media("no-such-media")
    assert info.value.code == 40007


def test_media_download_refetches_an_expired_token(client, state):
    media_id = state.add_media(b"#!AMR\n" + b"\x00" * 100, "audio/amr")
    client.access_token()
    state.expire_tokens()
    content, content_type, _ = client.download_media(media_id)
    assert content.startswith(b"#!AMR") and content_type == "audio/amr"


def test_media_larger_than_the_cap_is_refused(fake_wecom, redis_conn, state):
    client = make_client(fake_wecom, redis_conn, max_media_bytes=1000)
    media_id = state.add_media(b"x" * 1001, "image/png")
    with pytest.raises(PermanentError) as info:
        client.download_media(media_id)
    assert info.value.code == "too_large"
    assert client.download_media(state.add_media(b"x" * 1000, "image/png"))[0] == b"x" * 1000


def test_upload_then_download(client):
    media_id = client.upload_media("file", b"report", "周报.txt", "text/csv")
    assert client.download_media(media_id)[0] == b"report"


# -- contacts, login, tickets -------------------------------------------------------------------

def test_external_contact(client, state):
    state.add_external_contact("wmCUST", "王经理", corp_name="华东机电",
                               follow_user=[{"userid": "zhangsan", "remark_mobiles": ["13800000000"]}])
    data = client.get_external_contact("wmCUST")
    assert data["external_contact"]["name"] == "王经理"
    assert data["follow_user"][0]["remark_mobiles"] == ["13800000000"]
    with pytest.raises(PermanentError):
        client.get_external_contact("wmNOBODY")


def test_login_code_is_single_use(client, state):
    code = state.add_login_code("zhangsan")
    assert client.get_user_id_by_code(code) == "zhangsan"
    with pytest.raises(PermanentError) as info:
        client.get_user_id_by_code(code)
    assert info.value.code == 40029


def test_tickets_are_cached_in_redis(fake_wecom, redis_conn, state):
    a = make_client(fake_wecom, redis_conn)
    b = make_client(fake_wecom, redis_conn)
    assert a.get_jsapi_ticket() == b.get_jsapi_ticket()
    assert a.get_agent_ticket() == b.get_agent_ticket() != a.get_jsapi_ticket()
    assert state.call_count("/cgi-bin/get_jsapi_ticket") == 1
    assert state.call_count("/cgi-bin/ticket/get") == 1


def test_image_message_needs_an_uploaded_png_or_jpeg(client):
    from bot.errors import PermanentError
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    media_id = client.upload_media("image", png, "chart.png", "image/png")
    assert client.send("zhangsan", {"msgtype": "image", "image": {"media_id": media_id}}).msgid
    with pytest.raises(PermanentError) as unknown:
        client.send("zhangsan", {"msgtype": "image", "image": {"media_id": "MEDIA_nope"}})
    assert unknown.value.code == 40007
    with pytest.raises(PermanentError) as not_image:
        client.upload_media("image", b"GIF89a", "chart.gif", "image/gif")
    assert not_image.value.code == 40005
