"""POST /api/leads: a lead form (website, ad platform) posts a submission; we store it as a lead
once and enqueue its assignment at once.

Sources and their secrets come from CRMBOT_LEAD_SOURCES (JSON, see jobs/README.md):
    {"website": {"secret": "…", "label": "官网表单", "org_id": 1}}
The form sends `X-Crmbot-Source: website` and `X-Crmbot-Signature: sha256=<hex>`, the HMAC-SHA256
of the raw body with that source's secret. The body is JSON: submission_id (required; a re-post of
the same submission changes nothing), name (required), company, mobile, industry, budget (yuan),
note, attribution (object). The body is parsed into `LeadSubmission`, bounded by the lead table's
columns: anything else is a 400 naming the field in Chinese, and nothing is written.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Annotated, Any

from flask import Blueprint, Flask, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from storage import leads
from storage.errors import DomainError

from config.inbound import BodyRejected, field_errors, load_json_object, bounded_str

log = logging.getLogger(__name__)
bp = Blueprint("lead_webhook", __name__)
ASSIGN_JOB = "jobs.rules.lead_assignment.assign_lead"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _error(status: int, message: str, field: str | None = None):
    body = {"error": message}
    if field:
        body["field"] = field
    return jsonify(body), status


BUDGET_MAX = 10 ** 12  # yuan; lead.budget is a BIGINT, no real budget comes near
FIELD_NAMES = {"submission_id": "表单提交编号", "name": "联系人姓名", "company": "公司名称",
               "mobile": "手机号", "industry": "行业", "budget": "预算", "note": "备注",
               "attribution": "来源归因"}


_text = bounded_str


class LeadSubmission(BaseModel):
    """A form submission, bounded by the lead table's columns (storage/models.py `Lead`)."""
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    submission_id: _text(128, min_length=1) | Annotated[
        int, Field(ge=0, le=2 ** 63 - 1, strict=True)]
    name: _text(100, min_length=1)
    company: _text(200) | None = None
    mobile: _text(32) | None = None
    industry: _text(50) | None = None
    budget: Annotated[int, Field(ge=0, le=BUDGET_MAX)] | None = None
    note: _text(500) | None = None
    attribution: Annotated[dict[str, Any], Field(max_length=50)] = {}

    @field_validator("budget", mode="before")
    @classmethod
    def _budget(cls, value: Any) -> Any:
        # forms send numbers or digit strings; "" means not given; floats, bools and NaN are refused
        if value == "" or value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError("must be a whole number of yuan")
        return value


def _chinese(exc: ValidationError) -> tuple[str, str]:
    rejected = field_errors(exc)
    field = (rejected.field or "body").split(".")[0]
    label = FIELD_NAMES.get(field, field)
    return field, f"字段 {field}（{label}）不正确：{_reason(exc)}"


def _reason(exc: ValidationError) -> str:
    kind = exc.errors(include_url=False)[0]["type"]
    return {"missing": "缺少该字段", "string_too_long": "内容过长", "string_too_short": "不能为空",
            "string_type": "应为文字", "less_than_equal": "数值过大", "greater_than_equal": "不能为负数",
            "int_parsing": "应为整数", "int_type": "应为整数", "dict_type": "应为对象",
            "too_long": "项目过多", "string_pattern_mismatch": "包含不可见字符"}.get(kind, "格式不正确")


@bp.post("/api/leads")
def receive_lead():
    rt = current_app.extensions["crmbot"]
    body = request.get_data(cache=False)
    source_key = request.headers.get("X-Crmbot-Source", "")
    source = rt.settings.crmbot_lead_sources.get(source_key)
    if not source or not source.get("secret"):
        return _error(401, "未知的线索来源")
    given = request.headers.get("X-Crmbot-Signature", "")
    if not hmac.compare_digest(sign(str(source["secret"]), body), given):
        log.warning("lead webhook: bad signature from source %s", source_key)
        return _error(401, "签名校验失败")
    try:
        submission = LeadSubmission.model_validate(load_json_object(body))
    except BodyRejected as exc:
        return _error(400, f"请求体不是合法的 JSON 对象（{exc.reason}）")
    except ValidationError as exc:
        field, message = _chinese(exc)
        return _error(400, message, field)
    try:
        lead_input = _lead_input(source_key, source, submission)
        with rt.db.transaction() as session:
            lead, created = leads.create_lead(session, int(source.get("org_id", 1)), lead_input, now=rt.clock.now())
            lead_id = lead.id
    except DomainError as exc:
        return _error(400, exc.message, getattr(exc, "field", None))
    if created:
        rt.queue.enqueue(ASSIGN_JOB, lead_id, job_id=f"assign-lead-{lead_id}", queue="crmbot-high")
    return jsonify({"lead_id": lead_id, "created": created}), 201 if created else 200


def _lead_input(source_key: str, source: dict, data: LeadSubmission) -> leads.LeadInput:
    return leads.LeadInput(
        source=str(source.get("label") or source_key), name=data.name, company=data.company,
        mobile=data.mobile, industry=data.industry, budget=data.budget, note=data.note,
        external_ref=str(data.submission_id), attribution=dict(data.attribution))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
