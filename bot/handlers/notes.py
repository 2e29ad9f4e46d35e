"""A follow-up written in words — `跟进 <客户> …` in chat, or a group message logged with one tap —
read by one parser and held to the same rules: playbook tags from #hashtags (an unknown one stays in
the note and is named), the next follow-up from a date word, a note over the playbook's limit kept
whole as the follow-up's record, the customer's open opportunity attached."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from cards import builders
from ocr_asr.errors import CaptureError
from ocr_asr.note_parser import CustomerRef, ParsedNote, parse_note
from storage import followups
from storage.errors import InvalidInput
from storage.followups import FollowUpInput
from storage.models import Customer, FollowUp, Opportunity

from ..context import Context


def parse(ctx: Context, customer: Customer, text: str, said_at: datetime) -> ParsedNote:
    """The note as of when it was said ("下周三" counts from then, not from a later tap)."""
    refs = [CustomerRef(id=customer.id, name=customer.name, company=None)]
    try:
        return parse_note(text, said_at.astimezone(ctx.playbook.tz), ctx.playbook, refs)
    except CaptureError as exc:   # an empty note: a refusal the rep reads, not a failed job
        raise InvalidInput("note", exc.user_message) from None


def record(ctx: Context, customer: Customer, parsed: ParsedNote, *, source_event_id: str,
           occurred_at: datetime | None = None) -> FollowUp:
    """Log it; idempotent on `source_event_id` (a retried event or a second tap logs nothing new)."""
    short, transcript = followups.split_note(ctx.playbook, parsed.note)
    opportunity = ctx.session.scalars(select(Opportunity).where(
        Opportunity.customer_id == customer.id, Opportunity.status == "open")
        .order_by(Opportunity.id.desc())).first()
    return followups.log_followup(ctx.session, ctx.user, FollowUpInput(
        customer_id=customer.id, tags=parsed.tags, note=short or None, transcript=transcript,
        channel="chat", next_followup=parsed.next_followup_at, pause_reason=parsed.pause_reason,
        amount=parsed.amount, opportunity_id=opportunity.id if opportunity else None,
        occurred_at=occurred_at, source_event_id=source_event_id), ctx.playbook, now=ctx.now)


def labels(ctx: Context, tag_keys: list[str]) -> str:
    return "、".join(ctx.playbook.tag(k).label for k in tag_keys if ctx.playbook.tag(k)) or "无标签"


def next_due(ctx: Context, followup: FollowUp) -> str:
    return builders.when(followup.next_followup_at, ctx.playbook.tz, ctx.now)


def remarks(ctx: Context, parsed: ParsedNote) -> list[str]:
    """What the rep should know beyond "done": hashtags that are no tag, a note kept whole."""
    lines = []
    if parsed.unknown_hashtags:
        unknown = "、".join(f"#{w}" for w in parsed.unknown_hashtags)
        known = "、".join(t.label for t in ctx.playbook.tags)
        lines.append(f"没有识别标签 {unknown}，原文已保留在备注里。可用标签：{known}")
    if followups.split_note(ctx.playbook, parsed.note)[1]:
        lines.append(f"（{followups.note_rule(ctx.playbook)}，这条已完整保存。）")
    return lines


def preview(ctx: Context, parsed: ParsedNote) -> list[tuple[str, str]]:
    """The card's fields before the tap: what will be logged."""
    tag_keys = followups.resolve_tags(ctx.playbook, parsed.tags)
    due = followups.due_at(ctx.playbook, parsed.next_followup_at, ctx.now)
    return [("标签", labels(ctx, tag_keys)), ("下次跟进", builders.when(due, ctx.playbook.tz, ctx.now))]
