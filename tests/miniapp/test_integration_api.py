"""The ERP guard: token per org, the master record (merged ids redirect), and another system's view
that differs becomes a 4-hour data task for the owner while our record stays as it was.
Permission matrix: no token, wrong token, another org's token."""
import pytest
from sqlalchemy import select

from storage.models import AuditLog, Customer, Task
from tests.miniapp.helpers import credit_code, make_app


@pytest.fixture
def erp(database, playbook, redis_conn, data):
    app = make_app(database, playbook, redis_conn, crmbot_integration_tokens={
        str(data.world.org.id): "tok-org-1", str(data.world.other_org.id): "tok-org-2"})
    return app.test_client(), app


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_token_matrix(erp, data):
    client, _ = erp
    url = f"/api/integration/customers/{data.c_rep1}"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=_auth("guess")).status_code == 401
    assert client.get(url, headers=_auth("tok-org-2")).status_code == 404  # another org's customer
    ok = client.get(url, headers=_auth("tok-org-1"))
    assert ok.status_code == 200 and ok.json["name"] == "苏州精工机械有限公司" and ok.json["owner"] == "李明"
    code = credit_code("91320500MA1M12345")
    assert client.get(f"/api/integration/customers?credit_code={code}", headers=_auth("tok-org-1")).json["id"] == data.c_rep1
    assert client.post(f"/api/integration/customers/{data.c_rep1}/report", json={"system": "ERP"},
                       headers=_auth("tok-org-2")).status_code == 404


def test_same_view_in_other_words_is_a_match(erp, data, database):
    client, _ = erp
    resp = client.post(f"/api/integration/customers/{data.c_rep1}/report", headers=_auth("tok-org-1"), json={
        "system": "ERP", "name": "精工机械（苏州）有限公司", "credit_code": credit_code("91320500MA1M12345")})
    assert resp.status_code == 200 and resp.json == {"customer_id": data.c_rep1, "status": "match",
                                                      "mismatches": [], "task_id": None}
    with database.transaction() as s:
        assert s.scalars(select(Task).where(Task.kind == "erp_mismatch")).all() == []
        assert s.scalars(select(AuditLog).where(AuditLog.action == "integration.report")).one()


def test_mismatch_never_overwrites_and_raises_one_four_hour_task(erp, data, database, playbook):
    client, app = erp
    theirs = credit_code("91320500MA1M99999")
    body = {"system": "ERP", "name": "苏州精工机电有限公司", "credit_code": theirs}
    first = client.post(f"/api/integration/customers/{data.c_rep1}/report", headers=_auth("tok-org-1"), json=body)
    assert first.status_code == 200 and first.json["status"] == "mismatch"
    assert {m["field"] for m in first.json["mismatches"]} == {"name", "credit_code"}
    again = client.post(f"/api/integration/customers/{data.c_rep1}/report", headers=_auth("tok-org-1"), json=body)
    assert again.json["task_id"] == first.json["task_id"]
    with database.transaction() as s:
        c = s.get(Customer, data.c_rep1)
        assert c.name == "苏州精工机械有限公司" and c.credit_code == credit_code("91320500MA1M12345")
        [task] = s.scalars(select(Task).where(Task.kind == "erp_mismatch")).all()
        assert task.assignee_id == data.world.rep1.id
        assert (task.due_at - task.created_at).total_seconds() == playbook.integration.mismatch_due_hours * 3600
        assert "苏州精工机电有限公司" in task.detail and theirs in task.detail and "没有被改动" in task.detail
    sent = app.extensions["crmbot"].clients["wecom"].sent
    assert [m["touser"] for m in sent] == ["rep1"]   # the owner is told once


def test_a_merged_id_answers_with_the_surviving_customer(erp, data, database):
    client, _ = erp
    with database.transaction() as s:
        s.get(Customer, data.c_rep1_incomplete).merged_into_id = data.c_rep1
    resp = client.get(f"/api/integration/customers/{data.c_rep1_incomplete}", headers=_auth("tok-org-1"))
    assert resp.json["id"] == data.c_rep1
