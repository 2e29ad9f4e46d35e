"""Shared fixtures. Real PostgreSQL / Redis when CRMBOT_TEST_DATABASE_URL / CRMBOT_TEST_REDIS_URL
are set (CI), SQLite and fakeredis otherwise, so the README's test command passes anywhere."""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from config.playbook import load_playbook
from config.settings import DEFAULT_PLAYBOOK
from storage.db import Database
from storage.models import Base

PG_URL = os.environ.get("CRMBOT_TEST_DATABASE_URL")
# CI runs the scenario and jobs suites a second time with the wall clock moved, e.g. into quiet hours
# on the eve of a public holiday: nothing may depend on when the suite runs. time-machine moves
# time.time() / datetime.now() for this process and keeps them ticking (sleeps and monotonic time
# are untouched, unlike LD_PRELOAD fakers, which hang Python's timed waits).
WALL_CLOCK = os.environ.get("CRMBOT_TEST_WALL_CLOCK")
REDIS_URL = os.environ.get("CRMBOT_TEST_REDIS_URL")


@pytest.fixture(scope="session", autouse=True)
def _moved_wall_clock():
    if not WALL_CLOCK:
        yield None
        return
    import time_machine
    with time_machine.travel(datetime.fromisoformat(WALL_CLOCK), tick=True) as traveller:
        yield traveller


@pytest.fixture
def redis_conn():
    if REDIS_URL:
        import redis
        conn = redis.Redis.from_url(REDIS_URL)
        conn.flushdb()
        yield conn
        conn.flushdb()
    else:
        import fakeredis
        yield fakeredis.FakeRedis()


@pytest.fixture(scope="session")
def _pg_schema():
    """Build the PostgreSQL schema once per run, through the real migrations."""
    if not PG_URL:
        return None
    from storage.migrate import upgrade
    db = Database(PG_URL)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    db.dispose()
    upgrade(PG_URL)
    return PG_URL


@pytest.fixture
def database(tmp_path: Path, _pg_schema) -> Database:
    if _pg_schema:
        db = Database(_pg_schema)
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    else:
        db = Database(f"sqlite:///{tmp_path / 'test.db'}")
        Base.metadata.create_all(db.engine)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def playbook():
    return load_playbook(DEFAULT_PLAYBOOK)
