"""The `crmbot` command line (click). Every process of the product starts here."""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from config.clock import SystemClock
from config.settings import SettingsError, load_settings

from .security import install_log_redaction, require_secret_key


def _settings(**overrides):
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def main(verbose: bool) -> None:
    """crmbot: the sales assistant inside WeCom and DingTalk."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()  # -v logs URLs (gettoken?corpsecret=…) and tokens: mask them


# ------------------------------------------------------------------ database

@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the migrations to CRMBOT_DATABASE_URL (SQLite or PostgreSQL)."""
    from storage.migrate import upgrade
    settings = _settings()
    upgrade(settings.crmbot_database_url, revision)
    click.echo(f"database at {revision}: {_safe_url(settings.crmbot_database_url)}")


def _iso_time(text: str, option: str):
    """An option's ISO-8601 time; without a UTC offset it is read in the playbook's time zone."""
    from datetime import datetime

    from config.playbook import load_playbook
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"not an ISO-8601 time, e.g. 2026-11-23T10:00:00+08:00: {text!r}",
                                 param_hint=option) from None
    return at if at.tzinfo else at.replace(tzinfo=load_playbook(_settings().crmbot_playbook).tz)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)


@main.command("seed-demo")
def seed_demo_cmd() -> None:
    """Create the demo org, users and data in CRMBOT_DATABASE_URL (idempotent)."""
    from config.playbook import load_playbook
    from storage.db import Database
    from storage.migrate import upgrade

    from .demo_data import seed_demo
    settings = _settings()
    upgrade(settings.crmbot_database_url)
    database = Database(settings.crmbot_database_url)
    with database.transaction() as session:
        org = seed_demo(session, load_playbook(settings.crmbot_playbook), now=SystemClock().now())
        click.echo(f"demo org #{org.id}: {org.name}")


# ------------------------------------------------------------------ processes

@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes")
@click.option("--threads", default=4, show_default=True, type=int)
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the web app with gunicorn (put a reverse proxy with TLS in front)."""
    from gunicorn.app.base import BaseApplication

    settings = _settings()
    try:
        require_secret_key(settings)  # refuse here, before gunicorn forks workers
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None

    class _App(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("accesslog", "-")
            # access lines carry query strings (OAuth codes): the same filter on gunicorn's loggers
            self.cfg.set("logconfig_dict", {"version": 1, "disable_existing_loggers": False,
                                            "filters": {"redact": {"()": "crmbot.security.RedactSecrets"}},
                                            "handlers": {"console": {"class": "logging.StreamHandler",
                                                                     "filters": ["redact"]}},
                                            "loggers": {"gunicorn.error": {"handlers": ["console"], "level": "INFO",
                                                                           "propagate": False},
                                                        "gunicorn.access": {"handlers": ["console"], "level": "INFO",
                                                                            "propagate": False}}})

        def load(self):
            from .app import create_app
            return create_app(settings)

    _App().run()


@main.command()
@click.option("--burst", is_flag=True, help="Stop when the queues are empty (tests, cron).")
@click.option("--queue", "queues", multiple=True,
              help="Queues to listen on, in priority order (default: all, see jobs/queue.py).")
def worker(burst: bool, queues: tuple[str, ...]) -> None:
    """Run a job worker: code loaded once, jobs in-process with timeouts, survives Redis restarts."""
    from crmbot.runtime import Runtime
    from jobs.queue import QUEUE_NAMES
    from jobs.runtime import set_runtime
    from jobs.worker import preload, run_worker
    settings = _settings()
    if not settings.crmbot_redis_url:
        raise click.ClickException("CRMBOT_REDIS_URL is not set: a worker needs Redis "
                                   "(crmbot demo runs jobs in-process instead)")
    unknown = sorted(set(queues) - set(QUEUE_NAMES))
    if unknown:
        raise click.BadParameter(f"unknown queue(s) {', '.join(unknown)}; known: {', '.join(QUEUE_NAMES)}",
                                 param_hint="--queue")
    preload()
    runtime = Runtime.build(settings, queue="rq")
    set_runtime(runtime)
    run_worker(runtime.redis, queues or QUEUE_NAMES, burst=burst)


@main.command("dingtalk-stream")
def dingtalk_stream() -> None:
    """Receive DingTalk robot messages and card clicks over Stream mode (no public URL needed).

    Each frame is written to the inbox before it is acked (DingTalk never redelivers robot
    messages); the queue and the handlers are the same as for the HTTP callbacks."""
    from bot.dingtalk.stream import run_stream
    from crmbot.runtime import Runtime
    from jobs.runtime import set_runtime
    settings = _settings()
    if not settings.dingtalk_configured:
        raise click.ClickException("DINGTALK_APP_KEY and DINGTALK_APP_SECRET must be set for stream mode")
    runtime = Runtime.build(settings)
    set_runtime(runtime)
    click.echo(f"DingTalk stream mode for app {settings.dingtalk_app_key}; queue: {type(runtime.queue).__name__}")
    run_stream(settings, stream_to_inbox(runtime))


def stream_to_inbox(runtime):
    """The Stream `on_event`: store the event in the inbox (and enqueue it), like the HTTP callbacks.
    A frame that parses to no event (a group message not for the robot) is dropped, as over HTTP.
    Card clicks get an empty answer: the click's job updates the card through the outbox."""
    from bot import inbox

    def on_event(event, raw: dict) -> dict | None:
        if event is not None:
            inbox.accept(runtime, event, raw)
        return None
    return on_event


class _LeaveToSweep:
    """Without Redis there is no worker to hand deliveries to: the outbox rows stay pending and
    the sweep of the next running process (worker or demo) delivers them."""

    def enqueue(self, path, *args, **kwargs) -> None:
        pass


@main.command()
def scheduler() -> None:
    """The one active process that enqueues the periodic rule scans (a Redis lease; start two)."""
    from crmbot.runtime import Runtime
    from jobs.runtime import set_runtime
    from jobs.scheduler import run_scheduler
    settings = _settings()
    if not settings.crmbot_redis_url:
        raise click.ClickException("CRMBOT_REDIS_URL is not set: the scheduler needs Redis and rq workers "
                                   "(crmbot rules run runs the scans once without them)")
    runtime = Runtime.build(settings, queue="rq")
    set_runtime(runtime)
    click.echo("scheduler started; the leader enqueues the periodic jobs every minute")
    run_scheduler(runtime.redis, runtime.queue)


@main.group()
def rules() -> None:
    """The reminder and escalation rules."""


@rules.command("run")
@click.option("--now", "now_text", default=None, help="Run as of this ISO-8601 time (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print {rule_name: tasks_created} as JSON.")
@click.option("--first-run-horizon-hours", "horizon_hours", type=float, default=None,
              help="For rules that never ran: look back only this far past their threshold "
                   "(a first deployment on a large store). Default: the whole history.")
def rules_run(now_text: str | None, as_json: bool, horizon_hours: float | None) -> None:
    """Run every rule scan once and print the tasks each created."""
    from datetime import timedelta

    from crmbot.runtime import Runtime
    from jobs.rules import run_all
    from jobs.runtime import set_runtime
    now = _iso_time(now_text, "--now") if now_text else None
    settings = _settings()
    runtime = Runtime.build(settings, queue="rq" if settings.crmbot_redis_url else "inline")
    if not settings.crmbot_redis_url:
        runtime.queue = _LeaveToSweep()
    set_runtime(runtime)
    timings: dict[str, float] = {}
    horizon = timedelta(hours=horizon_hours) if horizon_hours is not None else None
    results = run_all(runtime, now, timings, horizon=horizon)
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False))
        return
    width = max(len(name) for name in results)
    for name, created in results.items():
        click.echo(f"{name:<{width}}  {created:>6}  {timings[name] * 1000:8.1f} ms")
    click.echo(f"{'total':<{width}}  {sum(results.values()):>6}  {sum(timings.values()) * 1000:8.1f} ms")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--db", "db_path", default=None, help="SQLite file (default instance/demo.db)")
@click.option("--start", "start", default=None, metavar="ISO-8601",
              help="模拟时间 starts here (e.g. 2026-12-01T09:30+08:00); default: now, or the next working morning")
@click.option("--platform", "platform", type=click.Choice(["wecom", "dingtalk"]), default="wecom",
              show_default=True, help="where the demo users get their reminders until they write on the other one")
def demo(host: str, port: int, db_path: str | None, start: str | None, platform: str) -> None:
    """Run the whole product locally: SQLite, in-process queue, fake WeCom and DingTalk."""
    from .demo import run_demo
    start_at = _iso_time(start, "--start") if start else None
    run_demo(host, port, Path(db_path) if db_path else None, start=start_at, platform=platform)


@main.command("dingtalk-register-card-callback")
def dingtalk_register_card_callback() -> None:
    """Point DingTalk interactive-card clicks at CRMBOT_PUBLIC_URL/dingtalk/card-callback (once)."""
    from crmbot.runtime import Runtime
    settings = _settings()
    route = settings.crmbot_dingtalk_card_route_key
    if not (settings.dingtalk_configured and route):
        raise click.ClickException("set DINGTALK_APP_KEY, DINGTALK_APP_SECRET and "
                                   "CRMBOT_DINGTALK_CARD_ROUTE_KEY first")
    url = f"{settings.crmbot_public_url}/dingtalk/card-callback"
    Runtime.build(settings).client("dingtalk").register_card_callback(route, url)
    click.echo(f"card clicks for route {route!r} now go to {url}")


# ------------------------------------------------------------------ migration from Excel

def _importer(session, as_user: str | None, corp: str | None):
    """The user an import runs as: a platform user id (WeCom or DingTalk) or a mobile, in the org
    named by --org (a corp id) when the id is ambiguous; default the only org's first director/admin."""
    from sqlalchemy import or_, select

    from storage.imports import IMPORT_ROLES
    from storage.models import Org, User
    query = select(User).where(User.active.is_(True))
    if corp:
        org = session.scalars(select(Org).where(or_(Org.wecom_corp_id == corp,
                                                    Org.dingtalk_corp_id == corp))).first()
        if org is None:
            raise click.ClickException(f"找不到企业 {corp}")
        query = query.where(User.org_id == org.id)
    if as_user:
        query = query.where(or_(User.wecom_userid == as_user, User.dingtalk_userid == as_user,
                                User.mobile == as_user))
    else:
        query = query.where(User.role.in_(("director", "admin")))
    users = session.scalars(query.order_by(User.id)).all()
    if not users:
        raise click.ClickException(f"找不到导入人 {as_user}" if as_user else "请用 --as 指定导入人")
    if len({u.org_id for u in users}) > 1:
        raise click.ClickException("该用户在多个企业中，请加 --org <企业ID>")
    user = users[0]
    if user.role not in IMPORT_ROLES:
        raise click.ClickException("只有经理、总监或管理员可以导入数据")
    return user


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sheet", "sheets", multiple=True, help="Only this sheet (repeatable; default: every sheet).")
@click.option("--mapping", "mapping_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TOML: [客户] (or [customers]) with 表头 = \"field\" lines overriding the guess.")
@click.option("--as", "as_user", default=None, help="Import as this platform user id or mobile.")
@click.option("--org", "corp", default=None, help="WeCom / DingTalk corp id, when --as is ambiguous.")
@click.option("--dry-run", is_flag=True, help="Report what would happen; write nothing.")
@click.option("--result", "result_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the result sheet (.xlsx with a result column) here.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def import_cmd(file: Path, sheets: tuple[str, ...], mapping_path: Path | None, as_user: str | None,
               corp: str | None, dry_run: bool, result_path: Path | None, as_json: bool) -> None:
    """Import customers, contacts, follow-ups and opportunities from .xlsx / .xls / .csv."""
    import tomllib

    from jobs.imports import now_of, result_path_for, run_job
    from jobs.runtime import set_runtime

    from .runtime import Runtime
    from storage import imports
    from storage.errors import DomainError
    from storage.models import ImportJob
    from storage.spreadsheets import file_sha256
    settings = _settings()
    runtime = Runtime.build(settings, queue="inline")
    set_runtime(runtime)
    rules = runtime.playbook.imports
    try:
        with runtime.db.transaction() as session:
            actor = _importer(session, as_user, corp)
            saved = imports.saved_mappings(session, actor.org_id)
            plans = imports.plan_file(file, rules, saved, list(sheets) or None)
            if mapping_path:
                try:
                    mapping = tomllib.loads(mapping_path.read_text(encoding="utf-8"))
                except tomllib.TOMLDecodeError as exc:
                    raise click.ClickException(f"映射文件不是有效的TOML：{exc}") from None
                plans = imports.apply_mapping_file(plans, mapping)
            imports.check_plan(plans)
            job = imports.create_job(session, actor, file.name, file_sha256(file), file.resolve(), plans,
                                     now_of(runtime))
            job.dry_run, job.status = dry_run, "queued"
            if not dry_run:
                imports.save_mapping(session, actor, plans, job.created_at)
            job_id, total = job.id, job.rows_total
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    if not as_json:
        for plan in plans:
            if plan.kind:
                cols = "，".join(f"{plan.headers[i]}→{imports.FIELD_LABELS[f]}" for i, f in sorted(plan.columns.items()))
                click.echo(f"工作表“{plan.name}”（{imports.KIND_LABELS[plan.kind]}，表头在第{plan.header_row}行）：{cols}")
            else:
                click.echo(f"工作表“{plan.name}”：未识别，跳过")
    # the bar goes to stderr (click draws it only on a terminal); stdout keeps the summary / JSON
    with click.progressbar(length=max(total, 1), label="试导入" if dry_run else "导入", file=sys.stderr) as bar:
        state = {"done": 0}

        def progress(done: int, estimate: int) -> None:
            if estimate and estimate != bar.length:
                bar.length = max(estimate, done)
            bar.update(done - state["done"])
            state["done"] = done
        summary = run_job(runtime, job_id, progress, write_result=result_path is not None)
    with runtime.db.transaction() as session:
        job = session.get(ImportJob, job_id)
        error, source = job.error, result_path_for(job)
    if summary is None:
        raise click.ClickException(error or "导入失败")
    if result_path:
        result_path.write_bytes(source.read_bytes())
    _print_import_summary(summary, as_json)


def _print_import_summary(summary, as_json: bool) -> None:
    from storage.imports import STATUS_LABELS, TERM_LABELS
    data = summary.to_json()
    if as_json:
        data.pop("labels", None)
        click.echo(json.dumps(data, ensure_ascii=False, default=str))
        return
    click.echo("，".join(f"{STATUS_LABELS[k]} {v}" for k, v in data["counts"].items() if v) or "没有数据行")
    for row in data["preview"]:
        if row["status"] not in ("new", "imported", "imported_before"):
            click.echo(f"  {row['sheet']} 第{row['row']}行：{row['result']}")
    for category, values in data["unmapped"].items():
        listed = "，".join(f"{v}×{n}" for v, n in sorted(values.items(), key=lambda kv: -kv[1]))
        click.echo(f"术语表中没有的{TERM_LABELS.get(category, category)}：{listed}")
    if data["unknown_owners"]:
        click.echo("系统中没有的负责人：" + "，".join(f"{k}×{v}" for k, v in data["unknown_owners"].items()))


# ------------------------------------------------------------------ capture tools

def _print_json_lines(rows) -> None:
    for row in rows:
        click.echo(json.dumps(row, ensure_ascii=False))


@main.command("scan-card")
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image, one per line.")
def scan_card(images: tuple[str, ...], as_json: bool) -> None:
    """Read business cards: name, company, title, mobile, phone, email, address, website."""
    from ocr_asr.card_scan import scan_card_files
    rows = scan_card_files(list(images))
    if as_json:
        _print_json_lines(rows)
        return
    for row in rows:
        click.echo(f"== {row['file']} ({row.get('elapsed_ms')} ms)")
        if "error" in row:
            click.echo(f"  错误：{row['error']}")
            continue
        for key in ("name", "company", "title", "mobile", "phone", "email", "address", "website"):
            click.echo(f"  {key:8} {row.get(key) or '-'}")


@main.command()
@click.argument("audio", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file, one per line.")
def transcribe(audio: tuple[str, ...], as_json: bool) -> None:
    """Transcribe voice notes (AMR, ogg, mp3, m4a, wav...) to Simplified Chinese text."""
    from ocr_asr.transcribe import transcribe_files
    rows = transcribe_files(list(audio))
    if as_json:
        _print_json_lines(rows)
        return
    for row in rows:
        text = row.get("text") if "error" not in row else f"错误：{row['error']}"
        click.echo(f"{row['file']}: {text}")


@main.command("parse-note")
@click.argument("text")
@click.option("--now", "now_text", default=None, help="ISO-8601 'now' (default: the current time).")
@click.option("--json", "as_json", is_flag=True)
def parse_note_cmd(text: str, now_text: str | None, as_json: bool) -> None:
    """Parse a follow-up note: playbook tags, next follow-up date, amount, customer."""
    from config.playbook import load_playbook
    from ocr_asr.note_parser import parse_note
    settings = _settings()
    playbook = load_playbook(settings.crmbot_playbook)
    now = _iso_time(now_text, "--now") if now_text else SystemClock().now()
    result = parse_note(text, now.astimezone(playbook.tz), playbook).to_json()
    click.echo(json.dumps(result, ensure_ascii=False) if as_json
               else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
