"""Merging B into A: every related row moves, B redirects, the audit can rebuild B, and the
permission matrix (rep, manager of another subtree, other org, twice) refuses with nothing written."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from storage import customers, drafts, followups, links, merge, opportunities, tasks
from storage.customers import ContactInput, CustomerInput
from storage.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from storage.followups import FollowUpInput
from storage.models import (AuditLog, CaptureDraft, ChatLink, Contact, Customer, FollowUp, Lead,
                            Opportunity, StageChange, Task)
from tests.factories import build_world

NOW = datetime(2026, 3, 4, 2, 30, tzinfo=timezone.utc)
CODE = "9144030071526726XG"


@pytest.fixture
def world(database):
    with database.transaction() as s:
        return build_world(s)


def _pair(database, world, playbook, owner_b=None):
    """A (rep1, with a credit code) and B (rep2 or owner_b, a copy typed differently) with rows."""
    owner_b = owner_b or world.rep2
    with database.transaction() as s:
        a = customers.create_customer(s, world.rep1, CustomerInput(
            kind="company", name="上海华东机电设备有限公司", credit_code=CODE,
            contacts=[ContactInput(name="陈总", mobile="13912345678")]), playbook, now=NOW)
        b = customers.create_customer(s, s.merge(owner_b), CustomerInput(
            kind="company", name="华东机电（上海）", industry="机械设备",
            contacts=[ContactInput(name="王工", mobile="13812345678"), ContactInput(name="李工")]),
            playbook, now=NOW, duplicate_reason=playbook.dedupe.create_anyway_reasons[0])
        actor_b = s.merge(owner_b)
        followups.log_followup(s, actor_b, FollowUpInput(customer_id=b.id, tags=["quoted"], channel="chat"),
                               playbook, now=NOW)
        opp = opportunities.create_opportunity(s, actor_b, b.id, "华东机电年度采购", playbook, amount="100000", now=NOW)
        links.link_chat(s, actor_b, "wecom", "wm-copy", b.id, now=NOW)
        s.add(Lead(org_id=b.org_id, source="官网表单", name="王工", company="华东机电", customer_id=b.id,
                   status="claimed", assignee_id=owner_b.id))
        draft, _ = drafts.create_draft(s, actor_b, "followup", {"customer_id": b.id, "tags": ["quoted"]})
        s.flush()
        return a.id, b.id, opp.id, draft.id


def _counts(s, customer_id):
    return {name: s.scalar(select(func.count()).select_from(model).where(column == customer_id))
            for name, model, column in merge.RELATED}


def test_merge_moves_every_related_row_and_b_redirects(database, world, playbook):
    a, b, opp_id, draft_id = _pair(database, world, playbook)
    with database.transaction() as s:
        before_a, before_b = _counts(s, a), _counts(s, b)
        stage_rows = s.scalar(select(func.count()).select_from(StageChange).where(
            StageChange.opportunity_id == opp_id))
    assert before_b["contact"] == 2 and before_b["follow_up"] == 1 and before_b["opportunity"] == 1
    assert before_b["chat_link"] == 1 and before_b["lead"] == 1
    with database.transaction() as s:
        result = merge.merge_customers(s, s.merge(world.manager), into_id=a, merged_id=b, now=NOW,
                                       choices={"name": "into"})
        assert result.moved == before_b
    with database.transaction() as s:
        after_a, after_b = _counts(s, a), _counts(s, b)
        assert after_b == {k: 0 for k in before_b}
        assert after_a == {k: before_a[k] + before_b[k] for k in before_a}
        assert s.scalar(select(func.count()).select_from(StageChange).where(
            StageChange.opportunity_id == opp_id)) == stage_rows
        merged_a, tomb = s.get(Customer, a), s.get(Customer, b)
        assert merged_a.owner_id == world.rep1.id and merged_a.industry == "机械设备"  # only B had it
        assert merged_a.name == "上海华东机电设备有限公司" and merged_a.identifier == f"uscc:{CODE}"
        assert tomb.merged_into_id == a and tomb.status == "merged" and tomb.identifier is None
        assert s.get(CaptureDraft, draft_id).fields["customer_id"] == a
        # an old card or link to B opens A, for anyone who may see A
        assert customers.get_customer(s, s.merge(world.rep1), b).id == a
        assert b not in [c.id for c in customers.search_customers(s, s.merge(world.manager), "华东机电")[0]]
        log = s.scalars(select(AuditLog).where(AuditLog.action == "customer.merge")).one()
        assert log.before["merged"]["name"] == "华东机电（上海）"  # enough to rebuild B
        assert sorted(log.before["moved"]["contact"]) == sorted(
            s.scalars(select(Contact.id).where(Contact.customer_id == a, Contact.name != "陈总")))


def test_field_choice_takes_b_value(database, world, playbook):
    a, b, _, _ = _pair(database, world, playbook)
    with database.transaction() as s:
        merge.merge_customers(s, s.merge(world.manager), into_id=a, merged_id=b, now=NOW,
                              choices={"name": "merged", "owner_id": "merged"})
    with database.transaction() as s:
        c = s.get(Customer, a)
        assert c.name == "华东机电（上海）" and c.owner_id == world.rep2.id and c.name_key == "华东机电"


@pytest.mark.parametrize("who, error", [
    ("rep1", PermissionDenied), ("manager_b", PermissionDenied), ("outsider", NotFound),
])
def test_permission_matrix_refuses_and_writes_nothing(database, world, playbook, who, error):
    a, b, _, _ = _pair(database, world, playbook)
    with pytest.raises(error):
        with database.transaction() as s:
            merge.merge_customers(s, s.merge(getattr(world, who)), into_id=a, merged_id=b, now=NOW)
    with database.transaction() as s:
        assert s.get(Customer, b).merged_into_id is None
        assert _counts(s, b)["contact"] == 2
        assert s.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "customer.merge")) == 0


def test_director_merges_across_teams_and_twice_is_refused(database, world, playbook):
    a, b, _, _ = _pair(database, world, playbook, owner_b=world.rep3)
    with pytest.raises(PermissionDenied):  # rep3 is in manager_b's team, A in manager's
        with database.transaction() as s:
            merge.merge_customers(s, s.merge(world.manager), into_id=a, merged_id=b, now=NOW)
    with database.transaction() as s:
        merge.merge_customers(s, s.merge(world.director), into_id=a, merged_id=b, now=NOW)
    with pytest.raises(Conflict, match="已经合并"):
        with database.transaction() as s:
            merge.merge_customers(s, s.merge(world.director), into_id=a, merged_id=b, now=NOW)
    with pytest.raises(Conflict, match="已被合并"):
        with database.transaction() as s:
            merge.merge_customers(s, s.merge(world.director), into_id=b, merged_id=a, now=NOW)
    with pytest.raises(InvalidInput):
        with database.transaction() as s:
            merge.merge_customers(s, s.merge(world.director), into_id=a, merged_id=a, now=NOW)
    with pytest.raises(InvalidInput):
        with database.transaction() as s:
            merge.merge_customers(s, s.merge(world.director), into_id=a, merged_id=b, now=NOW,
                                  choices={"owner_id": "both"})


def test_merge_keeps_a_contacts_second_mobile_fax_and_english_name(database, world, playbook):
    """B's contact arrives on A whole, and a later card with B's second mobile finds A, never B."""
    from storage.dedupe import Candidate, find_duplicates
    a, b, _, _ = _pair(database, world, playbook)
    with database.transaction() as s:
        wang = s.scalars(select(Contact).where(Contact.customer_id == b, Contact.name == "王工")).one()
        customers.update_contact(s, s.merge(world.rep2), wang.id, {
            "mobile2": "13712345678", "fax": "021-62345679", "english_name": "Frank Wang",
            "english_title": "Chief Engineer"})
    with database.transaction() as s:
        merge.merge_customers(s, s.merge(world.manager), into_id=a, merged_id=b, now=NOW)
    with database.transaction() as s:
        wang = s.scalars(select(Contact).where(Contact.name == "王工")).one()
        assert wang.customer_id == a
        assert (wang.mobile, wang.mobile2, wang.fax, wang.english_name, wang.english_title) == (
            "13812345678", "13712345678", "021-62345679", "Frank Wang", "Chief Engineer")
        found = find_duplicates(s, world.org.id, Candidate(mobile="13712345678"), playbook=playbook)
        assert [m.customer_id for m in found] == [a]
