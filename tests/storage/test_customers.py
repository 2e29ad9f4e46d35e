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


def test_missing_identifier_is_incomplete_without_a_task_of_its_own(database, world, playbook):
    """待补全 is a data-health item (the weekly 补全 digest), not a task and escalation per customer."""
    with database.transaction() as s:
        c = customers.create_customer(s, world.rep1, company(code=None), playbook, now=NOW)
        cid = c.id
        assert c.status == "incomplete"
        assert s.scalars(select(Task).where(Task.customer_id == cid)).all() == []
    with database.transaction() as s:
        c = customers.complete_identifier(s, world.rep1, cid, credit_code=CODE, now=NOW)
        assert c.status == "active" and c.identifier == f"uscc:{CODE}"


def test_block_policy_refuses_a_customer_without_its_identifier(database, world, playbook):
    strict = playbook.model_copy(update={"identifiers": playbook.identifiers.model_copy(update={"company": "block"})})
    with pytest.raises(InvalidInput) as err:
        with database.transaction() as s:
            customers.create_customer(s, world.rep1, company(code=None), strict, now=NOW)
    assert err.value.field == "credit_code" and "不能保存" in err.value.message
    with database.transaction() as s:
        assert s.scalars(select(Customer)).all() == []
        customers.create_customer(s, world.rep1, company(), strict, now=NOW)  # with the code it is saved


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


# ------------------------------------------------------------------ a contact's second mobile, fax, English name


def _card_contact(**kw) -> ContactInput:
    return ContactInput(**{"name": "王伟", "mobile": "13912345678", "mobile2": "13812345678", "fax": "021-62345679",
                           "english_name": "David Wang", "english_title": "Sales Director", **kw})


@pytest.mark.parametrize("changes, field, words", [
    ({"fax": "13912340000"}, "fax", "传真号码不能是手机号"),
    ({"fax": "6234"}, "fax", "传真号码格式不正确"),
    ({"mobile2": "021-62345678"}, "mobile2", "第二手机号格式不正确"),
    ({"english_name": "D" * 101}, "english_name", "英文名最多100个字"),
], ids=["fax-is-a-mobile", "fax-malformed", "mobile2-landline", "english-name-too-long"])
def test_contact_extras_are_checked_and_nothing_is_written(database, world, playbook, changes, field, words):
    with pytest.raises(InvalidInput) as err:
        with database.transaction() as s:
            customers.create_customer(s, world.rep1, CustomerInput(
                kind="company", name="上海先和科技有限公司", contacts=[_card_contact(**changes)]), playbook, now=NOW)
    assert err.value.field == field and words in err.value.message
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0


def test_search_finds_a_customer_by_its_contacts_second_mobile(database, world, playbook):
    with database.transaction() as s:
        customers.create_customer(s, world.rep1, CustomerInput(
            kind="company", name="上海先和科技有限公司", contacts=[_card_contact()]), playbook, now=NOW)
    with database.transaction() as s:
        found, total = customers.search_customers(s, s.merge(world.rep1), "138 1234")
    assert total == 1 and found[0].name == "上海先和科技有限公司"


def test_update_contact_checks_like_add_and_refuses_another_reps(database, world, playbook):
    from storage.errors import Conflict, PermissionDenied
    from storage.models import Contact
    with database.transaction() as s:
        c = customers.create_customer(s, world.rep1, CustomerInput(
            kind="company", name="上海先和科技有限公司", contacts=[_card_contact(), ContactInput(name="李娜")]),
            playbook, now=NOW)
        wang_id, li_id = (ct.id for ct in c.contacts)
    with database.transaction() as s:
        li = customers.update_contact(s, s.merge(world.rep1), li_id, {
            "mobile": "", "mobile2": "137 1234 5678", "english_name": " Lina Li ", "title": "采购经理"})
        # a lone second mobile is the mobile; text is trimmed
        assert (li.mobile, li.mobile2, li.english_name, li.title) == ("13712345678", None, "Lina Li", "采购经理")
        assert s.scalars(select(AuditLog).where(AuditLog.action == "contact.update")).one().before["mobile"] is None
    with database.transaction() as s:
        wang = customers.update_contact(s, s.merge(world.rep1), wang_id, {"mobile2": "13912345678"})
        assert wang.mobile2 is None  # the same as the mobile: dropped
    with pytest.raises(Conflict, match="李娜"):   # the colleague's number on another contact
        with database.transaction() as s:
            customers.update_contact(s, s.merge(world.rep1), wang_id, {"mobile2": "13712345678"})
    with pytest.raises(InvalidInput):
        with database.transaction() as s:
            customers.update_contact(s, s.merge(world.rep1), wang_id, {"customer_id": 99})
    with pytest.raises(PermissionDenied):
        with database.transaction() as s:
            customers.update_contact(s, s.merge(world.rep2), wang_id, {"english_name": "Mr Wang"})
    with database.transaction() as s:
        wang = s.get(Contact, wang_id)
        assert (wang.mobile2, wang.english_name, wang.fax) == (None, "David Wang", "021-62345679")
