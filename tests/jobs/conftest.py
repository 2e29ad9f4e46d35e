"""Fixtures for the rule scans: a runtime whose queue only records (deliveries are asserted on the
outbox rows) and a small org."""
from __future__ import annotations

import pytest

from config.clock import ManualClock
from config.settings import load_settings
from crmbot.runtime import Runtime
from jobs.runtime import set_runtime
from tests.factories import NOW, build_world
from tests.jobs.helpers import RecordingQueue


@pytest.fixture
def rt(database, redis_conn, playbook):
    settings = load_settings(crmbot_database_url=database.url, crmbot_public_url="http://crmbot.test")
    runtime = Runtime(settings=settings, playbook=playbook, db=database, redis=redis_conn,
                      queue=RecordingQueue(), clock=ManualClock(NOW))
    set_runtime(runtime)
    yield runtime
    set_runtime(None)


@pytest.fixture
def world(database):
    with database.transaction() as s:
        return build_world(s)

