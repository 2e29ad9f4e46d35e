"""Cards after they are done: the instruction goes, the done line is whole, money and moments are
written one way — read back from the fake WeCom and the fake DingTalk (interactive cards)."""
from __future__ import annotations

import pytest

from tests.scenarios.test_both_platforms import Rep
from tests.scenarios.test_words import _heard
from tests.stack import running_stack
from tests.factories import build_world


@pytest.fixture(params=["wecom", "dingtalk-card"])
def stack(request, database, redis_conn, playbook):
    with database.transaction() as s:
        build_world(s)
    overrides = {"dingtalk_card_template_id": "tpl-crmbot"} if request.param == "dingtalk-card" else {}
    with running_stack(database, redis_conn, **overrides) as st:
        st.platform = request.param
        yield st


def test_the_drafts_instruction_is_gone_once_acted_upon(stack, monkeypatch):
    rep = Rep(stack, stack.platform, "rep1")
    _heard(stack, monkeypatch, "新客户王大锤 手机13900001111 想要报价二十万")
    (card,) = rep.cards()
    shown = card["text"] + str(card.get("markdown", ""))
    assert "要新建客户吗？" in shown
    rep.click(card, "discard")
    (card,) = rep.cards()
    assert "要新建客户吗？" not in card["text"] + str(card.get("markdown", ""))
    assert "已放弃 · 李明" in (card["done_note"] or "") + (card["desc"] or "")
