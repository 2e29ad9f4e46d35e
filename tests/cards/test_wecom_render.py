"""Neutral cards drawn as WeCom template cards; the fake WeCom checks the shapes it would refuse."""
from __future__ import annotations

from dataclasses import replace

import pytest

from bot.wecom.client import WeComClient
from bot.wecom.fake import start_fake_wecom
from cards import builders
from cards.model import Button, ButtonStyle, Card, CardField
from cards.wecom import (
    CONTENT_BYTES,
    render_card,
    render_markdown,
    render_text,
    render_update,
    task_id_for,
    truncate_bytes,
    truncate_chars,
)

FOLLOW_UP = Card(
    card_id="fu-42-1700000000", title="跟进：华东机电", text="上次联系 31 天前，报价待确认。",
    fields=(CardField("客户", "华东机电"), CardField("阶段", "已报价")),
    buttons=(Button("已报价", key="tag:quoted", style=ButtonStyle.PRIMARY), Button("稍后", key="snooze"),
             Button("详情", url="https://crm.example.com/c/42")),
    link="https://crm.example.com/c/42")


def test_card_with_keys_becomes_button_interaction():
    body = render_card(FOLLOW_UP, agent_id=1000002, touser="zhangsan")
    assert (body["touser"], body["msgtype"], body["agentid"]) == ("zhangsan", "template_card", 1000002)
    card = body["template_card"]
    assert card["card_type"] == "button_interaction"
    assert card["task_id"] == "fu-42-1700000000"  # a click's TaskId leads back to the card
    assert card["main_title"]["title"] == "跟进：华东机电"
    assert card["sub_title_text"] == "上次联系 31 天前，报价待确认。"
    assert card["horizontal_content_list"] == [{"keyname": "客户", "value": "华东机电"},
                                               {"keyname": "阶段", "value": "已报价"}]
    assert card["button_list"] == [
        {"text": "已报价", "style": 1, "type": 0, "key": "tag:quoted"},
        {"text": "稍后", "style": 2, "type": 0, "key": "snooze"},
        {"text": "详情", "style": 2, "type": 1, "url": "https://crm.example.com/c/42"}]
    assert card["card_action"] == {"type": 1, "url": "https://crm.example.com/c/42"}


def test_card_without_keys_becomes_text_notice_with_a_required_card_action():
    notice = Card(card_id="n-1", title="今日待办 3 项", buttons=(Button("打开", url="https://x/today"),))
    card = render_card(notice, 1000002, "zhangsan", default_url="https://crm.example.com/m/")["template_card"]
    assert card["card_type"] == "text_notice" and "task_id" not in card and "button_list" not in card
    assert card["card_action"] == {"type": 1, "url": "https://crm.example.com/m/"}
    assert card["jump_list"] == [{"type": 1, "title": "打开", "url": "https://x/today"}]


def test_long_texts_are_cut_with_an_ellipsis_to_the_documented_lengths():
    long = Card(card_id="c", title="客" * 40, text="文" * 200,
                fields=(CardField("预计成交金额", "很" * 40),), buttons=(Button("一个特别特别长的按钮文字", key="k"),),
                source="来源" * 10)
    card = render_card(long, 1, "u")["template_card"]
    assert card["main_title"]["title"] == "客" * 25 + "…"
    assert len(card["sub_title_text"]) == 112 and card["sub_title_text"].endswith("…")
    assert card["horizontal_content_list"][0] == {"keyname": "预计成交…", "value": "很" * 25 + "…"}
    assert card["button_list"][0]["text"] == "一个特别特别长的按…"
    assert len(card["source"]["desc"]) == 13


def test_fields_beyond_six_move_into_the_text_instead_of_being_lost():
    many = Card(card_id="c", title="客户", text="摘要", fields=tuple(CardField(f"项{i}", f"值{i}") for i in range(8)))
    card = render_card(many, 1, "u")["template_card"]
    assert len(card["horizontal_content_list"]) == 6
    assert card["sub_title_text"] == "摘要\n项6：值6\n项7：值7"


def test_more_than_six_buttons_keep_the_first_six():
    crowded = Card(card_id="c", title="t", buttons=tuple(Button(f"b{i}", key=f"k{i}") for i in range(8)))
    keys = [b["key"] for b in render_card(crowded, 1, "u")["template_card"]["button_list"]]
    assert keys == [f"k{i}" for i in range(6)]


def test_button_keys_that_cannot_be_cut_are_an_error():
    with pytest.raises(ValueError):
        render_card(Card(card_id="c", title="t", buttons=(Button("b", key="k" * 1025),)), 1, "u")
    with pytest.raises(ValueError):
        render_card(Card(card_id="c", title="t", buttons=(Button("a", key="k"), Button("b", key="k"))), 1, "u")


def test_task_id_keeps_valid_ids_and_makes_others_valid_and_distinct():
    assert task_id_for("fu-42_x@1") == "fu-42_x@1"
    a, b = task_id_for("客户.42"), task_id_for("客户 42")
    assert a != b
    for task_id in (a, b, task_id_for("x" * 300)):
        assert len(task_id.encode()) <= 128
        assert all(ch.isascii() and (ch.isalnum() or ch in "_-@") for ch in task_id)


def test_update_after_a_click_shows_who_did_what_and_disables_buttons():
    done = builders.done(FOLLOW_UP, "已报价 · 张三 10:32")
    card = render_update(done)
    assert card["main_title"]["desc"] == "已报价 · 张三 10:32"
    assert card["card_type"] == "text_notice"  # no callback button is left to tap
    assert "replace_text" not in card
    assert card["card_action"]["url"] == "https://crm.example.com/c/42"  # 详情 still opens
    assert render_update(FOLLOW_UP)["card_type"] == "button_interaction"  # not done: buttons stay live


def test_a_done_card_that_still_offers_undo_keeps_its_buttons():
    """转交 then 撤销 for a few minutes: replace_text would hide 撤销 behind one grey button."""
    done = builders.done(FOLLOW_UP, "已转交给王芳 · 张三 10:32")
    done = replace(done, buttons=done.buttons + (Button(text="撤销（5分钟内）", key="undo"),))
    card = render_update(done)
    assert "replace_text" not in card
    assert [b["text"] for b in card["button_list"] if b.get("key")] == ["撤销（5分钟内）"]
    assert card["main_title"]["desc"] == "已转交给王芳 · 张三 10:32"


def test_text_and_markdown_fit_2048_bytes_on_a_character_boundary():
    body = render_text("客" * 1000)  # 3000 bytes
    content = body["text"]["content"]
    assert body["msgtype"] == "text" and content.endswith("…")
    assert len(content.encode()) <= CONTENT_BYTES and content[:-1] == "客" * len(content[:-1])
    assert render_markdown(Card(card_id="m", title="今日", text="3 项"))["markdown"] == {"content": "**今日**\n3 项"}
    assert truncate_bytes("ab客", 4) == "a…"  # 1 + 3 bytes; never half a character
    assert truncate_chars("短", 5) == "短"


def test_rendered_cards_pass_the_fake_wecom_and_the_click_code_updates_them(redis_conn):
    base_url, state, stop = start_fake_wecom()
    try:
        client = WeComClient(base_url, state.corp_id, state.secret, state.agent_id, redis_conn)
        sent = client.send("zhangsan", render_card(FOLLOW_UP, state.agent_id, "zhangsan"))
        notice = Card(card_id="n-2", title="提醒", text="明天回访华东机电")
        client.send("zhangsan", render_card(notice, state.agent_id, "zhangsan"))
        client.send("zhangsan", render_text("收到"))
        client.send("zhangsan", render_markdown(Card(card_id="m", title="收到")))
        done = Card.from_dict({**FOLLOW_UP.to_dict(), "done_note": "已报价 · 张三"})
        client.update_template_card(["zhangsan"], sent.response_code, template_card=render_update(done))
        assert len(state.sent_to("/message/send")) == 4
        (update,) = state.sent_to("/message/update_template_card")
        assert update["body"]["template_card"]["main_title"]["desc"] == "已报价 · 张三"
    finally:
        stop()
