"""Messy spreadsheets as teams really keep them, built with openpyxl / csv for the import tests."""
from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import openpyxl

from storage.validators import credit_code_check_char


def credit_code(body17: str) -> str:
    return body17 + credit_code_check_char(body17)


CODE_A = credit_code("91310000MA1FL0000")
CODE_B = credit_code("91330200MA2AB1234")

# (row kind, cells) — the expected dry-run class of each data row is the test's business
CUSTOMER_HEADER = ["客户名称 ", "统一社会信用代码", "联系人", "手机", "负责人", "客户状态", "行业", "创建日期"]


def messy_customer_rows() -> list[tuple[str, list]]:
    return [
        # a new company, mobile stored as a float, trailing spaces, Excel serial date
        ("new", ["上海华东机电设备有限公司  ", CODE_A, "陈工", 13812345678.0, "李明", "意向客户", "机械", 45356]),
        # full-width digits, text date with 年月日, two phones in one cell
        ("new", ["宁波东海贸易有限公司", CODE_B, "周经理", "１３９８７６５４３２１/021-62345678", "rep2", "B级", "商贸",
                 "2024年3月5日"]),
        # the mobile Excel rounded to scientific notation: refused, never guessed
        ("invalid", ["杭州西湖软件有限公司", None, "吴工", "1.38123E+10", "李明", None, "IT", "2024/3/5"]),
        # an owner nobody knows: listed, never invented
        ("invalid", ["苏州工业园区精密制造有限公司", None, "郑工", "13700001111", "老王", None, "制造", None]),
        # the same company again, later in the file (full-width brackets, no suffix)
        ("duplicate_in_file", ["上海华东机电设备", None, "陈工", "13600001111", "李明", None, None, None]),
        # the same mobile as row 1's contact
        ("duplicate_in_file", ["上海华东机电二厂", None, "陈工", "13812345678", "李明", None, None, None]),
        # a customer already in the store (the test creates it first)
        ("duplicate", ["北京已有客户科技有限公司", None, "刘总", "13500002222", "王芳", None, None, None]),
        # unmapped legacy values: kept importable, listed with counts
        ("new", ["广州南方电子有限公司", None, None, "13311112222", None, "老客户", "电子元件", "2024.03.05"]),
        ("new", ["深圳前海物流有限公司", None, "黄工", "133 2222 3333", "manager", "老客户", None, None]),
    ]


def messy_workbook(path: Path, *, with_history: bool = True) -> dict[int, str]:
    """A customer sheet with a title, a merged group header above the real one and a 合计 row,
    plus follow-up and opportunity sheets. Returns {excel row number: expected class}."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "客户台账"
    ws.append(["2024年客户名单（销售部）"])
    ws.merge_cells("A1:H1")
    ws.append([])
    # a group header merged over 联系人 | 手机 ("联系方式"), the rest vertically merged
    ws.append(["客户名称 ", "统一社会信用代码", "联系方式", None, "负责人", "客户状态", "行业", "创建日期"])
    ws.merge_cells("C3:D3")
    ws.append([None, None, "联系人", "手机", None, None, None, None])
    for col in "ABEFGH":
        ws.merge_cells(f"{col}3:{col}4")
    expected = {}
    for kind, cells in messy_customer_rows():
        ws.append(cells)
        expected[ws.max_row] = kind
        if ws.max_row == 7:
            ws.append([None] * 8)  # a blank row in the middle
    ws.append(["合计", None, None, None, None, None, None, None])
    expected[ws.max_row] = "skipped"
    if with_history:
        fu = wb.create_sheet("跟进记录")
        fu.append(["客户名称", "跟进日期", "跟进人", "跟进内容", "跟进结果"])
        fu.append(["上海华东机电设备有限公司", datetime(2024, 3, 6, 10, 30), "李明", "上门拜访，客户要报价", "拜访"])
        fu.append(["宁波东海贸易有限公司", "2024/3/7", "王芳", "电话沟通，等老板拍板", "报价"])
        fu.append(["不存在的公司", "2024-03-08", "李明", "打了电话", None])
        op = wb.create_sheet("商机")
        op.append(["客户名称", "商机名称", "金额", "阶段", "负责人"])
        op.append(["上海华东机电设备有限公司", "年度采购项目", "12万", "已成交", "李明"])
        op.append(["宁波东海贸易有限公司", "仓储设备", 50000, "方案报价", None])
        op.append(["宁波东海贸易有限公司", "神秘项目", 1, "搞定了", None])
    wb.save(path)
    return expected


def write_csv(path: Path, rows: list[list], encoding: str) -> None:
    with open(path, "w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
