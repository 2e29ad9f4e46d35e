"""The integration API for other systems (ERP, finance): /api/integration/…, one bearer token per
org from CRMBOT_INTEGRATION_TOKENS ({"<org id>": "<token>"}). No session, no cookies: a token
names its org and sees that org's master records only (another org's customer is 404).

- GET  /api/integration/customers/<id>           the master record (a merged id answers with the
                                                 customer it was merged into)
- GET  /api/integration/customers?credit_code=…  look up by credit code
- POST /api/integration/customers/<id>/report    {"system": "ERP", "name": …, "credit_code": …}:
  their view; a different name or credit code is never written over ours but becomes a data task
  for the owner (storage/integration.py), answered {"status": "mismatch", "mismatches": […]}.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from storage import integration
from storage.errors import DomainError, InvalidInput, NotFound
from storage.models import Customer
from storage.validators import normalize_credit_code

from .auth import clock_now, runtime

bp = Blueprint("integration_api", __name__, url_prefix="/api/integration")
NOTIFY_JOB = "jobs.data_tasks.notify_task"


class BadToken(Exception):
    pass


def _org_id() -> int:
    """The org whose token was presented (compared in constant time with every configured one)."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    found = None
    for org_id, expected in runtime().settings.crmbot_integration_tokens.items():
        if token and expected and hmac.compare_digest(token.encode(), str(expected).encode()):
            found = int(org_id)
    if found is None:
        raise BadToken()
    return found


@bp.errorhandler(BadToken)
def _bad_token(_exc):
    return jsonify(error="集成令牌无效或缺失（Authorization: Bearer <token>）"), 401


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    return jsonify(error=exc.message, field=getattr(exc, "field", None)), exc.status


@bp.get("/customers/<int:customer_id>")
def get_customer(customer_id: int):
    org_id = _org_id()
    with runtime().db.transaction() as session:
        return jsonify(integration.master_record(integration.master_customer(session, org_id, customer_id)))


@bp.get("/customers")
def find_customer():
    org_id = _org_id()
    code = request.args.get("credit_code") or ""
    if not code.strip():
        raise InvalidInput("credit_code", "请提供 credit_code")
    code = normalize_credit_code(code)
    with runtime().db.transaction() as session:
        customer = session.scalars(select(Customer).where(
            Customer.org_id == org_id, Customer.identifier == f"uscc:{code}")).first()
        if customer is None:
            raise NotFound("没有该信用代码的客户")
        return jsonify(integration.master_record(customer))


@bp.post("/customers/<int:customer_id>/report")
def report(customer_id: int):
    org_id = _org_id()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("body", "请求体应为 JSON 对象")
    rt = runtime()
    with rt.db.transaction() as session:
        result = integration.report_view(
            session, org_id, customer_id, system=str(data.get("system") or ""),
            name=data.get("name"), credit_code=data.get("credit_code"), playbook=rt.playbook, now=clock_now())
        task_id = result.task.id if result.task is not None else None
        body = {"customer_id": result.customer_id, "status": result.status,
                "mismatches": [m.__dict__ for m in result.mismatches], "task_id": task_id}
    if result.task_created:  # the owner hears of it through the job that owns task cards
        rt.queue.enqueue(NOTIFY_JOB, task_id, job_id=f"data-task-{task_id}")
    return jsonify(body)
