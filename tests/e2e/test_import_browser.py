"""The 导入导出 page in headless Chromium at phone size: upload a messy workbook, confirm the mapping,
read the dry-run table, download the result sheet, import with the progress view, export."""
from __future__ import annotations

import io
from urllib.parse import quote

import openpyxl
import pytest
from sqlalchemy import func, select

from jobs.queue import ThreadQueue
from jobs.runtime import set_runtime
from storage.models import Customer, FollowUp
from tests.e2e.browser import phone_page, require_browser, serve, shot
from tests.factories import build_world
from tests.miniapp.helpers import make_app
from tests.storage.import_files import messy_workbook

pytestmark = pytest.mark.e2e

require_browser()



@pytest.fixture
def site(database, playbook, redis_conn, tmp_path):
    with database.transaction() as s:
        build_world(s)
    app = make_app(database, playbook, redis_conn, crmbot_media_dir=tmp_path / "media")
    runtime = app.extensions["crmbot"]
    # jobs run in a background thread, as with a worker: the page has to poll for their progress
    runtime.queue = ThreadQueue(lambda: set_runtime(runtime))
    with serve(app) as base:
        yield base




def test_upload_confirm_dry_run_download_import_and_export(browser, site, database, tmp_path):
    base = site
    path = tmp_path / "老客户表.xlsx"
    messy_workbook(path)
    page = phone_page(browser, base)
    page.goto(f"{base}/app/dev-login?user=director&corp=wwcorp001&next={quote('/app/imports/', safe='')}")
    page.wait_for_selector("html[data-ready='1']")

    page.set_input_files("#import-file", str(path))
    page.click("#import-upload")
    card = page.locator("#mapping-sheets [data-sheet='客户台账']")
    card.wait_for()
    # the guess is shown for confirmation: the merged 联系方式 header split into 联系人 / 手机
    assert card.locator("select[data-col='3']").input_value() == "mobile"
    assert card.locator("select[data-col='2']").input_value() == "contact_name"
    assert card.locator(".sheet-kind").input_value() == "customers"
    # the person corrects one column: 行业 is not to be imported
    card.locator("select[data-col='6']").select_option("")
    shot(page, "import-mapping")

    page.click("#import-dry-run")
    page.wait_for_selector("#report:not([hidden])")
    assert "未写入任何数据" in page.inner_text("#report-title")
    rows = page.locator("#report-table tbody tr")
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert any("科学计数法" in t for t in texts) and any("文件内重复" in t for t in texts)
    assert any("负责人“老王”不在系统中" in t for t in texts)
    assert "系统中没有的负责人：老王×1" in page.inner_text("#report-unmapped")
    assert "术语表中没有的客户等级：老客户×2" in page.inner_text("#report-unmapped")
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0
    shot(page, "import-dry-run")

    with page.expect_download() as download:
        page.click("#report-download")
    result = openpyxl.load_workbook(io.BytesIO(open(download.value.path(), "rb").read()))["客户台账"]
    assert result["I1"].value == "导入结果" and result["I2"].value == "新增"

    page.click("#import-run")
    page.wait_for_selector("#report-title:has-text('导入完成')")
    assert page.locator("#progress-bar").get_attribute("value") == "100"
    assert "已导入 9" in page.inner_text("#report-counts")
    with database.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 5
        assert s.scalar(select(func.count()).select_from(FollowUp)) == 2
        assert s.scalar(select(Customer.industry).where(Customer.name == "上海华东机电设备有限公司")) is None
    shot(page, "import-done")

    with page.expect_download() as download:
        page.click("#export-link")
    exported = openpyxl.load_workbook(io.BytesIO(open(download.value.path(), "rb").read()))["客户"]
    assert exported.max_row == 1 + 5
    assert page.js_errors == [] and page.foreign_requests == []
