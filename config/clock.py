"""The one clock. Every "now" in handlers, services, rules, pacing and outbox stamps comes from the
Runtime's clock, so tests and the demo can set the time (and CI passes at any hour).

`SystemClock` is production's; `ManualClock` is for tests and the demo's "模拟时间": it starts at a
given moment and can be moved forward (or set) while everything reads it."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC datetime."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class ManualClock:
    """A clock that stands still until told; thread-safe (the demo's web and job threads share it).
    `offset` mode keeps time running from the set moment, which is what a live demo wants."""

    def __init__(self, at: datetime, *, running: bool = False):
        self._lock = threading.Lock()
        self._running = running
        self._set(at)

    def _set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._at = at.astimezone(timezone.utc)
        self._since = datetime.now(timezone.utc)

    def now(self) -> datetime:
        with self._lock:
            if self._running:
                return self._at + (datetime.now(timezone.utc) - self._since)
            return self._at

    def set(self, at: datetime) -> None:
        with self._lock:
            self._set(at)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            current = self._at + (datetime.now(timezone.utc) - self._since if self._running else timedelta())
            self._set(current + delta)
            return self._at
