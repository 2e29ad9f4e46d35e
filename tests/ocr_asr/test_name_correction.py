"""Known names put back into transcripts by pinyin similarity — and left alone where a word is meant."""
from pathlib import Path

import pytest

from config.playbook import load_playbook
from ocr_asr.name_correction import correct_names
from ocr_asr.vocabulary import hotwords

NAMES = ["星河科技", "上海星河科技有限公司", "张伟", "华东机电", "王建国", "陈静", "刘建华"]


@pytest.mark.parametrize("heard, meant, fix", [
    ("刚和先和科技的陈总见面", "刚和星河科技的陈总见面", "先和科技→星河科技"),
    ("客户周围想要五十台设备", "客户张伟想要五十台设备", "周围→张伟"),
    ("今天拜访了王建果", "今天拜访了王建国", "王建果→王建国"),
    ("约了留建华下周见", "约了刘建华下周见", "留建华→刘建华"),
])
def test_misheard_names_are_corrected(heard, meant, fix):
    text, fixes = correct_names(heard, NAMES)
    assert text == meant and [str(f) for f in fixes] == [fix]


@pytest.mark.parametrize("text", [
    "他们周围的客户都在用",        # "around": no person expected there
    "陈经理说价格太高",            # a manager named 陈, not 陈静
    "为了这个单子跑了三趟",
    "明天下午三点给华东机电的王总打电话",   # already right
    "张伟说好的",
])
def test_words_and_right_names_are_left_alone(text):
    assert correct_names(text, NAMES) == (text, [])


def test_hotwords_are_customers_then_contacts_then_tag_words():
    playbook = load_playbook(Path(__file__).parents[2] / "config" / "playbook.toml")
    words = hotwords(["上海星河科技有限公司"], ["张伟", "张伟"], playbook)
    assert words[:2] == ["上海星河科技有限公司", "张伟"]
    assert "已报价" in words and len(words) == len(set(words))
    assert len(hotwords([f"客户{i}" for i in range(200)], [], playbook)) == 60
