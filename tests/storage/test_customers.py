import pytest
from sqlalchemy import func, select

from storage import customers, tasks
from storage.customers import ContactInput, CustomerInput
from storage.errors import DuplicateCustomer, InvalidInput
from storage.models import AuditLog, Customer, Task
from tests.factories import NOW, build_world

CODE = "9144030071526726XG"


@pytest.fixture
def world(database):
    with database.transaction() as s:
        w = build_world(s)
    return w


def company(name="深圳华南电子有限公司", code=CODE, **kw):
    return CustomerInput(kind="company", name=name, credit_code=code,
                         contacts=[ContactInput(name="陈总", mobile="13912345678", title="总经理")], **kw)


def test_company_created_with_identifier_contact_and_audit(database, world, playbook):
    with database.transaction() as s:
        c = customers.create_customer(s, world.rep1, company(), playbook, now=NOW)
        cid = c.id
    with database.transaction() as s:
        c = s.get(Customer, cid)
        assert c.identifier == f"uscc:{CODE}" and c.status == "active" and c.owner_id == world.rep1.id
        assert c.contacts[0].mobile == "13912345678" and c.name_initials.startswith("szhn")
        assert s.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.entity == "customer", AuditLog.entity_id == cid)) == 1


def test_duplicate_identifier_refused_with_owner_named(database, world, playbook):
    with database.transaction() as s:
        first = customers.create_customer(s, world.rep1, company(), playbook, now=NOW).id
    with pytest.raises(DuplicateCustomer) as err:
        with database.transaction() as s:
            customers.create_customer(s, world.rep2, company(name="华南电子"), playbook, now=NOW)
    assert err.value.existing_id == first
    assert "李明" in err.value.message and "已存在" in err.value.message
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 1


def test_person_identified_by_mobile_from_contact(database, world, playbook):
    data = CustomerInput(kind="person", name="刘女士", contacts=[ContactInput(name="刘女士", mobile="+86 135 0000 1111")])
    with database.transaction() as s:
        c = customers.create_customer(s, world.rep1, data, playbook, now=NOW)
        assert c.identifier == "mobile:13500001111"
    with pytest.raises(DuplicateCustomer):
        with database.transaction() as s:
            customers.create_customer(s, world.rep3, CustomerInput(kind="person", name="刘", mobile="13500001111"), playbook, now=NOW)


def test_missing_identifier_is_incomplete_with_a_data_task(database, world, playbook):
    with database.transaction() as s:
        c = customers.create_customer(s, world.rep1, company(code=None), playbook, now=NOW)
        cid = c.id
        task = s.scalars(select(Task).where(Task.customer_id == cid)).one()
        assert c.status == "incomplete"
        assert task.kind == "data_completion" and task.assignee_id == world.rep1.id and task.status == "open"
        assert "统一社会信用代码" in task.detail
    with database.transaction() as s:
        c = customers.complete_identifier(s, world.rep1, cid, credit_code=CODE, now=NOW)
        assert c.status == "active" and c.identifier == f"uscc:{CODE}"
    with database.transaction() as s:
        assert s.scalars(select(Task).where(Task.customer_id == cid)).one().status == "done"


def test_invalid_input_writes_nothing(database, world, playbook):
    for bad in (company(code="914403001922038217"), company(name="  "),
                CustomerInput(kind="person", name="x", mobile="12345")):
        with pytest.raises(InvalidInput):
            with database.transaction() as s:
                customers.create_customer(s, world.rep1, bad, playbook, now=NOW)
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0
        assert s.scalar(select(func.count()).select_from(AuditLog)) == 0


def test_search_by_name_initials_and_mobile(database, world, playbook):
    with database.transaction() as s:
        customers.create_customer(s, world.rep1, company(), playbook, now=NOW)
        customers.create_customer(s, world.rep1, CustomerInput(kind="company", name="杭州西湖软件有限公司"), playbook, now=NOW)
    with database.transaction() as s:
        assert [c.name for c in customers.search_customers(s, world.rep1, "华南")[0]] == ["深圳华南电子有限公司"]
        assert [c.name for c in customers.search_customers(s, world.rep1, "hzxh")[0]] == ["杭州西湖软件有限公司"]
        assert [c.name for c in customers.search_customers(s, world.rep1, "1391234")[0]] == ["深圳华南电子有限公司"]
        items, total = customers.search_customers(s, world.rep1)
        assert total == 2


def test_tasks_are_created_once_per_dedupe_key(database, world):
    spec = tasks.TaskSpec(org_id=world.org.id, kind="silent_customer", subject_type="customer", subject_id=1,
                          assignee_id=world.rep1.id, title="t", dedupe_key="silent_customer:1:2026-11")
    with database.transaction() as s:
        _, created1 = tasks.ensure_task(s, spec, now=NOW)
        _, created2 = tasks.ensure_task(s, spec, now=NOW)
    assert (created1, created2) == (True, False)
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Task)) == 1


def test_transfer_and_mark_lost_are_audited_and_permission_checked(database, world, playbook):
    from storage.errors import PermissionDenied
    with database.transaction() as s:
        cid = customers.create_customer(s, world.rep1, company(), playbook, now=NOW).id
    with pytest.raises(PermissionDenied):
        with database.transaction() as s:
            customers.transfer_customer(s, world.rep2, cid, s.merge(world.rep2))
    with database.transaction() as s:
        customers.transfer_customer(s, world.manager, cid, s.merge(world.rep2))
        customers.mark_lost(s, world.manager, cid, "选择了竞品")
    with database.transaction() as s:
        c = s.get(Customer, cid)
        assert (c.owner_id, c.status, c.lost_reason) == (world.rep2.id, "lost", "选择了竞品")
        actions = [a.action for a in s.scalars(select(AuditLog).where(AuditLog.entity_id == cid,
                                                                       AuditLog.entity == "customer"))]
        assert actions == ["customer.create", "customer.transfer", "customer.lost"]


def test_reschedule_and_reassign_open_tasks_only(database, world):
    from datetime import datetime, timezone

    from storage.errors import Conflict
    spec = tasks.TaskSpec(org_id=world.org.id, kind="followup_due", subject_type="customer", subject_id=1,
                          assignee_id=world.rep1.id, title="t", dedupe_key="followup_due:1:x")
    with database.transaction() as s:
        tid = tasks.ensure_task(s, spec, now=NOW)[0].id
    due = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)
    with database.transaction() as s:
        assert tasks.reschedule(s, world.rep1, tid, due).due_at == due
        assert tasks.reassign(s, world.manager, tid, s.merge(world.rep2)).assignee_id == world.rep2.id
        tasks.close_task(s, world.rep2, tid, "已处理", now=NOW)
    with pytest.raises(Conflict):
        with database.transaction() as s:
            tasks.reschedule(s, world.rep2, tid, due)
