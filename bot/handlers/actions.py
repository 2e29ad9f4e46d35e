"""Card clicks: the task, customer or contact behind a card changes state, and the same card is
updated in place to show what was done and by whom."""
from __future__ import annotations

from storage import followups, tasks
from storage.errors import Conflict
from storage.followups import FollowUpInput

from ..context import Context
from ..router import router


@router.action("customer:tag")
def tag_customer(ctx: Context, tag_key: str) -> None:
    """One tap on a tag = one follow-up on that customer (a DingTalk ActionCard cannot be greyed
    out, so a second tap on the same card is answered, not recorded again)."""
    tag = ctx.playbook.tag(tag_key)
    if tag is None:
        raise Conflict("这个标签已从剧本中移除，请在小程序里记录跟进。")
    followups.log_followup(ctx.session, ctx.user, FollowUpInput(
        customer_id=ctx.card_record.subject_id, tags=[tag.key], channel="card",
        source_event_id=f"{ctx.event.platform}:{ctx.event.event_id}"), ctx.playbook, now=ctx.now)
    ctx.finish_card(f"已记跟进：{tag.label}")


@router.action("task:done")
def task_done(ctx: Context, _arg: str) -> None:
    tasks.close_task(ctx.session, ctx.user, ctx.card_record.subject_id, "已处理", now=ctx.now)
    ctx.finish_card("已处理")
