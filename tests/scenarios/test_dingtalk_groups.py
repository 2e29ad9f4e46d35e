"""关联客户 in a DingTalk 客户群, end to end over loopback HTTP: signed robot callbacks from the group
(the robot hears only messages that @ it), the worker, the real DingTalk client, the fake DingTalk.

A rep links the group to a customer (a bare @ proposes candidates from the group's title; "关联 华东机电"
links it), a colleague cannot re-link it (the message names the linker, the customer and its owner;
nothing changes), and an @-message in the linked group becomes a "记为…的跟进？" card whose one tap
logs it, once, and only for someone who may write to that customer. Both card flavours: interactive
cards in the group (IM_GROUP) when a template is configured, the ActionCard fallback otherwise (where
a colleague's tap, their own text in the group, finds the card posted there: bot/card_taps.py)."""
from __future__ import annotations

import json
from datetime import date
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from sqlalchemy import func, select

from bot.outbound import Outbound, Purpose
from cards.builders import chat_note_card
from cards.dingtalk import button_text
from cards.model import Card, new_card_id
from storage import customers
from storage.customers import ContactInput, CustomerInput
from storage.models import AuditLog, CardRecord, ChatLink, Customer, FollowUp, User
from tests.factories import NOW, build_world
from tests.stack import running_stack

TEMPLATE_ID = "tpl-crmbot-test-001"
GROUP = "cidHuaDongGroup0001=="
TITLE = "华东机电项目群"
HUADONG = "上海华东机电设备有限公司"
JINGGONG = "苏州精工机械有限公司"   # rep2's


def _seed(database, playbook) -> None:
    with database.transaction() as s:
        w = build_world(s)
        customers.create_customer(s, w.rep1, CustomerInput(
            kind="company", name=HUADONG, credit_code="91310115MA1H7XQ819",
            contacts=[ContactInput(name="王建国", mobile="13816620001")]), playbook, now=NOW)
        customers.create_customer(s, w.rep2, CustomerInput(kind="company", name=JINGGONG), playbook, now=NOW)


@pytest.fixture
def card_stack(database, redis_conn, playbook):
    _seed(database, playbook)
    with running_stack(database, redis_conn, dingtalk_card_template_id=TEMPLATE_ID) as st:
        yield st


@pytest.fixture
def stack(database, redis_conn, playbook):
    _seed(database, playbook)
    with running_stack(database, redis_conn) as st:
        yield st


def at_robot(stack, user: str, text: str, **kw) -> None:
    """`user` @s the robot in the customer group; the worker runs."""
    kw.setdefault("session_webhook", stack.dingtalk.session_webhook_url("group-huadong"))
    assert stack.dingtalk_group_text(user, text, conversation_id=GROUP, title=TITLE, **kw).status_code == 200
    stack.drain()


def tap(stack, user: str, out_track_id: str, key: str) -> None:
    assert stack.dingtalk_card_tap(user, out_track_id, key).status_code == 200
    stack.drain()


def group_texts(state) -> list[str]:
    """What the group read, whichever way it went (the message's session webhook or groupMessages/send)."""
    texts = [e["body"]["text"]["content"] for e in state.sent_to("webhook")
             if e["session"] == "group-huadong" and e["body"].get("msgtype") == "text"]
    return texts + [e["msg_param"]["content"] for e in state.sent_to("groupSend")
                    if e["body"]["openConversationId"] == GROUP and e["body"]["msgKey"] == "sampleText"]


def group_cards(state) -> list[dict]:
    """Interactive cards delivered into the group: (outTrackId, cardParamMap) as DingTalk got them."""
    return [e["body"] for e in state.sent_to("cardCreate")
            if e["body"]["openSpaceId"] == f"dtv1.card//IM_GROUP.{GROUP}"]


def _links(database) -> list[tuple[str, str, str, str]]:
    with database.transaction() as s:
        rows = s.execute(select(ChatLink.platform, ChatLink.external_id, Customer.name, ChatLink.linked_by_id)
                         .join(Customer, Customer.id == ChatLink.customer_id)).all()
        return [tuple(r) for r in rows]


def _count(database, model) -> int:
    with database.transaction() as s:
        return s.scalar(select(func.count()).select_from(model))


def _customer_id(database, name: str) -> int:
    with database.transaction() as s:
        return s.scalars(select(Customer.id).where(Customer.name == name)).one()


# ---------------------------------------------------------------------------------------------------
# interactive cards in the group (IM_GROUP)


def test_link_the_group_from_its_title_then_log_a_message_with_one_tap(card_stack, database):
    stack = card_stack
    at_robot(stack, "rep1", "")   # a bare @ in a group nobody linked yet

    [offer] = group_cards(stack.dingtalk)
    assert offer["cardTemplateId"] == TEMPLATE_ID
    assert offer["imGroupOpenDeliverModel"] == {"robotCode": stack.settings.dingtalk_robot_code}
    params = offer["cardData"]["cardParamMap"]
    assert "华东机电项目群" in params["title"] and HUADONG in params["text"] and "李明" in params["text"]
    buttons = json.loads(params["buttons"])
    huadong = _customer_id(database, HUADONG)
    assert buttons[0]["key"] == f"pick:{huadong}" and buttons[0]["text"].startswith("关联：上海华东机电")
    page = buttons[-1]["url"]
    assert buttons[-1]["text"] == "搜索/新建客户" and page.startswith("http://crmbot.test/app/group?t=")
    assert GROUP not in unquote(page)            # the group travels signed, not as a bare id

    tap(stack, "rep1", offer["outTrackId"], f"pick:{huadong}")
    assert _links(database) == [("dingtalk", GROUP, HUADONG, _user_id(database, "rep1"))]
    assert stack.dingtalk.cards[offer["outTrackId"]]["done_note"].startswith(f"已关联：{HUADONG} · 李明")
    assert any(t.startswith(f"已把本群关联到客户“{HUADONG}”（负责人：李明）") for t in group_texts(stack.dingtalk))

    at_robot(stack, "rep1", "客户说下周三来看样品 #已报价", msg_id="msgGroupNote0001")
    note_card = group_cards(stack.dingtalk)[-1]
    params = note_card["cardData"]["cardParamMap"]
    assert params["title"] == f"记为“{HUADONG}”的跟进？"
    assert params["text"] == "客户说下周三来看样品"
    at = f"03-11 {stack.runtime.playbook.followup.default_time:%H:%M}"   # 下周三, at the playbook's hour
    assert {f["label"]: f["value"] for f in json.loads(params["fields"])} == {"标签": "已报价", "下次跟进": at}
    assert [(b["text"], b["key"]) for b in json.loads(params["buttons"])] == [("记为跟进", "log")]
    assert _count(database, FollowUp) == 0       # nothing is logged before the tap

    tap(stack, "rep1", note_card["outTrackId"], "log")
    with database.transaction() as s:
        followup = s.scalars(select(FollowUp)).one()
        assert followup.tags == ["quoted"] and followup.note == "客户说下周三来看样品"
        assert followup.channel == "chat" and followup.source_event_id == "dingtalk:msgGroupNote0001"
        assert followup.customer_id == huadong and followup.author_id == _user_id(database, "rep1", s)
        assert followup.next_followup_at.astimezone(stack.runtime.playbook.tz).date() == date(2026, 3, 11)
    card_now = stack.dingtalk.cards[note_card["outTrackId"]]
    assert card_now["done"] == "true" and card_now["done_note"].startswith("已记为跟进：已报价，下次跟进 03-11")

    # the same tap delivered twice, and another tap on the done card: still one follow-up
    tap(stack, "rep1", note_card["outTrackId"], "log")
    tap(stack, "manager", note_card["outTrackId"], "log")
    assert _count(database, FollowUp) == 1
    assert any(t.startswith("这张卡片已经处理过了：已记为跟进") for t in group_texts(stack.dingtalk))


def test_a_colleague_who_may_not_write_to_the_customer_is_refused(card_stack, database):
    stack = card_stack
    at_robot(stack, "rep1", "关联 华东机电")
    at_robot(stack, "rep1", "报价单已发 #已报价")
    note_card = group_cards(stack.dingtalk)[-1]

    tap(stack, "rep2", note_card["outTrackId"], "log")   # 王芳 works beside 李明 but not on his customer
    assert _count(database, FollowUp) == 0
    assert f"王芳无权给客户“{HUADONG}”记跟进（负责人：李明），请负责人或其经理来点“记为跟进”。" in group_texts(stack.dingtalk)
    assert stack.dingtalk.cards[note_card["outTrackId"]]["done"] == "false"   # still open for who may

    tap(stack, "manager", note_card["outTrackId"], "log")   # 钱经理 manages 李明: allowed
    with database.transaction() as s:
        followup = s.scalars(select(FollowUp)).one()
        assert followup.author_id == _user_id(database, "manager", s) and followup.tags == ["quoted"]


def test_a_group_linked_by_a_colleague_is_never_relinked(card_stack, database):
    stack = card_stack
    at_robot(stack, "rep1", "关联 华东机电")
    linked = _links(database)
    assert linked == [("dingtalk", GROUP, HUADONG, _user_id(database, "rep1"))]
    audit_rows = _count(database, AuditLog)

    at_robot(stack, "rep2", "关联 精工")        # rep2's own customer: the group is taken
    taken = f"该群已被李明关联到客户“{HUADONG}”（负责人：李明）"
    assert group_texts(stack.dingtalk)[-1] == taken
    at_robot(stack, "rep2", "关联客户 华东机电")   # rep1's customer: not rep2's to link
    assert group_texts(stack.dingtalk)[-1] == (f"客户“{HUADONG}”由李明负责，你无权把本群关联到它。"
                                               f"请李明或其经理在群里@我发送“关联 {HUADONG}”。")
    at_robot(stack, "rep2", "")                 # a bare @ from the colleague names who linked it
    assert group_texts(stack.dingtalk)[-1] == taken + "，如需跟进请联系负责人。"
    at_robot(stack, "rep2", "取消关联")
    assert group_texts(stack.dingtalk)[-1] == "该群由李明关联，只有李明或其经理可以取消关联"

    assert _links(database) == linked and _count(database, AuditLog) == audit_rows   # nothing changed

    at_robot(stack, "rep1", "关联 华东机电")     # the same customer again: idempotent
    assert group_texts(stack.dingtalk)[-1] == f"本群已关联客户“{HUADONG}”，无需重复关联。"
    assert _links(database) == linked

    at_robot(stack, "manager", "取消关联")       # the linker's manager may undo it
    assert group_texts(stack.dingtalk)[-1].startswith(f"已取消本群与客户“{HUADONG}”的关联")
    assert _links(database) == []
    at_robot(stack, "rep2", "关联 精工")         # and now the colleague may link it
    assert _links(database) == [("dingtalk", GROUP, JINGGONG, _user_id(database, "rep2"))]


def test_several_matches_offer_pick_buttons_and_none_offers_the_workbench(card_stack, database, playbook):
    stack = card_stack
    with database.transaction() as s:
        customers.create_customer(s, s.get(User, _user_id(database, "rep1", s)), CustomerInput(
            kind="company", name="杭州华东机电工程有限公司"), playbook, now=NOW)
    at_robot(stack, "rep1", "关联 华东机电")
    pick = group_cards(stack.dingtalk)[-1]["cardData"]["cardParamMap"]
    assert pick["title"] == "找到2个“华东机电”"
    assert sorted(b["text"] for b in json.loads(pick["buttons"]) if b["key"]) == ["关联：上海华东机电设备", "关联：杭州华东机电工程"]
    assert _links(database) == []

    at_robot(stack, "rep1", "关联 上海华冬机电设备")   # a typo: the duplicate check's fuzzy match offers it
    near = group_cards(stack.dingtalk)[-1]["cardData"]["cardParamMap"]
    assert near["title"] == "没有叫“上海华冬机电设备”的客户" and "你是不是要关联" in near["text"]
    assert json.loads(near["buttons"])[0]["text"] == "关联：上海华东机电设备"

    at_robot(stack, "rep1", "关联 远洋重工")
    none = group_cards(stack.dingtalk)[-1]["cardData"]["cardParamMap"]
    assert none["title"] == "没有找到客户“远洋重工”"
    assert [b["text"] for b in json.loads(none["buttons"])] == ["搜索/新建客户"]
    assert _links(database) == []


def test_the_cards_workbench_link_opens_the_group_page_with_the_conflict(card_stack, database):
    """The page the card links to: who may link what is checked by the server, not the link."""
    stack = card_stack
    at_robot(stack, "rep1", "关联 华东机电")
    at_robot(stack, "rep2", "")   # the colleague gets the taken message, then asks for the page
    at_robot(stack, "rep2", "关联 远洋重工")
    page = json.loads(group_cards(stack.dingtalk)[-1]["cardData"]["cardParamMap"]["buttons"])[-1]["url"]
    path = urlparse(page).path + "?" + urlparse(page).query

    stack.app.config["CRMBOT_DEV_LOGIN"] = True
    client = stack.app.test_client()
    client.get("/app/dev-login?user=rep2&platform=dingtalk&corp=dingcorp001")
    html = client.get(path).get_data(as_text=True)
    assert f"该群已被李明关联到客户“{HUADONG}”（负责人：李明），如需跟进请联系负责人" in html
    token = parse_qs(urlparse(page).query)["t"][0]
    jinggong = _customer_id(database, JINGGONG)
    resp = client.post("/api/links", json={"chat_token": token, "customer_id": jinggong},
                       headers={"X-Requested-With": "t"})
    assert resp.status_code == 409 and resp.json["error"] == f"该群已被李明关联到客户“{HUADONG}”（负责人：李明）"
    # a group id typed into the page instead of the signed token is refused, whatever it names
    forged = client.post("/api/links", json={"external_userid": GROUP, "platform": "dingtalk",
                                             "customer_id": jinggong}, headers={"X-Requested-With": "t"})
    assert forged.status_code == 400 and forged.json["field"] == "chat_token"
    assert [row[2] for row in _links(database)] == [HUADONG]


# ---------------------------------------------------------------------------------------------------
# the ActionCard fallback (no card template): buttons make the client send "@robot #操作 …" into the group


def _action_cards(state) -> list[dict]:
    return [e["msg_param"] for e in state.sent_to("groupSend")
            if e["body"]["openConversationId"] == GROUP and e["body"]["msgKey"].startswith("sampleActionCard")]


def _button_text(param: dict, title: str) -> str:
    """The text a button's dtmd:// URL makes the DingTalk client send as the user."""
    urls = {param.get(f"actionTitle{i}", param.get("singleTitle")): param.get(f"actionURL{i}", param.get("singleURL"))
            for i in range(1, 6)}
    return parse_qs(urlparse(urls[title]).query)["content"][0]


def test_fallback_action_cards_link_and_log_in_the_group(stack, database):
    at_robot(stack, "rep1", "")
    offer = _action_cards(stack.dingtalk)[-1]
    pick = _button_text(offer, "关联：上海华东机电设备")
    assert pick.startswith("@销售助手 ☑ 关联：上海华东机电设备")   # it @s the robot, or the robot hears nothing
    assert not any(ch in pick for ch in "‹›|")                      # and shows people no card id or key
    at_robot(stack, "rep1", pick.removeprefix("@销售助手 "))   # DingTalk delivers the mention stripped
    assert [row[2] for row in _links(database)] == [HUADONG]

    at_robot(stack, "rep1", "样品已寄出 #已拜访 明天再联系", msg_id="msgGroupNote0002")
    note = _action_cards(stack.dingtalk)[-1]
    assert note["title"] == f"记为“{HUADONG}”的跟进？" and note["singleTitle"] == "记为跟进"
    log_text = _button_text(note, "记为跟进").removeprefix("@销售助手 ")
    at_robot(stack, "rep1", log_text)
    at_robot(stack, "rep1", log_text)       # a second tap sends the text again, as a new message
    with database.transaction() as s:
        followup = s.scalars(select(FollowUp)).one()
        assert followup.source_event_id == "dingtalk:msgGroupNote0002" and followup.note.startswith("样品已寄出")
        assert [stack.runtime.playbook.tag(k).label for k in followup.tags] == ["已拜访"]
    said = group_texts(stack.dingtalk)
    assert any(t.startswith(f"✅ 记为“{HUADONG}”的跟进？：已记为跟进：已拜访") for t in said)
    assert said[-1].startswith("这张卡片已经处理过了：已记为跟进：已拜访")


def _private_note_card(stack, database, customer_id: int) -> str:
    """A card sent to 李明 in his 1:1 chat that reads like the group's note card and is about a
    subject anyone of the org may tap in a group (chat_note): only where it was sent keeps it his."""
    card = chat_note_card(new_card_id("note", customer_id), customer=HUADONG, note="私聊里的另一条", fields=(),
                          extra={"text": "私聊里的另一条", "said_at": NOW.isoformat(),
                                 "source": "dingtalk:msgPrivateNote01"})
    with database.transaction() as s:
        rep1 = s.get(User, _user_id(database, "rep1", s))
        Outbound(s, stack.runtime.playbook, stack.settings, stack.runtime.clock.now()).card(
            rep1, card, subject_type="chat_note", subject_id=customer_id, dedupe_key="test:private-note",
            purpose=Purpose.REPLY)
    stack.drain()
    return card.card_id


def test_fallback_a_colleagues_tap_on_the_note_card_in_the_group(stack, database):
    at_robot(stack, "rep1", "关联 华东机电")
    at_robot(stack, "rep1", "报价单已发 #已报价", msg_id="msgGroupNote0003")
    note = _action_cards(stack.dingtalk)[-1]
    log_text = _button_text(note, "记为跟进").removeprefix("@销售助手 ")
    private = _private_note_card(stack, database, _customer_id(database, HUADONG))
    with database.transaction() as s:   # newer, open, and its button sends the very same text
        card = Card.from_dict(s.get(CardRecord, private).card)
        assert button_text(card, card.buttons[0]) == log_text

    at_robot(stack, "rep3", log_text)     # 张伟, another team: may not write to 李明's customer
    assert group_texts(stack.dingtalk)[-1] == \
        f"张伟无权给客户“{HUADONG}”记跟进（负责人：李明），请负责人或其经理来点“记为跟进”。"
    assert _count(database, FollowUp) == 0

    at_robot(stack, "manager", log_text)  # 钱经理 manages 李明: logged, by the tapper, from the group's card
    with database.transaction() as s:
        followup = s.scalars(select(FollowUp)).one()
        assert followup.author_id == _user_id(database, "manager", s)
        assert followup.source_event_id == "dingtalk:msgGroupNote0003" and followup.note == "报价单已发"
        assert s.get(CardRecord, private).status == "open"   # 李明's 1:1 card was never reached
    assert any(t.startswith(f"✅ 记为“{HUADONG}”的跟进？：已记为跟进：已报价") for t in group_texts(stack.dingtalk))

    at_robot(stack, "manager", log_text)  # tapped again: answered, nothing more logged
    assert group_texts(stack.dingtalk)[-1].startswith("这张卡片已经处理过了：已记为跟进：已报价")
    assert _count(database, FollowUp) == 1


def test_linking_is_a_group_thing(stack, database):
    assert stack.dingtalk_text("rep1", "关联 华东机电",
                               session_webhook=stack.dingtalk.session_webhook_url("one")).status_code == 200
    stack.drain()
    [answer] = [e["body"]["text"]["content"] for e in stack.dingtalk.sent_to("webhook") if e["session"] == "one"]
    assert answer.startswith("关联客户要在客户群里@我发送“关联 客户名”")
    assert _links(database) == []


def _user_id(database, platform_uid: str, session=None) -> int:
    if session is not None:
        return session.scalars(select(User.id).where(User.dingtalk_userid == platform_uid,
                                                     User.org_id == 1)).one()
    with database.transaction() as s:
        return _user_id(database, platform_uid, s)


def test_a_greeting_or_a_mistyped_command_in_the_group_is_not_a_note(card_stack, database):
    stack = card_stack
    at_robot(stack, "rep1", "关联 华东机电")
    cards_before = len(group_cards(stack.dingtalk))
    at_robot(stack, "rep1", "你好")
    assert group_texts(stack.dingtalk)[-1].startswith("你好，李明！最常用的三件事")
    at_robot(stack, "rep1", "取消关连")
    assert group_texts(stack.dingtalk)[-1].startswith("你是不是想发：取消关联")
    assert len(group_cards(stack.dingtalk)) == cards_before and _count(database, FollowUp) == 0
    assert [row[2] for row in _links(database)] == [HUADONG]


def test_跟进_and_the_group_note_share_one_parser_an_empty_note_is_refused(stack, database):
    webhook = stack.dingtalk.session_webhook_url("one")
    assert stack.dingtalk_text("rep1", "跟进 华东机电", session_webhook=webhook).status_code == 200
    stack.drain()
    [answer] = [e["body"]["text"]["content"] for e in stack.dingtalk.sent_to("webhook") if e["session"] == "one"]
    assert answer == "跟进内容是空的，请写一句跟进情况。" and _count(database, FollowUp) == 0


def test_commands_in_the_group_are_answered_privately(stack, database):
    # The customer's own people are in a 客户群: a rep's 查/待办 there must not show them the CRM.
    at_robot(stack, "rep1", "关联 华东机电")
    group_before = len(group_texts(stack.dingtalk))
    private_before = len(stack.dingtalk.sent_to("batchSend"))

    at_robot(stack, "rep1", "查 华东机电")
    at_robot(stack, "rep1", "待办")

    private = [e for e in stack.dingtalk.sent_to("batchSend")[private_before:] if e["body"]["userIds"] == ["rep1"]]
    assert any(HUADONG in json.dumps(e["msg_param"], ensure_ascii=False) for e in private)
    said = group_texts(stack.dingtalk)[group_before:]
    assert said == ["已私聊回复你（群里有客户，客户资料不在群里显示）"] * 2
    assert not group_cards(stack.dingtalk) and not any(
        e["body"]["openConversationId"] == GROUP and e["body"]["msgKey"] != "sampleText"
        for e in stack.dingtalk.sent_to("groupSend"))
    # 关联 and 帮助 still answer in the group.
    at_robot(stack, "rep1", "帮助")
    assert group_texts(stack.dingtalk)[-1].startswith("crmbot 能帮你做这些")
