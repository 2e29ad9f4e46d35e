import pytest
from sqlalchemy import func, select

from storage import customers
from storage.customers import CustomerInput
from storage.models import AuditLog, Customer
from tests.factories import NOW, build_world


def test_audit_row_written_with_the_change_and_rolled_back_with_it(database, playbook):
    with database.transaction() as s:
        w = build_world(s)
    with database.transaction() as s:
        cid = customers.create_customer(s, w.rep1, CustomerInput(kind="company", name="甲公司"), playbook, now=NOW).id
    with database.transaction() as s:
        customers.update_customer(s, w.rep1, cid, {"grade": "B"})
    with database.transaction() as s:
        row = s.scalars(select(AuditLog).where(AuditLog.action == "customer.update")).one()
        assert row.actor_id == w.rep1.id and row.before["grade"] is None and row.after["grade"] == "B"

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with database.transaction() as s:
            customers.update_customer(s, w.rep1, cid, {"grade": "A"})
            assert s.scalar(select(func.count()).select_from(AuditLog)
                            .where(AuditLog.action == "customer.update")) == 2  # visible inside
            raise Boom
    with database.transaction() as s:
        assert s.get(Customer, cid).grade == "B"
        assert s.scalar(select(func.count()).select_from(AuditLog)
                        .where(AuditLog.action == "customer.update")) == 1
