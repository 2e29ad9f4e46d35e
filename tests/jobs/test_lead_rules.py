"""Rules 1–3 on a controllable clock: a new lead is assigned, reassigned when unclaimed (never to
two reps), and a claimed lead with no follow-up reminds the rep and the manager."""
from datetime import timedelta

from sqlalchemy import select

from storage import leads
from storage.leads import LeadInput
from storage.models import CardRecord, Lead, OutboxMessage
from tests.jobs.helpers import after_working, cards_to, local, run, tasks_of, texts_to


def _new_lead(database, world, now, ref="form-001"):
    with database.transaction() as s:
        lead, _ = leads.create_lead(s, world.org.id, LeadInput(
            source="官网表单", name="陈先生", company="苏州精工机械", mobile="13912345678",
            industry="制造业", external_ref=ref), now=now)
        return lead.id


def _lead(database, lead_id) -> Lead:
    with database.transaction() as s:
        return s.get(Lead, lead_id)


def test_new_lead_is_assigned_with_a_claim_card_once(rt, database, world, playbook):
    now = local(playbook, "2026-03-04 10:30")
    lead_id = _new_lead(database, world, now)
    assert run(rt, now)["lead_assignment"] == 1
    lead = _lead(database, lead_id)
    assert lead.status == "assigned" and lead.assignee_id == world.rep1.id
    [card] = cards_to(database, world.rep1.id)
    assert "苏州精工机械" in card["title"]
    assert [b["text"] for b in card["buttons"] if b.get("key")] == ["认领", "转交"]
    assert "建议开场白" in card["text"] and "陈先生" in card["text"]
    assert run(rt, now + timedelta(seconds=30))["lead_assignment"] == 0
    assert len(tasks_of(database, "lead_assignment")) == 1


def test_unclaimed_lead_moves_to_the_next_rep_and_everyone_is_told(rt, database, world, playbook):
    now = local(playbook, "2026-03-04 10:30")
    lead_id = _new_lead(database, world, now)
    run(rt, now)
    minutes = playbook.rules.claim_timeout.minutes
    assert run(rt, now + timedelta(minutes=minutes - 1))["claim_timeout"] == 0

    later = now + timedelta(minutes=minutes + 1)
    assert run(rt, later)["claim_timeout"] == 1
    lead = _lead(database, lead_id)
    assert lead.assignee_id == world.rep2.id and lead.assignment_count == 2
    old, new = tasks_of(database, "lead_assignment")
    assert (old.assignee_id, old.status) == (world.rep1.id, "closed") and "王芳" in old.result
    assert (new.assignee_id, new.status) == (world.rep2.id, "open")
    assert any("已改派给王芳" in t for t in texts_to(database, world.rep1.id))
    assert any("已改派给王芳" in t for t in texts_to(database, world.manager.id))
    # rep1's offer card no longer offers 认领 / 转交: it is updated in place to say where the lead went
    with database.transaction() as s:
        [update] = s.scalars(select(OutboxMessage).where(OutboxMessage.recipient_user_id == world.rep1.id,
                                                         OutboxMessage.action == "update")).all()
        closed = update.payload["card"]
        assert "已改派给王芳" in closed["done_note"]
        assert not [b for b in closed["buttons"] if b.get("key")]
        record = s.get(CardRecord, closed["card_id"])
        assert (record.status, record.recipient_user_id) == ("done", world.rep1.id)
    assert len(cards_to(database, world.rep2.id)) == 1
    # a second scan in the same minute changes nothing
    assert run(rt, later + timedelta(seconds=20))["claim_timeout"] == 0
    assert _lead(database, lead_id).assignment_count == 2
    # and the next timeout excludes rep2, so it goes back to rep1
    assert run(rt, later + timedelta(minutes=minutes + 1))["claim_timeout"] == 1
    assert _lead(database, lead_id).assignee_id == world.rep1.id


def test_two_scans_racing_on_one_lead_assign_it_once(rt, database, world, playbook):
    """The compare-and-set in storage.leads.assign: a stale copy of the lead loses."""
    now = local(playbook, "2026-03-04 10:30")
    lead_id = _new_lead(database, world, now)
    run(rt, now)
    with database.transaction() as s1:
        stale = s1.get(Lead, lead_id)
        s1.expunge(stale)
    later = now + timedelta(minutes=playbook.rules.claim_timeout.minutes + 1)
    run(rt, later)  # the first worker reassigns it
    with database.transaction() as s2:
        stale = s2.merge(stale, load=False)
        assert leads.assign(s2, stale, playbook, now=later, exclude={world.rep1.id}) is None
    lead = _lead(database, lead_id)
    assert lead.assignment_count == 2 and lead.assignee_id == world.rep2.id


def test_claimed_but_silent_lead_reminds_rep_and_copies_manager(rt, database, world, playbook):
    now = local(playbook, "2026-03-04 10:30")
    lead_id = _new_lead(database, world, now)
    run(rt, now)
    claimed_at = now + timedelta(minutes=3)
    with database.transaction() as s:
        rep = s.merge(world.rep1)
        leads.claim(s, rep, lead_id, playbook, now=claimed_at)
    within = playbook.rules.first_contact.within_minutes
    # counted in working time: 10:33 + 2 h skips the 12:00–13:00 lunch break → 13:33
    assert run(rt, claimed_at + timedelta(minutes=within + 1))["first_contact"] == 0
    assert run(rt, after_working(playbook, claimed_at, minutes=within - 1))["first_contact"] == 0
    assert run(rt, after_working(playbook, claimed_at, minutes=within + 1))["first_contact"] == 1
    [task] = tasks_of(database, "first_contact")
    assert task.assignee_id == world.rep1.id and task.customer_id is not None
    rep_card = cards_to(database, world.rep1.id)[-1]
    assert "首次联系" in rep_card["title"] and "建议开场白" in rep_card["text"]
    assert [b["text"] for b in rep_card["buttons"] if b.get("key")] == ["已联系", "明天提醒"]
    manager_card = cards_to(database, world.manager.id)[-1]
    assert manager_card["source"] == "抄送经理" and "李明" in str(manager_card["fields"])
    assert run(rt, after_working(playbook, claimed_at, minutes=within + 5))["first_contact"] == 0


def test_a_lead_the_playbook_cannot_route_does_not_block_the_others(rt, database, world, playbook):
    from config.playbook import AssignmentRule
    rt.playbook = playbook.model_copy(update={"assignment": (
        AssignmentRule(source=("百度推广",), team="不存在的组"), AssignmentRule(team="华东一组"))})
    now = local(playbook, "2026-03-04 10:30")
    with database.transaction() as s:
        bad, _ = leads.create_lead(s, world.org.id, LeadInput(source="百度推广", name="赵先生", external_ref="b1"), now=now)
        bad_id = bad.id
    good_id = _new_lead(database, world, now, ref="g1")
    assert run(rt, now)["lead_assignment"] == 1
    assert _lead(database, bad_id).status == "new" and _lead(database, good_id).status == "assigned"
