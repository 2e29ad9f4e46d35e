"""Shared fixtures. Real PostgreSQL / Redis when CRMBOT_TEST_DATABASE_URL / CRMBOT_TEST_REDIS_URL
are set (CI), SQLite and fakeredis otherwise, so the README's test command passes anywhere."""
from __future__ import annotations

import os

import pytest


@pytest.fixture
def redis_conn():
    url = os.environ.get("CRMBOT_TEST_REDIS_URL")
    if url:
        import redis
        conn = redis.Redis.from_url(url)
        conn.flushdb()
        yield conn
        conn.flushdb()
    else:
        import fakeredis
        yield fakeredis.FakeRedis()
