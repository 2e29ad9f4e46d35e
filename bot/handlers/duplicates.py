"""Duplicates in chat: show before create, 撞单 to the manager, and the manager's decision.

- A likely duplicate (storage PossibleDuplicate) is never created silently: the typed customer is
  kept as a pending draft and the rep gets a card with the existing customers and their owners:
  open one, add the person as a contact (own customer), ask the manager for another rep's
  (申请共享/转交), or 仍然创建 with one of the playbook's reasons (a review task for the manager).
- An identifier that is another rep's customer (CustomerCollision) never moves ownership: a review
  (撞单) goes to the manager of both owners and the rep is told so.
- The manager's card (subject `dup_review`, the review task): 合并到已有客户 / 保持两个 / 转给….
The manager's card (`review_card`) goes out with ctx.tell, in the handler's transaction; the
mini-app and other paths send the same card through the job `jobs.duplicates.notify_review`.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from cards import builders
from cards.links import customer_link
from cards.model import Card, new_card_id
from cards.rows import CUSTOMER_STATUS_LABELS
from config.playbook import Playbook
from storage import customers, dedupe, drafts, duplicate_reviews, merge
from storage.errors import CustomerCollision, InvalidInput, PossibleDuplicate
from storage.models import CaptureDraft, Customer, Task, User

from ..context import Context
from ..router import router


def offer_card(public_url: str, playbook: Playbook, user: User, draft: CaptureDraft, matches,
               card_id: str | None = None, fields=(), title: str | None = None) -> Card:
    """The show-before-create card for a pending customer draft."""
    typed = draft.fields.get("company") or draft.fields.get("name") or "新客户"
    rows = [(m.customer_id, m.customer_name, m.owner_name, "、".join(m.reasons), m.owner_id == user.id)
            for m in matches]
    return builders.possible_duplicate_card(
        card_id or new_card_id("draft", draft.id), typed=typed, matches=rows,
        open_links=[customer_link(public_url, m.customer_id) for m in matches[:2]],
        reasons=playbook.dedupe.create_anyway_reasons, fields=fields, title=title)


def _record(customer: Customer) -> list[tuple[str, str]]:
    contact = customer.contacts[0] if customer.contacts else None
    identifier = (customer.credit_code or "待补全") if customer.kind == "company" else (customer.mobile or "待补全")
    return [("名称", customer.name), ("负责人", customer.owner.name), ("标识", identifier),
            ("联系人", f"{contact.name} {contact.mobile or ''}".strip() if contact else ""),
            ("状态", CUSTOMER_STATUS_LABELS.get(customer.status, customer.status))]


def review_card(session: Session, task: Task, public_url: str) -> Card:
    """撞单 to the manager: both records (or the existing one and who wanted it), and the actions."""
    parties = duplicate_reviews.parties(task)
    existing = session.get(Customer, parties.existing_id)
    newer = session.get(Customer, parties.newer_id) if parties.newer_id else None
    requester = session.get(User, parties.requester_id)
    records, links = [("已有", _record(existing))], [customer_link(public_url, existing.id)]
    if newer is not None:
        records.append(("新录入", _record(newer)))
        links.append(customer_link(public_url, newer.id))
    return builders.duplicate_review_card(
        new_card_id("dup", task.id), title=task.title, reason=task.detail or "", records=records,
        can_merge=newer is not None,
        transfer_to=requester.name if requester.id != existing.owner_id else None, links=links)


def _tell_reviewer(ctx: Context, task: Task) -> None:
    ctx.tell(task.assignee, review_card(ctx.session, task, ctx.public_url), subject_type="dup_review",
             subject_id=task.id, key=f"dup_review:{task.id}")


def matches_for_draft(session: Session, user: User, draft: CaptureDraft, playbook: Playbook):
    try:
        data = drafts.customer_input(draft.fields)
    except InvalidInput:  # nothing to compare yet (no name, no company)
        return []
    return dedupe.find_duplicates(session, user.org_id, dedupe.candidate_for(
        data.kind, data.name, credit_code=data.credit_code, mobile=data.mobile, contacts=data.contacts),
        playbook=playbook)


def offer_before_create(ctx: Context, fields: dict, exc: PossibleDuplicate) -> None:
    """Keep what the rep typed as a draft and show the likely existing customers."""
    draft, _ = drafts.create_draft(ctx.session, ctx.user, "customer", fields,
                                   source_event_id=f"{ctx.event.platform}:{ctx.event.event_id}")
    ctx.send_card(offer_card(ctx.public_url, ctx.playbook, ctx.user, draft, exc.matches), "draft", draft.id)


def report_collision(ctx: Context, exc: CustomerCollision, *, finish: bool = False,
                     newer_id: int | None = None) -> None:
    """撞单: a review for the manager of both owners; the rep hears what happens next. `newer_id`:
    the rep's own record that collided (when there is one), so the manager can merge it."""
    existing = ctx.session.get(Customer, exc.existing_id)
    task, created = duplicate_reviews.open_review(
        ctx.session, ctx.user, existing_id=exc.existing_id, newer_id=newer_id,
        reason=f"{ctx.user.name}录入的客户与{exc.owner_name}的客户“{existing.name}”{_what(exc)}",
        playbook=ctx.playbook, now=ctx.now)
    if created:
        _tell_reviewer(ctx, task)
    text = f"{exc.message}。已提交{task.assignee.name}裁决撞单，结果以经理的处理为准。"
    if finish and ctx.card_record is not None:
        ctx.finish_card("已提交经理裁决撞单")
    ctx.say(text)


def _what(exc: CustomerCollision) -> str:
    identifier = str(exc.details.get("identifier") or "")
    if identifier.startswith("uscc:"):
        return "统一社会信用代码相同"
    if identifier.startswith("mobile:"):
        return "手机号相同"
    return f"{identifier}相同" if identifier else "标识相同"


def tell_reviews_of(ctx: Context, customer_id: int) -> None:
    """The reviews raised by creating `customer_id` anyway reach their managers."""
    for task in duplicate_reviews.reviews_of(ctx.session, customer_id):
        _tell_reviewer(ctx, task)


# ------------------------------------------------------------------ the rep's card


@router.action("draft:anyway")
def create_anyway(ctx: Context, index: str) -> None:
    reasons = ctx.playbook.dedupe.create_anyway_reasons
    if not index.isdigit() or int(index) >= len(reasons):
        raise InvalidInput("reason", "请选择仍然创建的原因")
    try:
        draft = drafts.confirm_draft(ctx.session, ctx.user, ctx.card_record.subject_id, ctx.playbook,
                                     now=ctx.now, duplicate_reason=reasons[int(index)])
    except CustomerCollision as exc:
        report_collision(ctx, exc, finish=True)
        return
    customer = customers.get_customer(ctx.session, ctx.user, draft.result_customer_id)
    tell_reviews_of(ctx, customer.id)
    ctx.finish_card(f"已创建客户 {customer.name}，已请经理审核是否重复")


@router.action("draft:ask")
def ask_for_existing(ctx: Context, customer_id: str) -> None:
    """申请共享/转交: the manager decides; nothing changes owner before that."""
    draft = drafts.get_draft(ctx.session, ctx.user, ctx.card_record.subject_id)
    task, created = duplicate_reviews.open_review(
        ctx.session, ctx.user, existing_id=int(customer_id), newer_id=None,
        reason=f"{ctx.user.name}申请共享或转交该客户（录入内容：{draft.fields.get('company') or draft.fields.get('name') or ''}）",
        playbook=ctx.playbook, now=ctx.now)
    drafts.discard_draft(ctx.session, ctx.user, draft.id)
    if created:
        _tell_reviewer(ctx, task)
    ctx.finish_card(f"已向{task.assignee.name}申请，经理处理后会通知负责人")


# ------------------------------------------------------------------ the manager's card


def _review(ctx: Context):
    task = duplicate_reviews.get_review(ctx.session, ctx.user, ctx.card_record.subject_id)
    return task, duplicate_reviews.parties(task)


@router.action("dup_review:merge")
def review_merge(ctx: Context, _arg: str) -> None:
    task, parties = _review(ctx)
    if parties.newer_id is None:
        raise InvalidInput("merge", "只有一条记录，无需合并")
    result = merge.merge_customers(ctx.session, ctx.user, into_id=parties.existing_id,
                                   merged_id=parties.newer_id, now=ctx.now, reason=task.title)
    duplicate_reviews.close_review(ctx.session, ctx.user, task, "合并到已有客户", ctx.now)
    into = customers.get_customer(ctx.session, ctx.user, result.into_id)
    moved = sum(result.moved.values())
    ctx.finish_card(f"已合并到 {into.name}（移入{moved}条相关记录）")


@router.action("dup_review:keep")
def review_keep(ctx: Context, _arg: str) -> None:
    task, _ = _review(ctx)
    duplicate_reviews.close_review(ctx.session, ctx.user, task, "保持两个", ctx.now)
    ctx.finish_card("已保持两个客户")


@router.action("dup_review:transfer")
def review_transfer(ctx: Context, _arg: str) -> None:
    task, parties = _review(ctx)
    to = ctx.session.get(User, parties.requester_id)
    customer = customers.transfer_customer(ctx.session, ctx.user, parties.existing_id, to)
    duplicate_reviews.close_review(ctx.session, ctx.user, task, f"转给{to.name}", ctx.now)
    ctx.finish_card(f"已把 {customer.name} 转给{to.name}")


def catch_duplicates(ctx: Context, fields: dict, create) -> object | None:
    """Run `create()`; on a likely duplicate show before create, on 撞单 report it. Returns what
    `create` returned, or None when nothing was created."""
    try:
        return create()
    except PossibleDuplicate as exc:
        offer_before_create(ctx, fields, exc)
    except CustomerCollision as exc:
        report_collision(ctx, exc)
    return None
