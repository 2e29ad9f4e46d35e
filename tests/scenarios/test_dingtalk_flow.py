"""A rep's day on DingTalk, end to end over loopback HTTP: signed robot callback → inbox → worker →
outbox → the real client → the fake DingTalk. Both card flavours: the classic ActionCard (its buttons
make the client send a text, "☑ 已报价 · 上海华东机电设备有限公司"; more in test_dingtalk_buttons.py)
and the interactive card (signed card callback, card updated in place with PUT /v1.0/card/instances).
Refusals write nothing; a replayed msgId has one effect."""
import json
import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from sqlalchemy import func, select

from bot.dingtalk import fake as dt_fake
from storage import customers
from storage.customers import ContactInput, CustomerInput
from storage.models import FollowUp, InboxEvent, OutboxMessage
from tests.factories import NOW, build_world
from tests.stack import running_stack

TEMPLATE_ID = "tpl-crmbot-test-001"


def _seed(database, playbook):
    with database.transaction() as s:
        w = build_world(s)
        customers.create_customer(s, w.rep1, CustomerInput(
            kind="company", name="上海华东机电设备有限公司", credit_code="91310115MA1H7XQ819",
            contacts=[ContactInput(name="王建国", mobile="13816620001")]), playbook, now=NOW)


@pytest.fixture
def stack(database, redis_conn, playbook):
    _seed(database, playbook)
    with running_stack(database, redis_conn) as st:
        yield st


@pytest.fixture
def card_stack(database, redis_conn, playbook):
    _seed(database, playbook)
    with running_stack(database, redis_conn, dingtalk_card_template_id=TEMPLATE_ID) as st:
        yield st


def say(stack, user: str, text: str, **kw) -> requests.Response:
    """A 1:1 robot message whose session webhook points at the fake (replies may go there)."""
    kw.setdefault("session_webhook", stack.dingtalk.session_webhook_url())
    return stack.dingtalk_text(user, text, **kw)


def _count(database, model) -> int:
    with database.transaction() as s:
        return s.scalar(select(func.count()).select_from(model))


def _replies(state) -> list[str]:
    """Every text the user got, whichever way it went (batchSend sampleText or the session webhook)."""
    texts = [e["msg_param"]["content"] for e in state.sent_to("batchSend") if e["body"]["msgKey"] == "sampleText"]
    return texts + [e["body"]["text"]["content"] for e in state.sent_to("webhook")
                    if e["body"].get("msgtype") == "text"]


def test_action_card_lookup_then_button_text_logs_followup(stack, database):
    r = say(stack, "rep1", "查 华东机电")
    assert r.status_code == 200 and r.json() == {}
    stack.drain()
    cards = [e for e in stack.dingtalk.sent_to("batchSend") if e["body"]["msgKey"].startswith("sampleActionCard")]
    assert len(cards) == 1
    param = cards[0]["msg_param"]
    assert cards[0]["body"]["userIds"] == ["rep1"] and "华东机电" in param["title"]
    assert param["actionTitle1"] == "已报价"
    url = param["actionURL1"]
    assert url.startswith("dtmd://dingtalkclient/sendMessage?content=")

    # Tapping the button makes the DingTalk client send its text into the chat as the user: a
    # text for people (the chat reads it), with no card id and no key
    button_text = parse_qs(urlparse(url).query)["content"][0]
    assert button_text == "☑ 已报价 · 上海华东机电设备有限公司"
    assert say(stack, "rep1", button_text).status_code == 200
    stack.drain()
    with database.transaction() as s:
        followup = s.scalars(select(FollowUp)).one()
        assert followup.tags == ["quoted"] and followup.channel == "card"
    # an ActionCard cannot change after sending: the update arrives as a text saying what was done
    updates = [t for t in _replies(stack.dingtalk) if "已记跟进：已报价" in t]
    assert len(updates) == 1 and "李明" in updates[0]


def test_interactive_card_click_updates_the_card_in_place(card_stack, database):
    stack = card_stack
    say(stack, "rep1", "查 华东机电")
    stack.drain()
    created = stack.dingtalk.sent_to("cardCreate")
    assert len(created) == 1 and not stack.dingtalk.sent_to("batchSend")
    body = created[0]["body"]
    assert body["cardTemplateId"] == TEMPLATE_ID and body["openSpaceId"] == "dtv1.card//IM_ROBOT.rep1"
    out_track_id = body["outTrackId"]
    params = body["cardData"]["cardParamMap"]
    assert "华东机电" in params["title"] and params["done"] == "false"
    key = json.loads(params["buttons"])[0]["key"]
    assert key == "tag:quoted"

    headers, data = dt_fake.build_card_callback(stack.settings.dingtalk_app_secret, out_track_id, "rep1",
                                                action_ids=[key], corp_id=stack.settings.dingtalk_corp_id)
    for _ in range(2):  # DingTalk may deliver the same click twice: one follow-up
        r = requests.post(f"{stack.base_url}/dingtalk/card-callback", headers=headers, data=data, timeout=10)
        assert r.status_code == 200 and r.json() == {}
    stack.drain()

    updates = stack.dingtalk.sent_to("cardUpdate")
    assert len(updates) == 1 and updates[0]["body"]["outTrackId"] == out_track_id
    card_now = stack.dingtalk.cards[out_track_id]
    assert card_now["done"] == "true" and all(not b["key"] for b in json.loads(card_now["buttons"]))  # links only
    assert card_now["done_note"].startswith("已记跟进：已报价 · 李明")
    assert _count(database, FollowUp) == 1


def test_click_from_someone_else_changes_nothing(card_stack, database):
    stack = card_stack
    say(stack, "rep1", "查 华东机电")
    stack.drain()
    out_track_id = stack.dingtalk.sent_to("cardCreate")[0]["body"]["outTrackId"]
    headers, data = dt_fake.build_card_callback(stack.settings.dingtalk_app_secret, out_track_id, "rep2",
                                                action_ids=["tag:quoted"], corp_id=stack.settings.dingtalk_corp_id)
    assert requests.post(f"{stack.base_url}/dingtalk/card-callback", headers=headers, data=data,
                         timeout=10).status_code == 200
    stack.drain()
    assert _count(database, FollowUp) == 0 and not stack.dingtalk.sent_to("cardUpdate")
    assert any("已失效或不是发给你的" in t for t in _replies(stack.dingtalk))


def _post(stack, path: str, headers: dict, body: bytes) -> requests.Response:
    return requests.post(f"{stack.base_url}{path}", headers=headers, data=body, timeout=10)


def test_refused_callbacks_store_nothing(stack, database):
    secret = stack.settings.dingtalk_app_secret
    message = stack.dingtalk_message("text", "rep1", text={"content": "查 华东机电"})
    headers, body = dt_fake.build_robot_request(secret, message)

    bad_sign = dict(headers, sign=dt_fake.robot_sign("wrong-secret", headers["timestamp"]))
    assert _post(stack, "/dingtalk/callback", bad_sign, body).status_code == 403
    stale_ms = int(time.time() * 1000) - 3600 * 1000
    stale_headers, _ = dt_fake.build_robot_request(secret, message, timestamp_ms=stale_ms)
    assert _post(stack, "/dingtalk/callback", stale_headers, body).status_code == 403
    assert _post(stack, "/dingtalk/callback", dict(headers), b"{not json").status_code == 400
    assert _post(stack, "/dingtalk/callback", dict(headers), b"[1, 2]").status_code == 400
    padded = dict(message, padding="x" * (stack.settings.crmbot_callback_max_bytes + 1))
    big_headers, big_body = dt_fake.build_robot_request(secret, padded)
    assert _post(stack, "/dingtalk/callback", big_headers, big_body).status_code == 413
    card_headers, card_body = dt_fake.build_card_callback("wrong-secret", "cust-1-x", "rep1", ["tag:quoted"])
    assert _post(stack, "/dingtalk/card-callback", card_headers, card_body).status_code == 403

    stack.drain()
    assert _count(database, InboxEvent) == 0
    assert _count(database, OutboxMessage) == 0
    assert stack.dingtalk.sent == []
    # and the genuine request still works afterwards
    assert _post(stack, "/dingtalk/callback", headers, body).status_code == 200
    assert _count(database, InboxEvent) == 1


def test_replayed_msgid_has_one_effect(stack, database):
    pytest.importorskip("ocr_asr.note_parser", reason="the 跟进 command needs ocr_asr.note_parser (notes branch)")
    webhook = stack.dingtalk.session_webhook_url()
    for _ in range(3):
        r = say(stack, "rep1", "跟进 华东机电 #已报价 下周三再约", msg_id="msgREPLAY0001", session_webhook=webhook)
        assert r.status_code == 200
    stack.drain()
    assert _count(database, InboxEvent) == 1
    assert _count(database, FollowUp) == 1
    replies = _replies(stack.dingtalk)
    assert len(replies) == 1 and "已记录跟进" in replies[0]
    # a live session webhook is the cheap way to answer a 1:1 text
    assert len(stack.dingtalk.sent_to("webhook")) == 1


def test_unknown_dingtalk_user_is_told(stack, database):
    say(stack, "stranger", "帮助")
    stack.drain()
    assert _replies(stack.dingtalk) == ["你的账号还没有开通 crmbot，请联系管理员把你加入销售团队后再试。"]
    assert _count(database, FollowUp) == 0


# ---------------------------------------------------------------------------------------------------
# Stream mode: the same messages over DingTalk's websocket land in the same inbox and handlers.


def _frame(topic: str, message_id: str, data: dict) -> str:
    return json.dumps({"specVersion": "1.0", "type": "CALLBACK",
                       "headers": {"topic": topic, "messageId": message_id, "contentType": "application/json",
                                   "time": str(int(time.time() * 1000)), "appId": "app-1"},
                       "data": json.dumps(data, ensure_ascii=False)})


def _run_gateway(stream_settings, on_event, steps) -> list[dict]:
    """A local DingTalk gateway: POST /v1.0/gateway/connections/open, then a websocket that sends
    each step's frame (a callable, evaluated after the previous ack) and collects the acks."""
    import asyncio
    import threading

    import websockets
    from flask import Flask, jsonify
    from werkzeug.serving import make_server

    from bot.dingtalk.stream import build_stream_client

    endpoint: dict = {}
    gateway = Flask("fake_gateway")
    gateway.add_url_rule("/v1.0/gateway/connections/open", "open", methods=["POST"],
                         view_func=lambda: jsonify({"endpoint": endpoint["ws"], "ticket": "t-1"}))
    server = make_server("127.0.0.1", 0, gateway, threaded=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    settings = stream_settings.model_copy(update={"dingtalk_api_base": f"http://127.0.0.1:{server.server_port}"})

    async def scenario() -> list[dict]:
        acks: list[dict] = []
        finished = asyncio.Event()

        async def push(ws):
            for step in steps:
                # Called on the loop's (main) thread: a step may drain the queue with an rq
                # worker, which installs signal handlers; the client waits meanwhile, as it would.
                await ws.send(step())
                acks.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=15)))
            finished.set()
            await ws.wait_closed()

        async with websockets.serve(push, "127.0.0.1", 0) as ws_server:
            endpoint["ws"] = f"ws://127.0.0.1:{ws_server.sockets[0].getsockname()[1]}"
            task = asyncio.create_task(build_stream_client(settings, on_event).start())
            try:
                await asyncio.wait_for(finished.wait(), timeout=30)
            finally:
                for _ in range(3):  # the SDK's loop swallows one cancellation
                    task.cancel()
                    done, _ = await asyncio.wait({task}, timeout=0.5)
                    if done:
                        break
        return acks

    try:
        return asyncio.run(asyncio.wait_for(scenario(), timeout=45))
    finally:
        server.shutdown()
        server.server_close()


def test_stream_mode_delivers_chat_and_card_click_to_the_same_handlers(card_stack, database):
    from bot.dingtalk.stream import CARD_CALLBACK_TOPIC, ROBOT_MESSAGE_TOPIC
    from crmbot.cli import stream_to_inbox

    stack = card_stack
    corp = stack.settings.dingtalk_corp_id
    lookup = dt_fake.text_message("查 华东机电", sender="rep1", corp_id=corp,
                                  robot_code=stack.settings.dingtalk_robot_code,
                                  session_webhook=stack.dingtalk.session_webhook_url())

    def first() -> str:
        return _frame(ROBOT_MESSAGE_TOPIC, "f-1", lookup)

    def second() -> str:
        stack.drain()  # the lookup's card has reached the fake DingTalk by now
        out_track_id = stack.dingtalk.sent_to("cardCreate")[0]["body"]["outTrackId"]
        return _frame(CARD_CALLBACK_TOPIC, "f-2",
                      dt_fake.card_callback_data(out_track_id, "rep1", ["tag:quoted"], corp_id=corp))

    acks = _run_gateway(stack.settings, stream_to_inbox(stack.runtime), [first, second])
    stack.drain()

    assert [a["code"] for a in acks] == [200, 200]
    with database.transaction() as s:
        kinds = sorted(row.kind for row in s.scalars(select(InboxEvent)))
        assert kinds == ["card_action", "text"]
        followup = s.scalars(select(FollowUp)).one()
        assert followup.tags == ["quoted"] and followup.channel == "card"
    out_track_id = stack.dingtalk.sent_to("cardCreate")[0]["body"]["outTrackId"]
    assert stack.dingtalk.cards[out_track_id]["done"] == "true"
    assert len(stack.dingtalk.sent_to("cardUpdate")) == 1


def test_stream_command_refuses_without_dingtalk_keys(monkeypatch):
    from click.testing import CliRunner

    from crmbot.cli import main
    for name in ("DINGTALK_APP_KEY", "DINGTALK_APP_SECRET"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(main, ["dingtalk-stream"])
    assert result.exit_code != 0 and "DINGTALK_APP_KEY" in result.output


def test_escalation_notice_is_delivered_as_a_work_notice(stack, database):
    from cards.builders import task_card
    from jobs.outbound import deliver
    from storage import messaging
    card = task_card("task-1-abcd", title="唤醒沉默客户：上海华东机电", detail="30天未联系",
                     fields=[("负责人", "李明")], actions=[("nudge", "催办")], link="http://crmbot.test/app/")
    with database.transaction() as s:
        outbox_id, _ = messaging.enqueue_outbox(s, dedupe_key="rule:test:notice", platform="dingtalk",
                                                recipient="manager", payload={"card": card.to_dict()},
                                                action="notice", org_id=1, now=NOW)
    assert deliver(outbox_id) == "sent"
    [notice] = stack.dingtalk.sent_to("workNotice")
    assert notice["users"] == ["manager"]
    assert "唤醒沉默客户" in notice["body"]["msg"]["markdown"]["title"]
