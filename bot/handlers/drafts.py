"""Clicks on capture draft cards: confirm (one tap creates the customer or follow-up), add the
card's person as a contact of the existing customer, or discard."""
from __future__ import annotations

from storage import customers, drafts

from ..context import Context
from ..router import router


@router.action("draft:confirm")
def confirm(ctx: Context, _arg: str) -> None:
    draft = drafts.confirm_draft(ctx.session, ctx.user, ctx.card_record.subject_id, ctx.playbook, now=ctx.now)
    customer = customers.get_customer(ctx.session, ctx.user, draft.result_customer_id)
    if draft.kind == "customer":
        suffix = "（待补全）" if customer.status == "incomplete" else ""
        ctx.finish_card(f"已创建客户 {customer.name}{suffix}")
    else:
        ctx.finish_card(f"已记录跟进：{customer.name}")


@router.action("draft:add_contact")
def add_contact(ctx: Context, customer_id: str) -> None:
    contact = drafts.add_as_contact(ctx.session, ctx.user, ctx.card_record.subject_id, int(customer_id))
    ctx.finish_card(f"已添加联系人 {contact.name}")


@router.action("draft:discard")
def discard(ctx: Context, _arg: str) -> None:
    drafts.discard_draft(ctx.session, ctx.user, ctx.card_record.subject_id)
    ctx.finish_card("已放弃")
