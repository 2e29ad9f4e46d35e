"""The services a job runs with, registered once per process by the composition root (`crmbot
worker`, `crmbot demo`, the app factory, tests) — Flask's `current_app` idea for rq jobs, which rq
calls by dotted path with plain arguments."""
from __future__ import annotations

from bot.services import Services

_current: Services | None = None


def set_runtime(runtime: Services | None) -> None:
    global _current
    _current = runtime


def current_runtime() -> Services:
    if _current is None:
        raise RuntimeError("no runtime registered: start jobs through `crmbot worker` or crmbot's app factory")
    return _current
