"""DingTalk Stream mode: receive robot messages and card clicks over DingTalk's websocket, for
deployments without a public URL. Uses the official `dingtalk-stream` SDK for the connection
(reconnects, ping, disconnect frames) and the HTTP adapter's parsers for the payloads, so an
Event looks the same whichever transport brought it.

Robot messages are fire-and-forget in Stream mode: DingTalk never redelivers them, even without an ack.
So `on_event` (which should write the inbox row) runs BEFORE the ack, and a crash inside it is
logged loudly: that message is lost.

Gateway base: the SDK builds its URLs from env DINGTALK_OPENAPI_ENDPOINT at import time. We only need
its `open_connection` call (we never use its reply helpers), so `CrmbotStreamClient` overrides that
one method to use settings.dingtalk_api_base, plus a timeout the SDK does not set.
"""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import platform
from collections.abc import Callable

import requests
from dingtalk_stream import AckMessage, CallbackHandler, CallbackMessage, Credential, DingTalkStreamClient
from dingtalk_stream.version import VERSION_STRING

from bot.dingtalk.adapter import CallbackRejected, configured_org, parse_card_callback, parse_robot_message
from config.inbound import BodyRejected, load_json_object
from bot.events import Event

log = logging.getLogger(__name__)

ROBOT_MESSAGE_TOPIC = "/v1.0/im/bot/messages/get"
CARD_CALLBACK_TOPIC = "/v1.0/card/instances/callback"

# on_event(event, raw) is called for every frame. For a card click it may return a dict, which goes
# back to DingTalk as the callback's answer (it can update the card at once, e.g.
# {"cardData": {"cardParamMap": {...}}}); return None otherwise.
OnEvent = Callable[[Event | None, dict], dict | None]


class FrameHandler(CallbackHandler):
    """One topic's frames: parse with the HTTP adapter's parser, hand to `on_event`, then ack.
    For a card click, what `on_event` returns is DingTalk's answer to the callback."""

    def __init__(self, parse: Callable[[dict], Event | None], on_event: OnEvent, what: str):
        super().__init__()
        self.parse, self.on_event, self.what = parse, on_event, what

    async def process(self, message: CallbackMessage):
        data = message.data if isinstance(message.data, dict) else {}
        if isinstance(message.data, str):  # the SDK decodes `data`; be safe if it did not
            try:
                data = load_json_object(message.data)
            except BodyRejected:
                data = {}
        try:
            event = self.parse(data)
        except CallbackRejected as exc:
            # The socket is authenticated, so keep the odd frame as "store but ignore".
            log.warning("unparseable %s %s: %s", self.what, message.headers.message_id, exc.reason)
            event = None
        try:
            answer = await asyncio.to_thread(self.on_event, event, data)
        except Exception:
            # robot messages are never redelivered: say loudly that this one is lost
            log.exception("%s %s LOST: on_event failed", self.what, message.headers.message_id)
            return AckMessage.STATUS_SYSTEM_EXCEPTION, {}
        return AckMessage.STATUS_OK, answer or {}


class CrmbotStreamClient(DingTalkStreamClient):
    """The SDK client with a configurable gateway base URL (see module docstring)."""

    def __init__(self, credential: Credential, api_base: str, open_timeout_s: float = 10):
        super().__init__(credential, logger=logging.getLogger("dingtalk_stream.client"))
        self.api_base = api_base.rstrip("/")
        self.open_timeout_s = open_timeout_s

    def open_connection(self):
        subscriptions = [{"type": "CALLBACK", "topic": topic} for topic in self.callback_handler_map]
        if self._is_event_required:
            subscriptions.append({"type": "EVENT", "topic": "*"})
        body = {"clientId": self.credential.client_id, "clientSecret": self.credential.client_secret,
                "subscriptions": subscriptions, "ua": f"crmbot dingtalk-stream/{VERSION_STRING}",
                "localIp": self.get_host_ip()}
        headers = {"Accept": "application/json",
                   "User-Agent": f"DingTalkStream/1.0 SDK/{VERSION_STRING} Python/{platform.python_version()}"}
        try:
            resp = requests.post(f"{self.api_base}/v1.0/gateway/connections/open", json=body,
                                 headers=headers, timeout=self.open_timeout_s)
            resp.raise_for_status()
            return resp.json()
        except (requests.RequestException, json.JSONDecodeError) as exc:
            # The SDK's loop logs this, waits 10 s and tries again.
            log.error("opening the DingTalk stream connection failed: %s", exc)
            return None


def build_stream_client(settings, on_event: OnEvent) -> CrmbotStreamClient:
    if not settings.dingtalk_configured:
        raise ValueError("DINGTALK_APP_KEY and DINGTALK_APP_SECRET must be set for stream mode")
    client = CrmbotStreamClient(Credential(settings.dingtalk_app_key, settings.dingtalk_app_secret),
                                settings.dingtalk_api_base)
    # the org is the app this socket authenticated as, never the frame's chatbotCorpId / corpId
    org = configured_org(settings)
    client.register_callback_handler(ROBOT_MESSAGE_TOPIC, FrameHandler(
        functools.partial(parse_robot_message, org=org), on_event, "robot message"))
    client.register_callback_handler(CARD_CALLBACK_TOPIC, FrameHandler(
        functools.partial(parse_card_callback, org=org), on_event, "card callback"))
    return client


def run_stream(settings, on_event: OnEvent) -> None:
    """Connect and handle frames until the process is stopped (the SDK reconnects by itself)."""
    build_stream_client(settings, on_event).start_forever()
