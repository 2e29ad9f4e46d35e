"""The 导入导出 page's API: upload → plan → dry run → import, who may use it, the result sheet,
and the export through the same permission rules as the rest of the API."""
import io
from datetime import datetime, timezone

import openpyxl
import pytest
from sqlalchemy import func, select

from storage.models import Customer, ImportMapping
from tests.miniapp.helpers import CSRF, login, make_app
from tests.storage.import_files import messy_workbook


@pytest.fixture
def app(database, playbook, redis_conn, tmp_path):
    return make_app(database, playbook, redis_conn, crmbot_media_dir=tmp_path / "media")


@pytest.fixture
def world(database):
    from tests.factories import build_world
    with database.transaction() as s:
        return build_world(s)


def _upload(client, path, name="客户.xlsx"):
    return client.post("/api/imports", headers=CSRF,
                       data={"file": (io.BytesIO(path.read_bytes()), name)},
                       content_type="multipart/form-data")


def _customers(database):
    with database.transaction() as s:
        return s.scalar(select(func.count()).select_from(Customer))


def test_upload_plan_dry_run_then_import(client, world, database, tmp_path):
    path = tmp_path / "messy.xlsx"
    messy_workbook(path)
    login(client, "director")
    resp = _upload(client, path)
    assert resp.status_code == 201, resp.json
    job = resp.json
    sheet = next(s for s in job["sheets"] if s["name"] == "客户台账")
    assert sheet["kind"] == "customers" and sheet["header_row"] == 4 and sheet["columns"]["3"] == "mobile"

    # the person drops the 行业 column before the dry run
    plan = {"sheets": [{"name": s["name"], "kind": s["kind"],
                        "columns": {k: v for k, v in s["columns"].items() if v != "industry"}}
                       for s in job["sheets"]]}
    resp = client.post(f"/api/imports/{job['id']}/dry-run", json=plan, headers=CSRF)
    assert resp.status_code == 200, resp.json
    done = client.get(f"/api/imports/{job['id']}").json
    assert done["status"] == "done" and done["dry_run"] is True
    # 5 customers (nobody owns 北京已有客户 in this org yet), 2 follow-ups, 2 opportunities
    assert done["summary"]["counts"]["new"] == 5 + 2 + 2 and done["summary"]["counts"]["invalid"] == 4
    assert "industry" not in done["summary"]["unmapped"]
    assert _customers(database) == 0

    sheet_file = client.get(f"/api/imports/{job['id']}/result.xlsx")
    assert sheet_file.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(sheet_file.data))
    assert book["客户台账"]["I1"].value == "导入结果"

    resp = client.post(f"/api/imports/{job['id']}/run", headers=CSRF)
    assert resp.status_code == 200, resp.json
    done = client.get(f"/api/imports/{job['id']}").json
    assert done["status"] == "done" and done["summary"]["counts"]["imported"] == 9
    assert _customers(database) == 5
    with database.transaction() as s:
        assert s.scalar(select(Customer.industry).where(Customer.name == "上海华东机电设备有限公司")) is None
        assert s.scalar(select(func.count()).select_from(ImportMapping)) == 3


def test_reps_cannot_import_or_export_and_jobs_stay_with_their_owner(client, app, world, tmp_path):
    path = tmp_path / "messy.xlsx"
    messy_workbook(path, with_history=False)
    login(client, "rep1")
    assert _upload(client, path).status_code == 403
    assert client.get("/app/imports/export.xlsx").status_code == 403
    login(client, "manager")
    job = _upload(client, path).json
    other = app.test_client()
    login(other, "manager_b")
    assert other.get(f"/api/imports/{job['id']}").status_code == 403
    assert client.post("/api/imports", data={}, headers=CSRF).status_code == 400
    bad = client.post("/api/imports", headers=CSRF, content_type="multipart/form-data",
                      data={"file": (io.BytesIO(b"x"), "notes.txt")})
    assert bad.status_code == 400 and "只支持" in bad.json["error"]


def test_export_is_the_managers_subtree(client, world, database, tmp_path, playbook):
    from storage import customers
    with database.transaction() as s:
        for owner, name in ((world.rep1, "甲公司"), (world.rep3, "乙公司")):
            customers.create_customer(s, owner, customers.CustomerInput(kind="company", name=name), playbook,
                                      now=datetime(2026, 11, 30, 2, tzinfo=timezone.utc))
    login(client, "manager")
    resp = client.get("/app/imports/export.xlsx")
    assert resp.status_code == 200
    rows = list(openpyxl.load_workbook(io.BytesIO(resp.data))["客户"].iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in rows] == ["甲公司"]
    login(client, "director")
    rows = list(openpyxl.load_workbook(io.BytesIO(client.get("/app/imports/export.xlsx").data))["客户"]
                .iter_rows(min_row=2, values_only=True))
    assert sorted(r[0] for r in rows) == ["乙公司", "甲公司"]


def test_the_page_renders_for_managers_only(client, world):
    login(client, "manager")
    page = client.get("/app/imports/")
    assert page.status_code == 200 and "导入导出" in page.get_data(as_text=True)
    login(client, "rep1")
    assert client.get("/app/imports/").status_code == 403


def test_a_stalled_run_can_be_started_again_a_live_one_not(client, app, world, database, tmp_path):
    from datetime import timedelta

    from sqlalchemy import update

    from storage.models import ImportJob
    path = tmp_path / "messy.xlsx"
    messy_workbook(path, with_history=False)
    login(client, "director")
    job = _upload(client, path).json
    now = app.extensions["crmbot"].clock.now()
    with database.transaction() as s:
        s.execute(update(ImportJob).where(ImportJob.id == job["id"]).values(
            status="running", dry_run=False, updated_at=now - timedelta(seconds=30)))
    refused = client.post(f"/api/imports/{job['id']}/run", headers=CSRF)
    assert refused.status_code == 400 and "正在进行" in refused.json["error"]
    with database.transaction() as s:
        s.execute(update(ImportJob).where(ImportJob.id == job["id"]).values(updated_at=now - timedelta(minutes=6)))
    assert client.get(f"/api/imports/{job['id']}").json["stalled"] is True
    resumed = client.post(f"/api/imports/{job['id']}/run", headers=CSRF)
    assert resumed.status_code == 200 and resumed.json["status"] == "done"
    assert _customers(database) == 5
