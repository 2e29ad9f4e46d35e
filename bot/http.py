"""The platform callbacks (step 1): verify → store in the inbox → answer. Nothing slow here."""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from . import inbox, lead_webhook
from .dingtalk import adapter as dingtalk_adapter
from .wecom import adapter as wecom_adapter

log = logging.getLogger(__name__)
bp = Blueprint("callbacks", __name__)


def _runtime():
    return current_app.extensions["crmbot"]


def _refuse(exc) -> Response:
    log.warning("callback refused: %s %s", exc.status, exc.reason)
    return Response(exc.reason, status=exc.status, mimetype="text/plain")


@bp.get("/wecom/callback")
def wecom_verify():
    try:
        plaintext = wecom_adapter.verify_url(request.args, _runtime().settings)
    except wecom_adapter.CallbackRejected as exc:
        return _refuse(exc)
    return Response(plaintext, mimetype="text/plain")  # the plaintext only: no quotes, no newline


def _receive(parse, *args, **kwargs) -> Response | None:
    """Verify and parse with the adapter, store in the inbox; a Response only for a refusal."""
    rt = _runtime()
    try:
        event, raw = parse(*args, request.get_data(cache=False), rt.settings, **kwargs)
    except (wecom_adapter.CallbackRejected, dingtalk_adapter.CallbackRejected) as exc:
        return _refuse(exc)
    if event is not None:  # None: a group message not addressed to the robot
        inbox.accept(rt, event, raw)
    return None


@bp.post("/wecom/callback")
def wecom_receive():
    return _receive(wecom_adapter.receive, request.args) or Response("", status=200)


@bp.post("/dingtalk/callback")
def dingtalk_receive():
    return _receive(dingtalk_adapter.receive_robot_message, request.headers,
                    replay_guard=_replay_guard()) or jsonify({})


@bp.post("/dingtalk/card-callback")
def dingtalk_card_callback():
    # DingTalk allows 2 s and forbids calling the update API from inside the callback:
    # answer empty now, the click's job updates the card through the outbox.
    return _receive(dingtalk_adapter.receive_card_callback, request.headers,
                    replay_guard=_replay_guard()) or jsonify({})


def _replay_guard() -> dingtalk_adapter.ReplayGuard:
    # DingTalk signs only the timestamp: a (timestamp, sign) pair must not carry a second body
    rt = _runtime()
    return dingtalk_adapter.ReplayGuard(rt.redis, rt.settings.crmbot_timestamp_window_s)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    lead_webhook.init_app(app)  # POST /api/leads
