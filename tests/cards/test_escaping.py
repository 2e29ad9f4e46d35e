"""One escape per renderer (issue 15): whatever a builder puts in a card — a lead named
`[点此认领](http://evil.example/claim)`, `![x](http://evil.example/px.png)`, `<a href>` — reaches the
platform as text, and only links under our own public URL survive."""
from __future__ import annotations

import json
import re

import pytest

from cards import builders
from cards import dingtalk as dt
from cards import wecom as wc
from cards.escape import markdown_text, safe_link
from cards.model import Button, Card, CardField

BASE = "https://crm.example.cn/app/"
LINK_NAME = "[点此认领](http://evil.example/claim)"
IMAGE_NAME = "![x](http://evil.example/px.png)"
HTML_NAME = '<a href="http://evil.example">点我</a>'
HOSTILE = [LINK_NAME, IMAGE_NAME, HTML_NAME, "www.evil.example/claim", "# 标题\n> 引用 **粗体** `代码`"]

# a markdown link or image to anything but our own pages, a tag, or a bare URL an autolinker takes
LIVE_MARKDOWN = re.compile(r"\]\((?!https://crm\.example\.cn/app/)|!\[|<a |https?://evil|www\.evil")


def hostile_card(name: str, link: str | None = BASE + "customers/1") -> Card:
    """A builder's card with the hostile text in every display field."""
    return Card(card_id="lead-7", title=f"新线索 {name}", text=name, source=name,
                fields=(CardField(name, name), CardField("公司", name)),
                buttons=(Button(text=name, key="claim"), Button(text="打开", url=link)),
                link=link, done_note=None)


def rendered_dingtalk(card: Card) -> list[str]:
    outputs = [json.dumps(dt.render_interactive(card, link_base=BASE), ensure_ascii=False),
               json.dumps(dt.render_action_card(card, link_base=BASE), ensure_ascii=False),
               json.dumps(dt.render_markdown(card, link_base=BASE), ensure_ascii=False)]
    return outputs


@pytest.mark.parametrize("name", HOSTILE)
def test_dingtalk_markdown_shows_hostile_names_as_text(name):
    for out in rendered_dingtalk(hostile_card(name)):
        # the dtmd:// action URLs are percent-encoded, so decode nothing: a raw "](" would be live
        assert not LIVE_MARKDOWN.search(out), out
    _, param = dt.render_action_card(hostile_card(LINK_NAME), link_base=BASE)
    assert "［点此认领］（http:\u200b//evil.example/claim）" in param["text"]


@pytest.mark.parametrize("name", HOSTILE)
def test_wecom_text_markdown_and_card_show_hostile_names_as_text(name):
    markdown = wc.render_markdown(hostile_card(name), link_base=BASE)["markdown"]["content"]
    assert not LIVE_MARKDOWN.search(markdown)
    assert "<" not in wc.render_text(name)["text"]["content"]
    card = wc.template_card(hostile_card(name), link_base=BASE)
    assert all(j["url"].startswith(BASE) for j in card.get("jump_list", []))
    assert card["card_action"]["url"].startswith(BASE)


def test_only_our_own_links_survive():
    evil = hostile_card("张三", link="http://evil.example/claim")
    for out in rendered_dingtalk(evil):
        assert "evil.example" not in out
    wecom = wc.template_card(evil, link_base=BASE, default_url="http://evil.example/")
    assert "evil.example" not in json.dumps(wecom)
    ours = hostile_card("张三")
    assert "[查看详情](https://crm.example.cn/app/customers/1)" in dt.render_markdown(ours, link_base=BASE)["markdown"]["text"]
    for bad in ("javascript:alert(1)", "https://crm.example.cn.evil.example/app/", "https://user@crm.example.cn/app/",
                "https://crm.example.cn/other", "https://crm.example.cn/app/x y", "data:text/html,x"):
        assert safe_link(bad, BASE) is None, bad
    assert safe_link("https://crm.example.cn/app/customers/1?x=(1)", BASE) == "https://crm.example.cn/app/customers/1?x=%281%29"


def test_real_builders_cannot_bypass_the_escape():
    cards = [
        builders.customer_summary("c1", name=LINK_NAME, owner=IMAGE_NAME, status_label="正常", last_contact="今天",
                                  last_summary=LINK_NAME, stage=None, next_followup="无",
                                  quick_tags=[("quoted", "已报价")], link=BASE + "customers/1"),
        builders.task_card("t1", title=f"新线索：{LINK_NAME}", detail=IMAGE_NAME, fields=[("公司", LINK_NAME)],
                           actions=[("claim", "认领")], link=BASE + "tasks"),
        builders.new_contact_card("n1", contact_name=LINK_NAME, matches=[(1, IMAGE_NAME, LINK_NAME)], link=None),
        builders.capture_draft_card("d1", title=LINK_NAME, fields=[("姓名", IMAGE_NAME)], note=LINK_NAME,
                                    actions=[("confirm", "确认")], edit_link=BASE + "drafts/1"),
    ]
    for card in cards + [builders.done(c, f"已认领 · {LINK_NAME}") for c in cards]:
        for out in rendered_dingtalk(card):
            assert not LIVE_MARKDOWN.search(out), out
        assert not LIVE_MARKDOWN.search(wc.render_markdown(card, link_base=BASE)["markdown"]["content"])


def test_markdown_escape_keeps_chinese_readable():
    assert markdown_text("上海华东机电（集团）有限公司") == "上海华东机电（集团）有限公司"
    assert markdown_text("A(B)_c") == "A（B）＿c"
