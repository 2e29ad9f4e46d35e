"""Reading and writing the spreadsheets teams keep their customers in (.xlsx, .xls, .csv).

Reading streams rows so memory stays flat in the file's size (100,000-row sheets are common):

- `.xlsx` / `.xlsm`: openpyxl in read-only mode parses the sheet XML row by row (iterparse). We chose
  it over python-calamine, which is faster but materialises a whole sheet's cell range in memory
  before the first row comes back; the bench holds peak RSS under 300 MB whatever the file size.
  `reset_dimensions()` because many exporters write a wrong `<dimension>` and read-only mode trusts it.
- `.xls` (Excel 97-2003): xlrd 2, the maintained reader of that format (it reads nothing else since 2.0).
  An .xls sheet holds at most 65,536 rows, so loading it is bounded.
- `.csv`: UTF-8 with or without BOM, or GBK / GB18030 (what Excel on a Chinese Windows saves).
  A strict UTF-8 decode of a sample decides the common case; otherwise charset-normalizer names the
  encoding, and any GB family answer is read as GB18030, their superset.

Writing (the dry-run result sheet and the export) uses openpyxl's write-only mode, which streams too.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .errors import InvalidInput

SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv")
_SAMPLE_BYTES = 64 * 1024
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "hz", "cp936"}


@dataclass(frozen=True)
class SheetRow:
    number: int           # 1-based row number as the user sees it in Excel
    values: tuple[Any, ...]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def detect_csv_encoding(path: Path) -> str:
    with open(path, "rb") as fh:
        sample = fh.read(_SAMPLE_BYTES)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    # never judge a multi-byte character cut by the sample's end
    cut = sample.rfind(b"\n")
    if 0 < cut < len(sample) - 1:
        sample = sample[: cut + 1]
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes
    best = from_bytes(sample).best()
    if best is None:
        raise InvalidInput("file", "无法识别CSV文件的编码，请另存为UTF-8或GBK编码后重试")
    encoding = best.encoding.lower().replace("-", "").replace("_", "")
    if encoding in {e.replace("-", "") for e in _GB_FAMILY}:
        return "gb18030"
    return best.encoding


class Workbook:
    """One opened file; `sheet_names` and `rows(name)` whatever the format. Use as a context manager."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in SUFFIXES:
            raise InvalidInput("file", "只支持 .xlsx、.xls 和 .csv 文件")
        self.kind = suffix
        self._book: Any = None
        self.encoding: str | None = None
        try:
            if suffix in (".xlsx", ".xlsm"):
                import openpyxl
                self._book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
                self.sheet_names = list(self._book.sheetnames)
            elif suffix == ".xls":
                import xlrd
                self._book = xlrd.open_workbook(str(self.path), on_demand=True)
                self.sheet_names = list(self._book.sheet_names())
            else:
                self.encoding = detect_csv_encoding(self.path)
                self.sheet_names = [self.path.stem]
        except InvalidInput:
            raise
        except Exception as exc:  # a corrupt or mislabelled file: say so in Chinese
            raise InvalidInput("file", f"无法读取文件（{type(exc).__name__}），请确认它是完好的Excel或CSV文件") from None

    def __enter__(self) -> "Workbook":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._book is not None:
            if self.kind == ".xls":
                self._book.release_resources()
            else:
                self._book.close()
            self._book = None

    def estimated_rows(self, sheet: str) -> int:
        """For a progress bar: the row count the file declares (xlsx), has (xls) or its lines (csv)."""
        if self.kind in (".xlsx", ".xlsm"):
            try:
                return int(self._book[sheet].max_row or 0)
            except (TypeError, ValueError):
                return 0
        if self.kind == ".xls":
            return self._book.sheet_by_name(sheet).nrows
        with open(self.path, "rb") as fh:
            return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))

    def rows(self, sheet: str) -> Iterator[SheetRow]:
        if sheet not in self.sheet_names:
            raise InvalidInput("sheet", f"文件中没有名为“{sheet}”的工作表")
        if self.kind in (".xlsx", ".xlsm"):
            ws = self._book[sheet]
            ws.reset_dimensions()
            for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
                yield SheetRow(number, tuple(values))
        elif self.kind == ".xls":
            yield from self._xls_rows(sheet)
        else:
            with open(self.path, encoding=self.encoding, newline="") as fh:
                for number, values in enumerate(csv.reader(fh), start=1):
                    yield SheetRow(number, tuple(values))

    def _xls_rows(self, sheet: str) -> Iterator[SheetRow]:
        import xlrd
        ws = self._book.sheet_by_name(sheet)
        for index in range(ws.nrows):
            values = []
            for cell in ws.row(index):
                if cell.ctype == xlrd.XL_CELL_DATE:
                    try:
                        values.append(xlrd.xldate_as_datetime(cell.value, self._book.datemode))
                    except (ValueError, xlrd.xldate.XLDateError):
                        values.append(cell.value)
                elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                    values.append(None)
                else:
                    values.append(cell.value)
            yield SheetRow(index + 1, tuple(values))


class ResultSheetWriter:
    """A streamed .xlsx: one sheet per source sheet, its header plus a result column."""

    def __init__(self, path: Path | str):
        import openpyxl
        self.path = Path(path)
        self._book = openpyxl.Workbook(write_only=True)
        self._sheet = None

    def start_sheet(self, title: str, header: list[str]) -> None:
        self._sheet = self._book.create_sheet(title=title[:31] or "Sheet")
        self._sheet.append(header)

    def append(self, values: list[Any]) -> None:
        self._sheet.append([_cell(v) for v in values])

    def close(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self._book.worksheets:
            self._book.create_sheet("结果")
        self._book.save(self.path)


def _cell(value: Any) -> Any:
    # openpyxl refuses aware datetimes; the sheet shows local wall time anyway
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if value is None or isinstance(value, (str, int, float, date, datetime)):
        return value
    return str(value)

