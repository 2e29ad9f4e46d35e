"""A contact's second mobile, fax and English name and title through the mini-app: created with the
customer (the sidebar's 新建客户), added and edited on the customer page, shown on the customer page and
the sidebar, edited on a card draft. Refusals are 400s naming the field, with nothing written."""
from __future__ import annotations

from storage.models import AuditLog, Contact
from tests.miniapp.helpers import CSRF, login


def _contact(database, **where) -> Contact:
    with database.transaction() as s:
        contact = s.query(Contact).filter_by(**where).one()
        s.expunge(contact)
        return contact


def test_create_customer_with_second_mobile_fax_and_english_name(client, data, database):
    login(client, "rep1")
    resp = client.post("/api/customers", headers=CSRF, json={
        "kind": "company", "name": "嘉兴新材料有限公司", "contact_name": "吴总", "contact_mobile": "13600136006",
        "contact_mobile2": "+86 136 0013 6007", "contact_fax": "0573-82345679", "contact_english_name": "Tony Wu",
        "contact_english_title": "General Manager", "external_userid": "wmC"})
    assert resp.status_code == 201
    wu = _contact(database, name="吴总")
    assert (wu.mobile, wu.mobile2, wu.fax, wu.english_name, wu.english_title) == (
        "13600136006", "13600136007", "0573-82345679", "Tony Wu", "General Manager")
    # the page shows both mobiles as tel links, the fax apart from them, the English name and title
    html = client.get(f"/app/customers/{resp.json['id']}").get_data(as_text=True)
    assert '<a href="tel:13600136006" data-mobile>13600136006</a> / <a href="tel:13600136007" data-mobile>' in html
    assert "传真 0573-82345679" in html and "Tony Wu" in html and "General Manager" in html
    assert 'href="tel:0573' not in html  # a fax is never offered as a number to call
    # so does the sidebar of the linked chat
    side = client.get("/app/sidebar?external_userid=wmC").get_data(as_text=True)
    assert 'href="tel:13600136007"' in side and "Tony Wu" in side
    detail = client.get(f"/api/customers/{resp.json['id']}").json
    assert detail["contacts"][0]["mobile2"] == "13600136007" and detail["contacts"][0]["fax"] == "0573-82345679"


def test_a_fax_that_is_a_mobile_is_refused_and_nothing_is_written(client, data, database):
    login(client, "rep1")
    resp = client.post("/api/customers", headers=CSRF, json={
        "kind": "company", "name": "嘉兴新材料有限公司", "contact_name": "吴总", "contact_mobile": "13600136006",
        "contact_fax": "13600136009"})
    assert resp.status_code == 400 and resp.json["field"] == "fax" and "传真号码不能是手机号" in resp.json["error"]
    too_long = client.post("/api/customers", headers=CSRF, json={
        "kind": "company", "name": "嘉兴新材料有限公司", "contact_name": "吴总", "contact_english_name": "W" * 101})
    assert too_long.status_code == 400 and "联系人英文名（contact_english_name）最多100个字" in too_long.json["error"]
    with database.transaction() as s:
        assert s.query(Contact).filter_by(name="吴总").count() == 0


def test_add_and_edit_a_contact_on_the_customer_page(client, data, database):
    login(client, "rep1")
    added = client.post(f"/api/customers/{data.c_rep1}/contacts", headers=CSRF, json={
        "name": "王伟", "title": "销售总监", "mobile": "13912345678", "mobile2": "13912345678",
        "english_name": "David Wang"})
    assert added.status_code == 201
    assert added.json["mobile2"] is None and added.json["english_name"] == "David Wang"  # the same number once
    contact_id = added.json["id"]

    edited = client.post(f"/api/contacts/{contact_id}", headers=CSRF, json={
        "mobile2": "138 1234 5678", "fax": "0512-62345679", "english_title": "Sales Director"})
    assert edited.status_code == 200
    assert (edited.json["mobile"], edited.json["mobile2"], edited.json["fax"], edited.json["english_title"],
            edited.json["title"]) == ("13912345678", "13812345678", "0512-62345679", "Sales Director", "销售总监")
    # the customer is found by the second mobile
    assert [c["name"] for c in client.get("/api/customers?q=13812345678").json["items"]] == ["苏州精工机械有限公司"]

    bad = client.post(f"/api/contacts/{contact_id}", headers=CSRF, json={"mobile2": "0512-62345678"})
    assert bad.status_code == 400 and bad.json["field"] == "mobile2"
    taken = client.post(f"/api/contacts/{contact_id}", headers=CSRF, json={"mobile2": "13800138001"})
    assert taken.status_code == 409 and "周工" in taken.json["error"]   # 周工's mobile, same customer
    assert _contact(database, id=contact_id).mobile2 == "13812345678"

    html = client.get(f"/app/customers/{data.c_rep1}").get_data(as_text=True)
    assert f'data-api="/api/contacts/{contact_id}"' in html and 'name="mobile2"' in html
    assert f'data-api="/api/customers/{data.c_rep1}/contacts"' in html   # 添加联系人

    # another rep's contact: refused, unchanged
    login(client, "rep2")
    assert client.post(f"/api/contacts/{contact_id}", headers=CSRF, json={"english_name": "X"}).status_code == 403
    assert client.post(f"/api/customers/{data.c_rep1}/contacts", headers=CSRF,
                       json={"name": "赵工"}).status_code == 403
    assert client.post("/api/contacts/2147483648", headers=CSRF, json={"name": "赵工"}).status_code == 404
    assert _contact(database, id=contact_id).english_name == "David Wang"
    with database.transaction() as s:
        assert s.query(AuditLog).filter_by(action="contact.update").count() == 1


def test_sidebar_prefills_the_second_mobile_the_rep_noted(app, client, data):
    app.extensions["crmbot"].client("wecom").contacts["wmTWO"] = {
        "external_contact": {"external_userid": "wmTWO", "name": "孙女士", "type": 1, "corp_name": "绍兴纺织"},
        "follow_user": [{"userid": "rep1", "remark_mobiles": ["13511112222", "13511113333"]}]}
    login(client, "rep1")
    html = client.get("/app/sidebar?external_userid=wmTWO").get_data(as_text=True)
    assert 'name="contact_mobile2" type="tel" maxlength="20" value="13511113333"' in html


def test_a_card_draft_shows_and_edits_the_extras(client, data, database):
    login(client, "rep1")
    edited = client.post(f"/api/drafts/{data.draft_rep1}", headers=CSRF, json={"fields": {
        "mobile2": "13700137004", "fax": "0571-88880001", "english_name": "Chen Jie"}})
    assert edited.status_code == 200 and edited.json["fields"]["mobile2"] == "13700137004"
    html = client.get(f"/app/drafts/{data.draft_rep1}").get_data(as_text=True)
    assert 'name="mobile2" value="13700137004"' in html and 'name="english_name" value="Chen Jie"' in html
    confirmed = client.post(f"/api/drafts/{data.draft_rep1}/confirm", headers=CSRF)
    assert confirmed.status_code == 200
    chen = _contact(database, name="陈经理")
    assert (chen.mobile, chen.mobile2, chen.fax, chen.english_name) == (
        "13700137003", "13700137004", "0571-88880001", "Chen Jie")
