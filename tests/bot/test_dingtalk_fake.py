"""The fake DingTalk mounted under a prefix, as the demo does (/dev/fake/dingtalk/)."""
from __future__ import annotations

import pytest
import requests

from bot.dingtalk import fake
from bot.dingtalk.client import DingTalkClient
from bot.errors import RetryableError


@pytest.fixture
def mounted():
    base_url, state, stop = fake.start_fake_dingtalk(url_prefix="/dev/fake/dingtalk")
    yield base_url, state
    stop()


def test_prefixed_fake_serves_files_faults_and_sent_list(mounted, redis_conn):
    base_url, state = mounted
    assert base_url.endswith("/dev/fake/dingtalk")
    client = DingTalkClient(base_url, base_url, state.app_key, state.app_secret, None, redis_conn,
                            agent_id=state.agent_id)
    code = state.add_file(b"\x89PNG fake card photo")
    assert client.download_message_file(code) == b"\x89PNG fake card photo"   # downloadUrl has the prefix

    state.fail_next(502, path="/v1.0/robot/oToMessages/batchSend")
    with pytest.raises(RetryableError):
        client.send_to_users(["zhangsan"], "sampleText", {"content": "x"})
    client.send_to_users(["zhangsan"], "sampleText", {"content": "第二次"})

    webhook = state.session_webhook_url("s1")
    assert webhook.startswith(base_url + "/robot/sendBySession")
    client.reply_via_webhook(webhook, {"msgtype": "text", "text": {"content": "好"}})

    listing = requests.get(base_url + "/sent", timeout=5).json()["sent"]
    assert [s["api"] for s in listing] == ["batchSend", "webhook"]
    assert listing[0]["msg_param"] == {"content": "第二次"}


def test_batch_send_rejects_a_dict_msg_param_like_dingtalk(mounted, redis_conn):
    base_url, state = mounted
    client = DingTalkClient(base_url, base_url, state.app_key, state.app_secret, None, redis_conn)
    token = client.access_token()
    resp = requests.post(base_url + "/v1.0/robot/oToMessages/batchSend", timeout=5,
                         headers={"x-acs-dingtalk-access-token": token},
                         json={"robotCode": state.robot_code, "userIds": ["u"], "msgKey": "sampleText",
                               "msgParam": {"content": "not a string"}})
    assert resp.status_code == 400 and resp.json()["code"] == "invalidParameter.msgParam"
    resp = requests.post(base_url + "/v1.0/robot/oToMessages/batchSend", timeout=5,
                         headers={"x-acs-dingtalk-access-token": "forged"}, json={})
    assert resp.status_code == 401 and resp.json()["code"] == "InvalidAuthentication"
