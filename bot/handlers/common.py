"""Cards handlers send about store rows, built by cards.rows with the handler's clock and links."""
from __future__ import annotations

from sqlalchemy import select

from cards import rows
from cards.model import Card
from storage.models import Customer, Opportunity, Task

from ..context import Context


def customer_card(ctx: Context, customer: Customer) -> Card:
    opportunity = ctx.session.scalars(select(Opportunity).where(
        Opportunity.customer_id == customer.id, Opportunity.status == "open")
        .order_by(Opportunity.id.desc())).first()
    return rows.customer_card(customer, opportunity, ctx.playbook, ctx.public_url, ctx.now)


def task_to_card(ctx: Context, task: Task) -> Card:
    return rows.task_card(task, ctx.playbook, ctx.public_url, with_due=True, now=ctx.now)
