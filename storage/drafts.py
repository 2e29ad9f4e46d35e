"""Capture drafts: a customer or follow-up proposed from a photo or a voice note, confirmed with
one tap. Confirming runs the same services as typing it in, so the same checks apply."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.playbook import Playbook

from . import audit
from .customers import ContactInput, CustomerInput, add_contact, create_customer
from .errors import Conflict, InvalidInput, NotFound
from .followups import FollowUpInput, log_followup
from .models import CaptureDraft, User
from .permissions import check_access
from .validators import amount_yuan, bounded_text

# The scan's fields (ocr_asr.card_fields FIELDS + EXTRA_FIELDS; english_title once the scan gives
# one) and what a rep may add: the contact's second mobile, fax and English name/title go on the contact.
SCANNED_FIELDS = ("name", "company", "title", "mobile", "phone", "email", "address", "website",
                  "mobile2", "fax", "english_name", "english_title")
CUSTOMER_FIELDS = (*SCANNED_FIELDS, "credit_code", "source")
FOLLOWUP_FIELDS = ("customer_id", "tags", "note", "next_followup_at", "amount", "transcript",
                   "pause_reason")
# Edited fields are checked when saved, so a confirm can never fail on what an edit let in
# (an amount "abc" saved and then a 500 on confirm). (max characters, label) by the target column.
TEXT_LIMITS = {"name": (50, "姓名"), "company": (200, "公司名称"), "title": (100, "职务"),
               "mobile": (32, "手机号"), "phone": (40, "电话"), "email": (120, "邮箱"),
               "address": (300, "地址"), "website": (200, "网址"), "credit_code": (32, "统一社会信用代码"),
               "mobile2": (32, "第二手机"), "fax": (40, "传真"), "english_name": (100, "英文名"),
               "english_title": (100, "英文职务"),
               "note": (200, "备注"), "transcript": (5000, "语音内容"), "pause_reason": (50, "暂缓原因")}
ID_MAX = 2 ** 31 - 1


def create_draft(session: Session, actor: User, kind: str, fields: dict[str, Any],
                 source_event_id: str | None = None, media_id: int | None = None) -> tuple[CaptureDraft, bool]:
    """Idempotent on the source event: a retried capture job returns the draft it made before."""
    if kind not in ("customer", "followup"):
        raise InvalidInput("kind", "未知的草稿类型")
    if source_event_id:
        existing = session.scalars(select(CaptureDraft).where(
            CaptureDraft.org_id == actor.org_id, CaptureDraft.source_event_id == source_event_id)).first()
        if existing is not None:
            return existing, False
    draft = CaptureDraft(org_id=actor.org_id, user_id=actor.id, kind=kind, fields=dict(fields),
                         source_event_id=source_event_id, media_id=media_id, status="pending")
    session.add(draft)
    audit.record(session, actor, "draft.create", draft)
    return draft, True


def get_draft(session: Session, actor: User, draft_id: int) -> CaptureDraft:
    draft = session.get(CaptureDraft, draft_id)
    if draft is None:
        raise NotFound("草稿不存在")
    check_access(session, actor, draft.org_id, draft.user_id, "草稿")
    return draft


def pending_drafts(session: Session, actor: User) -> list[CaptureDraft]:
    return list(session.scalars(select(CaptureDraft).where(CaptureDraft.user_id == actor.id,
                                                           CaptureDraft.status == "pending")
                                .order_by(CaptureDraft.id.desc())))


def _pending(draft: CaptureDraft) -> None:
    if draft.status != "pending":
        done = {"confirmed": "已确认", "discarded": "已放弃", "failed": "处理失败"}.get(draft.status, draft.status)
        raise Conflict(f"该草稿{done}，不能再操作")


def edit_draft(session: Session, actor: User, draft_id: int, changes: dict[str, Any]) -> CaptureDraft:
    draft = get_draft(session, actor, draft_id)
    _pending(draft)
    allowed = CUSTOMER_FIELDS if draft.kind == "customer" else FOLLOWUP_FIELDS
    unknown = set(changes) - set(allowed)
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "该字段不能修改")
    checked = {name: _checked(name, value) for name, value in changes.items()}
    before = audit.snapshot(draft, ("fields",))
    draft.fields = {**draft.fields, **checked}
    audit.record(session, actor, "draft.edit", draft, before)
    return draft


def _checked(name: str, value: Any) -> Any:
    if name in TEXT_LIMITS:
        limit, label = TEXT_LIMITS[name]
        return bounded_text(value, limit, name, label)
    if name == "customer_id":
        # the page's <select> sends the id as text
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
            value = int(value)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= ID_MAX:
            raise InvalidInput(name, "请选择有效的客户")
        return value
    if name == "amount":
        amount = amount_yuan(value)
        return str(amount) if amount is not None else None
    if name == "tags":
        if not isinstance(value, list) or len(value) > 20 or \
                not all(isinstance(t, str) and len(t) <= 20 for t in value):
            raise InvalidInput(name, "标签格式不正确")
        return value
    if name == "next_followup_at":
        if value in (None, ""):
            return None
        try:
            if not isinstance(value, str):
                raise ValueError
            datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            raise InvalidInput(name, "日期格式应为 年-月-日") from None
        return value
    raise InvalidInput(name, "该字段不能修改")


def discard_draft(session: Session, actor: User, draft_id: int) -> CaptureDraft:
    draft = get_draft(session, actor, draft_id)
    _pending(draft)
    before = audit.snapshot(draft, ("status",))
    draft.status = "discarded"
    audit.record(session, actor, "draft.discard", draft, before)
    return draft


def confirm_draft(session: Session, actor: User, draft_id: int, playbook: Playbook,
                  *, now: datetime, duplicate_reason: str | None = None) -> CaptureDraft:
    """Create the customer or follow-up the draft proposes. Refusals (duplicate, invalid mobile)
    propagate with nothing written; confirming twice is refused, not repeated. A likely duplicate
    (PossibleDuplicate) is created only with a `duplicate_reason`, which opens a manager review."""
    draft = get_draft(session, actor, draft_id)
    _pending(draft)
    before = audit.snapshot(draft, ("status",))
    fields = draft.fields
    if draft.kind == "customer":
        customer = create_customer(session, actor, customer_input(fields), playbook, now=now,
                                   duplicate_reason=duplicate_reason)
        draft.result_customer_id = customer.id
    else:
        followup = log_followup(session, actor, followup_input(fields, draft), playbook, now=now)
        draft.result_followup_id = followup.id
        draft.result_customer_id = followup.customer_id
    draft.status = "confirmed"
    audit.record(session, actor, "draft.confirm", draft, before)
    return draft


def customer_input(fields: dict[str, Any]) -> CustomerInput:
    company = (fields.get("company") or "").strip()
    person = (fields.get("name") or "").strip()
    if not company and not person:
        raise InvalidInput("name", "名片上没有识别到姓名或公司，请编辑后再确认")
    contact = _contact(fields, person or company)
    source = fields.get("source") or "名片"
    if company:
        return CustomerInput(kind="company", name=company, credit_code=fields.get("credit_code"),
                             address=fields.get("address"), source=source, contacts=[contact])
    return CustomerInput(kind="person", name=person, mobile=fields.get("mobile"),
                         address=fields.get("address"), source=source, contacts=[contact])


def _contact(fields: dict[str, Any], name: str) -> ContactInput:
    """The card's person: both mobiles, the fax and the English name and title stay with them."""
    return ContactInput(name=name, **{key: fields.get(key) for key in (
        "title", "mobile", "mobile2", "phone", "fax", "email", "english_name", "english_title")})


def followup_input(fields: dict[str, Any], draft: CaptureDraft) -> FollowUpInput:
    if not fields.get("customer_id"):
        raise InvalidInput("customer_id", "请先选择这条跟进属于哪个客户")
    next_at = fields.get("next_followup_at")
    if isinstance(next_at, str) and next_at:
        next_at = datetime.fromisoformat(next_at) if "T" in next_at else date.fromisoformat(next_at)
    return FollowUpInput(customer_id=int(fields["customer_id"]), tags=list(fields.get("tags") or []),
                         note=fields.get("note"), channel="voice", next_followup=next_at or None,
                         amount=fields.get("amount"), transcript=fields.get("transcript"),
                         pause_reason=fields.get("pause_reason"),
                         source_event_id=f"draft:{draft.id}")


def add_as_contact(session: Session, actor: User, draft_id: int, customer_id: int):
    """The card's person joins an existing customer (the duplicate case) instead of a new one."""
    draft = get_draft(session, actor, draft_id)
    _pending(draft)
    if draft.kind != "customer":
        raise InvalidInput("kind", "只有名片草稿可以添加为联系人")
    fields = draft.fields
    contact = add_contact(session, actor, customer_id,
                          _contact(fields, fields.get("name") or fields.get("company") or "未命名"))
    before = audit.snapshot(draft, ("status",))
    draft.status, draft.result_customer_id = "confirmed", contact.customer_id
    audit.record(session, actor, "draft.add_contact", draft, before)
    return contact
