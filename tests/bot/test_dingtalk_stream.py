"""Stream mode against a local fake gateway: an HTTP 'connections/open' endpoint plus a websocket
server that pushes CALLBACK frames and reads the acks. Loopback only, bounded by timeouts."""
from __future__ import annotations

import asyncio
import json
import threading

import pytest
import websockets
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from bot.dingtalk import fake
from bot.dingtalk.stream import (
    CARD_CALLBACK_TOPIC,
    ROBOT_MESSAGE_TOPIC,
    build_stream_client,
)
from bot.events import Kind
from config.settings import load_settings


@pytest.fixture
def gateway_http():
    """POST /v1.0/gateway/connections/open → {endpoint, ticket}; the ws port is filled in later."""
    app = Flask("fake_gateway")
    seen: dict = {"opens": []}

    @app.post("/v1.0/gateway/connections/open")
    def open_connection():
        seen["opens"].append(request.get_json())
        return jsonify({"endpoint": seen["ws_endpoint"], "ticket": "ticket-123"})

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


def frame(topic: str, message_id: str, data: dict) -> str:
    return json.dumps({"specVersion": "1.0", "type": "CALLBACK",
                       "headers": {"topic": topic, "messageId": message_id,
                                   "contentType": "application/json", "time": "1763000000000",
                                   "appId": "app-1"},
                       "data": json.dumps(data, ensure_ascii=False)})


async def stop(task: asyncio.Task) -> None:
    # The SDK's loop swallows one CancelledError (it then sleeps before reconnecting): cancel again.
    for _ in range(3):
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=0.5)
        if done:
            return
    raise AssertionError("stream client did not stop")


def run_scenario(gateway_http, frames: list[str], on_event, on_ack=None) -> tuple[list[dict], list[str], list]:
    base_url, seen = gateway_http
    paths: list[str] = []

    async def scenario() -> list[dict]:
        acks: list[dict] = []
        all_acked = asyncio.Event()

        async def push(ws):
            paths.append(ws.request.path)
            for f in frames:
                await ws.send(f)
            while len(acks) < len(frames):
                acks.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=10)))
                if on_ack:
                    on_ack(acks[-1])
            all_acked.set()
            await ws.wait_closed()

        async with websockets.serve(push, "127.0.0.1", 0) as server:
            seen["ws_endpoint"] = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            settings = load_settings(dingtalk_app_key=fake.FAKE_APP_KEY,
                                     dingtalk_app_secret=fake.FAKE_APP_SECRET, dingtalk_api_base=base_url)
            task = asyncio.create_task(build_stream_client(settings, on_event).start())
            try:
                await asyncio.wait_for(all_acked.wait(), timeout=15)
            finally:
                await stop(task)
        return acks

    acks = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    return acks, paths, seen["opens"]


def test_stream_messages_and_card_clicks_become_events(gateway_http):
    received: list = []

    def on_event(event, raw):
        received.append((event, raw))
        if event is not None and event.kind == Kind.CARD_ACTION:
            return {"cardData": {"cardParamMap": {"done_note": "已认领"}}}
        return None

    text = fake.text_message("明天拜访华东机电", sender="zhangsan")
    silent_group = fake.group_text_message("大家好", at_robot=False)
    click = fake.card_callback_data("lead-9", "lisi", action_ids=["claim"], params={"lead": "9"})
    frames = [frame(ROBOT_MESSAGE_TOPIC, "m-1", text), frame(ROBOT_MESSAGE_TOPIC, "m-2", silent_group),
              frame(CARD_CALLBACK_TOPIC, "m-3", click)]
    acks, paths, opens = run_scenario(gateway_http, frames, on_event)

    # the connection was opened with our credentials, both topics, and the ticket in the ws URL
    assert opens[0]["clientId"] == fake.FAKE_APP_KEY
    assert {s["topic"] for s in opens[0]["subscriptions"]} == {ROBOT_MESSAGE_TOPIC, CARD_CALLBACK_TOPIC}
    assert paths[0] == "/?ticket=ticket-123"

    by_id = {a["headers"]["messageId"]: a for a in acks}
    assert set(by_id) == {"m-1", "m-2", "m-3"}
    assert all(a["code"] == 200 for a in acks)
    assert json.loads(by_id["m-3"]["data"]) == {
        "response": {"cardData": {"cardParamMap": {"done_note": "已认领"}}}}

    events = {raw.get("msgId") or raw.get("outTrackId"): event for event, raw in received}
    assert events[text["msgId"]].kind == Kind.TEXT
    assert events[text["msgId"]].payload == {"text": "明天拜访华东机电"}
    assert events[text["msgId"]].sender == "zhangsan"
    assert events[silent_group["msgId"]] is None               # stored but ignored
    card = events["lead-9"]
    assert card.kind == Kind.CARD_ACTION and card.sender == "lisi"
    assert card.payload == {"card_ref": "lead-9", "action": "claim", "params": {"lead": "9"}}


def test_on_event_runs_before_the_ack_and_a_failure_is_not_acked_ok(gateway_http):
    order: list[str] = []

    def on_event(event, raw):
        order.append("on_event:" + raw["msgId"])
        if raw["msgId"] == "boom":
            raise RuntimeError("database down")

    frames = [frame(ROBOT_MESSAGE_TOPIC, "m-ok", fake.text_message("好的", msg_id="fine")),
              frame(ROBOT_MESSAGE_TOPIC, "m-bad", fake.text_message("坏了", msg_id="boom"))]
    seen_at_ack: dict[str, list[str]] = {}
    acks, _, _ = run_scenario(gateway_http, frames, on_event,
                              on_ack=lambda ack: seen_at_ack.update({ack["headers"]["messageId"]: list(order)}))
    codes = {a["headers"]["messageId"]: a["code"] for a in acks}
    assert codes == {"m-ok": 200, "m-bad": 500}
    # when each ack reached the gateway, its message had already been handed to on_event
    assert "on_event:fine" in seen_at_ack["m-ok"]
    assert "on_event:boom" in seen_at_ack["m-bad"]
