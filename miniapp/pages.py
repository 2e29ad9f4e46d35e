"""The H5 pages under /app/: server-rendered Jinja, a small CSS and one small script, so a page
is one round trip on weak 4G. Reads come from miniapp.reads / miniapp.metrics; every button
posts to the JSON API in miniapp.api."""
from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, current_app, redirect, render_template, request, send_from_directory, url_for

from bot.errors import PlatformError
from cards import formats
from storage import customers, data_health, drafts, followups, leads, links, merge, tasks
from storage.errors import DomainError, InvalidInput
from storage.models import User

from . import metrics, reads
from .auth import NotLoggedIn, chat_from_token, clock_now, runtime, work

bp = Blueprint("miniapp_pages", __name__, url_prefix="/app", template_folder="templates",
               static_folder="static", static_url_path="/static")

STATIC_DIR = Path(__file__).parent / "static"
YEAR_S = 365 * 24 * 3600


@lru_cache(maxsize=32)
def _static_version(filename: str) -> str:
    return hashlib.sha256((STATIC_DIR / filename).read_bytes()).hexdigest()[:10]


@bp.app_template_global("static_url")
def static_url(filename: str) -> str:
    """The file's URL with its content hash: cached for a year on the phone, and a new release
    changes the URL. Weak 4G pays for the CSS and script once."""
    return url_for("miniapp_pages.static", filename=filename, v=_static_version(filename))


def _static_max_age(filename: str | None) -> int | None:
    return YEAR_S if request.args.get("v") else None


bp.get_send_file_max_age = _static_max_age


@bp.errorhandler(NotLoggedIn)
def _not_logged_in(_exc):
    return redirect(url_for("miniapp_auth.welcome", next=request.full_path.rstrip("?")))


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    return render_template("miniapp/message.html", title="无法打开", message=exc.message,
                           status=exc.status), exc.status


def favicon():
    """Browsers ask for /favicon.ico on any page (the simulator's too): the mini-app's icon."""
    return send_from_directory(STATIC_DIR, "favicon.svg", mimetype="image/svg+xml", max_age=YEAR_S)


@bp.app_template_filter("hm")
def _format_time(value: datetime | None) -> str:
    """Local time for lists, the cards' format (cards.formats.when): 今天 14:30 / 11-23 14:30 / 2027-01-05 09:00."""
    return formats.when(value, runtime().playbook.tz, clock_now(), empty="—", today_word=True)


@bp.app_template_filter("day")
def _format_day(value: date | str | None) -> str:
    """A date the cards' way (cards.formats.when): 11-28 this year, 2027-01-05 otherwise."""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return formats.when(value, runtime().playbook.tz, clock_now(), empty="—")


@bp.app_template_filter("money")
def _format_money(value) -> str:
    return formats.money(value, empty="—")


def _followup_form(playbook, now: datetime, channel: str) -> dict:
    """What the one-tap follow-up form needs; request_id makes a double tap land once."""
    return {"tags": playbook.tags, "note_max": playbook.followup.note_max_chars,
            "note_rule": followups.note_rule(playbook),
            "next_default": reads.default_next_followup(playbook, now).isoformat(),
            "today": now.astimezone(playbook.tz).date().isoformat(), "channel": channel,
            "request_id": secrets.token_hex(8)}


@bp.get("/")
def home():
    rt = runtime()
    now = clock_now()
    status = request.args.get("status") or ""
    if status and status not in reads.STATUS_LABELS:
        raise InvalidInput("status", "未知的客户状态")
    q = (request.args.get("q") or "").strip()
    with work() as (session, me):
        mine = reads.my_work(session, me, now, rt.playbook, q=q, status=status)
        # a voice note the capture could not pin to a customer: the rep picks one of theirs
        choices = (customers.search_customers(session, me, owner_id=me.id, limit=100)[0]
                   if any(d.kind == "followup" for d in mine.drafts) else [])
        is_manager = me.role in metrics.MANAGER_ROLES
        return render_template("miniapp/home.html", me=me, work=mine, q=q, status=status,
                               customer_choices=choices,
                               escalations=reads.escalations(session, me, now) if is_manager else [],
                               to_decide=reads.approvals_to_decide(session, me, rt.playbook) if is_manager else [],
                               statuses=reads.STATUS_LABELS, now=now,
                               draft_views=[reads.draft_dict(d) for d in mine.drafts],
                               is_manager=is_manager)


@bp.get("/sidebar")
def sidebar():
    external_id = (request.args.get("external_userid") or "").strip()
    platform = request.args.get("platform") or "wecom"
    if platform not in ("wecom", "dingtalk"):
        raise InvalidInput("platform", "平台只能是企业微信或钉钉")
    with work() as (session, me):
        prefill = {"name": request.args.get("name") or "", "company": "", "mobile": "", "mobile2": ""}
        state = reads.link_state(session, me, platform, external_id) if external_id else None
        if state is not None and not state.linked and platform == "wecom":
            prefill.update(_wecom_contact(external_id, me.wecom_userid))
        return _link_page(session, me, platform, external_id, state, prefill)


@bp.get("/group")
def group():
    """A group chat's page (关联客户 from a DingTalk 客户群), opened from the robot's card: the same
    page as the sidebar, for the group the card's signed token names (`t`)."""
    token = request.args.get("t") or ""
    with work() as (session, me):
        chat = chat_from_token(token, me)
        state = reads.link_state(session, me, chat.platform, chat.chat_id, links.GROUP)
        company = next(iter(links.title_terms(chat.title)), "")
        return _link_page(session, me, chat.platform, chat.chat_id, state,
                          {"name": "", "company": company, "mobile": "", "mobile2": ""}, chat_token=token,
                          chat_title=chat.title)


def _link_page(session, me: User, platform: str, external_id: str, state: reads.LinkState | None,
               prefill: dict[str, str], *, chat_token: str = "", chat_title: str = ""):
    """The linked customer with the one-tap follow-up; or search → 关联, 新建客户并关联; or, for a
    chat a colleague linked, who linked it and whose customer it is."""
    rt = runtime()
    page = (reads.customer_page(session, me, state.customer.id, rt.playbook)
            if state and state.customer else None)
    return render_template("miniapp/sidebar.html", me=me, external_id=external_id, platform=platform,
                           state=state, page=page, c=page.customer if page else None,
                           form=_followup_form(rt.playbook, clock_now(), "sidebar"), prefill=prefill,
                           chat_token=chat_token, chat_title=chat_title,
                           wecom_corp_id=rt.settings.wecom_corp_id or "",
                           wecom_agent_id=rt.settings.wecom_agent_id or "")


def _wecom_contact(external_id: str, my_userid: str | None) -> dict[str, str]:
    """The chat's WeCom contact (name, company, the mobile this rep noted) to prefill 新建客户.
    Best effort: without WeCom, or when WeCom refuses, the rep types them in."""
    rt = runtime()
    if not rt.settings.wecom_corp_id:
        return {}
    try:
        data = rt.client("wecom").get_external_contact(external_id)
    except PlatformError as exc:
        # An expected answer (84061: not this rep's external contact): one warning line, no traceback.
        current_app.logger.warning("external contact %s not readable: errcode %s %s", external_id, exc.code, exc)
        return {}
    contact = data.get("external_contact") or {}
    mine = next((f for f in data.get("follow_user") or [] if f.get("userid") == my_userid), {})
    found = {"name": contact.get("name") or "",
             "company": contact.get("corp_full_name") or contact.get("corp_name")
             or mine.get("remark_corp_name") or "",
             # a rep may note two numbers for the contact: the second is the second mobile
             "mobile": next(iter(mine.get("remark_mobiles") or []), ""),
             "mobile2": next(iter((mine.get("remark_mobiles") or [])[1:]), "")}
    return {k: v for k, v in found.items() if v}


@bp.get("/customers/<int:customer_id>")
def customer(customer_id: int):
    rt = runtime()
    now = clock_now()
    with work() as (session, me):
        page = reads.customer_page(session, me, customer_id, rt.playbook)
        if page.customer.id != customer_id:  # merged: the old link opens the surviving customer
            return redirect(url_for("miniapp_pages.customer", customer_id=page.customer.id))
        return render_template("miniapp/customer.html", me=me, page=page, c=page.customer,
                               form=_followup_form(rt.playbook, now, "app"), now=now,
                               lost_reasons=rt.playbook.lost_reasons,
                               playbook_reopen_roles=rt.playbook.approvals.reopen_roles)


@bp.get("/customers/<int:customer_id>/merge")
def merge_page(customer_id: int):
    """合并客户: B (?with=) into this customer, choosing field by field where they differ."""
    merged_id = request.args.get("with", type=int)
    if merged_id is None:
        raise InvalidInput("with", "请选择要合并进来的客户")
    with work() as (session, me):
        into, merged = merge.check_merge(session, me, customer_id, merged_id)
        return render_template("miniapp/merge.html", me=me, into=into, merged=merged,
                               conflicts=merge.conflicts(into, merged), labels=MERGE_LABELS,
                               counts=merge.related_counts(session, merged.id))


MERGE_LABELS = {"name": "名称", "credit_code": "信用代码", "mobile": "手机号", "industry": "行业",
                "grade": "等级", "address": "地址", "source": "来源", "owner_id": "负责人"}


@bp.get("/leads/<int:lead_id>")
def lead(lead_id: int):
    """A lead without a customer yet (a drill-down row): who, from where, whose, how far."""
    rt = runtime()
    with work() as (session, me):
        item = leads.get_lead(session, me, lead_id)
        if item.customer_id:
            return redirect(url_for("miniapp_pages.customer", customer_id=item.customer_id))
        assignee = session.get(User, item.assignee_id) if item.assignee_id else None
        rows = [("公司", item.company), ("手机", item.mobile), ("来源", item.source),
                ("状态", reads.LEAD_STATUS_LABELS.get(item.status, item.status)),
                ("负责人", assignee.name if assignee else "未分配"),
                ("分配于", formats.when(item.assigned_at, rt.playbook.tz, clock_now(), empty="—")),
                ("留言", item.note)]
        return render_template("miniapp/record.html", me=me, title=f"线索：{item.name}",
                               rows=[(k, v) for k, v in rows if v], mobile=item.mobile)


@bp.get("/tasks/<int:task_id>")
def task(task_id: int):
    """A task without a customer (a drill-down or escalation row), with its one action."""
    rt = runtime()
    with work() as (session, me):
        item = tasks.get_task(session, me, task_id)
        if item.customer_id:
            return redirect(url_for("miniapp_pages.customer", customer_id=item.customer_id))
        assignee = session.get(User, item.assignee_id)
        rows = [("负责人", assignee.name if assignee else "—"),
                ("截止", formats.when(item.due_at, rt.playbook.tz, clock_now(), empty="—")),
                ("状态", reads.ESCALATION_LEVELS.get(item.escalation_level, "")
                 if item.status == "open" else (item.result or "已处理")),
                ("说明", item.detail)]
        return render_template("miniapp/record.html", me=me, title=item.title,
                               rows=[(k, v) for k, v in rows if v],
                               close_task=item.id if item.status == "open" else None)


@bp.get("/drafts/<int:draft_id>")
def draft(draft_id: int):
    """编辑 / 改客户 on a capture card: the draft itself while it waits; once confirmed, the
    customer it became; once discarded, a page that says so."""
    with work() as (session, me):
        found = drafts.get_draft(session, me, draft_id)
        became = found.result_customer_id or found.fields.get("customer_id")
        if found.status == "confirmed" and became:
            return redirect(url_for("miniapp_pages.customer", customer_id=int(became)))
        if found.status != "pending":
            return render_template("miniapp/message.html", title="这条录入已处理",
                                   message="这条录入已放弃或已处理，不需要再确认。")
        choices = (customers.search_customers(session, me, owner_id=me.id, limit=100)[0]
                   if found.kind == "followup" else [])
        return render_template("miniapp/draft.html", me=me, d=reads.draft_dict(found), customer_choices=choices)


def _days() -> int:
    try:
        days = int(request.args.get("days") or 7)
    except ValueError:
        days = 7
    return days if days in metrics.PERIODS else 7


@bp.get("/dashboard")
def dashboard():
    rt = runtime()
    days = _days()
    with work() as (session, me):
        if me.role not in metrics.MANAGER_ROLES:
            return render_template("miniapp/message.html", title="仅经理可查看",
                                   message="团队看板只对经理和总监开放"), 403
        now = clock_now()
        board = metrics.build_dashboard(session, me, rt.playbook, now, days)
        widest = max([f.reached for f in board.funnel] + [1])
        focus = request.args.get("focus") if request.args.get("focus") in metrics.FOCUS else None
        return render_template("miniapp/dashboard.html", me=me, board=board, days=days,
                               periods=metrics.PERIODS, widest=widest, focus=focus, fields=data_health.FIELDS,
                               threshold=rt.playbook.data_health.coaching_threshold,
                               insights=metrics.insights(session, me, rt.playbook, now),
                               targets=rt.playbook.targets)


@bp.get("/dashboard/chart/<name>.png")
def dashboard_chart(name: str):
    """The dashboard's charts, the same images the reports push, drawn for the viewer's scope."""
    rt = runtime()
    if name not in metrics.CHARTS:
        return render_template("miniapp/message.html", title="无法打开", message="图表不存在"), 404
    with work() as (session, me):
        if me.role not in metrics.MANAGER_ROLES:
            return render_template("miniapp/message.html", title="仅经理可查看",
                                   message="团队看板只对经理和总监开放"), 403
        png = metrics.chart_png(metrics.insights(session, me, rt.playbook, clock_now()), name)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=300"})


@bp.get("/dashboard/list")
def dashboard_list():
    rt = runtime()
    days = _days()
    rep = request.args.get("rep")
    with work() as (session, me):
        if me.role not in metrics.MANAGER_ROLES:
            return render_template("miniapp/message.html", title="仅经理可查看",
                                   message="团队看板只对经理和总监开放"), 403
        listing = metrics.drill(session, me, rt.playbook, clock_now(), request.args.get("metric", ""),
                                days=days, rep_id=int(rep) if rep and rep.isdigit() else None,
                                stage=request.args.get("stage"))
        return render_template("miniapp/drill.html", me=me, listing=listing, days=days)
