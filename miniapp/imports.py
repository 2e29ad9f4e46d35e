"""The 导入 page and its API: a manager or admin uploads a team's sheet, confirms the guessed column
mapping, reads the dry run (table + result sheet), starts the import and watches its progress; and
exports their customers (manager: their subtree; director/admin: the org) with the same columns.

The same storage/imports.py functions as `crmbot import`; the runs are jobs (jobs.imports) the
page polls. Uploaded files are kept under CRMBOT_MEDIA_DIR/imports/ by content hash.
"""
from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, send_file, url_for
from pydantic import BaseModel, Field, ValidationError

from config.playbook import IMPORT_FIELDS
from storage import imports
from storage.errors import DomainError, InvalidInput
from storage.spreadsheets import SUFFIXES, file_sha256

from .auth import CSRF_HEADER, NotLoggedIn, runtime, work

pages = Blueprint("miniapp_imports", __name__, url_prefix="/app/imports")
api = Blueprint("miniapp_imports_api", __name__, url_prefix="/api/imports")

JOB_PATH = "jobs.imports.run_import_job"


# the same answers as the rest of the mini-app (api.py, pages.py) for these two blueprints
@api.before_request
def _require_csrf_header():
    if request.method not in ("GET", "HEAD", "OPTIONS") and not request.headers.get(CSRF_HEADER):
        return jsonify(error="请求缺少安全标记，请刷新页面后重试"), 403


@api.errorhandler(NotLoggedIn)
def _api_not_logged_in(_exc):
    return jsonify(error="登录已失效，请从企业微信或钉钉重新打开"), 401


@api.errorhandler(DomainError)
def _api_refused(exc: DomainError):
    return jsonify(error=exc.message, field=getattr(exc, "field", None)), exc.status


@pages.errorhandler(NotLoggedIn)
def _page_not_logged_in(_exc):
    return redirect(url_for("miniapp_auth.welcome", next=request.full_path.rstrip("?")))


@pages.errorhandler(DomainError)
def _page_refused(exc: DomainError):
    return render_template("miniapp/message.html", title="无法打开", message=exc.message), exc.status


def _now():
    return runtime().clock.now()


class SheetChoice(BaseModel):
    name: str
    kind: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)  # column index → field ("" = ignore)


class PlanBody(BaseModel):
    sheets: list[SheetChoice]


@pages.get("/")
def page():
    with work() as (session, me):
        imports.check_importer(me)
        fields = {kind: [{"key": f, "label": imports.FIELD_LABELS[f]} for f in names]
                  for kind, names in IMPORT_FIELDS.items()}
        return render_template("miniapp/imports.html", me=me, fields=fields, kinds=imports.KIND_LABELS)


@pages.get("/export.xlsx")
def export():
    with work() as (session, me):
        folder = Path(tempfile.mkdtemp(prefix="crmbot-export-"))
        path = folder / "customers.xlsx"
        try:
            imports.export_customers(session, me, path, runtime().playbook.tz)
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    response = send_file(path, as_attachment=True, download_name="客户导出.xlsx",
                         mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
    return response


def _upload_dir() -> Path:
    folder = Path(runtime().settings.crmbot_media_dir) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@api.post("")
def upload():
    """multipart `file`: stored by hash, planned (header, kind and columns guessed), a draft job."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput("file", "请选择要导入的文件")
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInput("file", "只支持 .xlsx、.xls 和 .csv 文件")
    with work() as (session, me):
        imports.check_importer(me)
        folder = _upload_dir()
        with tempfile.NamedTemporaryFile(dir=folder, suffix=suffix, delete=False) as tmp:
            upload.save(tmp)
        digest = file_sha256(Path(tmp.name))
        path = folder / f"{digest}{suffix}"
        Path(tmp.name).replace(path)
        plans = imports.plan_file(path, runtime().playbook.imports, imports.saved_mappings(session, me.org_id))
        name = re.sub(r"[\\/\x00-\x1f]", "_", upload.filename)[:200]
        job = imports.create_job(session, me, name, digest, path, plans, _now())
        return jsonify(imports.job_json(job, _now())), 201


@api.get("/<int:job_id>")
def status(job_id: int):
    with work() as (session, me):
        return jsonify(imports.job_json(imports.get_job(session, me, job_id), _now()))


def _body_plan(job_plans: list[imports.SheetPlan]) -> list[imports.SheetPlan]:
    try:
        body = PlanBody.model_validate(request.get_json(silent=True) or {})
    except ValidationError:
        raise InvalidInput("sheets", "映射格式不正确") from None
    by_name = {p.name: p for p in job_plans}
    for choice in body.sheets:
        plan = by_name.get(choice.name)
        if plan is None:
            raise InvalidInput("sheets", f"没有工作表“{choice.name}”")
        if choice.kind not in (None, "", *IMPORT_FIELDS):
            raise InvalidInput("kind", "表类型不正确")
        plan.kind = choice.kind or None
        try:
            plan.columns = {int(i): f for i, f in choice.columns.items() if f}
        except ValueError:
            raise InvalidInput("columns", "列号不正确") from None
    imports.check_plan(job_plans)
    if not any(p.kind for p in job_plans):
        raise InvalidInput("sheets", "请至少选择一个要导入的工作表")
    return job_plans


def _start(job_id: int, dry_run: bool) -> Any:
    with work() as (session, me):
        job = imports.get_job(session, me, job_id)
        if job.status in ("queued", "running") and not imports.job_stalled(job, _now()):
            raise InvalidInput("status", "导入正在进行中，请稍候")
        # a stalled run (its worker died) is started again: the rows it committed are skipped
        plans = imports.job_plans(job)
        if request.get_json(silent=True):
            plans = _body_plan(plans)
        imports.check_plan(plans)
        job.plan = {"sheets": [p.to_json() for p in plans]}
        job.dry_run, job.status, job.rows_done, job.error = dry_run, "queued", 0, None
        job.rows_total = sum(p.rows_estimate for p in plans if p.kind)
        if not dry_run:
            imports.save_mapping(session, me, plans, _now())
    # after the commit: the job reads the plan written above
    runtime().queue.enqueue(JOB_PATH, job_id, job_id=f"import-{job_id}-{'dry' if dry_run else 'run'}")
    with work() as (session, me):
        return jsonify(imports.job_json(imports.get_job(session, me, job_id), _now()))


@api.post("/<int:job_id>/dry-run")
def dry_run(job_id: int):
    """Body {sheets: [{name, kind, columns}]}: the confirmed mapping; runs the dry run."""
    return _start(job_id, True)


@api.post("/<int:job_id>/run")
def run(job_id: int):
    """The import itself, with the plan of the last dry run (or a body like dry-run's)."""
    return _start(job_id, False)


@api.get("/<int:job_id>/result.xlsx")
def result(job_id: int):
    with work() as (session, me):
        job = imports.get_job(session, me, job_id)
        if not job.result_path or not Path(job.result_path).exists():
            raise InvalidInput("result", "还没有结果表，请先试导入")
        path, label = Path(job.result_path), "试导入结果" if job.dry_run else "导入结果"
    return send_file(path, as_attachment=True, download_name=f"{label}-{job_id}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
