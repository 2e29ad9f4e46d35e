"""One format for money, moments and shortened lines on every card and page."""
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from cards import builders, formats
from cards.dingtalk import render_interactive, render_markdown
from cards.model import Card, CardField
from cards.wecom import render_card, render_update

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=SH)


@pytest.mark.parametrize("amount, text", [
    (200000, "200,000元"), (Decimal("80000.00"), "80,000元"), (Decimal("1234.5"), "1,234.50元"),
    ("300000", "300,000元"), (None, ""),
])
def test_money_is_written_one_way(amount, text):
    assert formats.money(amount) == text


def test_moments_show_the_year_only_outside_this_one():
    assert formats.when(datetime(2026, 12, 2, 15, 0, tzinfo=SH), SH, NOW) == "12-02 15:00"
    assert formats.when(datetime(2027, 1, 5, 15, 0, tzinfo=SH), SH, NOW) == "2027-01-05 15:00"
    assert formats.when(date(2027, 1, 5), SH, NOW) == "2027-01-05"
    assert formats.when(datetime(2026, 12, 1, 7, 30, tzinfo=ZoneInfo("UTC")), SH, NOW, today_word=True) == "今天 15:30"
    assert formats.when(None, SH, NOW) == "无"
    assert builders.when(datetime(2027, 1, 5, 7, 0, tzinfo=ZoneInfo("UTC")), SH, NOW) == "2027-01-05 15:00"


def test_lines_are_shortened_by_whole_parts():
    line = "已记跟进：已报价、老板未拍板、需技术介入、已约演示"
    cut = formats.fit(line, 20)
    assert cut == "已记跟进：已报价、老板未拍板…" and len(cut) <= 20
    assert formats.fit("很" * 40, 10) == "很" * 9 + "…"      # one long word: the only hard cut


def test_done_note_drops_time_then_name_never_mid_word():
    note = "已记跟进：已报价、老板未拍板、需技术介入 · 李明 12-01 10:32"
    assert formats.done_line(note, 30) == "已记跟进：已报价、老板未拍板、需技术介入 · 李明"
    assert formats.done_line(note, 16) == "已记跟进：已报价、老板未拍板…"
    card = builders.done(Card(card_id="c-1", title="华东机电", buttons=()), note)
    assert render_update(card)["main_title"]["desc"] == "已记跟进：已报价、老板未拍板、需技术介入 · 李明"


def test_field_values_are_not_cut_mid_word_on_wecom():
    card = Card(card_id="c-2", title="t", fields=(CardField("标签", "已报价、老板未拍板、需技术介入、已约演示、已拜访、等待决策"),))
    value = render_card(card, 1, "u")["template_card"]["horizontal_content_list"][0]["value"]
    assert value == "已报价、老板未拍板、需技术介入、已约演示、已拜访…"


def test_instructions_go_when_the_card_is_done():
    draft = builders.capture_draft_card("draft-1-ab", title="名片识别结果", fields=[("姓名", "王建国")], note="",
                                        hint="核对无误后点“确认创建”。", actions=[("confirm", "确认创建")],
                                        edit_link="http://x/app/drafts/1")
    assert "核对无误" in render_card(draft, 1, "u")["template_card"]["sub_title_text"]
    assert "核对无误" in render_interactive(draft)["markdown"] and "核对无误" in draft.as_text()
    done = builders.done(draft, "已创建客户 · 李明 12-01 10:32")
    for rendered in (str(render_update(done)), str(render_interactive(done)), str(render_markdown(done)),
                     done.as_text(), str(Card.from_dict(done.to_dict()).to_dict())):
        assert "核对无误" not in rendered


def test_the_claim_instruction_is_a_hint_of_lead_cards():
    from config.playbook import load_playbook
    playbook = load_playbook("config/playbook.toml")
    minutes = playbook.rules.claim_timeout.minutes
    assert builders.task_hint("lead_assignment", playbook) == f"请在{minutes}分钟内认领，超时将改派给其他同事。"
    card = builders.task_card("task-1-ab", title="新线索", detail="建议开场白：…", fields=[], actions=[("claim", "认领")],
                              link=None, hint=builders.task_hint("lead_assignment", playbook))
    assert "认领" in card.body and "认领" not in builders.done(card, "已认领 · 李明").body
