"""`crmbot db upgrade` from empty works, the models match the migrations, and the newest
revisions go down and up again without losing rows."""
from contextlib import contextmanager

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from storage import customers
from storage.db import Database
from storage.migrate import alembic_config, upgrade
from storage.models import Base
from tests.conftest import PG_URL
from tests.factories import NOW, build_world


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
        pytest.skip("CRMBOT_TEST_DATABASE_URL not set: PostgreSQL migrations run in CI")
    upgrade(PG_URL)  # already at head: a second upgrade is a no-op
    diff, tables = _diff(PG_URL)
    assert diff == []
    db = Database(PG_URL)
    with db.engine.connect() as conn:
        head = ScriptDirectory.from_config(alembic_config(PG_URL)).get_current_head()
        assert conn.execute(text("select version_num from alembic_version")).scalar() == head
    db.dispose()


# ------------------------------------------------------------------ 0008_contact_extras, both ways

EXTRAS = {"mobile2", "fax", "english_name", "english_title"}


@contextmanager
def _scratch_connection(kind: str, tmp_path):
    """A connection to an empty database of that kind: a SQLite file, or a PostgreSQL schema of its
    own (the session's schema, which other tests use, is never touched)."""
    if kind == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'extras.db'}")
        with db.engine.connect() as conn:
            yield conn
        db.dispose()
        return
    if not PG_URL:
        pytest.skip("CRMBOT_TEST_DATABASE_URL not set: PostgreSQL migrations run in CI")
    db = Database(PG_URL)
    with db.engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS mig_contact_extras CASCADE; CREATE SCHEMA mig_contact_extras"))
        # public stays on the path for pg_trgm's operator classes (migration 0003); an empty version
        # table of its own hides public's from Alembic, which would otherwise read the session's head
        conn.execute(text("SET search_path TO mig_contact_extras, public"))
        conn.execute(text("CREATE TABLE mig_contact_extras.alembic_version (version_num VARCHAR(32) NOT NULL, "
                          "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"))
        conn.commit()
        assert conn.execute(text("select count(*) from alembic_version")).scalar() == 0
        try:
            yield conn
        finally:
            conn.rollback()
            conn.execute(text("DROP SCHEMA IF EXISTS mig_contact_extras CASCADE"))
            conn.commit()
    db.dispose()


def _migrate(conn, url: str, direction: str, revision: str) -> None:
    cfg = alembic_config(url)
    cfg.attributes["connection"] = conn
    getattr(command, direction)(cfg, revision)
    conn.commit()


def _contact_columns(conn) -> tuple[set[str], set[str]]:
    inspector = inspect(conn)
    schema = "mig_contact_extras" if conn.dialect.name == "postgresql" else None
    return ({c["name"] for c in inspector.get_columns("contact", schema=schema)},
            {i["name"] for i in inspector.get_indexes("contact", schema=schema)})


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_contact_extras_migrate_up_and_down_keeping_the_contacts(kind, tmp_path, playbook):
    with _scratch_connection(kind, tmp_path) as conn:
        url = str(conn.engine.url.render_as_string(hide_password=False))
        _migrate(conn, url, "upgrade", "0005_imports")
        columns, _ = _contact_columns(conn)
        assert not EXTRAS & columns
        _migrate(conn, url, "upgrade", "0008_contact_extras")
        columns, indexes = _contact_columns(conn)
        assert EXTRAS <= columns and "ix_contact_mobile2" in indexes
        with Session(bind=conn) as s:
            w = build_world(s)
            customer = customers.create_customer(s, w.rep1, customers.CustomerInput(
                kind="company", name="上海先和科技有限公司", contacts=[customers.ContactInput(
                    name="王伟", mobile="13912345678", mobile2="138 1234 5678", fax="021-62345679",
                    english_name="David Wang", english_title="Sales Director")]), playbook, now=NOW)
            s.commit()
            customer_id = customer.id
        row = conn.execute(text("select mobile, mobile2, fax, english_name, english_title from contact")).one()
        assert tuple(row) == ("13912345678", "13812345678", "021-62345679", "David Wang", "Sales Director")

        _migrate(conn, url, "downgrade", "0005_imports")
        columns, indexes = _contact_columns(conn)
        assert not EXTRAS & columns and "ix_contact_mobile2" not in indexes
        # the table was rebuilt on SQLite: the contact (and its mobile) is still there
        assert conn.execute(text("select customer_id, name, mobile from contact")).one() == \
            (customer_id, "王伟", "13912345678")
        assert conn.execute(text("select version_num from alembic_version")).scalar() == "0005_imports"

        _migrate(conn, url, "upgrade", "head")
        assert conn.execute(text("select mobile, mobile2 from contact")).one() == ("13912345678", None)
