"""Group chats linked to customers (storage/links.py): the taken message names the group, 取消关联
belongs to the linker or a manager who may see the customer, and a group's title proposes customers."""
import pytest
from sqlalchemy import func, select

from storage import customers, links
from storage.customers import CustomerInput
from storage.errors import Conflict, NotFound, PermissionDenied
from storage.models import AuditLog, ChatLink
from tests.factories import NOW, build_world

GROUP = "cidGroupA=="


@pytest.fixture
def w(database):
    with database.transaction() as s:
        return build_world(s)


@pytest.fixture
def ids(database, w, playbook):
    with database.transaction() as s:
        mine = customers.create_customer(s, w.rep1, CustomerInput(kind="company", name="上海华东机电设备有限公司"),
                                         playbook, now=NOW).id
        theirs = customers.create_customer(s, w.rep2, CustomerInput(kind="company", name="苏州精工机械有限公司"),
                                           playbook, now=NOW).id
        links.link_chat(s, w.rep1, "dingtalk", GROUP, mine, now=NOW, what=links.GROUP)
    return mine, theirs


def test_a_taken_group_names_the_linker_the_customer_and_its_owner(database, w, ids):
    _mine, theirs = ids
    with pytest.raises(Conflict) as err:
        with database.transaction() as s:
            links.link_chat(s, w.rep2, "dingtalk", GROUP, theirs, now=NOW, what=links.GROUP)
    assert err.value.message == "该群已被李明关联到客户“上海华东机电设备有限公司”（负责人：李明）"
    assert err.value.details["owner"] == "李明"


@pytest.mark.parametrize("who", ["rep2", "manager_b"])
def test_only_the_linker_or_their_manager_may_unlink(database, w, ids, who):
    with pytest.raises(PermissionDenied) as err:
        with database.transaction() as s:
            links.unlink_chat(s, getattr(w, who), "dingtalk", GROUP, what=links.GROUP)
    assert err.value.message == "该群由李明关联，只有李明或其经理可以取消关联"
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(ChatLink)) == 1


@pytest.mark.parametrize("who", ["rep1", "manager", "director"])
def test_the_linker_a_manager_or_the_director_unlinks(database, w, ids, who):
    with database.transaction() as s:
        customer = links.unlink_chat(s, getattr(w, who), "dingtalk", GROUP, what=links.GROUP)
        assert customer.name == "上海华东机电设备有限公司"
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(ChatLink)) == 0
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "chat_link.delete")).one()
        assert audit.before["external_id"] == GROUP and audit.actor_id == getattr(w, who).id
    with pytest.raises(NotFound, match="该群还没有关联客户"):
        with database.transaction() as s:
            links.unlink_chat(s, w.rep1, "dingtalk", GROUP, what=links.GROUP)


@pytest.mark.parametrize("title, terms", [
    ("华东机电项目群", ["华东机电"]),
    ("【华东机电】售后群", ["华东机电"]),
    ("上海华东机电 x 我司 对接群", ["上海华东机电", "我司"]),
    ("博远科技与我司合作群", ["博远科技", "我司"]),
    ("群", []),
    (None, []),
])
def test_title_terms(title, terms):
    assert links.title_terms(title) == terms


def test_a_title_proposes_only_customers_the_rep_may_link(database, w, ids):
    with database.transaction() as s:
        assert [c.name for c in links.candidates_for_title(s, w.rep1, "华东机电项目群")] == ["上海华东机电设备有限公司"]
        assert links.candidates_for_title(s, w.rep2, "华东机电项目群") == []
        assert [c.name for c in links.candidates_for_title(s, w.manager, "精工 & 华东机电 群")] == \
            ["上海华东机电设备有限公司", "苏州精工机械有限公司"]
