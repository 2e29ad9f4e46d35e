"""The cell parsers behind the importer, on the values real sheets hold."""
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from storage import import_values as cells

TZ = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("value, mobile, others", [
    (13812345678, "13812345678", []),
    (13812345678.0, "13812345678", []),
    ("13812345678.0", "13812345678", []),
    ("１３８１２３４５６７８ ", "13812345678", []),
    ("+86 138-1234-5678", "13812345678", []),
    ("13812345678/13987654321", "13812345678", ["13987654321"]),
    ("13812345678 13987654321", "13812345678", ["13987654321"]),
    ("021-62345678，13812345678", "13812345678", ["021-62345678"]),
    ("0571-88886666", None, ["0571-88886666"]),
    (None, None, []),
])
def test_phones(value, mobile, others):
    assert cells.phones(value) == (mobile, others)


@pytest.mark.parametrize("value, reason", [
    ("1.38123E+10", "科学计数法"),
    ("1.38123e10", "科学计数法"),
    (1.5, "不是整数"),
    ("12345", "格式不正确"),
])
def test_phones_refused_with_a_reason(value, reason):
    with pytest.raises(cells.CellError) as err:
        cells.phones(value)
    assert reason in err.value.message


@pytest.mark.parametrize("value, expected", [
    (45356, datetime(2024, 3, 5, tzinfo=TZ)),
    (45356.5, datetime(2024, 3, 5, 12, tzinfo=TZ)),
    ("45356", datetime(2024, 3, 5, tzinfo=TZ)),
    ("2024/3/5", datetime(2024, 3, 5, tzinfo=TZ)),
    ("2024年3月5日", datetime(2024, 3, 5, tzinfo=TZ)),
    ("2024年3月5日 14:30", datetime(2024, 3, 5, 14, 30, tzinfo=TZ)),
    ("２０２４－０３－０５", datetime(2024, 3, 5, tzinfo=TZ)),
    ("2024.3.5", datetime(2024, 3, 5, tzinfo=TZ)),
    (date(2024, 3, 5), datetime(2024, 3, 5, tzinfo=TZ)),
    (datetime(2024, 3, 5, 9), datetime(2024, 3, 5, 9, tzinfo=TZ)),
    ("", None),
])
def test_dates(value, expected):
    assert cells.when(value, TZ) == expected


def test_a_date_nobody_can_read_is_refused():
    with pytest.raises(cells.CellError) as err:
        cells.when("上周三", TZ)
    assert "无法识别" in err.value.message


@pytest.mark.parametrize("value, expected", [
    (120000, Decimal("120000.00")), ("12万", Decimal("120000.00")), ("¥120,000.00", Decimal("120000.00")),
    ("12.5万元", Decimal("125000.00")), ("", None),
])
def test_amounts(value, expected):
    assert cells.amount(value) == expected
