from __future__ import annotations

import pytest

from tests.miniapp.helpers import make_app, seed


@pytest.fixture
def app(database, playbook, redis_conn):
    return make_app(database, playbook, redis_conn)


@pytest.fixture
def data(database, playbook):
    return seed(database, playbook)


@pytest.fixture
def client(app):
    return app.test_client()
