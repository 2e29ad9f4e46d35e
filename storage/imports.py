"""Migration from Excel: read a team's old sheets, map their columns and words onto the store and
the playbook, report every row (dry run), write the new ones idempotently in batches, export back.

The flow (the command line and the mini-app page run the same functions):

1. `plan_file()` opens the file, finds each sheet's header (not always row 1: titles sit above it;
   merged group headers sit above the real one), guesses the columns from the playbook's synonyms
   and the org's saved mapping, and guesses what each sheet holds (customers, contacts, follow-ups,
   opportunities). A person confirms or corrects the plan; `save_mapping()` keeps it for next time.
2. `run_import()` walks the sheets in that order, row by row, and gives every row one result:
   new, duplicate of an existing customer (named, with its owner), duplicate of an earlier row of
   the file, invalid (why, in Chinese), imported before (its key is in `import_row`), or skipped
   (a 合计 row). A dry run stops there and writes nothing to the store; the result sheet (.xlsx)
   repeats the file with a result column so the admin can fix it and run again.
3. A real run writes each batch of rows in one transaction together with their `import_row` keys
   and the job's progress: a crash loses at most the batch in flight, and a restart skips every key
   already there, so every row lands once, and the same file twice creates nothing.

Duplicates against the store go through ONE function, `_duplicates_of()`. Today it uses the exact
identifier lookups of storage/customers.py; the master-data issue's `storage.dedupe.find_duplicates`
replaces its body (see the comment there).
"""
from __future__ import annotations

import hashlib
import re
import sqlite3
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from config.playbook import IMPORT_FIELDS, ImportRules, Playbook

from . import import_values as cells
from .customers import GRADES, find_by_identifier, find_matches, initials, visible_customers
from .db import Database
from .errors import InvalidInput, NotFound, PermissionDenied
from .models import (AuditLog, Contact, Customer, FollowUp, ImportJob, ImportMapping, ImportRow, Opportunity,
                     StageChange, User)
from .permissions import visible_user_ids
from .spreadsheets import ResultSheetWriter, SheetRow, Workbook
from .validators import first_mobile, normalize_credit_code, normalize_email, normalize_fax, normalize_name

SHEET_KINDS = tuple(IMPORT_FIELDS)  # the order sheets are imported in: customers first
IMPORT_ROLES = {"manager", "director", "admin"}

FIELD_LABELS = {
    "customer_name": "客户名称", "kind": "客户类型", "credit_code": "统一社会信用代码",
    "contact_name": "联系人", "contact_title": "职务", "mobile": "手机", "phone": "座机",
    "email": "邮箱", "owner": "负责人", "industry": "行业", "grade": "客户等级", "source": "来源",
    "address": "地址", "created_at": "创建时间", "occurred_at": "跟进时间", "author": "跟进人",
    "note": "跟进内容", "tags": "跟进结果", "next_followup_at": "下次跟进",
    "opportunity_name": "商机名称", "amount": "金额", "stage": "阶段",
    "mobile2": "第二手机", "fax": "传真", "english_name": "英文名", "english_title": "英文职务",
}
TERM_LABELS = {"kind": "客户类型", "grade": "客户等级", "stage": "阶段", "tags": "跟进结果", "industry": "行业",
               "source": "来源"}
KIND_LABELS = {"customers": "客户", "contacts": "联系人", "followups": "跟进记录", "opportunities": "商机"}

NEW, DUPLICATE, DUPLICATE_IN_FILE, INVALID, IMPORTED_BEFORE, SKIPPED, IMPORTED = (
    "new", "duplicate", "duplicate_in_file", "invalid", "imported_before", "skipped", "imported")
STATUS_LABELS = {NEW: "新增", DUPLICATE: "与已有客户重复", DUPLICATE_IN_FILE: "文件内重复",
                 INVALID: "无效", IMPORTED_BEFORE: "已导入过", SKIPPED: "跳过", IMPORTED: "已导入"}
PREVIEW_LIMIT = 300  # rows kept for the page's table (problems first); the result sheet has them all


# ------------------------------------------------------------------ plan: sheets and columns


@dataclass
class SheetPlan:
    name: str
    kind: str | None                  # None: not imported
    header_row: int                   # 1-based; data starts below it
    headers: list[str]                # as shown (a merged group header joined to its column's)
    columns: dict[int, str]           # column index → field
    rows_estimate: int = 0

    def to_json(self) -> dict:
        data = asdict(self)
        data["columns"] = {str(k): v for k, v in self.columns.items()}
        return data

    @classmethod
    def from_json(cls, data: dict) -> "SheetPlan":
        return cls(name=data["name"], kind=data.get("kind"), header_row=int(data["header_row"]),
                   headers=list(data["headers"]),
                   columns={int(k): v for k, v in (data.get("columns") or {}).items() if v},
                   rows_estimate=int(data.get("rows_estimate") or 0))


def _header_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[（(][^）)]*[）)]", "", text)  # 客户名称（必填）
    return re.sub(r"[\s*:：_\-]", "", text)


class HeaderGuesser:
    def __init__(self, rules: ImportRules, saved: dict[str, dict[str, str]] | None = None):
        self.rules = rules
        self.saved = {kind: {_header_key(h): f for h, f in cols.items()}
                      for kind, cols in (saved or {}).items()}
        # our own labels (an export's headers) first, so the playbook's synonyms win a conflict
        self.synonyms = {_header_key(label): name for name, label in FIELD_LABELS.items()}
        self.synonyms.update({_header_key(s): name for name, syns in rules.columns.items() for s in syns})

    def field_for(self, header: str, kind: str | None) -> str | None:
        key = _header_key(header)
        if not key:
            return None
        if kind and key in self.saved.get(kind, {}):
            return self.saved[kind][key] or None
        if key in self.synonyms:
            return self.synonyms[key]
        # "客户名称全称" / "负责销售": the longest synonym inside the header
        best = max((s for s in self.synonyms if len(s) >= 2 and s in key), key=len, default=None)
        return self.synonyms[best] if best else None

    def score(self, values: tuple[Any, ...]) -> int:
        """Cells that are exactly a known header: a data cell such as “某某公司” never counts."""
        return sum(1 for v in values if isinstance(v, str) and _header_key(v) in self.synonyms)


def _fill_right(values: tuple[Any, ...], width: int) -> list[str]:
    """A merged group header (联系人 over 姓名 | 手机) holds its text in the first cell only."""
    out, last = [], ""
    for i in range(width):
        value = values[i] if i < len(values) else None
        text = cells.name_text(value) if value is not None else None
        last = text or last
        out.append(last if text is None else text)
    return out


def _detect_header(rows: list[SheetRow], guesser: HeaderGuesser) -> int | None:
    scored = [(guesser.score(r.values), -i) for i, r in enumerate(rows)]
    if not scored:
        return None
    best_score, neg_index = max(scored)
    if best_score < 1:
        return None
    index = -neg_index
    # a two-row header: group titles merged above (联系方式 over 联系人 | 手机); the lower row names
    # the columns and leaves blank the ones merged vertically from above
    below = rows[index + 1].values if index + 1 < len(rows) else ()
    if scored[index + 1:index + 2] and scored[index + 1][0] >= 1 and any(
            v is None or v == "" for v in below[:len(rows[index].values)]):
        index += 1
    return index


def _kind_for(sheet_name: str, fields: set[str], rules: ImportRules) -> str | None:
    for kind, words in rules.sheet_names.items():
        if any(w in sheet_name for w in words):
            return kind
    if fields & {"occurred_at", "author", "note"}:
        return "followups"
    if fields & {"opportunity_name", "stage"}:
        return "opportunities"
    if "customer_name" in fields or "contact_name" in fields:
        return "customers"
    return None


def _headers_for(rows: list[SheetRow], index: int) -> list[str]:
    header = rows[index].values
    width = max(len(header), *(len(r.values) for r in rows[index:index + 5]))
    own = [cells.name_text(header[i]) if i < len(header) else None for i in range(width)]
    above = _fill_right(rows[index - 1].values, width) if index > 0 else [""] * width
    result = []
    for i in range(width):
        if own[i] and above[i] and above[i] != own[i] and above[i] not in own:
            result.append(f"{above[i]}/{own[i]}")    # 联系人/手机
        else:
            result.append(own[i] or above[i] or "")  # vertically merged: the text is above
    return result


def _field_of_header(guesser: HeaderGuesser, header: str, kind: str | None) -> str | None:
    if "/" in header:
        group, own = header.split("/", 1)
        if _header_key(own) in guesser.synonyms:
            return guesser.field_for(own, kind)
        return (guesser.field_for(group + own, kind) or guesser.field_for(own, kind)
                or guesser.field_for(group, kind))
    return guesser.field_for(header, kind)


def plan_sheet(book: Workbook, name: str, guesser: HeaderGuesser) -> SheetPlan:
    estimate = book.estimated_rows(name)  # before reading: xlsx read-only trusts the declared size
    rows = []
    for row in book.rows(name):
        rows.append(row)
        if len(rows) >= guesser.rules.header_scan_rows:
            break
    index = _detect_header(rows, guesser)
    if index is None:
        return SheetPlan(name=name, kind=None, header_row=1, headers=[], columns={})
    headers = _headers_for(rows, index)
    plain = {i: _field_of_header(guesser, h, None) for i, h in enumerate(headers)}
    kind = _kind_for(name, {f for f in plain.values() if f}, guesser.rules)
    columns: dict[int, str] = {}
    for i, header in enumerate(headers):
        found = _field_of_header(guesser, header, kind)
        if found and kind and found in IMPORT_FIELDS[kind] and found not in columns.values():
            columns[i] = found
    return SheetPlan(name=name, kind=kind, header_row=rows[index].number, headers=headers,
                     columns=columns, rows_estimate=max(0, estimate - rows[index].number))


def saved_mappings(session: Session, org_id: int) -> dict[str, dict[str, str]]:
    return {m.sheet_kind: dict(m.columns) for m in session.scalars(
        select(ImportMapping).where(ImportMapping.org_id == org_id))}


def plan_file(path: Path | str, rules: ImportRules, saved: dict[str, dict[str, str]] | None = None,
              sheets: list[str] | None = None) -> list[SheetPlan]:
    guesser = HeaderGuesser(rules, saved)
    with Workbook(path) as book:
        names = sheets or book.sheet_names
        for name in names:
            if name not in book.sheet_names:
                raise InvalidInput("sheet", f"文件中没有名为“{name}”的工作表")
        plans = [plan_sheet(book, name, guesser) for name in names]
    if not any(p.kind for p in plans):
        raise InvalidInput("file", "没有找到可导入的表头（如“客户名称”“手机”），请检查文件")
    return plans


def apply_mapping_file(plans: list[SheetPlan], mapping: dict[str, Any]) -> list[SheetPlan]:
    """A mapping file (TOML: [客户] or [customers] → header = field) overrides the guesses."""
    by_kind = {}
    for section, cols in mapping.items():
        kind = next((k for k, label in KIND_LABELS.items() if section in (k, label)), None)
        if kind is None or not isinstance(cols, dict):
            raise InvalidInput("mapping", f"映射文件中的“{section}”不是可导入的表类型")
        by_kind[kind] = cols
    for plan in plans:
        cols = by_kind.get(plan.kind or "")
        if not cols:
            continue
        keyed = {_header_key(h): f for h, f in cols.items()}
        for i, header in enumerate(plan.headers):
            key = _header_key(header)
            if key in keyed:
                plan.columns.pop(i, None)
                if keyed[key]:
                    plan.columns[i] = keyed[key]
        check_plan([plan])
    return plans


def check_plan(plans: list[SheetPlan]) -> None:
    for plan in plans:
        if plan.kind is None:
            continue
        if plan.kind not in IMPORT_FIELDS:
            raise InvalidInput("kind", f"未知的表类型：{plan.kind}")
        fields = list(plan.columns.values())
        for f in fields:
            if f not in IMPORT_FIELDS[plan.kind]:
                raise InvalidInput("columns", f"“{FIELD_LABELS.get(f, f)}”不能用于{KIND_LABELS[plan.kind]}表")
        dupes = {f for f in fields if fields.count(f) > 1}
        if dupes:
            raise InvalidInput("columns", f"工作表“{plan.name}”有多列对应“{FIELD_LABELS[dupes.pop()]}”")
        needed = {"customers": ("customer_name",), "contacts": ("customer_name", "contact_name"),
                  "followups": ("customer_name", "occurred_at"),
                  "opportunities": ("customer_name", "opportunity_name")}[plan.kind]
        for name in needed:
            if name not in fields:
                raise InvalidInput("columns", f"工作表“{plan.name}”缺少“{FIELD_LABELS[name]}”列")


def save_mapping(session: Session, actor: User, plans: list[SheetPlan], now: datetime) -> None:
    """Keep the confirmed header → field choices of each sheet kind for the org's next file."""
    for plan in plans:
        if plan.kind is None:
            continue
        columns = {h: plan.columns.get(i, "") for i, h in enumerate(plan.headers) if h}
        row = session.scalars(select(ImportMapping).where(ImportMapping.org_id == actor.org_id,
                                                          ImportMapping.sheet_kind == plan.kind)).first()
        if row is None:
            row = ImportMapping(org_id=actor.org_id, sheet_kind=plan.kind, columns={})
            session.add(row)
        row.columns = {**row.columns, **columns}
        row.updated_by_id, row.updated_at = actor.id, now


# ------------------------------------------------------------------ who may import, and owners


def check_importer(actor: User) -> None:
    if actor.role not in IMPORT_ROLES or not actor.active:
        raise PermissionDenied("只有经理、总监或管理员可以导入数据")


class People:
    """The org's users by every name a sheet may use for them: name, WeCom / DingTalk userid, mobile.
    Only users the importer manages may be given records."""

    def __init__(self, session: Session, actor: User):
        self.actor = actor
        self.visible = visible_user_ids(session, actor)
        self.by_key: dict[str, list[User]] = {}
        for user in session.scalars(select(User).where(User.org_id == actor.org_id,
                                                       User.active.is_(True))):
            for key in {user.name, user.wecom_userid, user.dingtalk_userid, user.mobile}:
                if key:
                    self.by_key.setdefault(key.strip().lower(), []).append(user)

    def resolve(self, value: str | None) -> User:
        if not value:
            return self.actor
        found = self.by_key.get(value.strip().lower(), [])
        if not found:
            raise cells.CellError(f"负责人“{value}”不在系统中（可填姓名、企业微信/钉钉账号或手机号）")
        if len({u.id for u in found}) > 1:
            raise cells.CellError(f"负责人“{value}”有重名，请改填企业微信/钉钉账号或手机号")
        user = found[0]
        if self.visible is not None and user.id not in self.visible:
            raise cells.CellError(f"负责人“{value}”不在你管理的团队中")
        return user


# ------------------------------------------------------------------ rows


@dataclass
class RowResult:
    sheet: str
    row: int
    status: str
    message: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        label = STATUS_LABELS[self.status]
        parts = [f"{label}：{self.message}" if self.message else label, *self.warnings]
        return "；".join(parts)


@dataclass
class Parsed:
    """One data row as the store's values, with the key that makes it import once."""
    sheet: SheetPlan
    row: SheetRow
    key: str
    data: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    file_keys: tuple[str, ...] = ()   # identifiers that make two rows of one file the same


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUS_LABELS, 0))
    sheets: list[dict] = field(default_factory=list)
    unmapped: dict[str, dict[str, int]] = field(default_factory=dict)
    unknown_owners: dict[str, int] = field(default_factory=dict)
    preview: list[dict] = field(default_factory=list)
    rows_done: int = 0
    dry_run: bool = True

    def add(self, result: RowResult, values: tuple[Any, ...]) -> None:
        self.counts[result.status] += 1
        problem = result.status not in (NEW, IMPORTED, IMPORTED_BEFORE)
        if len(self.preview) < PREVIEW_LIMIT and (problem or len(self.preview) < PREVIEW_LIMIT // 3):
            self.preview.append({"sheet": result.sheet, "row": result.row, "status": result.status,
                                 "label": STATUS_LABELS[result.status], "result": result.text,
                                 "values": [cells.text(v) or "" for v in values[:12]]})

    def to_json(self) -> dict:
        data = asdict(self)
        data["labels"] = STATUS_LABELS
        data["term_labels"] = TERM_LABELS
        return data


class TermBook:
    """The playbook's term dictionary; values met in no list are counted for the dry run."""

    def __init__(self, playbook: Playbook, summary: Summary):
        self.terms = {c: {self._key(k): v for k, v in m.items()} for c, m in playbook.imports.terms.items()}
        self.playbook = playbook
        self.summary = summary

    @staticmethod
    def _key(value: str) -> str:
        return unicodedata.normalize("NFKC", value).strip().lower().replace(" ", "")

    def _miss(self, category: str, value: str) -> None:
        bucket = self.summary.unmapped.setdefault(category, {})
        bucket[value] = bucket.get(value, 0) + 1

    def grade(self, value: str | None) -> str | None:
        if not value:
            return None
        mapped = self.terms.get("grade", {}).get(self._key(value))
        if mapped is None and value.strip().upper() in GRADES:
            mapped = value.strip().upper()
        if mapped is None:
            self._miss("grade", value)
        return mapped

    def kind(self, value: str | None) -> str:
        if not value:
            return "company"
        mapped = self.terms.get("kind", {}).get(self._key(value))
        if mapped is None:
            self._miss("kind", value)
            raise cells.CellError(f"客户类型“{value}”无法识别（企业或个人）")
        return mapped

    def stage(self, value: str | None) -> str | None:
        if not value:
            return None
        mapped = self.terms.get("stage", {}).get(self._key(value))
        if mapped is None:
            stage = next((s for s in self.playbook.stages if value.strip() in (s.key, s.label)), None)
            mapped = stage.key if stage else None
        if mapped is None:
            self._miss("stage", value)
        return mapped

    def tags(self, value: str | None) -> list[str]:
        keys = []
        for part in re.split(r"[，,、;；/#\s]+", value or ""):
            if not part:
                continue
            label = self.terms.get("tags", {}).get(self._key(part), part)
            tag = self.playbook.tag(label)
            if tag is None:
                self._miss("tags", part)
            elif tag.key not in keys:
                keys.append(tag.key)
        return keys

    def word(self, category: str, value: str | None) -> str | None:
        """Industry, source: one spelling from the dictionary; an unknown word is kept and listed."""
        if not value:
            return None
        mapped = self.terms.get(category, {}).get(self._key(value))
        if mapped is None:
            self._miss(category, value)
            return value[:50]
        return mapped


def _row_key(kind: str, plan: SheetPlan, values: tuple[Any, ...]) -> str:
    """The row's fingerprint: its kind and its mapped cells as text, in field order. The file's
    name, the sheet's name and the row's position are left out on purpose: the same rows saved
    again (another file name, another sheet, re-sorted, as CSV when the cells read the same) still
    import once; rows whose cells were reformatted are caught by the duplicate check instead."""
    parts = [kind]
    for index, name in sorted(plan.columns.items(), key=lambda item: item[1]):
        value = values[index] if index < len(values) else None
        parts.append(f"{name}={cells.text(value) or ''}")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def _is_blank(values: tuple[Any, ...]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def _is_total(values: tuple[Any, ...], words: tuple[str, ...]) -> bool:
    for v in values[:4]:
        t = cells.text(v)
        if t and t.replace(" ", "").rstrip(":：") in words:
            return True
    return False


class RowReader:
    """Turns a sheet's rows into Parsed rows or the reason they are refused."""

    def __init__(self, playbook: Playbook, people: People, terms: TermBook, summary: Summary):
        self.playbook, self.people, self.terms, self.summary = playbook, people, terms, summary
        self.tz = playbook.tz

    def _owner(self, value: Any) -> User:
        name = cells.name_text(cells.text(value)) if value is not None else None
        try:
            return self.people.resolve(name)
        except cells.CellError:
            if name and not self.people.by_key.get(name.strip().lower()):
                self.summary.unknown_owners[name] = self.summary.unknown_owners.get(name, 0) + 1
            raise

    def parse(self, plan: SheetPlan, row: SheetRow) -> Parsed:
        get = {name: (row.values[i] if i < len(row.values) else None) for i, name in plan.columns.items()}
        customer_name = cells.name_text(get.get("customer_name"))
        key = _row_key(plan.kind, plan, row.values)
        parsed = Parsed(plan, row, key, {"customer_name": customer_name})
        if not customer_name:
            raise cells.CellError("客户名称为空")
        if len(customer_name) > 200:
            raise cells.CellError("客户名称过长（最多200字）")
        getattr(self, f"_{plan.kind}")(parsed, get)
        return parsed

    def _contact_fields(self, parsed: Parsed, get: dict[str, Any]) -> None:
        d = parsed.data
        d["contact_name"] = cells.name_text(get.get("contact_name"))
        d["contact_title"] = cells.name_text(get.get("contact_title"))
        mobile, others = cells.phones(get.get("mobile"))
        mobile2, more = cells.phones(get.get("mobile2"))
        if mobile2 is None:
            # "139… / 138…" in one 手机 cell: the second mobile is a second number to call, not the phone
            mobile2 = first_mobile(others)
            others = [n for n in others if n != mobile2]
        if mobile is None:
            mobile, mobile2 = mobile2, None
        if mobile2 == mobile:
            mobile2 = None
        others += more
        _, more = cells.phones(get.get("phone"))
        others += more
        joined = "、".join(others)
        d["mobile"], d["mobile2"], d["phone"] = mobile, mobile2, joined[:40] or None
        if len(joined) > 40:
            parsed.warnings.append("电话太多，只保留了前40个字符")
        email = cells.text(get.get("email"))
        try:
            d["email"] = normalize_email(email) if email else None
        except InvalidInput as exc:
            raise cells.CellError(f"{exc.message}：{email}") from None
        fax = cells.text(get.get("fax"))
        try:
            d["fax"] = normalize_fax(fax) if fax else None   # a mobile in the 传真 column is refused
        except InvalidInput as exc:
            raise cells.CellError(f"{exc.message}：{fax}") from None
        d["english_name"] = (cells.name_text(get.get("english_name")) or "")[:100] or None
        d["english_title"] = (cells.name_text(get.get("english_title")) or "")[:100] or None

    def _customers(self, parsed: Parsed, get: dict[str, Any]) -> None:
        d = parsed.data
        d["kind"] = self.terms.kind(cells.text(get.get("kind")))
        code = cells.text(get.get("credit_code"))
        try:
            d["credit_code"] = normalize_credit_code(code) if code else None
        except InvalidInput as exc:
            raise cells.CellError(f"{exc.message}：{code}") from None
        self._contact_fields(parsed, get)
        owner = self._owner(get.get("owner"))
        d["owner_id"], d["owner_name"] = owner.id, owner.name
        raw_grade = cells.text(get.get("grade"))
        d["grade"] = self.terms.grade(raw_grade)
        if raw_grade and d["grade"] is None:
            parsed.warnings.append(f"客户等级“{raw_grade}”不在术语表中，已留空")
        d["industry"] = self.terms.word("industry", cells.text(get.get("industry")))
        d["source"] = self.terms.word("source", cells.text(get.get("source")))
        d["address"] = (cells.name_text(get.get("address")) or "")[:300] or None
        d["created_at"] = cells.when(get.get("created_at"), self.tz)
        if d["kind"] == "person" and not d["mobile"]:
            parsed.warnings.append("个人客户缺少手机号，将标记为待补全")
        identifier = (f"uscc:{d['credit_code']}" if d["kind"] == "company" and d["credit_code"]
                      else f"mobile:{d['mobile']}" if d["kind"] == "person" and d["mobile"] else None)
        d["identifier"] = identifier
        keys = [f"name:{normalize_name(d['customer_name'])}"] if d["kind"] == "company" else []
        if identifier:
            keys.append(identifier)
        keys += [f"mobile:{m}" for m in (d["mobile"], d["mobile2"]) if m]
        parsed.file_keys = tuple(dict.fromkeys(keys))

    def _contacts(self, parsed: Parsed, get: dict[str, Any]) -> None:
        self._contact_fields(parsed, get)
        d = parsed.data
        if not d["contact_name"]:
            raise cells.CellError("联系人姓名为空")
        parsed.file_keys = (f"contact:{normalize_name(d['customer_name'])}:"
                            f"{d['mobile'] or normalize_name(d['contact_name'])}",)

    def _followups(self, parsed: Parsed, get: dict[str, Any]) -> None:
        d = parsed.data
        d["occurred_at"] = cells.when(get.get("occurred_at"), self.tz)
        if d["occurred_at"] is None:
            raise cells.CellError("跟进时间为空")
        d["next_followup_at"] = cells.when(get.get("next_followup_at"), self.tz)
        author_value = get.get("author")
        d["author_id"] = self._owner(author_value).id if cells.text(author_value) else None
        d["note"] = cells.name_text(get.get("note"))
        d["tags"] = self.terms.tags(cells.text(get.get("tags")))
        if not d["note"] and not d["tags"]:
            raise cells.CellError("跟进内容为空")
        parsed.file_keys = (f"followup:{parsed.key}",)

    def _opportunities(self, parsed: Parsed, get: dict[str, Any]) -> None:
        d = parsed.data
        d["opportunity_name"] = cells.name_text(get.get("opportunity_name"))
        if not d["opportunity_name"]:
            raise cells.CellError("商机名称为空")
        d["amount"] = cells.amount(get.get("amount"))
        raw_stage = cells.text(get.get("stage"))
        d["stage"] = self.terms.stage(raw_stage)
        if raw_stage and d["stage"] is None:
            raise cells.CellError(f"阶段“{raw_stage}”不在术语表中")
        d["owner_id"] = self._owner(get.get("owner")).id if cells.text(get.get("owner")) else None
        d["created_at"] = cells.when(get.get("created_at"), self.tz)
        parsed.file_keys = (f"opportunity:{normalize_name(d['customer_name'])}:"
                            f"{normalize_name(d['opportunity_name'])}",)


# ------------------------------------------------------------------ duplicates in the store


@dataclass
class Match:
    """An existing customer a row duplicates (the shape of storage.dedupe.Match)."""
    customer_id: int
    customer_name: str
    owner_id: int
    owner_name: str
    score: float = 1.0
    reasons: tuple[str, ...] = ()


def _duplicates_of(session: Session, org_id: int, row: dict[str, Any]) -> list[Match]:
    """Existing customers this row would duplicate — the importer's one duplicate check.

    When storage/dedupe.py (the master-data issue) lands, the body becomes
        return find_duplicates(session, org_id, Candidate(
            name=row["customer_name"], kind=row.get("kind"), credit_code=row.get("credit_code"),
            mobile=row.get("mobile"), email=row.get("email"), contact_name=row.get("contact_name")))
    and `EXACT_ONLY` below turns False: its batch pre-filter only knows exact keys and would hide
    fuzzy name matches. (Per row at ~5 ms that is ~8 min for 100,000 rows: a batch form of
    find_duplicates, or its normalized-key pre-filter, keeps the bench's 2 minutes.)"""
    found: dict[int, Customer] = {}
    if row.get("identifier"):
        existing = find_by_identifier(session, org_id, row["identifier"])
        if existing is not None:
            found[existing.id] = existing
    company = row["customer_name"] if row.get("kind", "company") == "company" else None
    second = (row["mobile2"],) if row.get("mobile2") else ()
    for customer in find_matches(session, org_id, mobile=row.get("mobile"), mobiles=second, company=company):
        found.setdefault(customer.id, customer)
    return [Match(c.id, c.name, c.owner_id, c.owner.name, 1.0, ("exact",)) for c in found.values()]


EXACT_ONLY = True  # _duplicates_of matches exact keys only: a batch pre-filter may skip rows


def _keys_in_store(session: Session, org_id: int, rows: list[Parsed]) -> set[str]:
    """Of the batch's identifiers, mobiles and names, those the store already holds (3 queries for
    the whole batch instead of one lookup per row; a row with none of them cannot be an exact duplicate)."""
    identifiers = {p.data["identifier"] for p in rows if p.data.get("identifier")}
    mobiles = {m for p in rows for m in (p.data.get("mobile"), p.data.get("mobile2")) if m}
    names = {normalize_name(p.data["customer_name"]) for p in rows if p.data.get("kind") == "company"}
    hits: set[str] = set()
    if identifiers:
        hits |= set(session.scalars(select(Customer.identifier).where(
            Customer.org_id == org_id, Customer.identifier.in_(identifiers))))
    if mobiles:
        for column in (Contact.mobile, Contact.mobile2):
            hits |= {f"m:{m}" for m in session.scalars(select(column).where(
                Contact.org_id == org_id, column.in_(mobiles)))}
        hits |= {f"m:{m}" for m in session.scalars(select(Customer.mobile).where(
            Customer.org_id == org_id, Customer.mobile.in_(mobiles)))}
    if names:
        hits |= {f"n:{n}" for n in session.scalars(select(Customer.normalized_name).where(
            Customer.org_id == org_id, Customer.normalized_name.in_(names)))}
    return hits


def _may_duplicate(p: Parsed, hits: set[str]) -> bool:
    d = p.data
    return bool((d.get("identifier") and d["identifier"] in hits)
                or any(d.get(key) and f"m:{d[key]}" in hits for key in ("mobile", "mobile2"))
                or (d.get("kind") == "company" and f"n:{normalize_name(d['customer_name'])}" in hits))


# ------------------------------------------------------------------ the run


@dataclass
class RunOptions:
    dry_run: bool
    now: datetime
    job_id: int | None = None
    result_path: Path | None = None
    progress: Callable[[int, int], None] | None = None   # (rows done, rows estimated)
    batch_rows: int | None = None
    first_stage: str = "initial"   # an opportunity without a stage starts at the playbook's first
    clock: Callable[[], datetime] | None = None  # stamps the job's progress (a live run is not stalled)


def _data_rows(book: Workbook, plan: SheetPlan) -> Iterator[SheetRow]:
    for row in book.rows(plan.name):
        if row.number > plan.header_row:
            yield row


class _CustomerIndex:
    """Customers of the org by normalized name, for the contact / follow-up / opportunity sheets:
    the store's, plus (in a dry run) the ones the customer sheet would create."""

    def __init__(self, session: Session, actor: User, seen: "_SeenKeys"):
        self.session, self.actor, self.seen = session, actor, seen
        self.cache: dict[str, Customer | None] = {}

    def add_pending(self, names: list[str]) -> None:
        """Dry run: these customers would be created (kept in the SQLite scratch file, not in memory)."""
        self.seen.mark("pending", [((normalize_name(n),), 0) for n in names])

    def find(self, name: str) -> tuple[int | None, Customer | None]:
        key = normalize_name(name)
        if self.seen.first_row("pending", (key,)) is not None:
            return 0, None
        if key not in self.cache:
            if len(self.cache) > 50_000:
                self.cache.clear()
            self.cache[key] = self.session.scalars(visible_customers(self.session, self.actor).where(
                Customer.normalized_name == key).order_by(Customer.id).limit(1)).first()
        customer = self.cache[key]
        return (customer.id, customer) if customer else (None, None)


def run_import(db: Database, actor_id: int, path: Path | str, plans: list[SheetPlan],
               playbook: Playbook, options: RunOptions) -> Summary:
    """Dry-run or import `path` following `plans`. Every batch is its own transaction."""
    summary = Summary(dry_run=options.dry_run)
    options.first_stage = playbook.stages[0].key
    batch_rows = options.batch_rows or playbook.imports.batch_rows
    total = sum(p.rows_estimate for p in plans if p.kind)
    writer = ResultSheetWriter(options.result_path) if options.result_path else None
    ordered = sorted((p for p in plans if p.kind), key=lambda p: SHEET_KINDS.index(p.kind))
    with _SeenKeys() as seen, db.sessions() as session, Workbook(path) as book:
        actor = session.get(User, actor_id)
        if actor is None:
            raise NotFound("用户不存在")
        check_importer(actor)
        people = People(session, actor)
        terms = TermBook(playbook, summary)
        reader = RowReader(playbook, people, terms, summary)
        index = _CustomerIndex(session, actor, seen)
        session.commit()  # reads above end their transaction; each batch opens its own
        for plan in ordered:
            counts_before = dict(summary.counts)
            if writer:
                writer.start_sheet(plan.name, [*plan.headers, "导入结果"])
            batch: list[tuple[SheetRow, Parsed | RowResult]] = []
            for row in _data_rows(book, plan):
                if _is_blank(row.values):
                    continue
                batch.append((row, _first_pass(reader, plan, row, playbook)))
                if len(batch) >= batch_rows:
                    _flush(session, actor, plan, _in_file_duplicates(plan, batch, seen), index, summary,
                           writer, options, total)
                    batch = []
            if batch:
                _flush(session, actor, plan, _in_file_duplicates(plan, batch, seen), index, summary,
                       writer, options, total)
            summary.sheets.append({"name": plan.name, "kind": plan.kind, "kind_label": KIND_LABELS[plan.kind],
                                   "header_row": plan.header_row,
                                   "counts": {k: summary.counts[k] - counts_before.get(k, 0)
                                              for k in summary.counts}})
        session.expunge_all()
    if writer:
        writer.close()
    return summary


class _SeenKeys:
    """The file's rows seen so far, by their duplicate keys → first row number. Kept in a throwaway
    SQLite file rather than a dict so memory stays flat in the file's size (a dict of 300,000 keys
    is ~40 MB); SQLite's page cache is bounded and a lookup by integer key costs microseconds."""

    def __init__(self):
        self._dir = tempfile.TemporaryDirectory(prefix="crmbot-import-")
        self._db = sqlite3.connect(Path(self._dir.name) / "seen.db", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE seen (k INTEGER PRIMARY KEY, row INTEGER NOT NULL)")

    @staticmethod
    def _digest(kind: str, key: str) -> int:
        return int.from_bytes(hashlib.blake2b(f"{kind}|{key}".encode(), digest_size=8).digest(),
                              "big", signed=True)

    def first_row(self, kind: str, keys: tuple[str, ...]) -> int | None:
        return self.mark(kind, [(keys, 0)], add=False)[0]

    def add(self, kind: str, keys: tuple[str, ...], row: int) -> None:
        self.mark(kind, [(keys, row)])

    def mark(self, kind: str, rows: list[tuple[tuple[str, ...], int]], add: bool = True) -> list[int | None]:
        """For each (keys, row) in order: the first earlier row sharing a key, or None (then, with
        `add`, the row is remembered). One query per 500 keys for the whole batch."""
        digests = [[self._digest(kind, k) for k in keys] for keys, _ in rows]
        flat = list({d for ds in digests for d in ds})
        known: dict[int, int] = {}
        for start in range(0, len(flat), 500):
            chunk = flat[start:start + 500]
            known.update(self._db.execute(
                f"SELECT k, row FROM seen WHERE k IN ({','.join('?' * len(chunk))})", chunk).fetchall())
        firsts: list[int | None] = []
        new: dict[int, int] = {}
        for ds, (_, row) in zip(digests, rows):
            hits = [known[d] for d in ds if d in known] + [new[d] for d in ds if d in new]
            firsts.append(min(hits) if hits else None)
            if not hits and add:
                for d in ds:
                    new.setdefault(d, row)
        if new:
            self._db.executemany("INSERT OR IGNORE INTO seen (k, row) VALUES (?, ?)", list(new.items()))
        return firsts

    def __enter__(self) -> "_SeenKeys":
        return self

    def __exit__(self, *exc) -> None:
        self._db.close()
        self._dir.cleanup()


def _first_pass(reader: RowReader, plan: SheetPlan, row: SheetRow, playbook: Playbook) -> Parsed | RowResult:
    """What the row says by itself: skipped, invalid, or parsed."""
    if _is_total(row.values, playbook.imports.total_row_words):
        return RowResult(plan.name, row.number, SKIPPED, "合计行")
    try:
        parsed = reader.parse(plan, row)
    except cells.CellError as exc:
        return RowResult(plan.name, row.number, INVALID, exc.message)
    return parsed


def _in_file_duplicates(plan: SheetPlan, batch: list, seen: _SeenKeys) -> list:
    """Rows sharing a normalized name, identifier or mobile with an earlier row of the file."""
    parsed = [(i, item) for i, (_, item) in enumerate(batch) if isinstance(item, Parsed)]
    firsts = seen.mark(plan.kind, [(p.file_keys, p.row.number) for _, p in parsed])
    out = list(batch)
    for (i, p), first in zip(parsed, firsts):
        if first is not None:
            out[i] = (p.row, RowResult(plan.name, p.row.number, DUPLICATE_IN_FILE, f"与第{first}行重复",
                                       p.warnings))
    return out


def _flush(session: Session, actor: User, plan: SheetPlan, batch: list, index: _CustomerIndex,
           summary: Summary, writer: ResultSheetWriter | None, options: RunOptions, total: int) -> None:
    """Classify (and unless a dry run, write) one batch in one transaction with the job's progress."""
    with session.begin():
        parsed = [item for _, item in batch if isinstance(item, Parsed)]
        done_keys = set(session.scalars(select(ImportRow.row_key).where(
            ImportRow.org_id == actor.org_id, ImportRow.row_key.in_([p.key for p in parsed])))) if parsed else set()
        results: dict[int, RowResult] = {}
        fresh = []
        for p in parsed:
            if p.key in done_keys:
                results[p.row.number] = RowResult(plan.name, p.row.number, IMPORTED_BEFORE, "", p.warnings)
            else:
                fresh.append(p)
        results.update(_classify(session, actor, plan.kind, fresh, index, options))
        to_write = [p for p in fresh if results[p.row.number].status == NEW]
        if to_write and not options.dry_run:
            created = _WRITERS[plan.kind](session, actor, to_write, options)
            session.execute(insert(ImportRow), [
                {"org_id": actor.org_id, "row_key": p.key, "job_id": options.job_id, "sheet_kind": plan.kind,
                 "entity": entity, "entity_id": entity_id, "created_at": options.now}
                for p, (entity, entity_id) in zip(to_write, created)])
            for p in to_write:
                results[p.row.number].status = IMPORTED
            ids = [c[1] for c in created]
            session.add(AuditLog(org_id=actor.org_id, actor_id=actor.id, action="import.batch",
                                 entity="import_job", entity_id=options.job_id, at=options.now,
                                 after={"kind": plan.kind, "rows": len(ids), "first_id": min(ids),
                                        "last_id": max(ids)}))
        for row, item in batch:
            result = item if isinstance(item, RowResult) else results[row.number]
            summary.add(result, row.values)
            if writer:
                writer.append([*row.values[:len(plan.headers)],
                               *([None] * (len(plan.headers) - len(row.values))), result.text])
        summary.rows_done += len(batch)
        if options.job_id is not None:
            session.execute(update(ImportJob).where(ImportJob.id == options.job_id).values(
                rows_done=summary.rows_done, updated_at=options.clock() if options.clock else options.now))
    if options.progress:
        options.progress(summary.rows_done, total)


def _classify(session: Session, actor: User, kind: str, rows: list[Parsed], index: _CustomerIndex,
              options: RunOptions) -> dict[int, RowResult]:
    results: dict[int, RowResult] = {}
    if kind == "customers":
        hits = _keys_in_store(session, actor.org_id, rows) if EXACT_ONLY else None
        pending = []
        for p in rows:
            matches = (_duplicates_of(session, actor.org_id, p.data)
                       if hits is None or _may_duplicate(p, hits) else [])
            if matches:
                m = matches[0]
                results[p.row.number] = RowResult(p.sheet.name, p.row.number, DUPLICATE,
                                                  f"{m.customer_name}（负责人：{m.owner_name}）", p.warnings)
            else:
                results[p.row.number] = RowResult(p.sheet.name, p.row.number, NEW, "", p.warnings)
                pending.append(p.data["customer_name"])
        if options.dry_run and pending:
            index.add_pending(pending)
        return results
    for p in rows:
        customer_id, customer = index.find(p.data["customer_name"])
        if customer_id is None:
            results[p.row.number] = RowResult(p.sheet.name, p.row.number, INVALID,
                                              f"找不到客户“{p.data['customer_name']}”（请先导入客户表，或核对名称）")
            continue
        p.data["customer_id"] = customer_id
        p.data["customer_owner_id"] = customer.owner_id if customer else actor.id
        existing = _existing_child(session, kind, p) if customer_id else None
        if existing:
            results[p.row.number] = RowResult(p.sheet.name, p.row.number, DUPLICATE, existing, p.warnings)
        else:
            results[p.row.number] = RowResult(p.sheet.name, p.row.number, NEW, "", p.warnings)
    return results


def _existing_child(session: Session, kind: str, p: Parsed) -> str | None:
    d = p.data
    if kind == "contacts":
        query = select(Contact.name).where(Contact.customer_id == d["customer_id"])
        mobiles = [m for m in (d["mobile"], d["mobile2"]) if m]
        query = query.where(or_(Contact.mobile.in_(mobiles), Contact.mobile2.in_(mobiles))) if mobiles \
            else query.where(Contact.name == d["contact_name"])
        name = session.scalars(query.limit(1)).first()
        return f"该客户已有联系人{name}" if name else None
    if kind == "opportunities":
        names = session.scalars(select(Opportunity.name).where(Opportunity.customer_id == d["customer_id"]))
        wanted = normalize_name(d["opportunity_name"])
        name = next((n for n in names if normalize_name(n) == wanted), None)
        return f"该客户已有商机“{name}”" if name else None
    return None


# ------------------------------------------------------------------ writers (one per sheet kind)


def _insert_returning_ids(session: Session, model, values: list[dict]) -> list[int]:
    """Many rows in few statements (SQLAlchemy Core's "insertmanyvalues": multi-row INSERT … RETURNING),
    ids in the order of `values`. Core rather than the ORM's bulk insert, which costs several times more
    per row and fetches its RETURNING rows quadratically within a batch on SQLite."""
    table = model.__table__
    result = session.connection().execute(
        table.insert().returning(table.c.id, sort_by_parameter_order=True), values)
    return [row[0] for row in result]


def _write_customers(session: Session, actor: User, rows: list[Parsed], options: RunOptions) -> list[tuple[str, int]]:
    now = options.now
    values = []
    for p in rows:
        d = p.data
        created = d["created_at"] or now
        values.append(dict(
            org_id=actor.org_id, kind=d["kind"], name=d["customer_name"],
            normalized_name=normalize_name(d["customer_name"]), name_initials=initials(d["customer_name"]),
            credit_code=d["credit_code"], mobile=d["mobile"], identifier=d["identifier"],
            status="active" if d["identifier"] else "incomplete", owner_id=d["owner_id"],
            source=d["source"], industry=d["industry"], grade=d["grade"], address=d["address"],
            created_at=created, updated_at=now))
    ids = _insert_returning_ids(session, Customer, values)
    contacts = [_contact_values(actor, cid, p.data, p.data["contact_name"] or p.data["customer_name"], now)
                for cid, p in zip(ids, rows)
                if any(p.data[k] for k in ("contact_name", "mobile", "phone", "email", "fax"))]
    if contacts:
        session.execute(insert(Contact), contacts)
    return [("customer", cid) for cid in ids]


def _write_contacts(session: Session, actor: User, rows: list[Parsed], options: RunOptions) -> list[tuple[str, int]]:
    now = options.now
    values = [_contact_values(actor, p.data["customer_id"], p.data, p.data["contact_name"], now) for p in rows]
    return [("contact", cid) for cid in _insert_returning_ids(session, Contact, values)]


def _contact_values(actor: User, customer_id: int, d: dict[str, Any], name: str, now: datetime) -> dict:
    """The contact row of a customer or contact sheet's row (its fields as `_contact_fields` read them)."""
    return dict(org_id=actor.org_id, customer_id=customer_id, name=name[:50],
                title=(d["contact_title"] or "")[:100] or None, mobile=d["mobile"], mobile2=d["mobile2"],
                phone=d["phone"], fax=d["fax"], email=d["email"], english_name=d["english_name"],
                english_title=d["english_title"], created_at=now)


def _write_followups(session: Session, actor: User, rows: list[Parsed], options: RunOptions) -> list[tuple[str, int]]:
    now = options.now
    values = []
    for p in rows:
        d = p.data
        note = d["note"] or ""
        values.append(dict(org_id=actor.org_id, customer_id=d["customer_id"],
                           author_id=d["author_id"] or d["customer_owner_id"], channel="import",
                           tags=d["tags"], note=note[:200] or None, transcript=note if len(note) > 200 else None,
                           occurred_at=d["occurred_at"], next_followup_at=d["next_followup_at"],
                           source_event_id=f"import:{p.key}"))
    ids = _insert_returning_ids(session, FollowUp, values)
    # the customer's scan columns follow its newest contact, as when a rep logs one
    latest: dict[int, Parsed] = {}
    for p in rows:
        current = latest.get(p.data["customer_id"])
        if current is None or p.data["occurred_at"] > current.data["occurred_at"]:
            latest[p.data["customer_id"]] = p
    for customer in session.scalars(select(Customer).where(Customer.id.in_(latest))):
        p = latest[customer.id]
        if customer.last_interaction_at is None or p.data["occurred_at"] > customer.last_interaction_at:
            customer.last_interaction_at = p.data["occurred_at"]
            customer.last_interaction_summary = (p.data["note"] or "")[:200] or None
            if p.data["next_followup_at"]:
                customer.next_followup_at = p.data["next_followup_at"]
            customer.updated_at = now
    return [("follow_up", fid) for fid in ids]


def _write_opportunities(session: Session, actor: User, rows: list[Parsed], options: RunOptions) -> list[tuple[str, int]]:
    first_stage, now = options.first_stage, options.now
    created = []
    for p in rows:
        d = p.data
        stage = d["stage"] or first_stage
        status = "won" if stage == "won" else "lost" if stage == "lost" else "open"
        opened = d["created_at"] or now
        owner_id = d["owner_id"] or d["customer_owner_id"]
        opp = Opportunity(org_id=actor.org_id, customer_id=d["customer_id"], owner_id=owner_id,
                          name=d["opportunity_name"][:200], amount=d["amount"],
                          stage=first_stage if stage == "lost" else stage, stage_entered_at=opened,
                          checklist={}, won_steps=[], status=status,
                          lost_reason="导入时已丢单" if status == "lost" else None, created_at=opened)
        session.add(opp)
        session.flush()
        session.add(StageChange(opportunity_id=opp.id, from_stage=None, to_stage=opp.stage,
                                changed_by_id=owner_id, changed_at=opened, reason="从Excel导入"))
        created.append(("opportunity", opp.id))
    return created


_WRITERS = {"customers": _write_customers, "contacts": _write_contacts,
            "followups": _write_followups, "opportunities": _write_opportunities}


# ------------------------------------------------------------------ jobs (the page's runs)


def create_job(session: Session, actor: User, file_name: str, file_sha256: str, file_path: Path,
               plans: list[SheetPlan], now: datetime) -> ImportJob:
    check_importer(actor)
    job = ImportJob(org_id=actor.org_id, actor_id=actor.id, file_name=file_name[:200], file_sha256=file_sha256,
                    file_path=str(file_path), plan={"sheets": [p.to_json() for p in plans]}, dry_run=True,
                    status="draft", rows_total=sum(p.rows_estimate for p in plans if p.kind),
                    created_at=now, updated_at=now)
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, actor: User, job_id: int) -> ImportJob:
    job = session.get(ImportJob, job_id)
    if job is None or job.org_id != actor.org_id:
        raise NotFound("导入任务不存在")
    if job.actor_id != actor.id and actor.role not in ("director", "admin"):
        raise PermissionDenied("这是别人的导入任务")
    return job


def job_plans(job: ImportJob) -> list[SheetPlan]:
    return [SheetPlan.from_json(s) for s in job.plan.get("sheets", [])]


STALLED_AFTER = timedelta(minutes=5)  # a batch commits far more often: no progress this long = a dead worker


def job_stalled(job: ImportJob, now: datetime) -> bool:
    return job.status in ("queued", "running") and now - job.updated_at > STALLED_AFTER


def job_json(job: ImportJob, now: datetime) -> dict:
    summary = job.summary or {}
    return {"id": job.id, "file_name": job.file_name, "status": job.status, "dry_run": job.dry_run,
            "stalled": job_stalled(job, now),
            "rows_done": job.rows_done, "rows_total": max(job.rows_total, job.rows_done),
            "sheets": job.plan.get("sheets", []), "summary": summary, "error": job.error,
            "has_result": bool(job.result_path)}


# ------------------------------------------------------------------ export


EXPORT_FIELDS = ("customer_name", "kind", "credit_code", "contact_name", "contact_title", "mobile",
                 "phone", "email", "owner", "industry", "grade", "source", "address", "created_at",
                 "mobile2", "fax", "english_name", "english_title")


def export_customers(session: Session, actor: User, path: Path | str, tz) -> int:
    """The customers `actor` may see (rep: own, manager: subtree, director/admin: the org) as an .xlsx
    with the import's columns, so the file can be edited and imported again. Streams in batches."""
    check_importer(actor)
    writer = ResultSheetWriter(path)
    writer.start_sheet("客户", [FIELD_LABELS[f] for f in EXPORT_FIELDS])
    owners = {u.id: u.name for u in session.scalars(select(User).where(User.org_id == actor.org_id))}
    kinds = {"company": "企业", "person": "个人"}
    count, last_id = 0, 0
    while True:
        batch = list(session.scalars(visible_customers(session, actor).where(Customer.id > last_id)
                                     .order_by(Customer.id).limit(1000)))
        if not batch:
            break
        first_contact: dict[int, Contact] = {}
        for contact in session.scalars(select(Contact).where(Contact.customer_id.in_([c.id for c in batch]))
                                       .order_by(Contact.id)):
            first_contact.setdefault(contact.customer_id, contact)
        for c in batch:
            contact = first_contact.get(c.id)
            writer.append([c.name, kinds.get(c.kind, c.kind), c.credit_code, contact.name if contact else None,
                           contact.title if contact else None, c.mobile or (contact.mobile if contact else None),
                           contact.phone if contact else None, contact.email if contact else None,
                           owners.get(c.owner_id), c.industry, c.grade, c.source, c.address,
                           c.created_at.astimezone(tz).replace(tzinfo=None) if c.created_at else None,
                           *((getattr(contact, f) if contact else None)
                             for f in ("mobile2", "fax", "english_name", "english_title"))])
            count += 1
        last_id = batch[-1].id
        session.expunge_all()
    writer.close()
    return count

