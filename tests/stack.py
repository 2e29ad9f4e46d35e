"""The whole product on loopback for scenario tests: crmbot's app served over HTTP, the fake WeCom
and fake DingTalk on their own ports, and the job queue — rq with a real worker on real Redis when
CRMBOT_TEST_REDIS_URL is set (CI), otherwise jobs run inline."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from werkzeug.serving import make_server

from bot.dingtalk import fake as dt_fake
from bot.wecom import fake as wc_fake
from config.clock import ManualClock
from config.settings import Settings, load_settings
from crmbot.runtime import Runtime
from jobs.queue import QUEUE_NAMES, InlineQueue, RqQueue
from jobs.runtime import set_runtime
from tests.factories import NOW

WECOM_KEYS = dict(wecom_corp_id="wwcorp001", wecom_agent_id=1000002, wecom_secret="test-wecom-secret",
                  wecom_token="QDG6eK", wecom_encoding_aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C")
DINGTALK_KEYS = dict(dingtalk_app_key="dingtestkey", dingtalk_app_secret="test-dingtalk-secret",
                     dingtalk_robot_code="dingtestkey", dingtalk_corp_id="dingcorp001",
                     dingtalk_agent_id=3000001)


@dataclass
class Stack:
    settings: Settings
    runtime: Runtime
    base_url: str
    wecom: Any            # FakeWeComState
    dingtalk: Any         # FakeDingTalkState
    real_worker: bool
    app: Any = None       # the Flask app, for the mini-app's test client

    def drain(self) -> None:
        """Run queued jobs to completion (an rq worker in burst mode on real Redis)."""
        if not self.real_worker:
            return
        from rq import Queue, SimpleWorker
        queues = [Queue(name, connection=self.runtime.redis) for name in QUEUE_NAMES]
        for _ in range(20):
            SimpleWorker(queues, connection=self.runtime.redis).work(burst=True, with_scheduler=False)
            if not any(q.count for q in queues):
                break

    # ---- acting as a rep on WeCom
    def wecom_post(self, inner_xml: str, **kw) -> requests.Response:
        params, body = wc_fake.build_callback(self.settings, inner_xml, **kw)
        return requests.post(f"{self.base_url}/wecom/callback", params=params, data=body, timeout=10)

    def wecom_text(self, user: str, text: str, **kw) -> requests.Response:
        return self.wecom_post(wc_fake.text_xml(self.settings.wecom_corp_id, user, text, **kw))

    def wecom_click(self, user: str, card_id: str, key: str) -> requests.Response:
        code = self.wecom.new_response_code()
        return self.wecom_post(wc_fake.card_event_xml(self.settings.wecom_corp_id, user, card_id, key,
                                                      response_code=code))

    # ---- acting as a rep on DingTalk
    def dingtalk_post(self, message: dict) -> requests.Response:
        headers, body = dt_fake.build_robot_request(self.settings.dingtalk_app_secret, message)
        return requests.post(f"{self.base_url}/dingtalk/callback", headers=headers, data=body, timeout=10)

    def dingtalk_message(self, msgtype: str, user: str, **payload) -> dict:
        payload.setdefault("session_webhook", self.dingtalk.session_webhook_url())
        return dt_fake.robot_message(msgtype, user, corp_id=self.settings.dingtalk_corp_id,
                                     robot_code=self.settings.dingtalk_robot_code, **payload)

    def dingtalk_text(self, user: str, text: str, **kw) -> requests.Response:
        return self.dingtalk_post(self.dingtalk_message("text", user, text={"content": text}, **kw))

    def dingtalk_click(self, user: str, card_id: str, key: str) -> requests.Response:
        """A tap on an ActionCard button: the client sends the button's text as the user. The text
        is taken from a button the fake DingTalk really received for `user`."""
        return self.dingtalk_text(user, self.dingtalk_button_text(user, key, card_id=card_id))

    def dingtalk_button_text(self, user: str, key: str, *, card_id: str | None = None,
                             shown: list[str] | None = None) -> str:
        """The text of the ActionCard button with `key` on card `card_id` (or on the card that shows
        the button texts `shown`), as the card was last sent; it must be one the fake received."""
        for text, k in self.dingtalk_button_keys(user, card_id=card_id, shown=shown).items():
            if k == key:
                return text
        raise AssertionError(f"no ActionCard button {key!r} reached {user} (card {card_id or shown})")

    def dingtalk_button_keys(self, user: str, *, card_id: str | None = None,
                             shown: list[str] | None = None) -> dict[str, str]:
        """{button text: key} of the newest card sent to `user` that is card `card_id` or shows the
        texts `shown`, for the texts the fake received. A test reads a key here; the person never
        sees one."""
        from sqlalchemy import select

        from cards.dingtalk import button_texts
        from cards.model import Card
        from storage.models import OutboxMessage
        received = set(self.dingtalk.button_texts(user))
        with self.runtime.db.transaction() as s:
            sent = s.execute(select(OutboxMessage.card_id, OutboxMessage.payload).where(
                OutboxMessage.platform == "dingtalk", OutboxMessage.recipient == user,
                OutboxMessage.card_id.is_not(None), OutboxMessage.action.in_(("send", "update")))
                .order_by(OutboxMessage.id.desc())).all()
        for sent_id, payload in sent:
            texts = button_texts(Card.from_dict(payload["card"]))
            if (card_id and sent_id != card_id) or (shown is not None and not set(shown) <= set(texts)):
                continue
            return {t: k for t, k in texts.items() if t in received and (shown is None or t in shown)}
        return {}

    def dingtalk_group_text(self, user: str, text: str, *, conversation_id: str, title: str,
                            **kw) -> requests.Response:
        """A message that @s the robot in a group chat (DingTalk strips the @name, keeps the space)."""
        return self.dingtalk_post(self.dingtalk_message(
            "text", user, group=True, conversation_id=conversation_id, conversation_title=title,
            text={"content": " " + text}, **kw))

    def dingtalk_card_tap(self, user: str, out_track_id: str, key: str) -> requests.Response:
        """A tap on an interactive card: DingTalk's signed HTTP card callback."""
        headers, body = dt_fake.build_card_callback(self.settings.dingtalk_app_secret, out_track_id, user,
                                                    action_ids=[key], corp_id=self.settings.dingtalk_corp_id)
        return requests.post(f"{self.base_url}/dingtalk/card-callback", headers=headers, data=body, timeout=10)


def _serve(app) -> tuple[str, callable]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{server.server_port}", server.shutdown


@contextmanager
def running_stack(database, redis_conn, real_worker: bool | None = None, **overrides):
    from crmbot.app import create_app
    from tests.conftest import REDIS_URL
    wecom_url, wecom_state, stop_wecom = wc_fake.start_fake_wecom(
        wc_fake.FakeWeComState(corp_id=WECOM_KEYS["wecom_corp_id"], secret=WECOM_KEYS["wecom_secret"],
                               agent_id=WECOM_KEYS["wecom_agent_id"]))
    dt_url, dt_state, stop_dt = dt_fake.start_fake_dingtalk(dt_fake.FakeDingTalkState(
        app_key=DINGTALK_KEYS["dingtalk_app_key"], app_secret=DINGTALK_KEYS["dingtalk_app_secret"],
        agent_id=DINGTALK_KEYS["dingtalk_agent_id"], corp_id=DINGTALK_KEYS["dingtalk_corp_id"]))
    settings = load_settings(crmbot_database_url=database.url, wecom_api_base=wecom_url,
                             dingtalk_api_base=dt_url, dingtalk_oapi_base=dt_url,
                             crmbot_public_url="http://crmbot.test", crmbot_secret_key="test-secret",
                             **WECOM_KEYS, **DINGTALK_KEYS,
                             **overrides)
    real = bool(REDIS_URL) if real_worker is None else real_worker
    runtime = Runtime(settings=settings, playbook=_playbook(settings), db=database, redis=redis_conn,
                      queue=RqQueue(redis_conn) if real else InlineQueue(),
                      clock=ManualClock(NOW, running=True))
    app = create_app(settings, runtime)
    base_url, stop_app = _serve(app)
    try:
        yield Stack(settings, runtime, base_url, wecom_state, dt_state, real, app)
    finally:
        stop_app()
        stop_wecom()
        stop_dt()
        set_runtime(None)


def _playbook(settings):
    from config.playbook import load_playbook
    return load_playbook(settings.crmbot_playbook)
