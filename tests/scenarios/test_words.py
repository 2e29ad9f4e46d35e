"""Words the bot understands beyond the exact commands: typos and homophones of commands, pinyin,
a bare customer name, a greeting, an unknown #tag, a part of the day, the note-length rule —
through the real callback on WeCom and DingTalk."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from storage import customers
from storage.customers import ContactInput, CustomerInput
from storage.models import FollowUp, Task
from tests.factories import NOW, build_world
from tests.scenarios.test_both_platforms import Rep
from tests.stack import running_stack

HELP_FIRST_LINE = "crmbot 能帮你做这些（直接发给我）："


@pytest.fixture(params=["wecom", "dingtalk"])
def stack(request, database, redis_conn, playbook):
    with database.transaction() as s:
        w = build_world(s)
        customers.create_customer(s, w.rep1, CustomerInput(
            kind="company", name="上海华东机电设备有限公司", credit_code="91310115MA1H7XQ819",
            contacts=[ContactInput(name="王建国", mobile="13816620001")]), playbook, now=NOW)
        customers.create_customer(s, w.rep1, CustomerInput(
            kind="company", name="上海博远科技有限公司", credit_code="91310000MA1FL5XX3N",
            contacts=[ContactInput(name="刘建华", mobile="13816620002")]), playbook, now=NOW)
    with running_stack(database, redis_conn) as st:
        st.platform = request.param
        yield st


@pytest.fixture
def rep(stack):
    return Rep(stack, stack.platform, "rep1")


@pytest.mark.parametrize("typed", ["代办", "待 办", "daiban", "待办"])
def test_todo_typed_loosely_runs_todo(rep, typed):
    rep.send(typed)
    texts = rep.texts()
    assert texts and texts[0] in ("太好了，你现在没有待办任务。",) or texts[0].startswith("你有")
    assert not any(HELP_FIRST_LINE in t for t in texts)


def test_help_typed_as_a_homophone_shows_help(rep):
    rep.send("帮主")
    assert rep.texts()[0].startswith(HELP_FIRST_LINE)


@pytest.mark.parametrize("typed", ["cha 华东机电", "Cha华东机电", "茶 华东机电"])
def test_lookup_in_pinyin_or_homophone_finds_the_customer(rep, typed):
    rep.send(typed)
    cards = rep.cards()
    assert len(cards) == 1 and "上海华东机电设备有限公司" in cards[0]["title"]
    assert rep.texts() == []


@pytest.mark.parametrize("typed", ["华东机电", "博远", "hd", "by", "ljh", "boyuan"])
def test_a_bare_customer_name_or_pinyin_answers_with_its_card(rep, typed):
    rep.send(typed)
    cards = rep.cards()
    assert len(cards) == 1, (typed, rep.messages())
    assert ("华东机电" if typed in ("华东机电", "hd") else "博远") in cards[0]["title"]


def test_greeting_answers_short_with_three_commands(rep):
    rep.send("你好！")
    (text,) = rep.texts()
    assert text.startswith("你好，李明！")
    assert text.count("\n· ") + text.startswith("· ") == 3 and "待办" in text and "查 华东机电" in text
    assert len(text.splitlines()) == 5 and HELP_FIRST_LINE not in text


def test_gibberish_gets_a_short_answer_not_the_whole_help(rep):
    rep.send("阿巴阿巴阿巴")
    (text,) = rep.texts()
    assert text.startswith("没看懂“阿巴阿巴阿巴”") and HELP_FIRST_LINE not in text
    assert len(text.splitlines()) == 5


def test_a_command_that_writes_is_suggested_not_run_on_a_guess(rep, database):
    rep.send("根进 华东机电 #已报价")
    (text,) = rep.texts()
    assert text.startswith("你是不是想发：跟进 华东机电 #已报价")
    with database.transaction() as s:
        assert s.scalars(select(FollowUp)).all() == []


def _followups(database) -> list[FollowUp]:
    with database.transaction() as s:
        rows = s.scalars(select(FollowUp)).all()
        s.expunge_all()
        return rows


def test_unknown_tag_keeps_its_text_and_is_named(rep, database):
    rep.send("跟进 华东机电 #已报价 #不存在标签 客户很满意")
    (followup,) = _followups(database)
    assert followup.tags == ["quoted"]
    assert followup.note == "#不存在标签 客户很满意"
    (text,) = rep.texts()
    assert "没有识别标签 #不存在标签，原文已保留在备注里" in text


def test_a_part_of_the_day_sets_the_time(rep, database, playbook):
    rep.send("跟进 华东机电 明天下午再打")
    (followup,) = _followups(database)
    local = followup.next_followup_at.astimezone(playbook.tz)
    assert (local.hour, local.minute) == (14, 0)
    assert f"{local:%H:%M}" == "14:00" and "14:00" in rep.texts()[0]


def test_a_long_chat_note_is_kept_whole_and_the_rule_is_said(rep, database, playbook):
    long_note = "客户对方案整体满意但是希望我们在交付周期和售后响应上再给一个书面承诺"
    assert len(long_note) > playbook.followup.note_max_chars
    rep.send(f"跟进 华东机电 #已报价 {long_note}")
    (followup,) = _followups(database)
    assert (followup.note, followup.transcript) == (None, long_note)
    assert f"备注{playbook.followup.note_max_chars}字以内显示在卡片上，更长的内容会完整保存为跟进记录" in rep.texts()[0]


def test_no_task_is_created_by_guessing(rep, database):
    rep.send("帮主")
    rep.send("你好")
    with database.transaction() as s:
        assert s.scalars(select(Task)).all() == []


# ------------------------------------------------------------------ speech: hotwords and known names
def _heard(stack, monkeypatch, said: str) -> list:
    """Speak on the rep's platform: WeCom through ASR (the engine replaced by one that mishears the
    way Whisper does), DingTalk with the platform's own recognition text."""
    seen: list = []
    if stack.platform == "wecom":
        import jobs.capture
        from ocr_asr.transcribe import VoiceTranscript

        def fake_transcribe(data, hotwords=(), **kw):
            seen.extend(hotwords)
            return VoiceTranscript(text=said, duration_s=3.0, elapsed_ms=1)
        monkeypatch.setattr(jobs.capture, "transcribe_bytes", fake_transcribe)
        from bot.wecom import fake as wc_fake
        media_id = stack.wecom.add_media(b"#!AMR\n" + b"\0" * 64, "audio/amr")
        stack.wecom_post(wc_fake.voice_xml(stack.settings.wecom_corp_id, "rep1", media_id, msg_id=770001))
    else:
        from bot.dingtalk import fake as dt_fake
        from crmbot.simulator.conversation import session_for
        stack.dingtalk_post(dt_fake.audio_message(
            "dl-voice-1", recognition=said, sender="rep1", corp_id=stack.settings.dingtalk_corp_id,
            robot_code=stack.settings.dingtalk_robot_code,
            session_webhook=stack.dingtalk.session_webhook_url(session_for("rep1"))))
    stack.drain()
    return seen


def test_misheard_customer_and_contact_names_are_corrected_on_the_draft(stack, rep, database, playbook,
                                                                       monkeypatch):
    from storage.validators import credit_code_check_char
    code = "91310000MA1XH0001"
    with database.transaction() as s:
        from storage.models import User
        rep1 = s.scalars(select(User).where(User.name == "李明")).one()
        customers.create_customer(s, rep1, CustomerInput(
            kind="company", name="上海星河科技有限公司", credit_code=code + credit_code_check_char(code),
            contacts=[ContactInput(name="张伟", mobile="13816620003")]), playbook, now=NOW)
    seen = _heard(stack, monkeypatch, "刚和先和科技的客户周围见面，已报价二十万，下周三再约")
    if stack.platform == "wecom":   # biasing: the rep's customers, contacts and the playbook's tag words
        assert "上海星河科技有限公司" in seen and "张伟" in seen and "刘建华" in seen and "已报价" in seen
    card = rep.cards()[-1]
    shown = {f["label"]: f["value"] for f in card["fields"]} if "fields" in card else {}
    text = str(card)
    assert "星河科技" in shown.get("客户", text)
    assert "先和科技→星河科技" in text and "周围→张伟" in text


def test_unreadable_new_contact_is_one_warning_line_and_still_offered(stack, rep, caplog):
    """errcode 84061 is an expected platform answer: one warning line, no traceback, and the rep still
    gets the 新好友 card to link or create (WeCom only: DingTalk has no external-contact events)."""
    import logging
    if stack.platform != "wecom":
        pytest.skip("external contacts are a WeCom feature")
    from bot.wecom import fake as wc_fake
    with caplog.at_level(logging.INFO):
        stack.wecom_post(wc_fake.contact_event_xml(stack.settings.wecom_corp_id, "rep1", "wmUNKNOWN"))
        stack.drain()
    assert [c["title"] for c in rep.cards()] == ["新好友 （未命名）"]
    noisy = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert noisy == []
    (line,) = [r for r in caplog.records if "84061" in r.getMessage()]
    assert line.levelno == logging.WARNING
