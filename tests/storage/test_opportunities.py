import pytest

from storage import customers, opportunities
from storage.customers import CustomerInput
from storage.errors import Conflict, InvalidInput
from tests.factories import NOW, build_world


@pytest.fixture
def opp(database, playbook):
    with database.transaction() as s:
        w = build_world(s)
        cid = customers.create_customer(s, w.rep1, CustomerInput(kind="company", name="丙公司"), playbook, now=NOW).id
        oid = opportunities.create_opportunity(s, w.rep1, cid, "丙公司产线改造", playbook, amount="200000", now=NOW).id
    return w, oid


def test_stage_change_gated_by_checklist(database, playbook, opp):
    w, oid = opp
    with pytest.raises(InvalidInput) as err:
        with database.transaction() as s:
            opportunities.change_stage(s, w.rep1, oid, "needs", playbook, now=NOW)
    assert "客户已书面确认需求清单" in err.value.message
    with database.transaction() as s:
        for item in playbook.stage("needs").checklist:
            opportunities.set_checklist_item(s, w.rep1, oid, "needs", item, True, playbook)
        o = opportunities.change_stage(s, w.rep1, oid, "needs", playbook, now=NOW)
        assert o.stage == "needs"
        assert [h.to_stage for h in opportunities.stage_history(s, oid)] == ["initial", "needs"]


def test_locked_fields_stay_read_only(database, playbook, opp):
    w, oid = opp
    with database.transaction() as s:
        o = opportunities.get_opportunity(s, w.rep1, oid)
        o.stage = "negotiation"  # as if advanced through the checklist
    with pytest.raises(Conflict, match="amount"):
        with database.transaction() as s:
            opportunities.update_opportunity(s, w.rep1, oid, {"amount": 1}, playbook)
    with database.transaction() as s:
        opportunities.update_opportunity(s, w.rep1, oid, {"name": "新名字"}, playbook)


def test_ticks_saved_at_the_same_time_are_all_kept(database, playbook, opp):
    """The page saves every tick as it is made; two ticks in flight together must both be kept
    (the row is locked for the read-modify-write of the checklist JSON)."""
    import threading

    if database.engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite serialises whole-database writes)")
    w, oid = opp
    first, second = playbook.stage("needs").checklist[:2]
    first_written, second_done = threading.Event(), threading.Event()

    def tick_second():
        with database.transaction() as s:
            opportunities.set_checklist_item(s, w.rep1, oid, "needs", second, True, playbook)
        second_done.set()

    with database.transaction() as s:
        opportunities.set_checklist_item(s, w.rep1, oid, "needs", first, True, playbook)
        s.flush()
        other = threading.Thread(target=tick_second)
        other.start()
        first_written.set()
        # the second tick waits for this transaction instead of reading the list without `first`
        assert not second_done.wait(0.5)
    other.join(timeout=10)
    assert second_done.is_set()
    with database.transaction() as s:
        assert set(opportunities.get_opportunity(s, w.rep1, oid).checklist["needs"]) == {first, second}
