"""The neutral card drawn for DingTalk: template variables, ActionCard fallback, markdown."""
from __future__ import annotations

import dataclasses
import json
from urllib.parse import parse_qs, urlparse

import pytest

from cards.builders import done
from cards.dingtalk import (
    PARAM_VALUE_MAX_BYTES,
    button_text,
    button_texts,
    parse_card_action,
    read_button_text,
    render_action_card,
    render_interactive,
    render_markdown,
    render_text,
    tapped_label,
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


def _sent(url: str) -> str:
    parsed = urlparse(url)
    assert (parsed.scheme, parsed.netloc, parsed.path) == ("dtmd", "dingtalkclient", "/sendMessage")
    return parse_qs(parsed.query)["content"][0]


def test_action_card_buttons_send_a_text_for_people():
    msg_key, param = render_action_card(follow_up_card())
    assert msg_key == "sampleActionCard3"
    assert param["actionTitle1"] == "已报价" and param["actionTitle3"] == "打开"
    assert param["actionURL3"] == "https://crm.example.com/c/42"   # a link stays a link
    sent = _sent(param["actionURL1"])
    # what the rep and the chat read: the button and what the card is about; no id, no key
    assert sent == "☑ 已报价 · 跟进：华东机电"
    assert not any(part in sent for part in ("fu-42", "tag", "quoted", "‹", "›", "|"))
    assert _sent(param["actionURL2"]) == "☑ 稍后 · 跟进：华东机电"
    assert button_texts(follow_up_card()) == {"☑ 已报价 · 跟进：华东机电": "tag:quoted",
                                              "☑ 稍后 · 跟进：华东机电": "snooze"}
    assert read_button_text(sent) == sent and tapped_label(sent) == "已报价"
    assert parse_card_action(sent) is None
    assert "**负责人**：张三" in param["text"]


def test_the_subject_names_the_card_and_is_cut_by_whole_words():
    card = follow_up_card(title="上海华东机电设备有限公司（正常）", subject="上海华东机电设备有限公司")
    assert button_text(card, card.buttons[0]) == "☑ 已报价 · 上海华东机电设备有限公司"
    long = follow_up_card(title="上海华东机电设备有限公司 已30天没有联系")
    assert button_text(long, long.buttons[0]) == "☑ 已报价 · 上海华东机电设备有限公司…"
    with pytest.raises(ValueError):
        button_text(card, card.buttons[2])   # a link sends nothing


def test_equal_labels_on_one_card_are_numbered():
    card = follow_up_card(title="找到2个“华东机电”", buttons=(
        Button("上海华东机电设备有限", key="pick:1"), Button("上海华东机电设备有限", key="pick:2")))
    assert button_texts(card) == {"☑ 上海华东机电设备有限（1） · 找到2个“华东机电”": "pick:1",
                                  "☑ 上海华东机电设备有限（2） · 找到2个“华东机电”": "pick:2"}


def test_markup_and_controls_in_names_stay_inert_in_the_text():
    card = follow_up_card(subject="[点我](http://evil.example)\n王*总", buttons=(Button("已报价", key="tag:quoted"),))
    text = button_text(card, card.buttons[0])
    assert "\n" not in text and "(" not in text and "[" not in text
    _, param = render_action_card(card)
    assert _sent(param["singleURL"]) == text


def test_action_card_single_button_and_group_hint():
    card = follow_up_card(buttons=(Button("认领", key="claim"),))
    msg_key, param = render_action_card(card, robot_sender_hint="@销售助手 ")
    assert msg_key == "sampleActionCard" and param["singleTitle"] == "认领"
    text = _sent(param["singleURL"])
    assert text == "@销售助手 ☑ 认领 · 跟进：华东机电"
    assert read_button_text(text) == "☑ 认领 · 跟进：华东机电" == button_text(card, card.buttons[0])


def test_action_card_at_most_five_buttons():
    card = follow_up_card(buttons=tuple(Button(f"选项{i}", key=f"opt{i}") for i in range(7)))
    msg_key, param = render_action_card(card)
    assert msg_key == "sampleActionCard5" and "actionTitle5" in param and "actionTitle6" not in param


def test_action_card_without_buttons_or_done_is_markdown():
    msg_key, param = render_action_card(done(follow_up_card(link=None), "已处理"))
    assert msg_key == "sampleMarkdown" and "> 已处理" in param["text"]   # links alone are not worth a card
    msg_key, param = render_action_card(follow_up_card(buttons=()))
    assert msg_key == "sampleActionCard" and param["singleURL"] == "https://crm.example.com/c/42"


def test_a_done_card_with_something_left_to_tap_keeps_it():
    card = done(follow_up_card(), "已转交给王芳 · 李明 10:32")
    card = dataclasses.replace(card, buttons=card.buttons + (Button("撤销（5分钟内）", key="undo"),))
    msg_key, param = render_action_card(card)
    assert msg_key == "sampleActionCard2" and "> 已转交给王芳" in param["text"]
    assert param["actionTitle1"] == "打开" and _sent(param["actionURL2"]) == "☑ 撤销（5分钟内） · 跟进：华东机电"


def test_read_button_text_rejects_ordinary_text():
    for text in ("#操作", "操作 已报价", "今天拜访了客户 ☑ 很顺利", "", "☑", "☑已报价", "☑ 已报价\n第二行",
                 "#操作 已报价 ‹fu-42|tag:quoted›"):
        assert read_button_text(text) is None, text


def test_the_format_before_issue_16_is_still_read():
    # cards already in chats keep their old buttons until they scroll away
    assert parse_card_action("#操作 已报价 ‹fu-42|tag:quoted›") == ("fu-42", "tag:quoted")
    assert parse_card_action("今天拜访了客户 #操作 很顺利") is None


def test_markdown_and_text_bodies():
    body = render_markdown(follow_up_card())
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == "跟进：华东机电"
    assert body["markdown"]["text"].startswith("### 跟进：华东机电")
    assert "[查看详情](https://crm.example.com/c/42)" in body["markdown"]["text"]
    long_body = render_text("字" * 3000)
    assert long_body["msgtype"] == "text" and len(long_body["text"]["content"].encode()) < 2048
