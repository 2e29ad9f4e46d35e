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

CUSTOMER_FIELDS = ("name", "company", "title", "mobile", "phone", "email", "address", "website",
                   "credit_code")
FOLLOWUP_FIELDS = ("customer_id", "tags", "note", "next_followup_at", "amount", "transcript",
                   "pause_reason")


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
    before = audit.snapshot(draft, ("fields",))
    draft.fields = {**draft.fields, **changes}
    audit.record(session, actor, "draft.edit", draft, before)
    return draft


def discard_draft(session: Session, actor: User, draft_id: int) -> CaptureDraft:
    draft = get_draft(session, actor, draft_id)
    _pending(draft)
    before = audit.snapshot(draft, ("status",))
    draft.status = "discarded"
    audit.record(session, actor, "draft.discard", draft, before)
    return draft


def confirm_draft(session: Session, actor: User, draft_id: int, playbook: Playbook,
                  *, now: datetime) -> CaptureDraft:
    """Create the customer or follow-up the draft proposes. Refusals (duplicate, invalid mobile)
    propagate with nothing written; confirming twice is refused, not repeated."""
    draft = get_draft(session, actor, draft_id)
    _pending(draft)
    before = audit.snapshot(draft, ("status",))
    fields = draft.fields
    if draft.kind == "customer":
        customer = create_customer(session, actor, customer_input(fields), playbook, now=now)
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
    contact = ContactInput(name=person or company, title=fields.get("title"),
                           mobile=fields.get("mobile"), phone=fields.get("phone"),
                           email=fields.get("email"))
    if company:
        return CustomerInput(kind="company", name=company, credit_code=fields.get("credit_code"),
                             address=fields.get("address"), source="名片", contacts=[contact])
    return CustomerInput(kind="person", name=person, mobile=fields.get("mobile"),
                         address=fields.get("address"), source="名片", contacts=[contact])


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
    contact = add_contact(session, actor, customer_id, ContactInput(
        name=fields.get("name") or fields.get("company") or "未命名", title=fields.get("title"),
        mobile=fields.get("mobile"), phone=fields.get("phone"), email=fields.get("email")))
    before = audit.snapshot(draft, ("status",))
    draft.status, draft.result_customer_id = "confirmed", contact.customer_id
    audit.record(session, actor, "draft.add_contact", draft, before)
    return contact
