"""Shared by the hostile-input regression tests and the fuzz suite: the real app (Flask test client,
no server), correctly signed requests for every entry point, and a snapshot of every table so a
test can say "this refusal wrote nothing"."""
from __future__ import annotations

import json
import time
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from bot import lead_webhook
from bot.dingtalk import fake as dt_fake
from bot.wecom import fake as wc_fake
from config.settings import load_settings
from crmbot.app import create_app
from jobs.queue import InlineQueue
from crmbot.runtime import Runtime
from storage.models import Base
from tests.miniapp.helpers import FakeDingTalk, FakeWeCom
from tests.stack import DINGTALK_KEYS, WECOM_KEYS

LEAD_SECRET = "lead-form-secret"
LEAD_SOURCES = {"website": {"secret": LEAD_SECRET, "label": "官网表单", "org_id": 1}}


class RecordingQueue(InlineQueue):
    """Runs nothing: the tests look at what the HTTP edge wrote, not at what a job would do."""

    def __init__(self):
        self.enqueued: list[tuple] = []

    def enqueue(self, path, *args, **kwargs):
        self.enqueued.append((path, args))


def make_edge_app(database, playbook, redis_conn, **overrides) -> Flask:
    Base.metadata.create_all(database.engine)  # no-op on the migrated PostgreSQL schema
    settings = load_settings(crmbot_database_url=database.url, crmbot_secret_key="test-secret",
                             crmbot_public_url="http://localhost", crmbot_lead_sources=LEAD_SOURCES,
                             **WECOM_KEYS, **DINGTALK_KEYS, **overrides)
    runtime = Runtime(settings, playbook, database, redis_conn, RecordingQueue())
    runtime.clients["wecom"] = FakeWeCom()
    runtime.clients["dingtalk"] = FakeDingTalk()
    app = create_app(settings, runtime)
    app.config.update(TESTING=True, CRMBOT_DEV_LOGIN=True, SESSION_COOKIE_SECURE=False)
    return app


def snapshot(database) -> dict[str, int]:
    """Row count of every table (inbox, outbox, customers, leads, audit log …)."""
    with database.transaction() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


# ------------------------------------------------------------------ signed requests


def dingtalk_robot(client, settings, body: bytes | dict | Any, timestamp_ms: int | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    headers = {"Content-Type": "application/json", "timestamp": str(ts),
               "sign": dt_fake.robot_sign(settings.dingtalk_app_secret, ts)}
    return client.post("/dingtalk/callback", data=raw, headers=headers)


def dingtalk_card(client, settings, body: bytes | dict | Any, timestamp_ms: int | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    headers = {"Content-Type": "application/json", "x-ddpaas-signature-timestamp": str(ts),
               "x-ddpaas-signature": dt_fake.card_callback_sign(settings.dingtalk_app_secret, ts)}
    return client.post("/dingtalk/card-callback", data=raw, headers=headers)


def wecom_signed(client, settings, inner_xml: str, **kw):
    params, body = wc_fake.build_callback(settings, inner_xml, **kw)
    return client.post("/wecom/callback", query_string=params, data=body)


def lead_post(client, body: bytes | dict | Any):
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return client.post("/api/leads", data=raw, headers={
        "Content-Type": "application/json", "X-Crmbot-Source": "website",
        "X-Crmbot-Signature": lead_webhook.sign(LEAD_SECRET, raw)})


def robot_text(user: str = "rep1", content: str = "帮助", **extra) -> dict:
    message = dt_fake.robot_message("text", user, corp_id=DINGTALK_KEYS["dingtalk_corp_id"],
                                    text={"content": content})
    message.update(extra)
    return message


def nested_json(depth: int) -> bytes:
    return ('{"a":' * depth + "1" + "}" * depth).encode()
