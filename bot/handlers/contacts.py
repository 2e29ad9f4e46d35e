"""WeCom customer-contact events: a new 好友 gets a card to link, create or ignore; the platform
call that fetches the contact's details runs in a job, not in the event's transaction."""
from __future__ import annotations

from storage import customers, links
from storage.customers import ContactInput, CustomerInput

from ..context import Context
from ..events import Kind
from ..router import router


@router.event(Kind.CONTACT_ADDED)
def on_contact_added(ctx: Context) -> None:
    ctx.defer("jobs.contacts.new_contact_card", ctx.inbox_id)


@router.event(Kind.CONTACT_REMOVED)
def on_contact_removed(ctx: Context) -> None:
    """Kept in the inbox for the record; the customer stays (the rep may still call them)."""


def _contact(ctx: Context) -> dict:
    return ctx.card_record.card.get("extra", {}).get("contact", {})


@router.action("contact:link")
def link_existing(ctx: Context, customer_id: str) -> None:
    info = _contact(ctx)
    link = links.link_chat(ctx.session, ctx.user, "wecom", info["external_userid"], int(customer_id), now=ctx.now)
    customer = customers.get_customer(ctx.session, ctx.user, link.customer_id)
    ctx.finish_card(f"已关联到 {customer.name}")


@router.action("contact:create")
def create_from_contact(ctx: Context, _arg: str) -> None:
    info = _contact(ctx)
    name = info.get("corp_name") or info.get("name") or "新客户"
    kind = "company" if info.get("corp_name") else "person"
    customer = customers.create_customer(ctx.session, ctx.user, CustomerInput(
        kind=kind, name=name, mobile=info.get("mobile") if kind == "person" else None, source="企业微信好友",
        contacts=[ContactInput(name=info.get("name") or name, mobile=info.get("mobile"),
                               wecom_external_userid=info["external_userid"])]), ctx.playbook, now=ctx.now)
    links.link_chat(ctx.session, ctx.user, "wecom", info["external_userid"], customer.id, now=ctx.now)
    suffix = "（待补全）" if customer.status == "incomplete" else ""
    ctx.finish_card(f"已新建客户 {customer.name}{suffix}")


@router.action("contact:ignore")
def ignore_contact(ctx: Context, _arg: str) -> None:
    ctx.finish_card("已忽略")
