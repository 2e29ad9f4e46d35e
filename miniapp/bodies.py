"""The mini-app API's JSON bodies as pydantic models, bounded by the columns they end up in.

Each route reads its body with `parse(Model)`: size, UTF-8 and nesting depth are checked first
(`config/inbound.py`), then the model. Anything else is a 400 whose Chinese sentence names the field
("联系人职务（contact_title）最多100个字"), and nothing is written because no service ran.
The storage services keep their own checks (identifiers, permissions, the playbook): these models
only guarantee that what reaches them has the right type and fits the columns.
"""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from flask import request
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt,
                      StrictStr,
                      ValidationError)

from config.inbound import BodyRejected, load_json_object, bounded_str
from storage.errors import DomainError, InvalidInput
from storage.validators import amount_yuan

MAX_BODY_BYTES = 64 * 1024   # the largest real body (a draft edit) is well under 4 KB
ID_MAX = 2 ** 31 - 1         # INTEGER primary keys

LABELS = {
    "kind": "客户类型", "name": "名称", "credit_code": "统一社会信用代码", "mobile": "手机号",
    "source": "来源", "industry": "行业", "grade": "等级", "contact_name": "联系人姓名",
    "contact_mobile": "联系人手机号", "contact_title": "联系人职务", "external_userid": "聊天对象标识",
    "platform": "平台", "tags": "标签", "note": "备注", "channel": "跟进渠道", "next_followup": "下次跟进日期",
    "pause_reason": "暂缓原因", "opportunity_id": "商机", "request_id": "请求编号", "amount": "金额",
    "customer_id": "客户", "fields": "修改内容", "action": "操作", "result": "结果", "stage": "阶段",
    "item": "检查项", "checked": "勾选状态", "code": "登录码", "next": "跳转页面", "body": "请求内容",
    "title": "职务", "phone": "电话", "email": "邮箱", "mobile2": "第二手机号", "fax": "传真",
    "english_name": "英文名", "english_title": "英文职务", "contact_mobile2": "联系人第二手机号",
    "contact_fax": "联系人传真", "contact_english_name": "联系人英文名", "contact_english_title": "联系人英文职务",
    "merged_id": "被合并客户", "choices": "合并选项", "duplicate_reason": "仍然创建的原因", "signed_on": "签约日期",
    "reason": "原因", "competitor": "竞品", "percent": "折扣", "decision": "审批结果", "rep_id": "成员",
    "chat_token": "群链接",
}


_text = bounded_str


def _amount(value: Any) -> Any:
    try:
        return amount_yuan(value)
    except DomainError as exc:
        raise ValueError(exc.message) from None


Id = Annotated[StrictInt, Field(ge=1, le=ID_MAX)]
Amount = Annotated[StrictStr | StrictInt | StrictFloat | None, AfterValidator(_amount)]
Platform = Literal["wecom", "dingtalk", ""]


class Body(BaseModel):
    # unknown keys are ignored (older page scripts may send more); known ones are strictly typed
    model_config = ConfigDict(extra="ignore", frozen=True)


class NewCustomer(Body):
    kind: _text(16) | None = None
    name: _text(200) | None = None
    credit_code: _text(32) | None = None
    mobile: _text(32) | None = None
    source: _text(50) | None = None
    industry: _text(50) | None = None
    grade: _text(4) | None = None
    contact_name: _text(50) | None = None
    contact_mobile: _text(32) | None = None
    contact_title: _text(100) | None = None
    contact_mobile2: _text(32) | None = None
    contact_fax: _text(40) | None = None
    contact_english_name: _text(100) | None = None
    contact_english_title: _text(100) | None = None
    external_userid: _text(128) | None = None
    platform: Platform | None = None
    chat_token: _text(1024) | None = None   # a group chat, signed by the bot (cards/links.py)
    duplicate_reason: _text(100) | None = None   # 仍然创建: one of the playbook's reasons


class ContactFields(Body):
    """A contact to add, or the fields of one to change (only those sent change)."""
    name: _text(50) | None = None
    title: _text(100) | None = None
    mobile: _text(32) | None = None
    mobile2: _text(32) | None = None
    phone: _text(40) | None = None
    fax: _text(40) | None = None
    email: _text(120) | None = None
    english_name: _text(100) | None = None
    english_title: _text(100) | None = None


class Identifier(Body):
    credit_code: _text(32) | None = None
    mobile: _text(32) | None = None


class NewFollowUp(Body):
    tags: Annotated[list[_text(20)], Field(max_length=20)] | None = None
    note: _text(5000) | None = None   # a long note is split: short line + the whole text kept
    channel: Literal["app", "sidebar", ""] | None = None
    next_followup: date | Literal[""] | None = None
    pause_reason: _text(50) | None = None
    opportunity_id: Id | Literal[""] | None = None
    request_id: _text(128) | StrictInt | None = None


class NewOpportunity(Body):
    name: _text(200) | None = None
    amount: Amount = None


class OpportunityChanges(Body):
    name: _text(200) | None = None
    amount: Amount = None


class LinkChat(Body):
    customer_id: Id
    external_userid: _text(128) | None = None
    platform: Platform | None = None
    chat_token: _text(1024) | None = None   # a group chat, signed by the bot (cards/links.py)


class DraftEdit(Body):
    fields: Annotated[dict[_text(32), Any], Field(min_length=1, max_length=20)]


class CloseTask(Body):
    action: Literal["done"]
    result: _text(200) | None = None


class ChecklistTick(Body):
    stage: _text(32)
    item: _text(200)
    checked: StrictBool = False


class StageMove(Body):
    stage: _text(32)


class MergeCustomers(Body):
    merged_id: Id
    choices: Annotated[dict[_text(32), Literal["into", "merged"]], Field(max_length=20)] | None = None


class DraftConfirm(Body):
    duplicate_reason: _text(100) | None = None   # 仍然创建: one of the playbook's reasons


class CloseWon(Body):
    amount: Amount = None
    signed_on: date | Literal[""] | None = None


class CloseLost(Body):
    reason: _text(100) | None = None
    competitor: _text(100) | None = None
    note: _text(200) | None = None


class Reopen(Body):
    note: _text(200) | None = None


class DiscountRequest(Body):
    percent: _text(16) | StrictInt | StrictFloat | None = None   # "8%", 8 or 8.5: the service parses it
    note: _text(200) | None = None


class SkipRequest(Body):
    stage: _text(32)
    note: _text(200) | None = None


class ApprovalDecision(Body):
    decision: Literal["approve", "reject"]
    reason: _text(200) | None = None


class Coaching(Body):
    rep_id: Id


class DingTalkLogin(Body):
    code: _text(512) | None = None
    next: _text(512) | None = None


M = TypeVar("M", bound="Body")


def _json_object() -> dict[str, Any]:
    """The request body as a JSON object, size, UTF-8, depth and constants checked first."""
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidInput("body", "请求内容（body）过大")
    try:
        return load_json_object(raw) if raw.strip() else {}
    except BodyRejected:
        raise InvalidInput("body", "请求内容（body）格式不正确") from None


def parse(model: type[M]) -> M:
    """The request's JSON body as `model`; InvalidInput (400, field named in Chinese) otherwise."""
    data = _json_object()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc) from None



def present(body: Body) -> set[str]:
    """The keys the client actually sent (an update changes only those)."""
    return set(body.model_fields_set)


def invalid(exc: ValidationError) -> InvalidInput:
    err = exc.errors(include_url=False)[0]
    loc = [str(p) for p in err["loc"] if not str(p).startswith(("function-", "constrained-"))]
    field = loc[0] if loc else "body"
    label = LABELS.get(field, field)
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "missing":
        reason = "不能为空"
    elif kind == "string_too_long":
        reason = f"最多{ctx.get('max_length')}个字"
    elif kind in ("too_long",):
        reason = "项目过多"
    elif kind in ("too_short",):
        reason = "不能为空"
    elif kind == "string_pattern_mismatch":
        reason = "包含不可见字符"
    elif kind == "value_error":
        reason = str(ctx.get("error") or "格式不正确")
    elif kind in ("less_than_equal", "greater_than_equal", "greater_than", "less_than"):
        reason = "超出范围"
    elif kind.startswith("date"):
        reason = "日期格式应为 年-月-日"
    elif kind in ("literal_error", "enum"):
        reason = "不是可选的值"
    else:
        reason = "格式不正确"
    return InvalidInput(field, f"{label}（{field}）{reason}")
