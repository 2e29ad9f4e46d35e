"""Which card a button text means (bot/card_taps.py): only the sender's own cards on that platform,
and for a text sent in a group the cards posted into that group the sender may act on; the newest
open one, a repeat on a record already done answered by its done card, expired beyond the lookback.
Against the real store (PostgreSQL in CI); cards go out through the one way out."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot import card_taps
from bot.outbound import Outbound, Purpose
from cards.builders import chat_note_card, done
from cards.dingtalk import button_text
from cards.model import Button, Card, new_card_id
from config.settings import load_settings
from storage.models import CardRecord, OutboxMessage, User
from tests.factories import NOW, build_world

TAP = "☑ 已报价 · 上海华东机电设备有限公司"
GROUP, OTHER_GROUP = "cidHuaDongGroup0001==", "cidJingGongGroup002=="


def customer_card(subject_id: int) -> Card:
    return Card(card_id=new_card_id("cust", subject_id), title="上海华东机电设备有限公司（正常）",
                subject="上海华东机电设备有限公司",
                buttons=(Button("已报价", key="tag:quoted"), Button("打开详情", url="http://crmbot.test/app/c/1")))


@pytest.fixture
def world(database):
    with database.transaction() as s:
        w = build_world(s)
        for u in (w.rep1, w.rep2):
            u.preferred_platform = "dingtalk"
        ids = w.rep1.id, w.rep2.id
    return ids


class Sent:
    """Cards sent through bot.outbound, one transaction each, a minute apart."""

    def __init__(self, database, playbook):
        self.database, self.playbook, self.n = database, playbook, 0
        self.settings = load_settings(crmbot_database_url=database.url, crmbot_public_url="http://crmbot.test")

    def card(self, user_id: int, card: Card, subject_id: int, subject_type: str = "customer") -> str:
        self.n += 1
        with self.database.transaction() as s:
            out = Outbound(s, self.playbook, self.settings, NOW + timedelta(minutes=self.n))
            out.card(s.get(User, user_id), card, subject_type=subject_type, subject_id=subject_id,
                     dedupe_key=f"t:{self.n}", purpose=Purpose.REPLY)
        return card.card_id

    def posted(self, user_id: int, chat_id: str, card: Card, subject_id: int, subject_type: str = "chat_note") -> str:
        """A card posted into a group chat in answer to `user_id`, as bot.context.Context.send_card
        posts it: recorded for them, its message addressed to the group."""
        self.n += 1
        with self.database.transaction() as s:
            user = s.get(User, user_id)
            out = Outbound(s, self.playbook, self.settings, NOW + timedelta(minutes=self.n))
            out.record_card(card, user, "dingtalk", subject_type, subject_id)
            out.reply(platform="dingtalk", recipient=chat_id, payload={"card": card.to_dict()},
                      dedupe_key=f"t:{self.n}", user=user, card_id=card.card_id, context={"is_group": True})
        return card.card_id

    def finish(self, card_id: str) -> None:
        with self.database.transaction() as s:
            record = s.get(CardRecord, card_id)
            record.card, record.status = done(Card.from_dict(record.card), "已记跟进：已报价").to_dict(), "done"


def resolve(database, user_id: int, text: str = TAP, platform: str = "dingtalk", group: card_taps.Group | None = None):
    with database.transaction() as s:
        tap = card_taps.resolve(s, s.get(User, user_id), platform, text, group)
        return (tap.record.card_id, tap.key, tap.record.status) if tap else None


@pytest.fixture
def sent(database, playbook, world):
    return Sent(database, playbook)


def test_the_text_is_the_button_as_shown(sent):
    card = customer_card(1)
    assert button_text(card, card.buttons[0]) == TAP


def test_the_newest_open_card_showing_the_text_wins(database, world, sent):
    rep1, _ = world
    sent.card(rep1, customer_card(1), 1)
    newest = sent.card(rep1, customer_card(2), 2)      # another record, reading the same
    assert resolve(database, rep1) == (newest, "tag:quoted", "open")


def test_a_repeat_on_a_record_already_done_is_answered_by_its_done_card(database, world, sent):
    rep1, _ = world
    sent.card(rep1, customer_card(1), 1)
    newest = sent.card(rep1, customer_card(1), 1)      # 查 twice: the same customer
    sent.finish(newest)
    assert resolve(database, rep1) == (newest, "tag:quoted", "done")


def test_a_newer_done_card_of_another_record_leaves_the_older_open_one_to_act(database, world, sent):
    rep1, _ = world
    older = sent.card(rep1, customer_card(1), 1)
    sent.finish(sent.card(rep1, customer_card(2), 2))
    assert resolve(database, rep1) == (older, "tag:quoted", "open")


def test_with_no_open_card_the_newest_done_one_answers(database, world, sent):
    rep1, _ = world
    sent.finish(sent.card(rep1, customer_card(1), 1))
    newest = sent.card(rep1, customer_card(2), 2)
    sent.finish(newest)
    assert resolve(database, rep1) == (newest, "tag:quoted", "done")


def test_never_another_persons_card(database, world, sent):
    rep1, rep2 = world
    sent.card(rep1, customer_card(1), 1)
    assert resolve(database, rep2) is None
    mine = sent.card(rep2, customer_card(1), 1)
    assert resolve(database, rep2) == (mine, "tag:quoted", "open")


def test_never_a_card_sent_on_the_other_platform_nor_an_ordinary_text(database, world, sent):
    rep1, _ = world
    sent.card(rep1, customer_card(1), 1)
    assert resolve(database, rep1, platform="wecom") is None
    assert resolve(database, rep1, text="已报价 · 上海华东机电设备有限公司") is None
    assert resolve(database, rep1, text="☑ 已报价 · 上海华东机电") is None


def test_a_card_not_yet_delivered_cannot_have_been_tapped(database, world, sent):
    rep1, _ = world
    card_id = sent.card(rep1, customer_card(1), 1)
    with database.transaction() as s:   # held for quiet hours: the person has not seen it
        s.execute(update(OutboxMessage).where(OutboxMessage.card_id == card_id).values(status="held"))
    assert resolve(database, rep1) is None


def test_a_card_older_than_the_lookback_has_expired(database, world, sent, monkeypatch):
    rep1, _ = world
    old = sent.card(rep1, customer_card(1), 1)
    monkeypatch.setattr(card_taps, "LOOKBACK", 3)
    assert resolve(database, rep1) == (old, "tag:quoted", "open")
    for i in range(3):
        sent.card(rep1, replace(customer_card(10 + i), subject=f"别的客户{i}"), 10 + i)
    assert resolve(database, rep1) is None


def test_an_update_that_changed_the_buttons_is_tapped_as_sent(database, world, sent):
    # 转交's colleagues arrive as an update of the same card (sent again on an ActionCard)
    rep1, _ = world
    card = Card(card_id=new_card_id("task", 7), title="新线索：陈先生",
                buttons=(Button("认领", key="claim"), Button("转交", key="pass")))
    sent.card(rep1, card, 7, subject_type="task")
    picker = replace(card, buttons=(Button("转给王芳", key="pass:5"), Button("取消", key="unpick")))
    sent.card(rep1, picker, 7, subject_type="task")
    assert resolve(database, rep1, "☑ 转给王芳 · 新线索：陈先生") == (card.card_id, "pass:5", "open")
    assert resolve(database, rep1, "☑ 认领 · 新线索：陈先生") == (card.card_id, "claim", "open")


# ---- a text sent in a group chat: the cards posted there, for whoever may act on them


def note_card(customer_id: int) -> Card:
    """rep1's @-message in a linked group, offered as a follow-up (bot/handlers/chat_links.py)."""
    return chat_note_card(new_card_id("note", customer_id), customer="上海华东机电设备有限公司",
                          note="报价单已发", fields=(), extra={"text": "报价单已发"})


NOTE_TAP = button_text(note_card(1), note_card(1).buttons[0])


def same_org(record: CardRecord, user: User) -> bool:
    return record.org_id == user.org_id


def nobody(record: CardRecord, user: User) -> bool:
    return False


def test_in_a_group_a_colleague_reaches_the_card_posted_there(database, world, sent):
    rep1, rep2 = world
    posted = sent.posted(rep1, GROUP, note_card(1), 1)
    assert resolve(database, rep2, NOTE_TAP, group=card_taps.Group(GROUP, same_org)) == (posted, "log", "open")
    assert resolve(database, rep2, NOTE_TAP) is None                                   # sent in a 1:1 chat
    assert resolve(database, rep2, NOTE_TAP, group=card_taps.Group(OTHER_GROUP, same_org)) is None
    assert resolve(database, rep2, NOTE_TAP, group=card_taps.Group(GROUP, nobody)) is None
    assert resolve(database, rep2, NOTE_TAP, "wecom", card_taps.Group(GROUP, same_org)) is None


def test_the_predicate_is_asked_about_the_card_and_the_tapper(database, world, sent):
    rep1, rep2 = world
    sent.posted(rep1, GROUP, note_card(1), 1)
    asked: list[tuple[str, int]] = []

    def may_act(record: CardRecord, user: User) -> bool:
        asked.append((record.subject_type, user.id))
        return False

    assert resolve(database, rep2, NOTE_TAP, group=card_taps.Group(GROUP, may_act)) is None
    assert asked == [("chat_note", rep2)]


def test_from_a_group_never_a_colleagues_one_to_one_card(database, world, sent):
    rep1, rep2 = world
    in_group = sent.posted(rep1, GROUP, note_card(1), 1)
    private = sent.card(rep1, note_card(2), 2, subject_type="chat_note")   # newer, reads the same
    group = card_taps.Group(GROUP, same_org)     # which would let rep2 act on it, were it reached
    assert resolve(database, rep2, NOTE_TAP, group=group) == (in_group, "log", "open")
    sent.finish(in_group)
    assert resolve(database, rep2, NOTE_TAP, group=group) == (in_group, "log", "done")
    assert resolve(database, rep1, NOTE_TAP, group=group) == (private, "log", "open")   # rep1's own


def test_in_a_group_the_newest_open_card_wins_whoever_it_was_sent_to(database, world, sent):
    rep1, rep2 = world
    group = card_taps.Group(GROUP, same_org)
    own = sent.posted(rep2, GROUP, note_card(1), 1)
    colleagues = sent.posted(rep1, GROUP, note_card(2), 2)
    assert resolve(database, rep2, NOTE_TAP, group=group) == (colleagues, "log", "open")
    sent.finish(colleagues)
    assert resolve(database, rep2, NOTE_TAP, group=group) == (own, "log", "open")


def test_a_group_card_older_than_the_groups_lookback_has_expired(database, world, sent, monkeypatch):
    rep1, rep2 = world
    group = card_taps.Group(GROUP, same_org)
    old = sent.posted(rep1, GROUP, note_card(1), 1)
    monkeypatch.setattr(card_taps, "LOOKBACK", 3)
    assert resolve(database, rep2, NOTE_TAP, group=group) == (old, "log", "open")
    for i in range(3):
        sent.posted(rep1, GROUP, replace(customer_card(10 + i), subject=f"别的客户{i}"), 10 + i, "customer")
    assert resolve(database, rep2, NOTE_TAP, group=group) is None


def test_what_the_person_is_told_when_nothing_matches():
    assert card_taps.not_found("☑ 老板未拍板 · 上海华东机电设备有限公司").startswith(
        "这张卡片已过期或不是发给你的，“老板未拍板”没有执行。请发送“待办”")
