"""POST /api/leads: a lead form (website, ad platform) posts a submission; we store it as a lead
once and enqueue its assignment at once.

Sources and their secrets come from CRMBOT_LEAD_SOURCES (JSON, see jobs/README.md):
    {"website": {"secret": "…", "label": "官网表单", "org_id": 1}}
The form sends `X-Crmbot-Source: website` and `X-Crmbot-Signature: sha256=<hex>`, the HMAC-SHA256
of the raw body with that source's secret. The body is JSON: submission_id (required; a re-post of
the same submission changes nothing), name (required), company, mobile, industry, budget (yuan),
note, attribution (object).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging

from flask import Blueprint, Flask, current_app, jsonify, request

from storage import leads
from storage.errors import DomainError

log = logging.getLogger(__name__)
bp = Blueprint("lead_webhook", __name__)
ASSIGN_JOB = "jobs.rules.lead_assignment.assign_lead"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _error(status: int, message: str):
    return jsonify({"error": message}), status


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
        data = json.loads(body)
    except ValueError:
        return _error(400, "请求体不是合法的 JSON")
    if not isinstance(data, dict) or not str(data.get("submission_id") or "").strip():
        return _error(400, "缺少表单提交编号 submission_id")
    try:
        lead_input = _lead_input(source_key, source, data)
        with rt.db.transaction() as session:
            lead, created = leads.create_lead(session, int(source.get("org_id", 1)), lead_input, now=rt.clock.now())
            lead_id = lead.id
    except DomainError as exc:
        return _error(400, exc.message)
    if created:
        rt.queue.enqueue(ASSIGN_JOB, lead_id, job_id=f"assign-lead-{lead_id}", queue="crmbot-high")
    return jsonify({"lead_id": lead_id, "created": created}), 201 if created else 200


def _lead_input(source_key: str, source: dict, data: dict) -> leads.LeadInput:
    budget = data.get("budget")
    if budget not in (None, ""):
        try:
            budget = int(budget)
        except (TypeError, ValueError):
            raise DomainError("预算必须是整数（元）") from None
    else:
        budget = None
    attribution = data.get("attribution") or {}
    if not isinstance(attribution, dict):
        raise DomainError("attribution 必须是对象")
    return leads.LeadInput(
        source=str(source.get("label") or source_key), name=str(data.get("name") or ""),
        company=data.get("company"), mobile=data.get("mobile"), industry=data.get("industry"),
        budget=budget, note=data.get("note"), external_ref=str(data["submission_id"]).strip()[:128],
        attribution=attribution)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
