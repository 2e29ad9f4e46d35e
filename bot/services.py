"""What a job or a handler needs from the process it runs in, as an interface. The composition root
(`crmbot.runtime.Runtime`) provides it; `bot/` and `jobs/` depend only on this shape, never on crmbot."""
from __future__ import annotations

from typing import Any, Protocol

from config.clock import Clock
from config.playbook import Playbook
from config.settings import Settings
from storage.db import Database


class JobQueue(Protocol):
    def enqueue(self, path: str, *args: Any, job_id: str | None = None, delay_s: float = 0,
                queue: str | None = None) -> bool: ...


class Services(Protocol):
    settings: Settings
    playbook: Playbook
    db: Database
    redis: Any
    queue: JobQueue
    clock: Clock

    def client(self, platform: str) -> Any:
        """The platform API client (bot/<platform>/client.py)."""
