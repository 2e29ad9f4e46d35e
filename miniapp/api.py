"""The mini-app's JSON API under /api/. Every call runs as the session's user inside one
transaction and goes through the storage services, which check permissions: another rep's
customer, task or draft answers 403 (or 404 across orgs) with a Chinese message, never data.

State-changing calls need the X-Requested-With header: a cross-site form cannot set it, and a
cross-site fetch that sets it needs a CORS preflight we never answer."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag

from flask import Blueprint, jsonify, request
from wechatpy.utils import WeChatSigner

from bot.errors import PlatformError
from bot.outbound import Outbound, Purpose
from cards import builders
from cards.links import app_link
from cards.model import new_card_id
from cards.rows import approval_fields, approval_line
from storage import (approvals, customers, deal_insights, drafts, duplicate_reviews, followups, leads, links, merge,
                     opportunities, tasks)
from storage.errors import CustomerCollision, DomainError, InvalidInput, PermissionDenied
from storage.models import User

from . import bodies, metrics, reads
from .auth import CSRF_HEADER, NotLoggedIn, chat_from_token, clock_now, runtime, same_origin_url, work

bp = Blueprint("miniapp_api", __name__, url_prefix="/api")

PLATFORMS = ("wecom", "dingtalk")
NOTIFY_REVIEW_JOB = "jobs.duplicates.notify_review"
WECOM_JS_APIS = ["getContext", "getCurExternalContact", "getCurExternalChat", "sendChatMessage"]


# ------------------------------------------------------------------ plumbing


@bp.before_request
def _require_csrf_header():
    if request.method not in ("GET", "HEAD", "OPTIONS") and not request.headers.get(CSRF_HEADER):
        return jsonify(error="请求缺少安全标记，请刷新页面后重试"), 403


@bp.errorhandler(NotLoggedIn)
def _not_logged_in(_exc):
    return jsonify(error="登录已失效，请从企业微信或钉钉重新打开"), 401


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    body: dict[str, Any] = {"error": exc.message, "field": getattr(exc, "field", None)}
    body.update({k: v for k, v in exc.details.items() if k != "field"})
    return jsonify(body), exc.status


@bp.errorhandler(500)
def _server_error(_exc):
    # the page script shows `error` as it is; a stack trace page would show nothing useful
    return jsonify(error="服务器出错了，请稍后重试"), 500



def _int_arg(name: str, default: int, low: int = 1, high: int = 100) -> int:
    raw = request.args.get(name, "")
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise InvalidInput(name, f"参数 {name} 应为数字")
    return max(low, min(high, int(raw)))


def _optional_int(value: Any, name: str) -> int | None:
    """An id from the query string: digits within INTEGER, or None when absent."""
    if value in (None, ""):
        return None
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 10 or not 0 < int(text) <= bodies.ID_MAX:
        raise InvalidInput(name, f"{name} 应为有效的编号")
    return int(text)


def _query_text(name: str, max_chars: int = 100) -> str | None:
    """Search text from the query string: no control characters (q=%00), bounded."""
    value = request.args.get(name)
    if value is None:
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidInput(name, "搜索内容包含不可见字符")
    if len(value) > max_chars:
        raise InvalidInput(name, f"搜索内容最多{max_chars}个字")
    return value


def _platform(value: Any) -> str:
    platform = str(value or "wecom")
    if platform not in PLATFORMS:
        raise InvalidInput("platform", "平台只能是企业微信或钉钉")
    return platform


def _playbook():
    return runtime().playbook


def _tz():
    return runtime().playbook.tz


# ------------------------------------------------------------------ me


@bp.get("/me")
def me():
    with work() as (session, actor):
        return jsonify(id=actor.id, name=actor.name, role=actor.role, org_id=actor.org_id)


# ------------------------------------------------------------------ customers


@bp.get("/customers")
def list_customers():
    page, per_page = _int_arg("page", 1, high=10_000), _int_arg("per_page", 20)
    status = request.args.get("status") or None
    if status and status not in reads.STATUS_LABELS:
        raise InvalidInput("status", "客户状态应为 active / incomplete / lost")
    with work() as (session, actor):
        owner = _optional_int(request.args.get("owner_id"), "owner_id")
        items, total = customers.search_customers(session, actor, _query_text("q"), status=status,
                                                  owner_id=owner, limit=per_page,
                                                  offset=(page - 1) * per_page)
        return jsonify(items=[reads.customer_summary(c, _tz()) for c in items], total=total, page=page,
                       per_page=per_page, pages=(total + per_page - 1) // per_page)


@bp.post("/customers")
def create_customer():
    """Create a customer (the sidebar's 新建客户); with external_userid it is linked at once."""
    data = bodies.parse(bodies.NewCustomer)
    contact_name = (data.contact_name or "").strip()
    reason = _duplicate_reason(data.duplicate_reason)
    with work() as (session, actor):
        chat = _chat_target(data, actor) if data.external_userid or data.chat_token else None
        # a WeCom external contact is the contact's own id; a group chat is not a person
        external_userid = chat.external_id if chat and chat.what == links.CONTACT else None
        contact = [customers.ContactInput(name=contact_name, mobile=data.contact_mobile, mobile2=data.contact_mobile2,
                                          title=data.contact_title, fax=data.contact_fax,
                                          english_name=data.contact_english_name,
                                          english_title=data.contact_english_title,
                                          wecom_external_userid=external_userid)] if contact_name else []
        try:
            customer = customers.create_customer(session, actor, customers.CustomerInput(
                kind=data.kind or "company", name=data.name or "",
                credit_code=data.credit_code, mobile=data.mobile,
                source=data.source or ("客户群" if chat and chat.what == links.GROUP else "企业微信"),
                industry=data.industry, grade=data.grade or None, contacts=contact), _playbook(),
                now=clock_now(), duplicate_reason=reason)
        except CustomerCollision as exc:
            body, reviews, status = _collision(session, actor, exc, None)
        else:
            if chat is not None:
                links.link_chat(session, actor, chat.platform, chat.external_id, customer.id,
                                now=clock_now(), what=chat.what)
            reviews = [t.id for t in duplicate_reviews.reviews_of(session, customer.id)]
            body, status = reads.customer_summary(customer, _tz()), 201
    _notify_reviews(reviews)  # after the commit: the job reads the review
    return jsonify(body), status


def _duplicate_reason(reason: str | None) -> str | None:
    """仍然创建 needs one of the playbook's reasons (the manager reviews it)."""
    reason = reason or None
    if reason is not None and reason not in _playbook().dedupe.create_anyway_reasons:
        raise InvalidInput("duplicate_reason", "请选择仍然创建的原因")
    return reason


def _collision(session, actor, exc: CustomerCollision, newer_id: int | None) -> tuple[dict, list[int], int]:
    """撞单: the review is written (and committed with this request), the manager is told by a job,
    and the rep gets 409 with what happens next. Nothing else is written."""
    task, created = duplicate_reviews.open_review(
        session, actor, existing_id=exc.existing_id, newer_id=newer_id,
        reason=f"{actor.name}在小程序录入时与{exc.owner_name}的客户相同（{exc.details.get('identifier')}）",
        playbook=_playbook(), now=clock_now())
    body = {"error": f"{exc.message}。已提交{task.assignee.name}裁决撞单。", "existing_id": exc.existing_id,
            "owner": exc.owner_name, "review_task_id": task.id}
    return body, [task.id] if created else [], 409


def _notify_reviews(task_ids) -> None:
    """The manager's 撞单 card leaves through the job that owns it (jobs/duplicates.py)."""
    for task_id in task_ids:
        runtime().queue.enqueue(NOTIFY_REVIEW_JOB, task_id, job_id=f"dup-review-{task_id}")


@bp.get("/customers/<int:customer_id>")
def get_customer(customer_id: int):
    with work() as (session, actor):
        return jsonify(reads.customer_page(session, actor, customer_id, _playbook()).as_dict())


@bp.post("/customers/<int:customer_id>/identifier")
def complete_identifier(customer_id: int):
    data = bodies.parse(bodies.Identifier)
    with work() as (session, actor):
        try:
            customer = customers.complete_identifier(session, actor, customer_id, now=clock_now(),
                                                     credit_code=data.credit_code, mobile=data.mobile)
            body, reviews, status = reads.customer_summary(customer, _tz()), [], 200
        except CustomerCollision as exc:
            body, reviews, status = _collision(session, actor, exc, customer_id)
    _notify_reviews(reviews)
    return jsonify(body), status


@bp.post("/customers/<int:customer_id>/contacts")
def add_contact(customer_id: int):
    """添加联系人: a person of this customer, with both mobiles, fax and English name if given."""
    data = bodies.parse(bodies.ContactFields)
    with work() as (session, actor):
        contact = customers.add_contact(session, actor, customer_id, customers.ContactInput(
            **data.model_dump(include=set(customers.CONTACT_FIELDS))))
        session.flush()
        return jsonify(reads.contact_dict(contact)), 201


@bp.post("/contacts/<int:contact_id>")
def update_contact(contact_id: int):
    """Edit a contact: only the fields sent change; the same checks as when it was added."""
    data = bodies.parse(bodies.ContactFields)
    changes = {key: getattr(data, key) for key in bodies.present(data)}
    with work() as (session, actor):
        return jsonify(reads.contact_dict(customers.update_contact(session, actor, contact_id, changes)))


@bp.post("/customers/<int:customer_id>/merge")
def merge_customer(customer_id: int):
    """Merge `merged_id` into this customer (manager of both owners, director or admin)."""
    data = bodies.parse(bodies.MergeCustomers)
    merged_id = data.merged_id
    with work() as (session, actor):
        result = merge.merge_customers(session, actor, into_id=customer_id, merged_id=merged_id,
                                       now=clock_now(), choices=dict(data.choices or {}))
        for task in duplicate_reviews.open_reviews(session, actor.org_id):
            parties = duplicate_reviews.parties(task)
            if {parties.existing_id, parties.newer_id} == {customer_id, merged_id}:
                duplicate_reviews.close_review(session, actor, task, "合并到已有客户", clock_now())
        return jsonify(into_id=result.into_id, merged_id=result.merged_id, moved=result.moved,
                       chosen=result.chosen)


@bp.post("/customers/<int:customer_id>/followups")
def log_followup(customer_id: int):
    """The one-tap follow-up: tags (+ a short note), next date, 暂缓原因 when 暂缓."""
    data = bodies.parse(bodies.NewFollowUp)
    short, record = followups.split_note(_playbook(), data.note)   # the same rule as in chat
    with work() as (session, actor):
        followup = followups.log_followup(session, actor, followups.FollowUpInput(
            customer_id=customer_id, tags=list(data.tags or []), note=short, transcript=record,
            channel=data.channel or "app", next_followup=data.next_followup or None,
            pause_reason=data.pause_reason or None, opportunity_id=data.opportunity_id or None,
            source_event_id=_request_key(actor.id, data.request_id)), _playbook(), now=clock_now())
        customer = customers.get_customer(session, actor, customer_id)
        kept = followups.note_rule(_playbook()) + "，这条已完整保存" if record else None
        return jsonify(id=followup.id, customer=reads.customer_summary(customer, _tz()), note_kept=kept), 201


def _request_key(user_id: int, request_id: str | int | None) -> str | None:
    """A client-made key (one per form render) makes a double tap or a retried POST land once."""
    key = str(request_id or "").strip()
    return f"app:{user_id}:{key[:64]}" if key else None


@bp.post("/customers/<int:customer_id>/opportunities")
def create_opportunity(customer_id: int):
    data = bodies.parse(bodies.NewOpportunity)
    with work() as (session, actor):
        opp = opportunities.create_opportunity(session, actor, customer_id, data.name or "",
                                               _playbook(), amount=data.amount, now=clock_now())
        return jsonify(reads.opportunity_view(opp, _playbook(), _tz()).as_dict()), 201


# ------------------------------------------------------------------ chat links (sidebar)


@bp.get("/links")
def find_link():
    external_id = (request.args.get("external_userid") or "").strip()
    platform = _platform(request.args.get("platform"))
    if not external_id:
        raise InvalidInput("external_userid", "缺少聊天对象标识")
    with work() as (session, actor):
        return jsonify(reads.link_state(session, actor, platform, external_id).as_dict(_tz()))


@bp.post("/links")
def link_chat():
    data = bodies.parse(bodies.LinkChat)
    with work() as (session, actor):
        chat = _chat_target(data, actor)
        link = links.link_chat(session, actor, chat.platform, chat.external_id, data.customer_id,
                               now=clock_now(), what=chat.what)
        customer = customers.get_customer(session, actor, link.customer_id)
        return jsonify(linked=True, customer=reads.customer_summary(customer, _tz())), 201


@dataclass(frozen=True)
class _Chat:
    platform: str
    external_id: str
    what: str          # links.CONTACT or links.GROUP, for the Chinese sentences


def _chat_target(data: bodies.LinkChat | bodies.NewCustomer, actor: User) -> _Chat:
    """What to link: a WeCom sidebar's external contact, or a group chat named by the signed token
    of the bot's card (a DingTalk group id is never taken from the page: anyone could type one)."""
    if data.chat_token:
        chat = chat_from_token(data.chat_token, actor)
        return _Chat(chat.platform, chat.chat_id, links.GROUP)
    platform = _platform(data.platform)
    if platform == "dingtalk":
        raise InvalidInput("chat_token", "钉钉群请从群里机器人卡片上的链接打开本页再关联")
    return _Chat(platform, data.external_userid or "", links.CONTACT)


# ------------------------------------------------------------------ drafts


@bp.get("/drafts")
def list_drafts():
    with work() as (session, actor):
        return jsonify(items=[reads.draft_dict(d) for d in drafts.pending_drafts(session, actor)])


@bp.get("/drafts/<int:draft_id>")
def get_draft(draft_id: int):
    with work() as (session, actor):
        return jsonify(reads.draft_dict(drafts.get_draft(session, actor, draft_id)))


@bp.post("/drafts/<int:draft_id>")
def edit_draft(draft_id: int):
    changes = bodies.parse(bodies.DraftEdit).fields
    with work() as (session, actor):
        return jsonify(reads.draft_dict(drafts.edit_draft(session, actor, draft_id, dict(changes))))


@bp.post("/drafts/<int:draft_id>/confirm")
def confirm_draft(draft_id: int):
    with work() as (session, actor):
        try:
            draft = drafts.confirm_draft(session, actor, draft_id, _playbook(), now=clock_now(),
                                         duplicate_reason=_duplicate_reason(
                                             bodies.parse(bodies.DraftConfirm).duplicate_reason))
        except CustomerCollision as exc:
            body, reviews, status = _collision(session, actor, exc, None)
        else:
            reviews = [t.id for t in duplicate_reviews.reviews_of(session, draft.result_customer_id)] \
                if draft.kind == "customer" else []
            body, status = reads.draft_dict(draft), 200
    _notify_reviews(reviews)
    return jsonify(body), status


@bp.post("/drafts/<int:draft_id>/discard")
def discard_draft(draft_id: int):
    with work() as (session, actor):
        return jsonify(reads.draft_dict(drafts.discard_draft(session, actor, draft_id)))


# ------------------------------------------------------------------ tasks and leads


@bp.get("/tasks")
def list_tasks():
    with work() as (session, actor):
        return jsonify(items=[reads.task_dict(t, clock_now(), _tz()) for t in tasks.open_tasks_for(session, actor, 100)])


@bp.get("/tasks/<int:task_id>")
def get_task(task_id: int):
    with work() as (session, actor):
        return jsonify(reads.task_dict(tasks.get_task(session, actor, task_id), clock_now(), _tz()))


@bp.post("/tasks/<int:task_id>")
def close_task(task_id: int):
    """{"action": "done"} closes the task with an optional short result."""
    data = bodies.parse(bodies.CloseTask)
    with work() as (session, actor):
        task = tasks.close_task(session, actor, task_id, data.result or "已完成", now=clock_now())
        return jsonify(reads.task_dict(task, clock_now(), _tz()))


@bp.post("/leads/<int:lead_id>/claim")
def claim_lead(lead_id: int):
    with work() as (session, actor):
        try:
            lead = leads.claim(session, actor, lead_id, _playbook(), now=clock_now())
        except CustomerCollision as exc:  # another rep's customer: 撞单 for the manager, nothing claimed
            body, reviews, status = _collision(session, actor, exc, None)
        else:
            reviews = [t.id for t in duplicate_reviews.reviews_of(session, lead.customer_id)] if lead.customer_id else []
            body, status = reads.lead_dict(lead, _tz()), 200
    _notify_reviews(reviews)
    return jsonify(body), status


# ------------------------------------------------------------------ opportunities


@bp.get("/opportunities/<int:opp_id>")
def get_opportunity(opp_id: int):
    with work() as (session, actor):
        opp = opportunities.get_opportunity(session, actor, opp_id)
        return _opp_answer(session, opp)


@bp.post("/opportunities/<int:opp_id>")
def update_opportunity(opp_id: int):
    data = bodies.parse(bodies.OpportunityChanges)
    changes = {k: getattr(data, k) for k in ("name", "amount") if k in bodies.present(data)}
    if not changes:
        raise InvalidInput("body", "没有要修改的内容")
    with work() as (session, actor):
        opp = opportunities.update_opportunity(session, actor, opp_id, changes, _playbook())
        return _opp_answer(session, opp)


@bp.post("/opportunities/<int:opp_id>/checklist")
def tick_checklist(opp_id: int):
    data = bodies.parse(bodies.ChecklistTick)
    with work() as (session, actor):
        opp = opportunities.set_checklist_item(session, actor, opp_id, data.stage, data.item,
                                               data.checked, _playbook())
        return _opp_answer(session, opp)


@bp.post("/opportunities/<int:opp_id>/stage")
def change_stage(opp_id: int):
    data = bodies.parse(bodies.StageMove)
    with work() as (session, actor):
        opp = opportunities.change_stage(session, actor, opp_id, data.stage, _playbook(), now=clock_now())
        return _opp_answer(session, opp)


# ------------------------------------------------------------------ closing, approvals


def _opp_answer(session, opp, status: int = 200):
    return jsonify(reads.opportunity_view(opp, _playbook(), _tz(), session).as_dict()), status


def _approval_cards(out: Outbound, session, asked: approvals.Asked) -> None:
    """The approver's card (and the copy's) for a request made on the page, through the one way
    out (a person sends it on purpose: quiet hours may hold it, no reminder cap)."""
    found = approvals.facts(session, asked.approval, _playbook())
    card, copy = builders.approval_cards(
        new_card_id("appr", asked.approval.id), new_card_id("apcc", asked.approval.id), title=found.title, fields=approval_fields(found), approver=asked.approver.name,
        level=found.level_label, copy_to=asked.copy_to.name if asked.copy_to else None,
        reject_reasons=_playbook().approvals.reject_reasons,
        link=app_link(runtime().settings.crmbot_public_url, found.path))
    out.card(asked.approver, card, subject_type="approval", subject_id=asked.approval.id,
             dedupe_key=f"approval:{asked.approval.id}:0:to:{asked.approver.id}", purpose=Purpose.DIRECT)
    if copy is not None:
        out.card(asked.copy_to, copy, subject_type="approval", subject_id=asked.approval.id,
                 dedupe_key=f"approval:{asked.approval.id}:0:copy:{asked.copy_to.id}", purpose=Purpose.DIRECT)


def _outbound(session) -> Outbound:
    rt = runtime()
    return Outbound(session, rt.playbook, rt.settings, clock_now())


@bp.post("/opportunities/<int:opp_id>/won")
def close_won(opp_id: int):
    data = bodies.parse(bodies.CloseWon)
    with work() as (session, actor):
        opp = opportunities.close_won(session, actor, opp_id, opportunities.WonInput(
            amount=data.amount, signed_on=data.signed_on or None), _playbook(), now=clock_now())
        return _opp_answer(session, opp)


@bp.post("/opportunities/<int:opp_id>/lost")
def close_lost(opp_id: int):
    data = bodies.parse(bodies.CloseLost)
    with work() as (session, actor):
        opp = opportunities.close_lost(session, actor, opp_id, opportunities.LostInput(
            reason=data.reason or "", competitor=data.competitor, note=data.note),
            _playbook(), now=clock_now())
        return _opp_answer(session, opp)


@bp.post("/opportunities/<int:opp_id>/reopen")
def reopen(opp_id: int):
    data = bodies.parse(bodies.Reopen)
    with work() as (session, actor):
        opp = opportunities.reopen(session, actor, opp_id, _playbook(), now=clock_now(), note=data.note)
        return _opp_answer(session, opp)


@bp.post("/opportunities/<int:opp_id>/discount")
def ask_discount(opp_id: int):
    """A discount: within the rep's tier it applies at once (200), else it goes for approval (202)."""
    data = bodies.parse(bodies.DiscountRequest)
    with work() as (session, actor):
        asked = approvals.request_discount(session, actor, opp_id, data.percent, _playbook(),
                                           now=clock_now(), note=data.note)
        out = _outbound(session)
        if not asked.decided:
            _approval_cards(out, session, asked)
        answer = _opp_answer(session, opportunities.get_opportunity(session, actor, opp_id),
                             200 if asked.decided else 202)
    out.deliver_after_commit(runtime().queue)
    return answer


@bp.post("/opportunities/<int:opp_id>/skip")
def ask_skip(opp_id: int):
    data = bodies.parse(bodies.SkipRequest)
    with work() as (session, actor):
        asked = approvals.request_stage_skip(session, actor, opp_id, data.stage, _playbook(),
                                             now=clock_now(), note=data.note)
        out = _outbound(session)
        _approval_cards(out, session, asked)
        answer = _opp_answer(session, opportunities.get_opportunity(session, actor, opp_id), 202)
    out.deliver_after_commit(runtime().queue)
    return answer


@bp.post("/approvals/<int:approval_id>")
def decide_approval(approval_id: int):
    """{"decision": "approve"|"reject", "reason"}: the same decision as the card's buttons, with a
    free-text reason. The card itself is updated when clicked; here the requester is told."""
    data = bodies.parse(bodies.ApprovalDecision)
    with work() as (session, actor):
        approval = approvals.decide(session, actor, approval_id, data.decision == "approve", _playbook(),
                                    now=clock_now(), reason=data.reason)
        requester = session.get(User, approval.requested_by_id)
        verdict = "已同意" if approval.status == "approved" else f"被驳回：{approval.reason}"
        out = _outbound(session)
        out.text(requester, f"{approval_line(approval, _playbook())} {verdict}（{actor.name}）",
                 dedupe_key=f"approval:{approval.id}:decided:{requester.id}", purpose=Purpose.DIRECT)
        answer = jsonify(reads.approval_dict(session, approval, _playbook(), _tz()))
    out.deliver_after_commit(runtime().queue)
    return answer


# ------------------------------------------------------------------ dashboard


def _managers_only(actor) -> None:
    if actor.role not in metrics.MANAGER_ROLES:
        raise PermissionDenied("团队看板只对经理和总监开放")


@bp.get("/dashboard")
def dashboard():
    days = _int_arg("days", 7, high=30)
    with work() as (session, actor):
        _managers_only(actor)
        return jsonify(metrics.build_dashboard(session, actor, _playbook(), clock_now(), days).as_dict())


@bp.get("/dashboard/list")
def dashboard_list():
    days = _int_arg("days", 7, high=30)
    with work() as (session, actor):
        _managers_only(actor)
        return jsonify(metrics.drill(session, actor, _playbook(), clock_now(), request.args.get("metric", ""),
                                     days=days, rep_id=_optional_int(request.args.get("rep"), "rep"),
                                     stage=request.args.get("stage")).as_dict())


@bp.get("/dashboard/insights")
def dashboard_insights():
    with work() as (session, actor):
        _managers_only(actor)
        found = metrics.insights(session, actor, _playbook(), clock_now())
        return jsonify(loss_reasons=[{"reason": r, "count": n} for r, n in found.loss_reasons],
                       median_conversion=found.median_conversion, median_velocity=found.median_velocity,
                       reps=[r.__dict__ for r in found.reps], stuck=[d.__dict__ for d in found.stuck],
                       under_target=[r.user_id for r in found.under_target],
                       beat_target=[r.user_id for r in found.beat_target])


@bp.post("/dashboard/coaching")
def schedule_coaching():
    """安排辅导 for a rep under target: a task on the manager's own list (once per rep and week)."""
    rep_id = bodies.parse(bodies.Coaching).rep_id
    with work() as (session, actor):
        _managers_only(actor)
        rep = session.get(User, rep_id)
        if rep is None:
            raise InvalidInput("rep_id", "请选择要辅导的成员")
        task, created = deal_insights.schedule_coaching(session, actor, rep, _playbook(), clock_now())
        return jsonify(reads.task_dict(task, clock_now(), _tz())), 201 if created else 200


# ------------------------------------------------------------------ WeCom JS-SDK


def jsapi_signature(ticket: str, noncestr: str, timestamp: int, url: str) -> str:
    """sha1 of jsapi_ticket=&noncestr=&timestamp=&url= (keys sorted), wechatpy's signer."""
    signer = WeChatSigner(delimiter=b"&")
    signer.add_data(f"jsapi_ticket={ticket}", f"noncestr={noncestr}", f"timestamp={timestamp}",
                    f"url={url}")
    return signer.signature


@bp.get("/wecom/jsapi-config")
def wecom_jsapi_config():
    url = urldefrag(request.args.get("url") or "").url  # WeCom signs the URL without #fragment
    with work():
        pass  # signatures for logged-in users only
    if not url or not same_origin_url(url):
        raise InvalidInput("url", "只能为本应用的页面签名")
    rt = runtime()
    client = rt.client("wecom")
    try:
        corp_ticket, agent_ticket = client.get_jsapi_ticket(), client.get_agent_ticket()
    except PlatformError:
        return jsonify(error="企业微信接口暂时不可用，请稍后重试"), 502
    timestamp, nonce = int(time.time()), secrets.token_hex(8)
    settings = rt.settings
    return jsonify(
        config={"beta": True, "debug": False, "appId": settings.wecom_corp_id, "timestamp": timestamp,
                "nonceStr": nonce, "signature": jsapi_signature(corp_ticket, nonce, timestamp, url),
                "jsApiList": WECOM_JS_APIS},
        agentConfig={"corpid": settings.wecom_corp_id, "agentid": settings.wecom_agent_id,
                     "timestamp": timestamp, "nonceStr": nonce,
                     "signature": jsapi_signature(agent_ticket, nonce, timestamp, url),
                     "jsApiList": WECOM_JS_APIS})
