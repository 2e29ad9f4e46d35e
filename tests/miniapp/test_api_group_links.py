"""The workbench page of a DingTalk group (/app/group?t=…) and its API calls: the group comes only
from the bot's signed token; what the rep may link is checked by the storage services."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from sqlalchemy import select

from cards.links import ChatRef, chat_page_link
from storage.models import ChatLink, Contact, Customer
from tests.miniapp.helpers import CSRF, login

GROUP = "cidPageGroup01=="


def _token(org_id: int, chat_id: str = GROUP, title: str = "苏州精工项目群", secret: str = "test-secret") -> str:
    link = chat_page_link("http://localhost", secret, ChatRef(org_id, "dingtalk", chat_id, title))
    return parse_qs(urlsplit(link).query)["t"][0]


@pytest.fixture
def rep1(client, data):
    login(client, "rep1")
    return client


def _links(database) -> list[tuple[str, str, int, int]]:
    with database.transaction() as s:
        return [tuple(r) for r in s.execute(select(ChatLink.platform, ChatLink.external_id, ChatLink.customer_id,
                                                   ChatLink.linked_by_id))]


def test_the_group_page_searches_and_links(rep1, data, database):
    token = _token(data.world.org.id)
    html = rep1.get(f"/app/group?t={token}").get_data(as_text=True)
    assert "群“苏州精工项目群”还没有关联客户" in html and f'data-token="{token}"' in html
    assert 'value="苏州精工"' in html              # 新建客户 prefilled from the title

    resp = rep1.post("/api/links", json={"chat_token": token, "customer_id": data.c_rep1}, headers=CSRF)
    assert resp.status_code == 201 and resp.json["customer"]["name"] == "苏州精工机械有限公司"
    assert _links(database) == [("dingtalk", GROUP, data.c_rep1, data.world.rep1.id)]
    again = rep1.post("/api/links", json={"chat_token": token, "customer_id": data.c_rep1}, headers=CSRF)
    assert again.status_code == 201 and len(_links(database)) == 1      # idempotent
    assert "苏州精工机械有限公司" in rep1.get(f"/app/group?t={token}").get_data(as_text=True)


def test_a_colleague_sees_who_linked_the_group_and_cannot_relink_it(app, rep1, data, database):
    token = _token(data.world.org.id)
    rep1.post("/api/links", json={"chat_token": token, "customer_id": data.c_rep1}, headers=CSRF)
    rep2 = app.test_client()
    login(rep2, "rep2")
    html = rep2.get(f"/app/group?t={token}").get_data(as_text=True)
    assert "该群已被李明关联到客户“苏州精工机械有限公司”（负责人：李明），如需跟进请联系负责人" in html
    assert "初次见面" not in html                    # none of the customer's data
    resp = rep2.post("/api/links", json={"chat_token": token, "customer_id": data.c_rep2}, headers=CSRF)
    assert resp.status_code == 409
    assert resp.json["error"] == "该群已被李明关联到客户“苏州精工机械有限公司”（负责人：李明）"
    # another rep's customer through a fresh group: refused in Chinese, nothing written
    other = _token(data.world.org.id, chat_id="cidPageGroup02==")
    refused = rep2.post("/api/links", json={"chat_token": other, "customer_id": data.c_rep1}, headers=CSRF)
    assert refused.status_code == 403 and "无权" in refused.json["error"]
    assert _links(database) == [("dingtalk", GROUP, data.c_rep1, data.world.rep1.id)]


def test_new_customer_from_the_group_page_is_linked_to_the_group(rep1, data, database):
    token = _token(data.world.org.id)
    resp = rep1.post("/api/customers", json={"chat_token": token, "kind": "company", "name": "常州远洋重工有限公司",
                                             "contact_name": "周工", "contact_mobile": "13800138111"}, headers=CSRF)
    assert resp.status_code == 201
    with database.transaction() as s:
        customer = s.scalars(select(Customer).where(Customer.name == "常州远洋重工有限公司")).one()
        assert customer.source == "客户群"
        assert s.scalars(select(Contact.wecom_external_userid).where(Contact.customer_id == customer.id)).one() is None
        assert _links(database) == [("dingtalk", GROUP, customer.id, data.world.rep1.id)]


@pytest.mark.parametrize("token", ["forged", "", None])
def test_a_forged_or_missing_token_opens_nothing(rep1, data, database, token):
    if token == "forged":
        real = _token(data.world.org.id)
        token = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    page = rep1.get("/app/group" + (f"?t={token}" if token is not None else ""))
    assert page.status_code == 400 and "链接已过期或无效" in page.get_data(as_text=True)
    resp = rep1.post("/api/links", json={"chat_token": token or "x", "customer_id": data.c_rep1}, headers=CSRF)
    assert resp.status_code == 400 and resp.json["field"] == "chat_token"
    assert _links(database) == []


def test_a_token_signed_with_another_key_or_a_day_old_is_refused(rep1, data, database):
    assert rep1.get(f"/app/group?t={_token(data.world.org.id, secret='other-key')}").status_code == 400
    token = _token(data.world.org.id)
    # the token's age is wall-clock time (a security expiry, like the session cookie's): move it
    with time_machine.travel(timedelta(hours=23)):
        assert rep1.get(f"/app/group?t={token}").status_code == 200
    with time_machine.travel(timedelta(hours=25)):
        page = rep1.get(f"/app/group?t={token}")
        assert page.status_code == 400 and "链接已过期或无效" in page.get_data(as_text=True)


def test_another_orgs_group_is_not_found(rep1, data, database):
    assert rep1.get(f"/app/group?t={_token(data.world.other_org.id)}").status_code == 404
    resp = rep1.post("/api/links", json={"chat_token": _token(data.world.other_org.id), "customer_id": data.c_rep1},
                     headers=CSRF)
    assert resp.status_code == 404 and _links(database) == []


def test_a_dingtalk_chat_id_typed_into_the_page_is_refused(rep1, data, database):
    for path, body in (("/api/links", {"customer_id": data.c_rep1}),
                       ("/api/customers", {"kind": "company", "name": "无锡新客户有限公司"})):
        resp = rep1.post(path, json={**body, "external_userid": GROUP, "platform": "dingtalk"}, headers=CSRF)
        assert resp.status_code == 400 and resp.json["field"] == "chat_token"
    assert _links(database) == []
    with database.transaction() as s:
        assert s.scalars(select(Customer).where(Customer.name == "无锡新客户有限公司")).first() is None
