"""The composition root's Runtime: what every job and request needs, built once per process —
settings, playbook, database, Redis, the queue, the platform clients and the clock. The web app
keeps it in `app.extensions["crmbot"]`; a worker builds it at start and registers it for its jobs
(`jobs.runtime.set_runtime`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.dingtalk.client import DingTalkClient
from bot.wecom.client import WeComClient
from config.clock import Clock, SystemClock
from config.playbook import Playbook, load_playbook
from config.settings import Settings, load_settings
from jobs.queue import InlineQueue, JobQueue, RqQueue, ThreadQueue
from jobs.runtime import set_runtime
from storage.db import Database


@dataclass
class Runtime:
    settings: Settings
    playbook: Playbook
    db: Database
    redis: Any
    queue: JobQueue
    clock: Clock = field(default_factory=SystemClock)
    clients: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings | None = None, *, queue: str = "auto",
              redis_conn: Any = None, clock: Clock | None = None) -> "Runtime":
        settings = settings or load_settings()
        playbook = load_playbook(settings.crmbot_playbook)
        db = Database(settings.crmbot_database_url)
        if redis_conn is None:
            redis_conn = _redis(settings)
        if queue == "auto":
            queue = "rq" if settings.crmbot_redis_url else "thread"
        runtime = cls(settings=settings, playbook=playbook, db=db, redis=redis_conn,
                      queue=InlineQueue(), clock=clock or SystemClock())
        runtime.queue = {"rq": lambda: RqQueue(redis_conn), "inline": InlineQueue,
                         "thread": lambda: ThreadQueue(lambda: set_runtime(runtime))}[queue]()
        return runtime

    def client(self, platform: str):
        """The platform API client, built on first use (they are thread-safe: requests + Redis)."""
        if platform not in self.clients:
            self.clients[platform] = _make_client(platform, self)
        return self.clients[platform]


def _redis(settings: Settings):
    if settings.crmbot_redis_url:
        import redis
        return redis.Redis.from_url(settings.crmbot_redis_url)
    import fakeredis  # one process, no Redis (the demo): token caches live in memory
    return fakeredis.FakeRedis()


def _make_client(platform: str, rt: Runtime):
    s = rt.settings
    if platform == "wecom":
        return WeComClient(s.wecom_api_base, s.wecom_corp_id, s.wecom_secret, s.wecom_agent_id, rt.redis)
    if platform == "dingtalk":
        return DingTalkClient(s.dingtalk_api_base, s.dingtalk_oapi_base, s.dingtalk_app_key,
                              s.dingtalk_app_secret, s.dingtalk_robot_code, rt.redis,
                              agent_id=s.dingtalk_agent_id, card_template_id=s.dingtalk_card_template_id)
    raise ValueError(f"unknown platform {platform!r}")
