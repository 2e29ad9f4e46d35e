"""Migration from Excel: messy workbooks and CSVs, dry-run classes row by row, the rows written,
reruns that write nothing, owners and permissions, mappings, export."""
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from storage import customers, imports
from storage.errors import InvalidInput, PermissionDenied
from storage.imports import RunOptions
from storage.models import (AuditLog, Contact, Customer, FollowUp, ImportMapping, ImportRow, Opportunity,
                            StageChange)
from tests.factories import build_world
from tests.storage.import_files import CODE_A, CODE_B, messy_workbook, write_csv

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def world(database, playbook):
    with database.transaction() as s:
        w = build_world(s)
        customers.create_customer(s, w.rep2, customers.CustomerInput(
            kind="company", name="北京已有客户科技有限公司"), playbook, now=NOW)
    return w


def _count(database, model) -> int:
    with database.transaction() as s:
        return s.scalar(select(func.count()).select_from(model))


def _run(database, actor, path, playbook, *, dry_run, result=None, sheets=None, batch_rows=None):
    plans = imports.plan_file(path, playbook.imports, sheets=sheets)
    return imports.run_import(database, actor.id, path, plans, playbook,
                              RunOptions(dry_run=dry_run, now=NOW, result_path=result, batch_rows=batch_rows))


def _classes(summary, sheet):
    return {r["row"]: r["status"] for r in summary.preview if r["sheet"] == sheet}


def test_plan_finds_the_header_under_a_title_and_a_merged_group_header(tmp_path, playbook):
    path = tmp_path / "messy.xlsx"
    messy_workbook(path)
    plans = {p.name: p for p in imports.plan_file(path, playbook.imports)}
    sheet = plans["客户台账"]
    assert sheet.kind == "customers" and sheet.header_row == 4
    assert sheet.headers[:4] == ["客户名称", "统一社会信用代码", "联系方式/联系人", "联系方式/手机"]
    assert sheet.columns == {0: "customer_name", 1: "credit_code", 2: "contact_name", 3: "mobile",
                             4: "owner", 5: "grade", 6: "industry", 7: "created_at"}
    assert plans["跟进记录"].kind == "followups" and plans["商机"].kind == "opportunities"


def test_dry_run_classifies_every_row_and_writes_nothing(database, world, playbook, tmp_path):
    path, result = tmp_path / "messy.xlsx", tmp_path / "result.xlsx"
    expected = messy_workbook(path)
    before = {m: _count(database, m) for m in (Customer, Contact, FollowUp, Opportunity, ImportRow, AuditLog)}
    summary = _run(database, world.director, path, playbook, dry_run=True, result=result)

    assert _classes(summary, "客户台账") == expected
    messages = {r["row"]: r["result"] for r in summary.preview if r["sheet"] == "客户台账"}
    assert "科学计数法" in messages[7] and "老王" in messages[9]
    assert messages[10] == "文件内重复：与第5行重复" and messages[11] == "文件内重复：与第5行重复"
    assert messages[12] == "与已有客户重复：北京已有客户科技有限公司（负责人：王芳）"
    # follow-ups and opportunities see the customers the sheet above would create
    assert _classes(summary, "跟进记录") == {2: "new", 3: "new", 4: "invalid"}
    assert _classes(summary, "商机") == {2: "new", 3: "new", 4: "invalid"}
    assert summary.unmapped == {"grade": {"老客户": 2}, "industry": {"电子元件": 1}, "stage": {"搞定了": 1}}
    assert summary.unknown_owners == {"老王": 1}
    assert {m: _count(database, m) for m in before} == before

    sheet = openpyxl.load_workbook(result)["客户台账"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][-1] == "导入结果"
    assert [r[-1] for r in rows[1:]][:3] == ["新增", "新增", messages[7]]


def test_import_writes_the_rows_exactly_and_a_rerun_writes_nothing(database, world, playbook, tmp_path):
    path = tmp_path / "messy.xlsx"
    messy_workbook(path)
    first = _run(database, world.director, path, playbook, dry_run=False, batch_rows=2)
    assert first.counts["imported"] == 4 + 2 + 2
    with database.transaction() as s:
        by_name = {c.name: c for c in s.scalars(select(Customer))}
        a = by_name["上海华东机电设备有限公司"]  # trailing spaces gone
        assert (a.identifier, a.status, a.mobile, a.grade, a.industry, a.owner_id) == (
            f"uscc:{CODE_A}", "active", "13812345678", "A", "机械设备", world.rep1.id)
        assert a.created_at == datetime(2024, 3, 4, 16, 0, tzinfo=timezone.utc)  # serial 45356, Shanghai
        b = by_name["宁波东海贸易有限公司"]
        assert (b.identifier, b.mobile, b.grade, b.industry, b.owner_id) == (
            f"uscc:{CODE_B}", "13987654321", "B", "批发零售", world.rep2.id)
        assert b.created_at == datetime(2024, 3, 4, 16, 0, tzinfo=timezone.utc)  # 2024年3月5日
        contact = s.scalars(select(Contact).where(Contact.customer_id == b.id)).one()
        assert (contact.name, contact.mobile, contact.phone) == ("周经理", "13987654321", "021-62345678")
        c = by_name["广州南方电子有限公司"]
        assert (c.status, c.grade, c.industry, c.owner_id) == ("incomplete", None, "电子元件", world.director.id)
        assert by_name["深圳前海物流有限公司"].mobile == "13322223333"
        assert by_name["深圳前海物流有限公司"].owner_id == world.manager.id
        assert set(by_name) == {"北京已有客户科技有限公司", "上海华东机电设备有限公司", "宁波东海贸易有限公司",
                                "广州南方电子有限公司", "深圳前海物流有限公司"}
        fus = {f.customer_id: f for f in s.scalars(select(FollowUp))}
        assert len(fus) == 2
        assert (fus[a.id].author_id, fus[a.id].occurred_at, fus[a.id].tags, fus[a.id].channel) == (
            world.rep1.id, datetime(2024, 3, 6, 2, 30, tzinfo=timezone.utc), ["visited"], "import")
        assert fus[b.id].author_id == world.rep2.id and fus[b.id].tags == ["quoted"]
        assert a.last_interaction_at == datetime(2024, 3, 6, 2, 30, tzinfo=timezone.utc)
        opps = {o.name: o for o in s.scalars(select(Opportunity))}
        assert (opps["年度采购项目"].stage, opps["年度采购项目"].status, opps["年度采购项目"].amount) == (
            "won", "won", Decimal("120000.00"))
        assert (opps["仓储设备"].stage, opps["仓储设备"].owner_id) == ("proposal", world.rep2.id)
        assert s.scalar(select(func.count()).select_from(StageChange)) == 2
        assert s.scalar(select(func.count()).select_from(ImportRow)) == 8

    counts = {m: _count(database, m) for m in (Customer, Contact, FollowUp, Opportunity, ImportRow)}
    again = _run(database, world.director, path, playbook, dry_run=False)
    assert again.counts["imported"] == 0 and again.counts["imported_before"] == 8
    assert {m: _count(database, m) for m in counts} == counts


def _csv_rows():
    return [
        ["客户名称", "客户类型", "手机号", "负责人", "客户等级", "录入日期"],
        ["杭州钱塘新材料有限公司 ", "企业", "13812345678.0", "李明", "意向客户", "2024/3/5"],
        ["张三", "个人", "１３９００００１１１１", "rep2", "B级", "2024年3月5日"],
        ["李四", "个人", "1.38123E+10", "rep2", None, "2024-03-05"],
        ["王五", "个人", "13900001111 13900002222", "rep2", None, None],
        ["合计", None, None, None, None, None],
    ]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gbk", "gb18030"])
def test_csv_in_utf8_and_gbk(database, world, playbook, tmp_path, encoding):
    path = tmp_path / f"客户-{encoding}.csv"
    write_csv(path, _csv_rows(), encoding)
    dry = _run(database, world.director, path, playbook, dry_run=True)
    assert _classes(dry, path.stem) == {2: "new", 3: "new", 4: "invalid", 5: "duplicate_in_file", 6: "skipped"}
    _run(database, world.director, path, playbook, dry_run=False)
    with database.transaction() as s:
        rows = {c.name: c for c in s.scalars(select(Customer).where(Customer.name != "北京已有客户科技有限公司"))}
        assert set(rows) == {"杭州钱塘新材料有限公司", "张三"}
        assert (rows["张三"].kind, rows["张三"].identifier, rows["张三"].owner_id, rows["张三"].grade) == (
            "person", "mobile:13900001111", world.rep2.id, "B")
        assert rows["杭州钱塘新材料有限公司"].mobile == "13812345678"
        assert rows["杭州钱塘新材料有限公司"].created_at == datetime(2024, 3, 4, 16, tzinfo=timezone.utc)


def test_the_same_rows_saved_as_another_file_import_once(database, world, playbook, tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_csv(first, _csv_rows(), "utf-8")
    write_csv(second, _csv_rows(), "gbk")
    _run(database, world.director, first, playbook, dry_run=False)
    counts = _count(database, Customer)
    again = _run(database, world.director, second, playbook, dry_run=False)
    assert again.counts["imported_before"] == 2 and _count(database, Customer) == counts


def test_a_manager_imports_only_for_their_subtree_and_a_rep_not_at_all(database, world, playbook, tmp_path):
    path = tmp_path / "team.csv"
    write_csv(path, [["客户名称", "负责人"], ["甲公司", "李明"], ["乙公司", "张伟"], ["丙公司", None]], "utf-8")
    summary = _run(database, world.manager, path, playbook, dry_run=False)
    assert _classes(summary, "team") == {2: "imported", 3: "invalid", 4: "imported"}
    assert "不在你管理的团队中" in summary.preview[1]["result"]
    with database.transaction() as s:
        owners = dict(s.execute(select(Customer.name, Customer.owner_id)).all())
    assert owners["甲公司"] == world.rep1.id and owners["丙公司"] == world.manager.id and "乙公司" not in owners
    with pytest.raises(PermissionDenied):
        _run(database, world.rep1, path, playbook, dry_run=True)


def test_saved_mapping_and_mapping_file_override_the_guess(database, world, playbook, tmp_path):
    path = tmp_path / "odd.csv"
    write_csv(path, [["单位名称", "老板", "跟单"], ["甲公司", "13812345678", "李明"]], "utf-8")
    plan = imports.plan_file(path, playbook.imports)[0]
    assert plan.columns == {0: "customer_name"}
    plan = imports.apply_mapping_file([plan], {"客户": {"老板": "mobile", "跟单": "owner"}})[0]
    assert plan.columns == {0: "customer_name", 1: "mobile", 2: "owner"}
    with database.transaction() as s:
        imports.save_mapping(s, world.director, [plan], NOW)
    with database.transaction() as s:
        saved = imports.saved_mappings(s, world.org.id)
        assert s.scalar(select(func.count()).select_from(ImportMapping)) == 1
    again = imports.plan_file(path, playbook.imports, saved)[0]
    assert again.columns == {0: "customer_name", 1: "mobile", 2: "owner"}
    with pytest.raises(InvalidInput):
        imports.apply_mapping_file([again], {"客户": {"老板": "stage"}})


def test_export_follows_the_permission_rules(database, world, playbook, tmp_path):
    path = tmp_path / "messy.xlsx"
    messy_workbook(path, with_history=False)
    _run(database, world.director, path, playbook, dry_run=False)
    with database.transaction() as s:
        n_manager = imports.export_customers(s, world.manager, tmp_path / "m.xlsx", playbook.tz)
        n_director = imports.export_customers(s, world.director, tmp_path / "d.xlsx", playbook.tz)
        with pytest.raises(PermissionDenied):
            imports.export_customers(s, world.rep1, tmp_path / "r.xlsx", playbook.tz)
    names = {r[0] for r in openpyxl.load_workbook(tmp_path / "m.xlsx")["客户"].iter_rows(min_row=2, values_only=True)}
    # manager A sees rep1, rep2 and their own; not the director's
    assert names == {"上海华东机电设备有限公司", "宁波东海贸易有限公司", "北京已有客户科技有限公司", "深圳前海物流有限公司"}
    assert (n_manager, n_director) == (4, 5)
    # the export reads back with the same columns
    plan = imports.plan_file(tmp_path / "d.xlsx", playbook.imports)[0]
    assert set(plan.columns.values()) >= {"customer_name", "credit_code", "mobile", "owner", "grade"}
    again = _run(database, world.director, tmp_path / "d.xlsx", playbook, dry_run=True)
    assert again.counts["duplicate"] == 5 and again.counts["new"] == 0


def test_xls_from_excel_97(database, world, playbook, tmp_path):
    import xlwt
    path = tmp_path / "old.xls"
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("客户")
    dated = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for col, header in enumerate(["单位名称", "联系电话", "业务员", "录入日期"]):
        sheet.write(1, col, header)  # a blank first row
    sheet.write(2, 0, "温州瓯江阀门有限公司 ")
    sheet.write(2, 1, 13812345678.0)
    sheet.write(2, 2, "李明")
    sheet.write(2, 3, datetime(2024, 3, 5), dated)
    sheet.write(3, 0, "合计")
    book.save(str(path))
    dry = _run(database, world.director, path, playbook, dry_run=True)
    assert _classes(dry, "客户") == {3: "new", 4: "skipped"}
    _run(database, world.director, path, playbook, dry_run=False)
    with database.transaction() as s:
        c = s.scalars(select(Customer).where(Customer.name == "温州瓯江阀门有限公司")).one()
        assert (c.mobile, c.owner_id, c.created_at) == ("13812345678", world.rep1.id,
                                                        datetime(2024, 3, 4, 16, tzinfo=timezone.utc))


def test_a_contacts_sheet_attaches_to_customers_by_name(database, world, playbook, tmp_path):
    path = tmp_path / "contacts.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "客户"
    ws.append(["客户名称", "联系人", "手机"])
    ws.append(["温州瓯江阀门有限公司", "林工", "13812345678"])
    contacts = wb.create_sheet("联系人")
    contacts.append(["所属客户", "姓名", "职务", "手机号码", "邮箱"])
    contacts.append(["温州瓯江阀门有限公司", "林总", "总经理", "13900001111", "LIN@Example.com "])
    contacts.append(["温州瓯江阀门有限公司", "林工", None, "13812345678", None])   # already the customer's
    contacts.append(["没有这家公司", "赵工", None, "13700001111", None])
    contacts.append(["温州瓯江阀门有限公司", "钱工", None, None, "not-an-email"])
    wb.save(path)
    dry = _run(database, world.director, path, playbook, dry_run=True)
    assert _classes(dry, "联系人") == {2: "new", 3: "new", 4: "invalid", 5: "invalid"}
    done = _run(database, world.director, path, playbook, dry_run=False)
    # on import the customer exists, so the second row is seen for what it is
    assert _classes(done, "联系人") == {2: "imported", 3: "duplicate", 4: "invalid", 5: "invalid"}
    with database.transaction() as s:
        rows = s.execute(select(Contact.name, Contact.title, Contact.mobile, Contact.email)
                         .order_by(Contact.id)).all()
    assert rows == [("林工", None, "13812345678", None), ("林总", "总经理", "13900001111", "lin@example.com")]


def test_second_mobile_fax_and_english_name_columns_are_imported(database, world, playbook, tmp_path):
    """Obvious headers map by themselves; two mobiles in one 手机 cell keep the second as the second
    mobile; a mobile in the 传真 column is refused; a row whose mobile is a stored contact's second
    mobile is a duplicate."""
    with database.transaction() as s:
        customers.create_customer(s, s.merge(world.rep1), customers.CustomerInput(
            kind="company", name="苏州远景电子有限公司", contacts=[customers.ContactInput(
                name="王伟", mobile="13912345678", mobile2="13712345678")]), playbook, now=NOW)
    path = tmp_path / "extras.csv"
    write_csv(path, [
        ["客户名称", "联系人", "手机", "手机2", "传真", "英文名", "英文职务", "负责人"],
        ["杭州钱塘新材料有限公司", "陈工", "13812345678", "13612345678", "0571-86001235", "Kevin Chen",
         "Sales Manager", "李明"],
        ["宁波东海贸易有限公司", "周经理", "13987654321 / 13587654321", None, None, None, None, "李明"],
        ["温州瓯江阀门有限公司", "林工", "13311112222", None, "13311113333", None, None, "李明"],
        ["无锡太湖机械有限公司", "吴工", "13712345678", None, None, None, None, "李明"],
    ], "utf-8")
    plan = imports.plan_file(path, playbook.imports)[0]
    assert plan.columns == {0: "customer_name", 1: "contact_name", 2: "mobile", 3: "mobile2", 4: "fax",
                            5: "english_name", 6: "english_title", 7: "owner"}
    summary = _run(database, world.director, path, playbook, dry_run=False)
    assert _classes(summary, "extras") == {2: "imported", 3: "imported", 4: "invalid", 5: "duplicate"}
    messages = {r["row"]: r["result"] for r in summary.preview}
    assert "传真号码不能是手机号" in messages[4] and "苏州远景电子有限公司" in messages[5]
    with database.transaction() as s:
        rows = {c.name: c for c in s.scalars(select(Contact))}
    chen, zhou = rows["陈工"], rows["周经理"]
    assert (chen.mobile, chen.mobile2, chen.fax, chen.english_name, chen.english_title) == (
        "13812345678", "13612345678", "0571-86001235", "Kevin Chen", "Sales Manager")
    assert (zhou.mobile, zhou.mobile2, zhou.phone) == ("13987654321", "13587654321", None)

    # the export carries them, under headers that map back to the same fields
    with database.transaction() as s:
        imports.export_customers(s, world.director, tmp_path / "out.xlsx", playbook.tz)
    exported = imports.plan_file(tmp_path / "out.xlsx", playbook.imports)[0]
    assert {"mobile2", "fax", "english_name", "english_title"} <= set(exported.columns.values())
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx")["客户"]
    header, *data = list(sheet.iter_rows(values_only=True))
    chen_row = dict(zip(header, next(r for r in data if r[0] == "杭州钱塘新材料有限公司")))
    assert (chen_row["第二手机"], chen_row["传真"], chen_row["英文名"]) == ("13612345678", "0571-86001235", "Kevin Chen")
