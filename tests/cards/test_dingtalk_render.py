"""The neutral card drawn for DingTalk: template variables, ActionCard fallback, markdown."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest

from cards.dingtalk import (
    PARAM_VALUE_MAX_BYTES,
    action_text,
    parse_action_text,
    parse_card_action,
    render_action_card,
    render_interactive,
    render_markdown,
    render_text,
)
from cards.model import Button, ButtonStyle, Card, CardField


def follow_up_card(**kw) -> Card:
    base = dict(card_id="fu-42", title="跟进：华东机电", text="上次联系 31 天前",
                fields=(CardField("阶段", "已报价"), CardField("负责人", "张三")),
                buttons=(Button("已报价", key="tag:quoted", style=ButtonStyle.PRIMARY),
                         Button("稍后", key="snooze"),
                         Button("打开", url="https://crm.example.com/c/42")),
                link="https://crm.example.com/c/42")
    base.update(kw)
    return Card(**base)


def test_interactive_params_are_strings_with_json_lists():
    params = render_interactive(follow_up_card())
    assert all(isinstance(v, str) for v in params.values())
    assert params["title"] == "跟进：华东机电" and params["done"] == "false" and params["done_note"] == ""
    assert json.loads(params["fields"]) == [{"label": "阶段", "value": "已报价"},
                                            {"label": "负责人", "value": "张三"}]
    buttons = json.loads(params["buttons"])
    assert buttons[0] == {"text": "已报价", "key": "tag:quoted", "style": "primary", "url": ""}
    assert buttons[2]["url"] == "https://crm.example.com/c/42" and buttons[2]["key"] == ""
    assert "**阶段**：已报价" in params["markdown"]


def test_interactive_done_card_keeps_only_links():
    from cards.builders import done
    card = follow_up_card(buttons=(Button("已报价", key="tag:quoted"), Button("打开", url="https://x.test/app/")))
    params = render_interactive(done(card, "已认领 · 张三 10:32"))
    assert json.loads(params["buttons"]) == [{"text": "打开", "key": "", "style": "default", "url": "https://x.test/app/"}]
    assert params["done"] == "true"
    assert params["done_note"] == "已认领 · 张三 10:32"


def test_interactive_values_fit_one_kilobyte():
    many = tuple(CardField(f"字段{i}", "很长的值" * 30) for i in range(30))
    card = follow_up_card(text="长" * 2000, fields=many,
                          buttons=tuple(Button(f"按钮{i}" * 10, key=f"k{i}" * 40) for i in range(20)))
    params = render_interactive(card)
    for name, value in params.items():
        assert len(value.encode()) <= PARAM_VALUE_MAX_BYTES, name
    assert params["text"].endswith("…")
    fields = json.loads(params["fields"])           # still valid JSON, only whole items dropped
    assert 0 < len(fields) < 30
    assert 0 < len(json.loads(params["buttons"])) < 20


def test_action_card_buttons_send_parseable_text():
    msg_key, param = render_action_card(follow_up_card())
    assert msg_key == "sampleActionCard3"
    assert param["actionTitle1"] == "已报价" and param["actionTitle3"] == "打开"
    assert param["actionURL3"] == "https://crm.example.com/c/42"
    url = urlparse(param["actionURL1"])
    assert (url.scheme, url.netloc, url.path) == ("dtmd", "dingtalkclient", "/sendMessage")
    sent_text = parse_qs(url.query)["content"][0]
    assert parse_card_action(sent_text) == ("fu-42", "tag:quoted")
    assert parse_action_text(sent_text) == "tag:quoted"
    assert "**负责人**：张三" in param["text"]


def test_action_card_single_button_and_group_hint():
    card = follow_up_card(buttons=(Button("认领", key="claim"),))
    msg_key, param = render_action_card(card, robot_sender_hint="@销售助手 ")
    assert msg_key == "sampleActionCard" and param["singleTitle"] == "认领"
    text = parse_qs(urlparse(param["singleURL"]).query)["content"][0]
    assert text.startswith("@销售助手 #操作")
    assert parse_card_action(text) == ("fu-42", "claim")


def test_action_card_at_most_five_buttons():
    card = follow_up_card(buttons=tuple(Button(f"选项{i}", key=f"opt{i}") for i in range(7)))
    msg_key, param = render_action_card(card)
    assert msg_key == "sampleActionCard5" and "actionTitle5" in param and "actionTitle6" not in param


def test_action_card_without_buttons_or_done_is_markdown():
    msg_key, param = render_action_card(follow_up_card(done_note="已处理", link=None))
    assert msg_key == "sampleMarkdown" and "> 已处理" in param["text"]
    msg_key, param = render_action_card(follow_up_card(buttons=()))
    assert msg_key == "sampleActionCard" and param["singleURL"] == "https://crm.example.com/c/42"


def test_parse_action_text_rejects_ordinary_text():
    for text in ("#操作", "操作 已报价", "今天拜访了客户 #操作 很顺利", ""):
        assert parse_action_text(text) is None


def test_button_key_must_not_break_the_format():
    with pytest.raises(ValueError):
        action_text("fu-1", Button("坏", key="a›b"))


def test_markdown_and_text_bodies():
    body = render_markdown(follow_up_card())
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == "跟进：华东机电"
    assert body["markdown"]["text"].startswith("### 跟进：华东机电")
    assert "[查看详情](https://crm.example.com/c/42)" in body["markdown"]["text"]
    long_body = render_text("字" * 3000)
    assert long_body["msgtype"] == "text" and len(long_body["text"]["content"].encode()) < 2048
