"""What every job and request needs, built once per process: settings, playbook, database,
Redis, the queue and the platform clients. The web app sets it in create_app(); an rq worker
builds it from the environment on its first job (Flask's examples/celery idea, without Celery)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from config.playbook import Playbook, load_playbook
from config.settings import Settings, load_settings
from storage.db import Database

from .queue import InlineQueue, JobQueue, RqQueue, ThreadQueue


@dataclass
class Runtime:
    settings: Settings
    playbook: Playbook
    db: Database
    redis: Any
    queue: JobQueue
    clients: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings | None = None, *, queue: str = "auto",
              redis_conn: Any = None) -> "Runtime":
        settings = settings or load_settings()
        playbook = load_playbook(settings.crmbot_playbook)
        db = Database(settings.crmbot_database_url)
        if redis_conn is None:
            if settings.crmbot_redis_url:
                import redis
                redis_conn = redis.Redis.from_url(settings.crmbot_redis_url)
            else:
                import fakeredis  # one process, no Redis: token caches live in memory
                redis_conn = fakeredis.FakeRedis()
        if queue == "auto":
            queue = "rq" if settings.crmbot_redis_url else "thread"
        runtime = cls(settings=settings, playbook=playbook, db=db, redis=redis_conn,
                      queue=InlineQueue())
        runtime.queue = {"rq": lambda: RqQueue(redis_conn), "inline": InlineQueue,
                         "thread": lambda: ThreadQueue(lambda: set_runtime(runtime))}[queue]()
        return runtime

    def client(self, platform: str):
        """The platform API client, built on first use (they are thread-safe: requests + Redis)."""
        if platform not in self.clients:
            self.clients[platform] = _make_client(platform, self)
        return self.clients[platform]


def _make_client(platform: str, rt: Runtime):
    s = rt.settings
    if platform == "wecom":
        from bot.wecom.client import WeComClient
        return WeComClient(s.wecom_api_base, s.wecom_corp_id, s.wecom_secret, s.wecom_agent_id, rt.redis)
    if platform == "dingtalk":
        from bot.dingtalk.client import DingTalkClient
        return DingTalkClient(s.dingtalk_api_base, s.dingtalk_oapi_base, s.dingtalk_app_key,
                              s.dingtalk_app_secret, s.dingtalk_robot_code, rt.redis,
                              agent_id=s.dingtalk_agent_id, card_template_id=s.dingtalk_card_template_id)
    raise ValueError(f"unknown platform {platform!r}")


_lock = threading.Lock()
_current: Runtime | None = None


def set_runtime(runtime: Runtime | None) -> None:
    global _current
    _current = runtime


def current_runtime() -> Runtime:
    global _current
    with _lock:
        if _current is None:
            _current = Runtime.build(queue="rq")
        return _current
