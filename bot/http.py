"""The platform callbacks (step 1): verify → store in the inbox → answer. Nothing slow here."""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from . import inbox, lead_webhook

log = logging.getLogger(__name__)
bp = Blueprint("callbacks", __name__)


def _runtime():
    return current_app.extensions["crmbot"]


def _refuse(exc) -> Response:
    log.warning("callback refused: %s %s", exc.status, exc.reason)
    return Response(exc.reason, status=exc.status, mimetype="text/plain")


@bp.get("/wecom/callback")
def wecom_verify():
    from .wecom import adapter
    try:
        plaintext = adapter.verify_url(request.args, _runtime().settings)
    except adapter.CallbackRejected as exc:
        return _refuse(exc)
    return Response(plaintext, mimetype="text/plain")  # the plaintext only: no quotes, no newline


@bp.post("/wecom/callback")
def wecom_receive():
    from .wecom import adapter
    rt = _runtime()
    try:
        event, raw = adapter.receive(request.args, request.get_data(cache=False), rt.settings)
    except adapter.CallbackRejected as exc:
        return _refuse(exc)
    inbox.accept(rt, event, raw)
    return Response("", status=200)


@bp.post("/dingtalk/callback")
def dingtalk_receive():
    from .dingtalk import adapter
    rt = _runtime()
    try:
        event, raw = adapter.receive_robot_message(request.headers, request.get_data(cache=False), rt.settings)
    except adapter.CallbackRejected as exc:
        return _refuse(exc)
    if event is not None:
        inbox.accept(rt, event, raw)
    return jsonify({})


@bp.post("/dingtalk/card-callback")
def dingtalk_card_callback():
    from .dingtalk import adapter
    rt = _runtime()
    try:
        event, raw = adapter.receive_card_callback(request.headers, request.get_data(cache=False), rt.settings)
    except adapter.CallbackRejected as exc:
        return _refuse(exc)
    inbox.accept(rt, event, raw)
    # DingTalk allows 2 s and forbids calling the update API from inside the callback:
    # answer empty now, the click's job updates the card through the outbox.
    return jsonify({})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    lead_webhook.init_app(app)  # POST /api/leads
