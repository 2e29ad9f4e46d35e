"""`crmbot db upgrade` from empty works, and the models match the migrations."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from storage.db import Database
from alembic.script import ScriptDirectory

from storage.migrate import alembic_config, upgrade
from storage.models import Base
from tests.conftest import PG_URL


def _diff(url: str):
    db = Database(url)
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
        tables = set(inspect(conn).get_table_names())
    db.dispose()
    return diff, tables


def test_sqlite_upgrade_from_empty_matches_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(url)
    diff, tables = _diff(url)
    assert diff == []
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


def test_postgres_upgrade_matches_models(_pg_schema):
    if not _pg_schema:
        import pytest
        pytest.skip("CRMBOT_TEST_DATABASE_URL not set: PostgreSQL migrations run in CI")
    upgrade(PG_URL)  # already at head: a second upgrade is a no-op
    diff, tables = _diff(PG_URL)
    assert diff == []
    db = Database(PG_URL)
    with db.engine.connect() as conn:
        head = ScriptDirectory.from_config(alembic_config(PG_URL)).get_current_head()
        assert conn.execute(text("select version_num from alembic_version")).scalar() == head
    db.dispose()
