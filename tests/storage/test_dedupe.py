"""The duplicate check: normalisation, exact and fuzzy matches, owner protection on create."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from storage import customers, dedupe, duplicate_reviews, links
from storage.customers import ContactInput, CustomerInput
from storage.dedupe import Candidate, find_duplicates, normalize_company, parse_company
from storage.errors import CustomerCollision, DuplicateCustomer, PossibleDuplicate
from storage.models import Customer, Task
from storage.validators import credit_code_check_char
from tests.factories import build_world

CODE = "9144030071526726XG"
NOW = datetime(2026, 3, 4, 2, 30, tzinfo=timezone.utc)


@pytest.fixture
def world(database):
    with database.transaction() as s:
        w = build_world(s)
    return w


@pytest.mark.parametrize("name", [
    "上海华东机电设备有限公司", "华东机电设备（上海）有限公司", "华东机电设备(上海)有限公司",
    "华东机电设备有限公司上海分公司", "上海市华东机电设备股份有限公司", "华东机电设备集团有限公司",
    " 上海 华东机电设备 有限公司 ", "ＨＤ华东机电设备有限公司"[2:],
])
def test_company_variants_share_one_key(name):
    assert normalize_company(name) == "华东机电设备"


def test_city_is_kept_apart():
    assert parse_company("上海华东机电设备有限公司").city == "上海"
    assert parse_company("华东机电设备有限公司宁波分公司").city == "宁波"
    assert parse_company("浙江省宁波市东海贸易有限公司").city == "宁波"
    assert parse_company("华东机电").city is None
    assert dedupe.name_score(parse_company("上海华东机电"), parse_company("杭州华东机电")) == 0.0
    assert dedupe.name_score(parse_company("浙江东海贸易"), parse_company("宁波东海贸易有限公司")) == 1.0


def _company(name, code=None, mobile=None, email=None, contact="陈总"):
    return CustomerInput(kind="company", name=name, credit_code=code,
                         contacts=[ContactInput(name=contact, mobile=mobile, email=email)])


def _seed(database, world, playbook):
    with database.transaction() as s:
        c = customers.create_customer(s, world.rep1, _company(
            "上海华东机电设备有限公司", CODE, "13912345678", "chen@huadong.cn"), playbook, now=NOW)
        links.link_chat(s, world.rep1, "dingtalk", "ding-ext-1", c.id, now=NOW)
        return c.id


@pytest.mark.parametrize("candidate, reason", [
    (Candidate(credit_code=CODE.lower()), "信用代码相同"),
    (Candidate(mobile="+86 139-1234-5678"), "手机号相同"),
    (Candidate(email="CHEN@huadong.cn"), "邮箱相同"),
    (Candidate(dingtalk_userid="ding-ext-1"), "钉钉客户相同"),
    (Candidate(name="华东机电"), "名称相近"),
    (Candidate(name="华东机电设备（上海）有限公司"), "名称相同"),
    (Candidate(name="上海华冬机电设备"), "名称相近"),
    (Candidate(name="王工", kind="person", company="上海华东机电"), "名称相近"),
])
def test_each_kind_of_match_names_owner_and_reason(database, world, playbook, candidate, reason):
    cid = _seed(database, world, playbook)
    with database.transaction() as s:
        found = find_duplicates(s, world.org.id, candidate, playbook=playbook)
    assert [m.customer_id for m in found] == [cid]
    assert reason in found[0].reasons and found[0].owner_name == "李明"
    assert found[0].label() == "上海华东机电设备有限公司（负责人：李明）"


@pytest.mark.parametrize("candidate", [
    Candidate(name="杭州华东机电设备有限公司"),     # same brand, another city
    Candidate(name="上海华东化工有限公司"),         # same prefix, another trade
    Candidate(mobile="13800000000"), Candidate(credit_code="not-a-code"), Candidate(),
])
def test_non_duplicates_are_not_reported(database, world, playbook, candidate):
    _seed(database, world, playbook)
    with database.transaction() as s:
        assert find_duplicates(s, world.org.id, candidate, playbook=playbook) == []


def test_other_org_excluded_id_and_tombstones_are_never_returned(database, world, playbook):
    cid = _seed(database, world, playbook)
    with database.transaction() as s:
        assert find_duplicates(s, world.other_org.id, Candidate(credit_code=CODE), playbook=playbook) == []
        assert find_duplicates(s, world.org.id, Candidate(credit_code=CODE), exclude_id=cid,
                               playbook=playbook) == []
        s.get(Customer, cid).merged_into_id = cid  # a tombstone (points anywhere)
    with database.transaction() as s:
        assert find_duplicates(s, world.org.id, Candidate(name="华东机电"), playbook=playbook) == []


def test_contact_with_same_name_raises_the_score(database, world, playbook):
    _seed(database, world, playbook)
    with database.transaction() as s:
        plain = find_duplicates(s, world.org.id, Candidate(name="华东机电工程"), playbook=playbook)
        same_person = find_duplicates(s, world.org.id, Candidate(name="华东机电工程", contact_name="陈总"),
                                      playbook=playbook)
    assert plain == []
    assert same_person and "联系人同名" in same_person[0].reasons


def test_create_shows_possible_duplicate_before_writing(database, world, playbook):
    _seed(database, world, playbook)
    with pytest.raises(PossibleDuplicate) as err:
        with database.transaction() as s:
            customers.create_customer(s, world.rep2, _company("华东机电（上海）"), playbook, now=NOW)
    assert err.value.message == "可能重复：上海华东机电设备有限公司（负责人：李明）"
    with database.transaction() as s:
        assert s.scalar(select(Customer.id).where(Customer.owner_id == world.rep2.id)) is None


def test_create_anyway_with_reason_opens_review_for_the_manager(database, world, playbook):
    cid = _seed(database, world, playbook)
    reason = playbook.dedupe.create_anyway_reasons[0]
    with database.transaction() as s:
        new = customers.create_customer(s, world.rep2, _company("华东机电（上海）"), playbook, now=NOW,
                                        duplicate_reason=reason)
        new_id = new.id
    with database.transaction() as s:
        review = s.scalars(select(Task).where(Task.kind == "duplicate_review")).one()
        assert review.assignee_id == world.manager.id and review.customer_id == cid
        assert duplicate_reviews.parties(review) == duplicate_reviews.ReviewParties(cid, new_id, world.rep2.id)
        assert reason in review.detail


def test_identifier_of_another_owner_is_a_collision_not_a_takeover(database, world, playbook):
    cid = _seed(database, world, playbook)
    with pytest.raises(CustomerCollision) as err:
        with database.transaction() as s:
            customers.create_customer(s, world.rep3, _company("随便写的名字", CODE), playbook, now=NOW)
    assert err.value.existing_id == cid and "负责人不会因此变更" in err.value.message
    with pytest.raises(DuplicateCustomer):  # the owner's own repeat is a plain duplicate
        with database.transaction() as s:
            customers.create_customer(s, world.rep1, _company("随便写的名字", CODE), playbook, now=NOW)


def test_filling_the_identifier_first_never_takes_the_customer(database, world, playbook):
    """The 宁波东海贸易 sequence of issue 11 at the service level."""
    with database.transaction() as s:
        original = customers.create_customer(s, world.rep2, _company("宁波东海贸易", mobile="13712345678"),
                                             playbook, now=NOW).id
    with pytest.raises(PossibleDuplicate):  # rep3 is shown rep2's customer first
        with database.transaction() as s:
            customers.create_customer(s, world.rep3, _company("东海贸易有限公司", mobile="13712345678"), playbook, now=NOW)
    with database.transaction() as s:  # … and creates anyway: a review goes to the manager
        copy = customers.create_customer(s, world.rep3, _company("东海贸易有限公司", mobile="13712345678"),
                                         playbook, now=NOW, duplicate_reason="同名不同公司").id
    code = "91330200MA2H0X123" + credit_code_check_char("91330200MA2H0X123")
    with pytest.raises(CustomerCollision) as err:  # rep3 fills the code into the copy: refused
        with database.transaction() as s:
            customers.complete_identifier(s, world.rep3, copy, credit_code=code, now=NOW)
    assert err.value.existing_id == original
    with database.transaction() as s:  # rep2 completes the original: accepted
        done = customers.complete_identifier(s, world.rep2, original, credit_code=code, now=NOW)
        assert done.owner_id == world.rep2.id and done.identifier == f"uscc:{code}"


def test_a_lead_of_a_known_customer_goes_to_its_owner(database, world, playbook):
    from storage import leads
    cid = _seed(database, world, playbook)
    with database.transaction() as s:
        lead, _ = leads.create_lead(s, world.org.id, leads.LeadInput(
            source="官网表单", name="陈总", company="华东机电", mobile="13912345678", external_ref="f-1"), now=NOW)
        assert lead.customer_id == cid
        assert leads.assign(s, lead, playbook, now=NOW).id == world.rep1.id
        other, _ = leads.create_lead(s, world.org.id, leads.LeadInput(
            source="官网表单", name="钱工", company="杭州华东机电", mobile="13700000001", external_ref="f-2"), now=NOW)
        assert other.customer_id is None  # a fuzzy likeness never decides the owner


def test_claiming_a_known_customer_of_another_rep_is_a_collision(database, world, playbook):
    from storage import leads
    _seed(database, world, playbook)
    with database.transaction() as s:
        lead, _ = leads.create_lead(s, world.org.id, leads.LeadInput(
            source="官网表单", name="陈总", mobile="13912345678", external_ref="f-3"), now=NOW)
        lead.status, lead.assignee_id = "assigned", world.rep2.id
        lead_id = lead.id
    with pytest.raises(CustomerCollision):
        with database.transaction() as s:
            leads.claim(s, s.merge(world.rep2), lead_id, playbook, now=NOW)


THREE_WAYS = ("上海华东机电设备有限公司", "上海华东机电", "华东机电设备（上海）有限公司")


@pytest.mark.parametrize("typed", THREE_WAYS)
def test_photo_and_voice_drafts_are_caught_three_ways(database, world, playbook, typed):
    from storage import drafts
    cid = _seed(database, world, playbook)
    with database.transaction() as s:
        draft, _ = drafts.create_draft(s, s.merge(world.rep2), "customer",
                                       {"name": "赵工", "company": typed, "mobile": "13600000000"})
        draft_id = draft.id
    with pytest.raises(PossibleDuplicate) as err:
        with database.transaction() as s:
            drafts.confirm_draft(s, s.merge(world.rep2), draft_id, playbook, now=NOW)
    assert err.value.matches[0].customer_id == cid


@pytest.mark.parametrize("typed", THREE_WAYS)
def test_a_claimed_lead_is_caught_three_ways(database, world, playbook, typed):
    """The lead webhook's company typed differently: claiming it never creates a silent twin."""
    from storage import leads
    cid = _seed(database, world, playbook)
    with database.transaction() as s:
        lead, _ = leads.create_lead(s, world.org.id, leads.LeadInput(
            source="官网表单", name="赵工", company=typed, mobile="13600000000", external_ref=typed), now=NOW)
        lead.status, lead.assignee_id = "assigned", world.rep2.id
        lead_id = lead.id
    with database.transaction() as s:
        claimed = leads.claim(s, s.merge(world.rep2), lead_id, playbook, now=NOW)
        review = s.scalars(select(Task).where(Task.kind == "duplicate_review")).one()
        assert review.customer_id == cid and review.subject_id == claimed.customer_id
        assert review.assignee_id == world.manager.id


# ------------------------------------------------------------------ a contact's second mobile


def _seed_second_mobile(database, world, playbook) -> int:
    """A customer whose contact's card printed two mobiles: 13912345678 and 13712345678."""
    with database.transaction() as s:
        c = customers.create_customer(s, world.rep1, CustomerInput(kind="company", name="苏州远景电子有限公司", contacts=[
            ContactInput(name="王伟", mobile="13912345678", mobile2="137 1234 5678")]), playbook, now=NOW)
        return c.id


@pytest.mark.parametrize("candidate", [
    Candidate(mobile="13712345678"),                      # a mobile against the second mobile
    Candidate(mobiles=("+86 137-1234-5678",)),            # a second mobile against the second mobile
    Candidate(mobile="13600000000", mobiles=("13912345678",)),   # a second mobile against the mobile
], ids=["mobile-vs-mobile2", "mobile2-vs-mobile2", "mobile2-vs-mobile"])
def test_a_second_mobile_is_matched_exactly_either_way(database, world, playbook, candidate):
    cid = _seed_second_mobile(database, world, playbook)
    with database.transaction() as s:
        (found,) = find_duplicates(s, world.org.id, candidate, playbook=playbook)
    assert found.customer_id == cid and found.exact and found.reasons == ["手机号相同"]


def test_a_person_customer_is_found_by_a_cards_second_mobile(database, world, playbook):
    """A person customer's identifier is their mobile; a card naming it as the second mobile is them."""
    with database.transaction() as s:
        person = customers.create_customer(s, world.rep1, CustomerInput(kind="person", name="刘洋", mobile="13712345678"),
                                           playbook, now=NOW)
        person_id = person.id
    with database.transaction() as s:
        found = find_duplicates(s, world.org.id, dedupe.candidate_for(
            "company", "杭州新客科技有限公司", contacts=[ContactInput(name="刘洋", mobile="13600000000",
                                                                      mobile2="13712345678")]), playbook=playbook)
    assert [m.customer_id for m in found] == [person_id] and found[0].exact


def test_another_reps_second_mobile_is_shown_before_create(database, world, playbook):
    cid = _seed_second_mobile(database, world, playbook)
    with pytest.raises(PossibleDuplicate) as err:
        with database.transaction() as s:
            customers.create_customer(s, s.merge(world.rep2), CustomerInput(
                kind="company", name="宁波全新贸易有限公司", contacts=[ContactInput(name="王伟", mobile="13712345678")]),
                playbook, now=NOW)
    assert err.value.matches[0].customer_id == cid and err.value.matches[0].owner_name == "李明"
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 1


def test_a_second_mobile_equal_to_the_mobile_is_dropped_and_a_lone_one_is_the_mobile(database, world, playbook):
    with database.transaction() as s:
        c = customers.create_customer(s, world.rep1, CustomerInput(kind="company", name="苏州远景电子有限公司", contacts=[
            ContactInput(name="王伟", mobile="13912345678", mobile2="+86 139 1234 5678"),
            ContactInput(name="李娜", mobile2="13712345678")]), playbook, now=NOW)
        wang, li = c.contacts
        assert (wang.mobile, wang.mobile2) == ("13912345678", None)
        assert (li.mobile, li.mobile2) == ("13712345678", None)
