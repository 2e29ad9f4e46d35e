"""DingTalk without an interactive-card template: a card's buttons are classic ActionCard buttons, and
a tap makes the person's client send the button's text into the chat as them. Everyone in the chat
reads that text, so it is written for people ("☑ 老板未拍板 · 上海华东机电设备有限公司") and holds no
card id and no key; the server finds the card among the ones it sent to that person
(bot/card_taps.py). Through the real stack: signed robot callbacks, the inbox job, the real client,
the fake DingTalk."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from storage import customers, leads
from storage.customers import ContactInput, CustomerInput
from storage.leads import LeadInput
from storage.models import CardRecord, FollowUp, Lead, User
from tests.factories import NOW, build_world
from tests.stack import running_stack

HUADONG = "上海华东机电设备有限公司"


@pytest.fixture
def stack(database, redis_conn, playbook):
    with database.transaction() as s:
        w = build_world(s)
        for u in (w.rep1, w.rep2, w.manager):
            u.preferred_platform = "dingtalk"
        customers.create_customer(s, w.rep1, CustomerInput(
            kind="company", name=HUADONG, credit_code="91310115MA1H7XQ819",
            contacts=[ContactInput(name="王建国", mobile="13816620001")]), playbook, now=NOW)
    with running_stack(database, redis_conn) as st:   # no DINGTALK_CARD_TEMPLATE_ID
        yield st


def say(stack, user: str, text: str) -> None:
    webhook = stack.dingtalk.session_webhook_url(f"chat-{user}")   # text answers come back on it
    assert stack.dingtalk_text(user, text, session_webhook=webhook).status_code == 200
    stack.drain()


def action_cards(stack, user: str) -> list[dict]:
    return [e["msg_param"] for e in stack.dingtalk.sent_to("batchSend")
            if user in e["body"]["userIds"] and e["body"]["msgKey"].startswith("sampleActionCard")]


def titles(card: dict) -> list[str]:
    return [card["singleTitle"]] if "singleTitle" in card else \
        [card[f"actionTitle{i}"] for i in range(1, 6) if f"actionTitle{i}" in card]


def texts(stack, user: str) -> list[str]:
    """Every text `user` got, by batchSend or in their chat's session webhook, in order."""
    with stack.dingtalk.lock:
        sent = list(stack.dingtalk.sent)
    return [e["msg_param"]["content"] if e["api"] == "batchSend" else e["body"]["text"]["content"]
            for e in sent
            if (e["api"] == "batchSend" and user in e["body"]["userIds"] and e["body"]["msgKey"] == "sampleText")
            or (e["api"] == "webhook" and e.get("session") == f"chat-{user}" and e["body"].get("msgtype") == "text")]


def button(stack, user: str, label: str) -> str:
    """The text the newest button `label` sent to `user` makes their client send."""
    found = [t for t in stack.dingtalk.button_texts(user) if t.startswith(f"☑ {label} · ")]
    assert found, stack.dingtalk.button_texts(user)
    return found[-1]


def followups(database) -> list[FollowUp]:
    with database.transaction() as s:
        rows = s.scalars(select(FollowUp).order_by(FollowUp.id)).all()
        s.expunge_all()
        return rows


def card_status(database, subject_type: str) -> list[tuple[int, str]]:
    with database.transaction() as s:
        return [(r.recipient_user_id, r.status) for r in s.scalars(
            select(CardRecord).where(CardRecord.subject_type == subject_type).order_by(CardRecord.created_at))]


def test_a_tag_tap_sends_a_text_for_people_and_logs_the_followup(stack, database):
    say(stack, "rep1", "查 华东机电")
    [card] = action_cards(stack, "rep1")
    assert titles(card)[:3] == ["已报价", "竞品对比中", "老板未拍板"]
    assert card["actionURL4"].startswith("http://crmbot.test/app/")       # 打开详情 stays a link

    tap = button(stack, "rep1", "老板未拍板")
    assert tap == f"☑ 老板未拍板 · {HUADONG}"
    with database.transaction() as s:
        card_id = s.scalars(select(CardRecord.card_id)).one()
    for internal in (card_id, card_id.split("-")[0], "tag:", "boss_undecided", "‹", "›", "|"):
        assert internal not in tap
    assert not any(c.isascii() and c.isalnum() for c in tap)   # nothing a program wrote for itself

    say(stack, "rep1", tap)
    [followup] = followups(database)
    assert followup.tags == ["boss_undecided"] and followup.channel == "card"
    assert [t for t in texts(stack, "rep1") if "已记跟进：老板未拍板 · 李明" in t]


def test_a_second_tap_on_a_done_card_is_answered_not_done_again(stack, database):
    say(stack, "rep1", "查 华东机电")
    tap = button(stack, "rep1", "已报价")
    say(stack, "rep1", tap)
    say(stack, "rep1", tap)                                   # the ActionCard keeps its buttons
    say(stack, "rep1", button(stack, "rep1", "竞品对比中"))    # another button of the same, done card
    assert len(followups(database)) == 1
    answers = [t for t in texts(stack, "rep1") if t.startswith("这张卡片已经处理过了：已记跟进：已报价")]
    assert len(answers) == 2


def test_two_cards_of_one_customer_act_once(stack, database):
    # 查 twice: two cards that read the same. The newest acts; the same tap on the older card
    # repeats what was done on this customer and is answered instead of logging it twice
    say(stack, "rep1", "查 华东机电")
    say(stack, "rep1", "查 华东机电")
    first, second = action_cards(stack, "rep1")
    assert first["actionURL1"] == second["actionURL1"]
    tap = button(stack, "rep1", "已报价")
    say(stack, "rep1", tap)
    say(stack, "rep1", tap)
    assert len(followups(database)) == 1
    assert card_status(database, "customer") == [(4, "open"), (4, "done")]   # rep1 (id 4): the newest acted
    assert any(t.startswith("这张卡片已经处理过了") for t in texts(stack, "rep1"))


def test_a_tap_on_an_expired_card_is_told_what_to_do_and_changes_nothing(stack, database):
    say(stack, "rep1", "查 华东机电")
    say(stack, "rep1", "☑ 已报价 · 上海某某已删除的客户")       # no card of rep1 shows this button
    assert followups(database) == []
    assert texts(stack, "rep1")[-1] == ("这张卡片已过期或不是发给你的，“已报价”没有执行。"
                                        "请发送“待办”查看最新任务，或发送“查 客户名”重新打开客户卡片。")
    assert card_status(database, "customer") == [(4, "open")]


def test_the_same_text_from_a_colleague_does_nothing_to_the_reps_card(stack, database):
    say(stack, "rep1", "查 华东机电")
    tap = button(stack, "rep1", "已报价")
    say(stack, "rep2", tap)                  # rep2 never got this card: told, nothing done
    assert followups(database) == [] and card_status(database, "customer") == [(4, "open")]
    assert texts(stack, "rep2")[-1].startswith("这张卡片已过期或不是发给你的，“已报价”没有执行。")

    say(stack, "manager", "查 华东机电")      # the manager's own card reads the same
    assert button(stack, "manager", "已报价") == tap
    say(stack, "manager", tap)               # acts on the manager's card, never on rep1's
    [followup] = followups(database)
    with database.transaction() as s:
        manager = s.scalars(select(User).where(User.dingtalk_userid == "manager", User.org_id == 1)).one()
        assert followup.author_id == manager.id
        records = {r.recipient_user_id: r.status for r in s.scalars(select(CardRecord))}
        assert records == {4: "open", manager.id: "done"}


def test_transfer_on_an_action_card_asks_to_whom_and_can_be_undone(stack, database, playbook):
    # a classic card cannot change in place: while a card still has something to tap after an
    # update (the colleagues to pick, 撤销), it is sent again as it is now
    now = NOW.astimezone(playbook.tz).replace(hour=10, minute=30, second=0, microsecond=0)   # a working morning
    with database.transaction() as s:
        leads.create_lead(s, 1, LeadInput(source="官网表单", name="陈先生", external_ref="dt-x1"), now=now)
    stack.runtime.clock.set(now)
    stack.runtime.queue.enqueue("jobs.rules.run_rule", "lead_assignment")
    stack.drain()
    [offer] = action_cards(stack, "rep1")
    assert titles(offer)[:2] == ["认领", "转交"]
    say(stack, "rep1", button(stack, "rep1", "转交"))
    picker = action_cards(stack, "rep1")[-1]
    assert titles(picker)[:2] == ["转给王芳", "取消"]
    assert not texts(stack, "rep1")                      # no "✅ …已处理" for a card still open

    say(stack, "rep1", button(stack, "rep1", "转给王芳"))
    with database.transaction() as s:
        lead = s.scalars(select(Lead)).one()
        assert s.get(User, lead.assignee_id).dingtalk_userid == "rep2"
    done = action_cards(stack, "rep1")[-1]
    undo = [t for t in titles(done) if t.startswith("撤销")]
    assert "已转交给王芳" in done["text"] and undo == [f"撤销（{playbook.handover.undo_minutes}分钟内）"]
    assert len(action_cards(stack, "rep2")) == 1

    say(stack, "rep1", button(stack, "rep1", undo[0]))
    with database.transaction() as s:
        lead = s.scalars(select(Lead)).one()
        assert s.get(User, lead.assignee_id).dingtalk_userid == "rep1"
        assert s.scalar(select(func.count()).select_from(FollowUp)) == 0
