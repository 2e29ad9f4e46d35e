import pytest
from sqlalchemy import func, select

from storage import customers, drafts, leads, links
from storage.customers import CustomerInput
from storage.errors import Conflict, InvalidInput, PermissionDenied
from storage.models import Customer
from tests.factories import NOW, build_world


@pytest.fixture
def w(database):
    with database.transaction() as s:
        return build_world(s)


def test_lead_form_resubmission_is_one_lead(database, w):
    data = leads.LeadInput(source="官网表单", name="周先生", mobile="13700001111", external_ref="form-1")
    with database.transaction() as s:
        a, created_a = leads.create_lead(s, w.org.id, data, now=NOW)
        b, created_b = leads.create_lead(s, w.org.id, data, now=NOW)
    assert a.id == b.id and (created_a, created_b) == (True, False)


def test_round_robin_inside_the_team(database, w, playbook):
    with database.transaction() as s:
        got = []
        for i in range(4):
            lead, _ = leads.create_lead(s, w.org.id, leads.LeadInput(source="官网表单", name=f"客户{i}", industry="制造业"), now=NOW)
            got.append(leads.assign(s, lead, playbook, now=NOW).wecom_userid)
    assert got == ["rep1", "rep2", "rep1", "rep2"]


def test_big_budget_goes_to_least_loaded_in_key_accounts(database, w, playbook):
    with database.transaction() as s:
        lead, _ = leads.create_lead(s, w.org.id, leads.LeadInput(source="展会", name="大客户", budget=800000), now=NOW)
        assert leads.assign(s, lead, playbook, now=NOW).id == w.rep3.id


def test_stale_assignment_loses_the_compare_and_set(database, w, playbook):
    with database.transaction() as s:
        lead, _ = leads.create_lead(s, w.org.id, leads.LeadInput(source="官网表单", name="甲", industry="制造业"), now=NOW)
        lead_id = lead.id
    with database.transaction() as s1:
        copy = s1.get(leads.Lead, lead_id)
        with database.transaction() as s2:
            assert leads.assign(s2, s2.get(leads.Lead, lead_id), playbook, now=NOW) is not None
        # s1 still believes the lead is new: its assignment must not overwrite the first one
        assert leads.assign(s1, copy, playbook, now=NOW) is None


def test_claim_only_by_the_assignee(database, w, playbook):
    with database.transaction() as s:
        lead, _ = leads.create_lead(s, w.org.id, leads.LeadInput(source="官网表单", name="乙", company="乙公司", industry="制造业"), now=NOW)
        rep = leads.assign(s, lead, playbook, now=NOW)
        other = w.rep2 if rep.id == w.rep1.id else w.rep1
        lead_id = lead.id
    with pytest.raises(PermissionDenied):
        with database.transaction() as s:
            leads.claim(s, other, lead_id, playbook, now=NOW)
    with database.transaction() as s:
        claimed = leads.claim(s, s.get(type(rep), rep.id), lead_id, playbook, now=NOW)
        assert claimed.status == "claimed" and s.get(Customer, claimed.customer_id).name == "乙公司"
    with pytest.raises(Conflict):
        with database.transaction() as s:
            leads.claim(s, s.get(type(rep), rep.id), lead_id, playbook, now=NOW)


def test_linking_a_contact_linked_by_another_rep_names_the_owner(database, w, playbook):
    with database.transaction() as s:
        c1 = customers.create_customer(s, w.rep1, CustomerInput(kind="company", name="丁公司"), playbook, now=NOW).id
        c2 = customers.create_customer(s, w.rep2, CustomerInput(kind="company", name="戊公司"), playbook, now=NOW).id
        links.link_chat(s, w.rep1, "wecom", "wmEXT1", c1, now=NOW)
        assert links.link_chat(s, w.rep1, "wecom", "wmEXT1", c1, now=NOW).customer_id == c1  # idempotent
    with pytest.raises(Conflict) as err:
        with database.transaction() as s:
            links.link_chat(s, w.rep2, "wecom", "wmEXT1", c2, now=NOW)
    assert "李明" in err.value.message and "丁公司" in err.value.message


def test_draft_confirm_creates_customer_once(database, w, playbook):
    fields = {"name": "陈静", "company": "宁波东海贸易有限公司", "title": "采购经理", "mobile": "13600002222"}
    with database.transaction() as s:
        d, _ = drafts.create_draft(s, w.rep1, "customer", fields, source_event_id="wecom:m1")
        again, created = drafts.create_draft(s, w.rep1, "customer", fields, source_event_id="wecom:m1")
        assert again.id == d.id and not created
        did = d.id
    with pytest.raises(PermissionDenied):
        with database.transaction() as s:
            drafts.confirm_draft(s, w.rep2, did, playbook, now=NOW)
    with database.transaction() as s:
        d = drafts.confirm_draft(s, w.rep1, did, playbook, now=NOW)
        assert s.get(Customer, d.result_customer_id).contacts[0].mobile == "13600002222"
    with pytest.raises(Conflict):
        with database.transaction() as s:
            drafts.confirm_draft(s, w.rep1, did, playbook, now=NOW)


def test_draft_with_bad_mobile_refused_and_stays_pending(database, w, playbook):
    with database.transaction() as s:
        did = drafts.create_draft(s, w.rep1, "customer", {"name": "某人", "mobile": "123"})[0].id
    with pytest.raises(InvalidInput):
        with database.transaction() as s:
            drafts.confirm_draft(s, w.rep1, did, playbook, now=NOW)
    with database.transaction() as s:
        assert drafts.get_draft(s, w.rep1, did).status == "pending"
        assert s.scalar(select(func.count()).select_from(Customer)) == 0


CARD_WITH_EXTRAS = {"name": "王伟", "company": "上海先和科技有限公司", "title": "销售总监", "mobile": "13912345678",
                    "mobile2": "13812345678", "phone": "021-62345678", "fax": "021-62345679",
                    "english_name": "David Wang", "english_title": "Sales Director"}


def test_a_card_drafts_second_mobile_fax_and_english_name_onto_the_contact(database, w, playbook):
    with database.transaction() as s:
        did = drafts.create_draft(s, w.rep1, "customer", dict(CARD_WITH_EXTRAS, fax="13912340000"))[0].id
    # the scan took a mobile for the fax: confirming says so, and nothing is written
    with pytest.raises(InvalidInput, match="传真号码不能是手机号"):
        with database.transaction() as s:
            drafts.confirm_draft(s, w.rep1, did, playbook, now=NOW)
    with pytest.raises(InvalidInput, match="英文名最多100个字"):
        with database.transaction() as s:
            drafts.edit_draft(s, w.rep1, did, {"english_name": "D" * 101})
    with database.transaction() as s:
        drafts.edit_draft(s, w.rep1, did, {"fax": "021-62345679"})
        customer = customers.get_customer(s, w.rep1, drafts.confirm_draft(s, w.rep1, did, playbook, now=NOW)
                                          .result_customer_id)
        (contact,) = customer.contacts
        assert (contact.mobile, contact.mobile2, contact.phone, contact.fax, contact.english_name,
                contact.english_title) == ("13912345678", "13812345678", "021-62345678", "021-62345679",
                                           "David Wang", "Sales Director")


def test_adding_a_cards_person_to_an_existing_customer_keeps_the_extras(database, w, playbook):
    with database.transaction() as s:
        existing = customers.create_customer(s, w.rep1, CustomerInput(kind="company", name="上海先和科技有限公司"),
                                             playbook, now=NOW)
        did = drafts.create_draft(s, w.rep1, "customer", CARD_WITH_EXTRAS)[0].id
        contact = drafts.add_as_contact(s, w.rep1, did, existing.id)
        assert (contact.mobile2, contact.fax, contact.english_name) == ("13812345678", "021-62345679", "David Wang")
