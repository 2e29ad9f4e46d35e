"""A new customer from a voice-note transcript: name, company, title and mobile."""
from __future__ import annotations

import pytest

from ocr_asr.card_fields import EXTRA_FIELDS, FIELDS
from ocr_asr.voice_customer import parse_voice_customer


@pytest.mark.parametrize("text, name, company, title, mobile", [
    # The sentence from the issue: it used to give "名片上没有识别到姓名或公司".
    ("刚见了先和科技的王总，手机13912345678，他们在看我们的产品", "王总", "先和科技", None, "13912345678"),
    ("新客户，先和科技有限公司的销售总监王志刚，手机是一三九一二三四五六七八",
     "王志刚", "先和科技有限公司", "销售总监", "13912345678"),
    ("今天认识了恒通物流的采购经理李娜，电话幺八六 幺二三四 五六七八，下周约演示",
     "李娜", "恒通物流", "采购经理", "18612345678"),
    ("加一个客户，叫陈静，星河电子的总经理，手机号一五八零零一二三四五六", "陈静", "星河电子", "总经理", "15800123456"),
    ("刚和星河科技的陈总见面，他们需要产品演示", "陈总", "星河科技", None, None),
    ("客户张伟想要五十台设备，预算大概三十万", "张伟", None, None, None),
    ("华东机电的王总 手机 139 1234 5678", "王总", "华东机电", None, "13912345678"),
    ("見了華信科技的劉經理，手機一三八一二三四五六七八", "刘经理", "华信科技", "经理", "13812345678"),  # Whisper's 繁体
    # What Whisper base made of the TTS fixture: a homophone in the title, a name run into the next word.
    ("星客户，先和科技有限公司的销售总监王剧钢语。手机13912345678。", "王剧钢", "先和科技有限公司", "销售总监",
     "13912345678"),
    ("刚见了博演电子的采购经历灵难，手机是1860-2134-567。", None, "博演电子", "采购经理", "18602134567"),
    # ... and of the DingTalk fixture, with the rep's hotwords in Whisper's prompt (张伟 heard as 张为)
    ("新客户华信电子有限公司的销售金里张为，手机15812345678，", "张为", "华信电子有限公司", "销售经理", "15812345678"),
])
def test_fields_from_a_transcript(text, name, company, title, mobile):
    got = parse_voice_customer(text)
    assert (got.name, got.company, got.title, got.mobile) == (name, company, title, mobile)


def test_fields_have_the_keys_of_a_scanned_card():
    got = parse_voice_customer("刚见了先和科技的王总，手机13912345678")
    assert tuple(got.fields()) == FIELDS + EXTRA_FIELDS
    assert got.fields()["email"] is None and got.fields()["mobile2"] is None and bool(got)


@pytest.mark.parametrize("text, mobile, mobile2", [
    ("新客户先和科技的王总，手机13912345678，另一个手机13812345678", "13912345678", "13812345678"),
    ("华信电子的张伟，手机一五八一二三四五六七八，还有个号一三九一二三四五六七八", "15812345678", "13912345678"),
    ("先和科技的王总，手机13912345678，就是13912345678", "13912345678", None),   # said twice: one mobile
])
def test_a_second_mobile_said_is_the_second_mobile(text, mobile, mobile2):
    got = parse_voice_customer(text)
    assert (got.mobile, got.mobile2) == (mobile, mobile2)


@pytest.mark.parametrize("text", ["", "   ", "明天再打电话", "报价二十万，老板还没拍板"])
def test_nothing_to_take_is_nothing(text):
    got = parse_voice_customer(text)
    assert not got
    assert got.fields() == dict.fromkeys(FIELDS + EXTRA_FIELDS)


def test_a_landline_or_a_short_number_is_not_a_mobile():
    assert parse_voice_customer("华信科技的李经理，座机021-62345678").mobile is None
    assert parse_voice_customer("华信科技的李经理，要一二三四台").mobile is None
