"""Rule 6 — stage stuck: an open opportunity in its stage longer than the stage's max_days → a card
asking to advance it (the next stage's checklist shown, ticked items marked) or to pick a reason
from the playbook's stuck_reasons."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.outbound import Outbound
from bot.task_cards import open_task
from storage.models import Customer, Opportunity, User
from storage.tasks import TaskSpec

from .scanning import Scan, scan_range, stamp

NAME = "stage_stuck"


def scan(s: Scan) -> int:
    created = 0
    for stage in s.playbook.stages:
        # ix_opportunity_status_stage_entered (status, stage, stage_entered_at) range
        query = select(Opportunity).where(Opportunity.status == "open", Opportunity.stage == stage.key)
        created += scan_range(s, f"{NAME}:{stage.key}", query, Opportunity.stage_entered_at, Opportunity.id,
                              s.now - timedelta(days=stage.max_days),
                              lambda session, out, o: _flag(s, session, out, o))
    return created


def checklist_text(s, opportunity: Opportunity) -> str:
    upcoming = s.playbook.next_stage(opportunity.stage)
    if upcoming is None:
        stage = s.playbook.stage(opportunity.stage)
        items, ticked = stage.steps or stage.checklist, set(opportunity.won_steps or [])
        heading = f"「{stage.label}」待完成："
    else:
        items, ticked = upcoming.checklist, set(opportunity.checklist.get(upcoming.key, []))
        heading = f"进入「{upcoming.label}」需完成："
    return heading + "；".join(("✓" if item in ticked else "□") + item for item in items)


def _flag(s: Scan, session: Session, out: Outbound, opportunity: Opportunity) -> int:
    owner = session.get(User, opportunity.owner_id)
    customer = session.get(Customer, opportunity.customer_id)
    stage = s.playbook.stage(opportunity.stage)
    days = (s.now - opportunity.stage_entered_at).days
    spec = TaskSpec(org_id=opportunity.org_id, kind=NAME, subject_type="opportunity",
                    subject_id=opportunity.id, customer_id=opportunity.customer_id, assignee_id=owner.id,
                    title=f"商机停滞：{opportunity.name}",
                    detail=f"已在「{stage.label if stage else opportunity.stage}」{days}天"
                           f"（上限{stage.max_days if stage else '-'}天）。{checklist_text(s, opportunity)}\n"
                           f"能推进就点“推进阶段”，推进不了请选一个原因。",
                    due_at=s.now,
                    dedupe_key=f"{NAME}:opportunity:{opportunity.id}:{opportunity.stage}:{stamp(opportunity.stage_entered_at)}")
    _task, created = open_task(out, spec, owner, fields=[("客户", customer.name)])
    return int(created)
