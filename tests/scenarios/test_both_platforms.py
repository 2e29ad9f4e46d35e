"""The same scenarios on WeCom, DingTalk with ActionCards and DingTalk with interactive cards: the
handlers are platform-neutral, so a rep's day must read the same on each. What the rep sees is read
back from the fake platforms with the simulator's readers (crmbot/simulator/conversation.py)."""
from __future__ import annotations


import pytest
import requests
from sqlalchemy import select

from bot.dingtalk import fake as dt_fake
from crmbot.simulator.conversation import dingtalk_messages, session_for, wecom_messages
from storage import customers
from storage.customers import ContactInput, CustomerInput
from storage.models import Customer, FollowUp, User
from tests.factories import NOW, build_world
from tests.stack import running_stack

PLATFORMS = ["wecom", "dingtalk", "dingtalk-card"]


class Rep:
    """Acts as one person on one platform and reads what that person received."""

    def __init__(self, stack, platform: str, user: str):
        self.stack, self.platform, self.user = stack, platform, user
        self.codes: dict[str, str] = {}   # WeCom response_code → task_id (updates name only the code)

    def send(self, text: str) -> None:
        if self.platform == "wecom":
            r = self.stack.wecom_text(self.user, text)
        else:
            r = self.stack.dingtalk_text(self.user, text,
                                         session_webhook=self.stack.dingtalk.session_webhook_url(session_for(self.user)))
        assert r.status_code == 200
        self.stack.drain()

    def click(self, card: dict, key: str) -> None:
        s = self.stack
        if self.platform == "wecom":
            code = s.wecom.new_response_code()
            self.codes[code] = card["card_id"]
            from bot.wecom import fake as wc_fake
            r = s.wecom_post(wc_fake.card_event_xml(s.settings.wecom_corp_id, self.user, card["card_id"], key,
                                                    response_code=code))
        elif self.platform == "dingtalk-card":
            headers, body = dt_fake.build_card_callback(s.settings.dingtalk_app_secret, card["card_id"],
                                                        self.user, [key], corp_id=s.settings.dingtalk_corp_id)
            r = requests.post(f"{s.base_url}/dingtalk/card-callback", headers=headers, data=body, timeout=10)
        else:  # ActionCard: the client sends the button's text, which names no card and no key
            shown = [b["key"] for b in card["buttons"] if b["key"]]
            text = key if key in shown else s.dingtalk_button_text(self.user, key, shown=shown)
            assert text in shown and not any(c in text for c in "‹›|:") and card["card_id"] == ""
            r = s.dingtalk_text(self.user, text,
                                session_webhook=s.dingtalk.session_webhook_url(session_for(self.user)))
        assert r.status_code == 200
        self.stack.drain()

    def keys(self, card: dict) -> set[str]:
        """The keys of a card's buttons. An ActionCard shows none (its buttons send texts for
        people): they are read from the card as the store sent it, for the buttons shown."""
        shown = [b["key"] for b in card["buttons"] if b.get("key")]
        if self.platform != "dingtalk":
            return set(shown)
        return set(self.stack.dingtalk_button_keys(self.user, shown=shown).values())

    def messages(self) -> list[dict]:
        if self.platform == "wecom":
            return wecom_messages(self.stack.wecom, self.user, self.codes)
        return dingtalk_messages(self.stack.dingtalk, self.user)

    def cards(self) -> list[dict]:
        return [m["card"] for m in self.messages() if m["type"] == "card"]

    def texts(self) -> list[str]:
        return [m["text"] for m in self.messages() if m["type"] == "text"]


@pytest.fixture(params=PLATFORMS)
def stack(request, database, redis_conn, playbook):
    with database.transaction() as s:
        w = build_world(s)
        customers.create_customer(s, w.rep1, CustomerInput(
            kind="company", name="上海华东机电设备有限公司", credit_code="91310115MA1H7XQ819",
            contacts=[ContactInput(name="王建国", mobile="13816620001")]), playbook, now=NOW)
    overrides = {"dingtalk_card_template_id": "tpl-crmbot"} if request.param == "dingtalk-card" else {}
    with running_stack(database, redis_conn, **overrides) as st:
        st.platform = request.param
        yield st


def _followups(database) -> list[FollowUp]:
    with database.transaction() as s:
        rows = s.scalars(select(FollowUp)).all()
        s.expunge_all()
        return rows


def test_lookup_card_and_tag_click_logs_followup_and_updates_card(stack, database):
    rep = Rep(stack, stack.platform, "rep1")
    rep.send("查 华东机电")
    cards = rep.cards()
    assert len(cards) == 1
    card = cards[0]
    assert "华东机电" in card["title"]
    keys = [b["key"] for b in card["buttons"] if b["key"]]
    if stack.platform == "dingtalk":  # an ActionCard button sends a text for people, no key
        assert keys[0] == "☑ 已报价 · 上海华东机电设备有限公司"
    else:
        assert keys[0] == "tag:quoted"

    rep.click(card, "tag:quoted")
    followups = _followups(database)
    assert len(followups) == 1 and followups[0].tags == ["quoted"] and followups[0].channel == "card"
    if stack.platform == "dingtalk":
        # a classic ActionCard cannot change: the rep is told what was done instead
        assert any("已记跟进：已报价" in t for t in rep.texts())
    else:
        card_now = rep.cards()[0]
        assert card_now["updated"] and not [b for b in card_now["buttons"] if b["key"]]
        assert "已记跟进：已报价" in (card_now["desc"] or "") + (card_now["done_note"] or "")


def test_followup_command(stack, database):
    pytest.importorskip("ocr_asr.note_parser", reason="the 跟进 command needs ocr_asr.note_parser (notes branch)")
    rep = Rep(stack, stack.platform, "rep1")
    rep.send("跟进 华东机电 #已报价 下周三再约")
    followups = _followups(database)
    assert len(followups) == 1 and followups[0].tags == ["quoted"] and followups[0].channel == "chat"
    assert followups[0].next_followup_at is not None
    texts = rep.texts()
    assert len(texts) == 1 and texts[0].startswith("已记录跟进：上海华东机电设备有限公司（已报价）")


def test_unknown_user_is_told_how_to_get_access(stack, database):
    stranger = Rep(stack, stack.platform, "stranger")
    stranger.send("查 华东机电")
    assert stranger.texts() == ["你的账号还没有开通 crmbot，请联系管理员把你加入销售团队后再试。"]
    assert stranger.cards() == []
    assert _followups(database) == []


def test_a_name_matching_several_customers_offers_pick_buttons(stack, database, playbook):
    with database.transaction() as s:
        rep1 = s.scalars(select(User).where(User.wecom_userid == "rep1", User.org_id == 1)).one()
        customers.create_customer(s, rep1, CustomerInput(kind="company", name="苏州华东机电配件厂"), playbook, now=NOW)
    rep = Rep(stack, stack.platform, "rep1")
    rep.send("查 华东机电")
    [pick] = rep.cards()
    assert "找到2个" in pick["title"] and "负责人：李明" in str(pick)
    buttons = {b["text"]: b["key"] for b in pick["buttons"] if b["key"]}
    assert sorted(buttons) == ["上海华东机电设备有限", "苏州华东机电配件厂"]
    rep.click(pick, buttons["苏州华东机电配件厂"])
    assert any(c["title"].startswith("苏州华东机电配件厂") for c in rep.cards())


def test_adding_a_contact_who_is_already_there_is_refused(stack, database, playbook):
    from storage.errors import Conflict
    with database.transaction() as s:
        rep1 = s.scalars(select(User).where(User.wecom_userid == "rep1", User.org_id == 1)).one()
        [customer] = s.scalars(select(Customer)).all()
        with pytest.raises(Conflict, match="已有这位联系人：王建国"):
            customers.add_contact(s, rep1, customer.id, ContactInput(name="王总", mobile="13816620001"))
        customers.add_contact(s, rep1, customer.id, ContactInput(name="刘工", mobile="13900001111"))
        s.flush()
        s.refresh(customer)
        assert sorted(c.name for c in customer.contacts) == ["刘工", "王建国"]
