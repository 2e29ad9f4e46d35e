"""One rule per test: what a rep writes, what the follow-up record gets."""
from __future__ import annotations

import random
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from config.playbook import load_playbook
from ocr_asr.errors import CaptureError
from ocr_asr.note_eval import load_customers
from ocr_asr.note_parser import CustomerRef, company_keys, parse_note

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = load_playbook(ROOT / "config" / "playbook.toml")
CUSTOMERS = load_customers(Path(__file__).with_name("notes_corpus_customers.jsonl"))
SH = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=SH)        # Monday 2026-11-23 10:00
FRIDAY = datetime(2026, 11, 27, 16, 30, tzinfo=SH)
DEC_20 = datetime(2026, 12, 20, 9, 0, tzinfo=SH)         # a Sunday


def parse(text: str, now: datetime = MONDAY, customers=CUSTOMERS):
    return parse_note(text, now, PLAYBOOK, customers)


def when(text: str, now: datetime = MONDAY):
    return parse(text, now).next_followup_at


# ------------------------------------------------------------------ dates
@pytest.mark.parametrize("text, expected", [
    ("今天下午四点见", datetime(2026, 11, 23, 16, 0, tzinfo=SH)),
    ("明天再打", date(2026, 11, 24)),
    ("后天回访", date(2026, 11, 25)),
    ("大后天去", date(2026, 11, 26)),
    ("下周三再约", date(2026, 12, 2)),
    ("这周五", date(2026, 11, 27)),
    ("本周五", date(2026, 11, 27)),
    ("周五再说", date(2026, 11, 27)),
    ("星期五", date(2026, 11, 27)),
    ("礼拜五", date(2026, 11, 27)),
    ("下个礼拜二", date(2026, 12, 1)),
    ("下下周一", date(2026, 12, 7)),
    ("下周再联系", date(2026, 11, 30)),
    ("周末", date(2026, 11, 28)),
    ("下周末", date(2026, 12, 5)),
    ("三天后", date(2026, 11, 26)),
    ("3天后", date(2026, 11, 26)),
    ("一周后", date(2026, 11, 30)),
    ("两周后", date(2026, 12, 7)),
    ("半个月后", date(2026, 12, 8)),
    ("一个月后", date(2026, 12, 23)),
    ("过两天再催", date(2026, 11, 25)),
    ("月底前签", date(2026, 11, 30)),
    ("下个月5号付款", date(2026, 12, 5)),
    ("下月初", date(2026, 12, 1)),
    ("下个月再说", date(2026, 12, 1)),
    ("12月10号", date(2026, 12, 10)),
    ("12月10日", date(2026, 12, 10)),
    ("十二月十号", date(2026, 12, 10)),
    ("12.10", date(2026, 12, 10)),
    ("2026-12-10", date(2026, 12, 10)),
    ("2027年1月5日", date(2027, 1, 5)),
    ("12月中旬", date(2026, 12, 15)),
    ("年底前", date(2026, 12, 31)),
    ("国庆后", date(2027, 10, 8)),
])
def test_day_words(text, expected):
    assert when(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("明天下午三点", datetime(2026, 11, 24, 15, 0, tzinfo=SH)),
    ("下周二上午十点演示", datetime(2026, 12, 1, 10, 0, tzinfo=SH)),
    ("下午3点半", datetime(2026, 11, 23, 15, 30, tzinfo=SH)),
    ("晚上8点", datetime(2026, 11, 23, 20, 0, tzinfo=SH)),
    ("今晚8点视频", datetime(2026, 11, 23, 20, 0, tzinfo=SH)),
    ("明早9点", datetime(2026, 11, 24, 9, 0, tzinfo=SH)),
    ("15:00", datetime(2026, 11, 23, 15, 0, tzinfo=SH)),
    ("周三上午10:30开会", datetime(2026, 11, 25, 10, 30, tzinfo=SH)),
    ("十点半", datetime(2026, 11, 23, 10, 30, tzinfo=SH)),
    ("三点再打", datetime(2026, 11, 23, 15, 0, tzinfo=SH)),         # a bare 1-6 is afternoon
    ("上午九点", datetime(2026, 11, 24, 9, 0, tzinfo=SH)),           # passed today -> tomorrow
    ("明天 下午两点半", datetime(2026, 11, 24, 14, 30, tzinfo=SH)),
])
def test_times(text, expected):
    got = when(text)
    assert got == expected
    assert got.tzinfo is not None


def test_bare_weekday_said_on_that_weekday_is_next_week():
    assert when("周五再约", FRIDAY) == date(2026, 12, 4)


def test_this_weekday_already_past_is_not_a_followup():
    assert when("这周一", datetime(2026, 11, 25, 9, 0, tzinfo=SH)) is None


def test_past_month_day_means_next_year():
    assert when("12月10号再联系", DEC_20) == date(2027, 12, 10)


def test_past_words_are_not_followups():
    assert when("昨天拜访了 上周五报的价") is None
    assert when("上周五见了客户 明天再打") == date(2026, 11, 24)


def test_today_as_a_report_is_not_the_followup():
    assert when("今天拜访了华东机电 下周三再约") == date(2026, 12, 2)
    assert when("今天跑了三家客户") is None
    assert when("今天下午去见客户") == datetime(2026, 11, 23, 14, 0, tzinfo=SH)   # at 10:00 the afternoon is ahead


def test_action_word_beats_a_remark_about_the_calendar():
    assert when("明天周日 后天再说", datetime(2026, 12, 26, 18, 0, tzinfo=SH)) == date(2026, 12, 28)


def test_earliest_of_several_plans():
    assert when("明天发资料 下周三回访") == date(2026, 11, 24)


def test_a_part_of_day_without_hour_sets_the_playbook_time():
    assert when("下周三下午有空") == datetime(2026, 12, 2, 14, 0, tzinfo=SH)
    assert when("明天下午再打") == datetime(2026, 11, 24, 14, 0, tzinfo=SH)
    assert when("明天上午再打") == datetime(2026, 11, 24, 9, 0, tzinfo=SH)
    assert when("明天中午一起吃饭") == datetime(2026, 11, 24, 12, 0, tzinfo=SH)
    assert when("明晚再联系") == datetime(2026, 11, 24, 19, 0, tzinfo=SH)
    assert when("明天下午三点半再打") == datetime(2026, 11, 24, 15, 30, tzinfo=SH)   # an hour wins


def test_period_times_come_from_the_playbook():
    from datetime import time
    followup = PLAYBOOK.followup.model_copy(update={"period_times": {"下午": time(15, 30)}})
    playbook = PLAYBOOK.model_copy(update={"followup": followup})
    assert parse_note("明天下午再打", MONDAY, playbook).next_followup_at == datetime(2026, 11, 24, 15, 30, tzinfo=SH)


@pytest.mark.parametrize("text", ["便宜一点", "有两点要求", "打个八折", "报价12.5万", "3.6w的单子", "没说时间"])
def test_no_date_invented(text):
    assert when(text) is None


def test_followup_follows_the_playbook_zone():
    utc_now = datetime(2026, 11, 23, 17, 0, tzinfo=ZoneInfo("UTC"))   # 01:00 on the 24th in Shanghai
    assert when("明天", utc_now) == date(2026, 11, 25)


# ------------------------------------------------------------------ amounts
@pytest.mark.parametrize("text, expected", [
    ("报价二十万", 200000),
    ("总价12.5万", 125000),
    ("5万2的单子", 52000),
    ("1万5一套", 15000),
    ("报价8千", 8000),
    ("3.6w", 36000),
    ("150000元", 150000),
    ("十万块", 100000),
    ("两百万的项目", 2000000),
    ("1.2亿", 120000000),
    ("￥8,000", 8000),
    ("¥8,000", 8000),
    ("报价30万", 300000),
    ("报价150000", 150000),
    ("单价4万5 总共13万5", 135000),           # the total wins over the unit price
    ("预算15万 我们报了18万", 180000),         # our quote wins over their budget
    ("我们报35万 对方报了32万", 350000),       # not the competitor's figure
    ("报价30万 降到28万", 280000),             # the later negotiated figure
    ("合同金额一百二十万", 1200000),
])
def test_amounts(text, expected):
    assert parse(text).amount == expected


def test_amount_keeps_fractions_of_a_yuan():
    assert parse("单价99.5元").amount == Decimal("99.5")


@pytest.mark.parametrize("text", [
    "客户电话13912345678", "要3台设备", "12.10再联系", "下午3点半", "比别家贵了两万",
    "打九折", "降5%", "第三次拜访", "客户有20个人", "10万用户的平台", "微信号abc123", "电话021-58881234",
])
def test_not_amounts(text):
    assert parse(text).amount is None


# ------------------------------------------------------------------ tags
@pytest.mark.parametrize("text, expected", [
    ("报价了 客户说考虑一下", ["已报价", "等待决策"]),
    ("老板没拍板", ["老板未拍板"]),
    ("老板还没拍板", ["老板未拍板"]),
    ("要跟老板商量一下", ["老板未拍板"]),
    ("客户在比价", ["竞品对比中"]),
    ("需要工程师去现场", ["需技术介入"]),
    ("约了下周二演示", ["已约演示"]),
    ("项目先放放", ["暂缓"]),
    ("上门拜访了", ["已拜访"]),
    ("加了刘洋微信", ["已加微信"]),
    ("等通知", ["等待决策"]),
])
def test_synonyms_and_phrasings(text, expected):
    assert parse(text).tags == expected


@pytest.mark.parametrize("text, denied", [
    ("还没报价", None),
    ("没发报价", "已报价"),
    ("没加上微信 客户不同意", None),
    ("客户说不需要技术支持", "需技术介入"),
])
def test_negation(text, denied):
    parsed = parse(text)
    assert parsed.tags == []
    if denied:
        assert denied in parsed.negated_tags


def test_planned_visit_is_not_a_visit():
    assert "已拜访" not in parse("下周二去上门拜访华东机电").tags
    assert parse("今天上门拜访了华东机电").tags == ["已拜访"]


def test_hashtags_are_tags_in_order():
    parsed = parse("#老板未拍板 #已报价 客户嫌贵")
    assert parsed.tags == ["老板未拍板", "已报价"]
    assert parsed.note == "客户嫌贵"


def test_hashtag_by_key_or_synonym_and_unknown_hashtag_kept():
    parsed = parse("#quoted #报价了 #大客户 下周跟")
    assert parsed.tags == ["已报价"]
    assert "#大客户" in parsed.note


def test_fullwidth_hashtag():
    assert parse("＃已报价 ３万").tags == ["已报价"]
    assert parse("＃已报价 ３万").amount == 30000


def test_pause_reason_from_playbook_reasons():
    assert parse("暂缓 客户预算还没批下来").pause_reason == "客户预算未批复"
    assert parse("项目先搁置 等法务审核").pause_reason == "需等法务审核"
    assert parse("客户组织架构调整 先放放").pause_reason == "客户组织调整"
    assert parse("已报价 预算还没批").pause_reason is None        # not paused: no reason


# ------------------------------------------------------------------ customers
@pytest.mark.parametrize("text, customer_id, hint", [
    ("华东机电 报价了", 1, "华东机电"),
    ("上海华东机电设备有限公司 报价了", 1, "上海华东机电设备有限公司"),
    ("恒通那边", 2, "恒通"),
    ("明远说再等等", 3, "明远"),
    ("郑总说下周", 12, "郑总"),                  # one customer surnamed 郑
    ("华东的客户", None, "华东"),                # 华东机电 or 华东电气: ambiguous
    ("王总说再考虑考虑", None, "王总"),          # 王建国 or 王磊
    ("华东的王磊", 9, "王磊"),                   # the unambiguous mention wins
])
def test_customer_matching(text, customer_id, hint):
    parsed = parse(text)
    assert (parsed.customer_id, parsed.customer_hint) == (customer_id, hint)


def test_company_short_forms():
    keys = company_keys("上海华东机电设备有限公司")
    assert {"华东机电设备", "华东机电", "华东", "上海华东机电设备有限公司"} <= keys
    assert "上海" not in keys and "设备" not in keys


def test_company_guess_without_customer_list():
    assert parse("今天去了宏达机械有限公司", customers=()).customer_hint == "宏达机械有限公司"
    assert parse("宏达机械有限公司报价了", customers=()).customer_id is None


# ------------------------------------------------------------------ the chat command
def test_chat_command_form():
    parsed = parse("跟进 华东机电 #已报价 #老板未拍板 客户嫌贵 下周三")
    assert parsed.tags == ["已报价", "老板未拍板"]
    assert parsed.next_followup_at == date(2026, 12, 2)
    assert (parsed.customer_hint, parsed.customer_id) == ("华东机电", 1)
    assert parsed.note == "客户嫌贵 下周三"


def test_chat_command_unknown_customer_keeps_the_name():
    parsed = parse("跟进 宏达 #已拜访")
    assert (parsed.customer_hint, parsed.customer_id) == ("宏达", None)


# ------------------------------------------------------------------ output contract
def test_to_json_has_exactly_the_cli_fields():
    out = parse("华东机电 报价12.5万 明天下午三点电话").to_json()
    assert out == {"tags": ["已报价"], "next_followup_at": "2026-11-24T15:00:00+08:00", "amount": 125000,
                   "customer_hint": "华东机电", "note": "华东机电 报价12.5万 明天下午三点电话"}


def test_to_json_date_only_and_nulls():
    assert parse("下周三").to_json()["next_followup_at"] == "2026-12-02"
    out = parse("电话没打通")
    assert out.to_json() == {"tags": [], "next_followup_at": None, "amount": None,
                             "customer_hint": None, "note": "电话没打通"}


def test_to_json_fractional_amount_is_a_number():
    assert parse("单价99.5元").to_json()["amount"] == 99.5


@pytest.mark.parametrize("text", ["", "   ", "x" * 2001])
def test_bad_input_gets_a_chinese_error(text):
    with pytest.raises(CaptureError) as err:
        parse(text)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in err.value.user_message)


def test_naive_now_is_a_programming_error():
    with pytest.raises(ValueError):
        parse_note("明天", datetime(2026, 11, 23, 10, 0), PLAYBOOK)


def test_random_text_never_crashes():
    alphabet = "今明后天周下这本上月号日点半万千亿元块报价老板没拍板加微信#：:.,， 0123456789一二两三十百"
    rng = random.Random(7)
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))).strip() or "好"
        parsed = parse(text)
        assert isinstance(parsed.tags, list)
        if parsed.next_followup_at is not None:
            day = parsed.next_followup_at
            day = day.date() if isinstance(day, datetime) else day
            assert day >= MONDAY.date()


def test_customer_ref_defaults():
    ref = CustomerRef(1, "张伟")
    assert ref.company is None and ref.aliases == ()


# ------------------------------------------------------------------ rules added while tuning
def test_part_of_day_alone_is_today_while_ahead():
    assert when("下午去孙丽家量尺寸") == datetime(2026, 11, 23, 14, 0, tzinfo=SH)  # at 10:00
    assert when("上午去了客户那", datetime(2026, 11, 23, 15, 0, tzinfo=SH)) is None


def test_part_of_day_after_a_date_belongs_to_it():
    assert when("周五下午再打电话") == datetime(2026, 11, 27, 14, 0, tzinfo=SH)


def test_after_a_date_counts_as_the_plan():
    assert when("12月1号到3号客户在外地 4号以后再约", datetime(2026, 11, 25, 15, 0, tzinfo=SH)) \
        == date(2026, 12, 4)


def test_remark_about_the_calendar_is_not_a_plan():
    assert when("年底了 客户都在放假") is None


def test_our_own_boss_is_not_the_customer_undecided():
    assert parse("客户问能不能便宜五千 我说要请示领导").tags == []
    assert parse("客户说要请示领导").tags == ["老板未拍板"]


def test_failed_visit_is_not_a_visit():
    assert "已拜访" not in parse("拜访未遂 客户临时有事").tags


def test_waiting_phrasings():
    assert parse("吴刚说他们在等上级单位的批复").tags == ["等待决策"]
    assert parse("客户的采购流程比较长").tags == ["等待决策"]
    assert parse("微信上发了报价单 客户已读未回").tags == ["已报价", "等待决策"]


def test_paused_by_pushing_to_a_later_month():
    assert parse("客户说3月份再说").tags == ["暂缓"]
    assert parse("明年再启动").tags == ["暂缓"]


def test_competitor_figure_ranks_below_ours():
    assert parse("对方报了32万 我们报35万").amount == 350000


def test_traditional_characters_from_asr_are_understood():
    parsed = parse("華東機電 報價二十萬 老闆還沒拍板 下週三再聯繫")
    assert parsed.tags == ["已报价", "老板未拍板"]
    assert (parsed.amount, parsed.next_followup_at, parsed.customer_id) == (200000, date(2026, 12, 2), 1)
    assert parsed.note == "华东机电 报价二十万 老板还没拍板 下周三再联系"


def test_a_company_teaches_its_own_phrasing_in_the_playbook(playbook):
    from datetime import datetime
    now = datetime(2026, 11, 23, 10, 0, tzinfo=playbook.tz)
    assert parse_note("客户说要走比稿", now, playbook).tags == []
    tags = tuple(t.model_copy(update={"phrases": t.phrases + ("走比稿",)}) if t.key == "comparing" else t
                 for t in playbook.tags)
    taught = playbook.model_copy(update={"tags": tags})
    assert parse_note("客户说要走比稿", now, taught).tags == ["竞品对比中"]
