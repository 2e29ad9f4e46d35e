"""The manager's side of the mini-app (escalations as a to-do list, coloured KPI tiles in plain
words, every drill-down row tappable) and pages people can read when something goes wrong."""
from __future__ import annotations

import logging

from sqlalchemy import select, update

from storage.models import Approval, Task
from tests.miniapp.helpers import CSRF, login


def _escalate(database, task_id: int, level: int = 1) -> None:
    with database.transaction() as s:
        s.execute(update(Task).where(Task.id == task_id).values(escalation_level=level))


def test_manager_home_lists_escalations_of_the_subtree_only(client, data, database):
    _escalate(database, data.task_rep2)
    login(client, "manager")
    html = client.get("/app/").get_data(as_text=True)
    assert 'id="escalations"' in html and "回访王建国" in html and "王芳 · 已升级给经理" in html
    assert f'data-post="/api/tasks/{data.task_rep2}"' in html
    login(client, "manager_b")                       # team B's manager does not see team A's
    assert "回访王建国" not in client.get("/app/").get_data(as_text=True)
    login(client, "director")
    assert "回访王建国" in client.get("/app/").get_data(as_text=True)
    login(client, "rep1")                            # a rep's home has no escalation list
    assert 'id="escalations"' not in client.get("/app/").get_data(as_text=True)


def test_manager_closes_an_escalation_from_home(client, data, database):
    _escalate(database, data.task_rep2)
    login(client, "manager")
    assert client.post(f"/api/tasks/{data.task_rep2}", json={"action": "done", "result": "经理已处理"},
                       headers=CSRF).status_code == 200
    assert "回访王建国" not in client.get("/app/").get_data(as_text=True)


def test_approvals_waiting_for_the_manager_are_on_the_home_to_do_list(client, data, database):
    login(client, "rep1")
    assert client.post(f"/api/opportunities/{data.opp_rep1}/discount", json={"percent": "12"},
                       headers=CSRF).status_code == 202            # 12%: the director decides
    login(client, "manager")                                       # copied only: nothing to decide
    assert "没有待你审批的申请" in client.get("/app/").get_data(as_text=True)
    login(client, "director")
    html = client.get("/app/").get_data(as_text=True)
    with database.transaction() as s:
        approval = s.scalars(select(Approval)).one()
    assert 'id="approvals"' in html and f'data-post="/api/approvals/{approval.id}"' in html
    assert "折扣 12%" in html and "李明 申请于" in html and f"#opp-{data.opp_rep1}" in html
    assert client.post(f"/api/approvals/{approval.id}", json={"decision": "approve"}, headers=CSRF).status_code == 200
    assert f'data-post="/api/approvals/{approval.id}"' not in client.get("/app/").get_data(as_text=True)
    login(client, "rep1")                                          # a rep's home has no approval list
    assert 'id="approvals"' not in client.get("/app/").get_data(as_text=True)


def test_kpi_tiles_are_coloured_by_the_playbooks_thresholds_and_say_it_plainly(client, data):
    login(client, "manager")
    figures = {h["key"]: h for h in client.get("/api/dashboard").json["headlines"]}
    assert figures["activation"]["value"] == "0%" and figures["activation"]["level"] == "bad"
    assert figures["overdue_tasks"]["value"] == "2" and figures["overdue_tasks"]["level"] == "warn"
    assert figures["completeness"]["hint"] == "3个客户中2个已填信用代码或手机号"
    assert figures["completeness"]["level"] == "warn"      # 67%: between 60 and 90
    assert "唯一标识" not in str(figures)
    html = client.get("/app/dashboard").get_data(as_text=True)
    assert 'class="figure kpi-bad" data-metric="activation"' in html


def test_every_drill_down_row_is_tappable(client, data):
    login(client, "manager")
    for metric in ("new_leads", "not_activated", "overdue_tasks", "customers", "open_opportunities"):
        html = client.get(f"/app/dashboard/list?metric={metric}").get_data(as_text=True)
        assert '<div class="cell">' not in html, metric
    lead_page = client.get(f"/app/leads/{data.lead_rep1}")
    assert lead_page.status_code == 200 and "郑先生" in lead_page.get_data(as_text=True)
    login(client, "manager_b")
    assert client.get(f"/app/leads/{data.lead_rep1}").status_code in (403, 404)


def test_error_pages_are_chinese_and_phone_sized_but_api_stays_json(client, data):
    login(client, "rep1")
    missing = client.get("/app/no-such-page")
    body = missing.get_data(as_text=True)
    assert missing.status_code == 404 and "页面不存在" in body and 'name="viewport"' in body
    assert "返回首页" in body and "Not Found" not in body
    denied = client.get(f"/app/customers/{data.c_rep3}")
    assert denied.status_code == 403 and "无权查看" in denied.get_data(as_text=True)
    _phone_sized_chinese(denied.get_data(as_text=True))
    api = client.get("/api/no-such-thing")
    assert api.status_code == 404 and api.json == {"error": "接口不存在"}
    assert client.post("/api/customers/1/followups/x", headers=CSRF).status_code in (404, 405)
    assert client.get("/app/no-such-page").mimetype == "text/html"


def test_server_error_page(app, client, data):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/app/_boom")
    def _boom():
        raise RuntimeError("boom")
    login(client, "rep1")
    resp = client.get("/app/_boom")
    assert resp.status_code == 500 and "出错了" in resp.get_data(as_text=True)
    _phone_sized_chinese(resp.get_data(as_text=True))
    assert "boom" not in resp.get_data(as_text=True) and "Traceback" not in resp.get_data(as_text=True)


def _phone_sized_chinese(html: str) -> None:
    """The same page as the 404: the phone viewport, a way home, no English error text."""
    assert 'name="viewport" content="width=device-width' in html and "返回首页" in html
    assert not any(word in html for word in ("Forbidden", "Internal Server Error", "Not Found"))


def test_favicon(client):
    resp = client.get("/favicon.ico")
    assert resp.status_code == 200 and resp.mimetype == "image/svg+xml"


def test_unknown_external_contact_is_one_warning_line_without_traceback(client, data, caplog):
    login(client, "rep1")
    with caplog.at_level(logging.INFO):
        assert client.get("/app/sidebar?external_userid=wm-unknown").status_code == 200
    lines = [r for r in caplog.records if "external contact" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING and lines[0].exc_info is None
    assert "84061" in lines[0].getMessage()


def test_pending_badge_does_not_wrap():
    from pathlib import Path
    css = (Path(__file__).parents[2] / "miniapp" / "static" / "app.css").read_text()
    assert ".tag { display: inline-block; white-space: nowrap;" in css
