"""The import run in the background: the mini-app page enqueues `run_import_job(job_id)` and polls the
job row; the command line calls `run_job()` in its own process with a progress bar.

A run is resumable by construction (storage/imports.py): each batch commits with its `import_row`
keys and the job's progress, so a worker killed halfway and the job run again (rq's retry, or the
page's 继续导入) skips every row already written and ends with each row once.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import update

from storage import imports
from storage.errors import DomainError
from storage.models import ImportJob

from bot.services import Services

from .runtime import current_runtime

log = logging.getLogger(__name__)


def now_of(runtime: Services):
    """The runtime's clock: business time of imported rows (created_at when the sheet has none) and
    the job's stamps."""
    return runtime.clock.now()


def result_path_for(job: ImportJob) -> Path:
    return Path(job.file_path).with_name(f"import-{job.id}-{'dryrun' if job.dry_run else 'result'}.xlsx")


def run_import_job(job_id: int) -> None:
    """rq entry point."""
    run_job(current_runtime(), job_id)


def run_job(runtime: Services, job_id: int, progress: Callable[[int, int], None] | None = None, *,
            write_result: bool = True) -> imports.Summary | None:
    """Run the job's plan. `write_result=False` skips the result sheet (the command line without
    --result): writing it costs about a quarter of a dry run's time."""
    with runtime.db.transaction() as session:
        job = session.get(ImportJob, job_id)
        if job is None or job.status == "done":
            return None  # a duplicate delivery of a finished job changes nothing
        job.status, job.error, job.rows_done = "running", None, 0
        job.updated_at = now_of(runtime)
        actor_id, path, dry_run = job.actor_id, Path(job.file_path), job.dry_run
        plans, result_path = imports.job_plans(job), result_path_for(job)
    options = imports.RunOptions(dry_run=dry_run, now=now_of(runtime), job_id=job_id,
                                 result_path=result_path if write_result else None, progress=progress,
                                 clock=runtime.clock.now)
    try:
        summary = imports.run_import(runtime.db, actor_id, path, plans, runtime.playbook, options)
    except DomainError as exc:  # the file or the plan is refused: the page shows why
        _finish(runtime, job_id, "failed", error=exc.message)
        return None
    except Exception:
        log.exception("import job %s failed", job_id)
        _finish(runtime, job_id, "failed", error="导入中断，已导入的行不会重复，请点击“继续导入”")
        raise
    _finish(runtime, job_id, "done", summary=summary, result_path=str(result_path) if write_result else None)
    return summary


def _finish(runtime: Services, job_id: int, status: str, *, error: str | None = None,
            summary: imports.Summary | None = None, result_path: str | None = None) -> None:
    now = now_of(runtime)
    values = dict(status=status, error=error, updated_at=now, finished_at=now)
    if summary is not None:
        values.update(summary=summary.to_json(), rows_done=summary.rows_done, rows_total=summary.rows_done,
                      result_path=result_path)
    with runtime.db.transaction() as session:
        session.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))
