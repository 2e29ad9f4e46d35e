"""The permission matrix: who can read and change which customer."""
import pytest

from storage import customers
from storage.customers import CustomerInput
from storage.errors import NotFound, PermissionDenied
from tests.factories import NOW, build_world


@pytest.fixture
def setup(database, playbook):
    with database.transaction() as s:
        w = build_world(s)
        ids = {}
        for rep in (w.rep1, w.rep2, w.rep3):
            ids[rep.wecom_userid] = customers.create_customer(
                s, rep, CustomerInput(kind="company", name=f"{rep.name}的客户"), playbook, now=NOW).id
    return w, ids


MATRIX = [  # actor, customer owner, allowed
    ("rep1", "rep1", True), ("rep1", "rep2", False), ("rep1", "rep3", False),
    ("manager", "rep1", True), ("manager", "rep2", True), ("manager", "rep3", False),
    ("manager_b", "rep3", True), ("manager_b", "rep1", False),
    ("director", "rep1", True), ("director", "rep3", True),
]


@pytest.mark.parametrize("actor, owner, allowed", MATRIX)
def test_read_and_change(database, setup, actor, owner, allowed):
    w, ids = setup
    user = {"rep1": w.rep1, "manager": w.manager, "manager_b": w.manager_b, "director": w.director}[actor]
    with database.transaction() as s:
        if allowed:
            assert customers.get_customer(s, user, ids[owner]).id == ids[owner]
            customers.update_customer(s, user, ids[owner], {"grade": "A"})
        else:
            with pytest.raises(PermissionDenied):
                customers.get_customer(s, user, ids[owner])
            with pytest.raises(PermissionDenied):
                customers.update_customer(s, user, ids[owner], {"grade": "A"})


@pytest.mark.parametrize("actor, expected", [
    ("rep1", {"rep1"}), ("manager", {"rep1", "rep2"}), ("manager_b", {"rep3"}),
    ("director", {"rep1", "rep2", "rep3"})])
def test_lists_show_only_the_visible_subtree(database, setup, actor, expected):
    w, ids = setup
    user = {"rep1": w.rep1, "manager": w.manager, "manager_b": w.manager_b, "director": w.director}[actor]
    with database.transaction() as s:
        items, total = customers.search_customers(s, user)
    assert {c.id for c in items} == {ids[k] for k in expected} and total == len(expected)


def test_another_org_sees_nothing(database, setup):
    w, ids = setup
    with database.transaction() as s:
        with pytest.raises(NotFound):
            customers.get_customer(s, w.outsider, ids["rep1"])
        assert customers.search_customers(s, w.outsider) == ([], 0)
