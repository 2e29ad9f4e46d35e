"""Turn a rep's follow-up note (typed or transcribed) into a structured follow-up.

    parse_note("华东机电 报价30万 老板没拍板 下周三再约", now, playbook, customers)
    -> ParsedNote(tags=["已报价", "老板未拍板"], next_followup_at=date(2026, 12, 2), amount=300000,
                  customer_hint="华东机电", customer_id=1, note="华东机电 报价30万 老板没拍板 下周三再约")

Tags come from the playbook (labels, synonyms, `#标签`) plus a few built-in phrasings for the
default tag keys (`EXTRA_PHRASES`); dates from `datewords`; amounts are numbers with a money
unit or a money word in front, converted with `cn2an`; the customer is the longest unambiguous
mention of one of the rep's own customers. README.md lists every rule and choice.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime
from decimal import Decimal
from typing import Sequence

import cn2an
import opencc

from config.playbook import Playbook, Tag
from ocr_asr.datewords import keep_longest, resolve_followup
from ocr_asr.errors import CaptureError

MAX_NOTE_CHARS = 2000


@dataclass(frozen=True)
class CustomerRef:
    """One of the rep's customers, as the parser needs it."""
    id: int
    name: str
    company: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass
class ParsedNote:
    tags: list[str]                                  # playbook labels, in order of appearance
    next_followup_at: date | datetime | None         # date, or tz-aware datetime when a time is named
    amount: Decimal | int | None                     # yuan
    customer_hint: str | None                        # the customer as written in the note
    customer_id: int | None                          # set only for an unambiguous match
    note: str                                        # the note without the command word and #tags
    pause_reason: str | None = None                  # one of the 暂缓 tag's reasons, when mentioned
    negated_tags: list[str] = field(default_factory=list)   # tags the note explicitly denies

    def to_json(self) -> dict:
        when = self.next_followup_at.isoformat() if self.next_followup_at is not None else None
        amount = self.amount
        if isinstance(amount, Decimal):
            amount = int(amount) if amount == amount.to_integral_value() else float(amount)
        return {"tags": list(self.tags), "next_followup_at": when, "amount": amount,
                "customer_hint": self.customer_hint, "note": self.note}


# ============================================================================ text normalisation
# Full-width digits, letters and a few signs become ASCII so one regex covers both input methods.
# Only these, so the note keeps its Chinese punctuation and every index stays the same.
_HALF = {0xFF10 + i: ord("0") + i for i in range(10)}
_HALF.update({0xFF21 + i: ord("A") + i for i in range(26)})
_HALF.update({0xFF41 + i: ord("a") + i for i in range(26)})
_HALF.update({ord("＃"): "#", ord("："): ":", ord("．"): ".", ord("／"): "/", ord("－"): "-",
              ord("％"): "%", ord("\u3000"): " ", ord("，"): "，"})


# Whisper often writes Mandarin in Traditional characters; every phrase here is Simplified.
_TO_SIMPLIFIED = opencc.OpenCC("t2s")


def _normalise(text: str) -> str:
    return _TO_SIMPLIFIED.convert(text).translate(_HALF)


# Adverbs that sit between the words of a phrase ("老板还没拍板", "报价也发了"). They are dropped
# from both the note and the phrases before matching, so one synonym covers every variant.
_FILLERS = re.compile(r"已经|一直|仍然|还|也|都|仍")


def _squeeze(text: str) -> tuple[str, list[int]]:
    """Text without filler adverbs, and for each kept char its index in the original."""
    kept, index, pos = [], [], 0
    for m in _FILLERS.finditer(text):
        for i in range(pos, m.start()):
            kept.append(text[i])
            index.append(i)
        pos = m.end()
    for i in range(pos, len(text)):
        kept.append(text[i])
        index.append(i)
    return "".join(kept), index


# ============================================================================ tags
# How reps say the default tags beyond the playbook's synonyms (regexes over squeezed text).
# Keyed by tag key: a playbook that renames keys simply does not get these.
# The customer's decision makers, as reps call them.
_BOSS = r"(?:老板|领导|老总|董事长|总经理|一把手|大老板|老大|决策人)"

EXTRA_PHRASES: dict[str, tuple[str, ...]] = {
    "quoted": (r"报价(?:单)?(?:发|给|报)", r"报价(?=\s*[¥￥0-9零一二两三四五六七八九十])", r"报了个?价",
               r"报过去", r"我们报", r"报的(?:是|价)", r"报了(?=\s*[0-9零一二两三四五六七八九十])",
               r"(?:发|给)了?(?:个|份)?价格", r"价格(?:表|单)?(?:发|给|报)", r"出了?报价", r"报价(?:已|给)",
               r"报价(?:单)?(?:收到|已收到|看了|看过|确认|认可|通过)", r"收到(?:了)?(?:我们的)?报价",
               r"我们的(?:报价|价格)", r"报价函", r"投标价", r"价格报"),
    "comparing": (r"比价", r"对比", r"竞品", r"竞争对手", r"友商", r"别家", r"别的(?:厂家|供应商|公司)",
                  r"其他(?:家|厂家|供应商|公司)", r"另外(?:几|两|一)家", r"几家(?:在)?比", r"货比",
                  r"比较(?:一下|下|比较|中)", r"在比较", r"比了.{0,2}家", r"隔壁(?:家|厂家|厂|公司)", r"别人家",
                  r"[两三四五几多]家(?:的)?(?:方案|报价|产品)", r"选型", r"比(?:一下|一比|比看)",
                  r"(?:在)?看[^，,。\s]{1,6}的(?:产品|方案|系统|设备)"),
    "boss_undecided": (r"(?:等|问|请示|汇报给?|跟|和|找)(?:一下)?(?:他们|客户|对方)?(?:的)?" + _BOSS +
                       r"(?:商量|讨论|沟通|汇报|请示|确认)?(?:一下|下)?",
                       r"董事会(?:定|决定|讨论|批)", r"(?:没|未)表态", r"那关(?:没|未)过",
                       _BOSS + r"[^。！？!?]{0,10}?再(?:定|决定|拍板)",
                       _BOSS + r"[^。！？!?]{0,8}?(?:没|未)(?:给)?(?:准话|表态|拍板|点头|松口|批|签字)",
                       _BOSS + r"(?:会|要|得|在)(?:看|审|过目|研究)",
                       _BOSS + r"(?:没|未|不)(?:拍板|定|决定|点头|同意|松口)",
                       _BOSS + r"(?:在)?(?:考虑|犹豫|纠结|拿不定)",
                       _BOSS + r"(?:说)?再(?:看看|想想|考虑)",
                       _BOSS + r"(?:在)?(?:不在|出差)"),
    "need_tech": (r"工程师", r"技术(?:方案|人员|过去|去|对接|评估|交流|支持|问题|答疑|同事|上门|那边|部|团队|"
                  r"出|评审|一起|白皮书|文档|资料|参数|培训|这边)", r"(?:跟|和|带|叫|约|让|把)(?:上)?(?:我们)?(?:的)?技术",
                  r"我们技术", r"现场(?:测试|勘察|勘测|调试)", r"调试", r"售前", r"要技术",
                  r"[pP][oO][cC]", r"产品经理", r"派(?:个)?实施|实施(?:人员|工程师|过去)", r"研发", r"接口问题"),
    "awaiting_decision": (r"等(?:他们|客户|对方)?(?:的)?(?:答复|回复|回音|消息|结果|通知|决定|审批|批复)",
                          r"给(?:我们|你|我|个)*(?:答复|回复|回话|结果|反馈)", r"回复我们",
                          r"等(?:客户|他们|对方)(?:的)?(?:法务|采购|财务)?(?:看|审|批|回|确认|决定|定|反馈)",
                          r"等[^，,。\s]{0,6}(?:批复|审批|答复|回复|通知|结果|反馈)",
                          r"等(?:他们|客户|对方)?(?:开完会|开会|商量|讨论|评估)",
                          r"(?:采购|审批|招标|内部|合同|签约)流程", r"(?:招标|审批|评审|投标|评估)结果", r"结果出来",
                          r"出结果", r"开标|评标|定标", r"(?:没|未)想好",
                          r"再等等", r"等等看", r"没(?:给)?(?:准话|结论|说法)",
                          r"(?:客户|他们|对方)(?:在)?(?:犹豫|纠结)",
                          r"不会(?:定|决定)", r"考虑(?:考虑|一下|下)", r"再考虑",
                          r"走(?:流程|审批|采购流程|招标)", r"内部(?:讨论|商量|评估|开会|走流程)",
                          r"开会(?:讨论|研究|商量)", r"研究(?:一下|研究)", r"商量(?:一下|商量)",
                          r"(?<!老板)(?<!领导)(?:没|未)(?:决定|定下来|确定)", r"等(?:采购|财务)",
                          r"(?:没|未)(?:回|回复|回音|答复|回消息)(?![来去款])"),
    "demo_booked": (r"演示", r"[dD][eE][mM][oO]", r"试用", r"样机", r"产品展示", r"参观", r"样板",
                    r"(?:讲解|介绍|宣讲)会"),
    "paused": (r"暂缓", r"先不(?:做|上|买|考虑|推)", r"暂时不(?:做|上|买|考虑|需要)", r"(?<![还也])不考虑",
               r"(?:明年|年后|以后|下个?月|[0-9一二三四五六七八九十]+月份?)再(?:说|看|议|谈|启动|做|上|考虑)",
               r"先等等", r"先缓缓", r"延期", r"延后", r"往后推", r"推到(?:明年|年后)",
               r"放一放", r"冻结", r"先停", r"[hH][oO][lL][dD]", r"(?:今年|这次|暂时)不做了", r"等明年",
               r"项目(?:停|黄)了", r"等忙完"),
    "visited": (r"拜访", r"上门", r"见面", r"见了", r"面谈", r"当面", r"登门", r"跑了.{0,3}家",
                r"去了?(?:一趟|趟)?(?:客户|他们|对方)(?:那|公司|厂)", r"(?:到|去)了(?:现场|工厂|厂里)",
                r"在客户(?:办公室|公司|那|厂里)[^，,。\s]{0,3}了", r"到客户(?:现场|公司|那|厂里)"),
    "wechat_added": (r"加(?:上)?了?[^\s，,。#]{0,6}?微信", r"微信(?:加|通过)", r"加(?:了)?(?:好友|V信|vx|VX|wx)",
                     r"互加", r"微信好友", r"好友申请", r"企业微信", r"微信群", r"扫了?[^，,。\s]{0,4}码"),
}

# Words right before a phrase that deny it ("还没报价" -> squeezed "没报价"), and right after.
_NEG_BEFORE = ("没有", "没能", "没", "未", "尚未", "不想", "不愿", "不肯", "不用", "不要", "不会",
               "无法", "不能", "拒绝", "别", "不")
_NEG_AFTER = re.compile(r"^(?:没通过|没成功|不成功|被拒|失败|不上|没加上|未遂|未成|没成|取消|泡汤)")
_HASHTAG = re.compile(r"#\s*([^\s#,，。、；;！!？?]+)")


@dataclass(frozen=True)
class _TagPattern:
    tag: Tag
    regex: re.Pattern
    denies_itself: bool   # phrase already says "not" ("老板没拍板"): no negation check


def _says_not(phrase: str) -> bool:
    return any(word in phrase for word in ("没", "未", "不"))


def _tag_patterns(playbook: Playbook) -> list[_TagPattern]:
    patterns = []
    for tag in playbook.tags:
        for phrase in (tag.label, *tag.synonyms):
            squeezed = _squeeze(phrase)[0]
            patterns.append(_TagPattern(tag, re.compile(re.escape(squeezed), re.IGNORECASE),
                                        _says_not(squeezed)))
        for extra in EXTRA_PHRASES.get(tag.key, ()):
            patterns.append(_TagPattern(tag, re.compile(extra), _says_not(extra)))
    return patterns


_PATTERN_CACHE: dict[int, tuple[Playbook, list[_TagPattern]]] = {}


def _cached_patterns(playbook: Playbook) -> list[_TagPattern]:
    # Playbooks are frozen; cache by identity (keeping a reference so the id stays valid).
    hit = _PATTERN_CACHE.get(id(playbook))
    if hit is None or hit[0] is not playbook:
        hit = (playbook, _tag_patterns(playbook))
        _PATTERN_CACHE[id(playbook)] = hit
    return hit[1]


def _negated(squeezed: str, start: int, end: int) -> bool:
    before = squeezed[max(0, start - 3):start]
    return before.endswith(_NEG_BEFORE) or bool(_NEG_AFTER.match(squeezed[end:end + 4]))


def _hashtag_tag(word: str, playbook: Playbook, patterns: list[_TagPattern]) -> Tag | None:
    """'#已报价', '#quoted', '#报价了', '#已报价30万' -> the tag; unknown words -> None."""
    for tag in playbook.tags:
        if word in (tag.label, tag.key) or word in tag.synonyms:
            return tag
    for tag in sorted(playbook.tags, key=lambda t: -len(t.label)):
        if word.startswith(tag.label):
            return tag
    squeezed = _squeeze(word)[0]
    for pattern in patterns:
        if pattern.regex.search(squeezed):
            return pattern.tag
    return None


# Tags that report something done. Written after a date still ahead in the same clause
# ("下周二去拜访", "月底前要把报价单发过去") they are a plan, not a fact. (#hashtags always count.)
PAST_ONLY_KEYS = frozenset({"quoted", "visited", "wechat_added"})
_PLAN_BEFORE = re.compile(r"(?:准备|打算|计划|要去|想|要把|要给|需要|要)$")
# "我说要请示领导": our own boss, not the customer's.
OUR_SIDE_KEYS = frozenset({"boss_undecided"})
_OUR_SIDE = re.compile(r"我(?:们)?(?:说)?(?:要|得|去|先|回去)?$")
_CLAUSE_BREAK = re.compile(r"[\s，,。；;！!？?]")


def _planned(text: str, start: int, future_spans: Sequence[tuple[int, int]]) -> bool:
    clause_start = max((m.end() for m in _CLAUSE_BREAK.finditer(text, 0, start)), default=0)
    # A date standing alone before the clause ("2026-12-01 上午去客户那") still governs it.
    if any(s < start and (s >= clause_start or e >= clause_start - 1) for s, e in future_spans):
        return True
    return bool(_PLAN_BEFORE.search(text[max(clause_start, start - 3):start]))


def find_tags(text: str, playbook: Playbook, future_spans: Sequence[tuple[int, int]] = ()
              ) -> tuple[list[Tag], list[Tag], list[tuple[int, int]]]:
    """(tags in order of appearance, tags the note denies, spans of the recognised #hashtags).

    `future_spans` are the date phrases still ahead (see PAST_ONLY_KEYS).
    """
    patterns = _cached_patterns(playbook)
    hits: list[tuple[int, int, Tag, bool]] = []   # (start, end, tag, negated) in original indices
    hashtag_spans = []
    for m in _HASHTAG.finditer(text):
        tag = _hashtag_tag(m.group(1), playbook, patterns)
        if tag is not None:
            hits.append((m.start(), m.end(), tag, False))
            hashtag_spans.append((m.start(), m.end()))

    squeezed, index = _squeeze(text)
    found = []
    for pattern in patterns:
        for m in pattern.regex.finditer(squeezed):
            if m.end() == m.start():
                continue
            negated = not pattern.denies_itself and _negated(squeezed, m.start(), m.end())
            found.append((m.start(), m.end(), pattern.tag, negated))
    # Of overlapping phrases the longest says most ("跟老板商量一下" is the boss, not "商量一下").
    for start, end, tag, negated in keep_longest(found):
        start, end = index[start], index[end - 1] + 1
        if tag.key in PAST_ONLY_KEYS and _planned(text, start, future_spans):
            continue
        if tag.key in OUR_SIDE_KEYS and _OUR_SIDE.search(text[max(0, start - 5):start]):
            continue
        hits.append((start, end, tag, negated))

    hits.sort(key=lambda h: h[0])
    tags: list[Tag] = []
    denied: list[Tag] = []
    for _s, _e, tag, negated in hits:
        target = denied if negated else tags
        if tag not in target:
            target.append(tag)
    denied = [t for t in denied if t not in tags]
    return tags, denied, hashtag_spans


# 暂缓 reasons: how reps say the default ones. Other playbook reasons match by their own text.
REASON_PHRASES: dict[str, str] = {
    "客户预算未批复": r"预算.{0,6}(?:批|下来|到位|不够|冻结|卡)|没(?:有)?预算|资金(?:没|未|不)",
    "需等法务审核": r"法务|审合同|合同审核",
    "客户组织调整": (r"组织.{0,3}调整|架构调整|人事.{0,2}(?:变动|调整)|换(?:了)?(?:新的)?(?:领导|老板|负责人|对接人)|"
               r"重组|换人|离职|调走"),
    "项目延期": r"延期|推迟|延后|往后推|推到",
}


def find_pause_reason(text: str, tag: Tag) -> str | None:
    """The first of the tag's reasons (in playbook order) the note mentions."""
    for reason in tag.reasons:
        phrase = REASON_PHRASES.get(reason)
        if reason in text or (phrase and re.search(phrase, text)):
            return reason
    return None


# ============================================================================ amounts
_CN_DIGITS = "零〇一二两三四五六七八九"
_AMOUNT = re.compile(
    r"(?<![0-9A-Za-z.])(?P<cur>[¥￥]\s?)?"
    r"(?P<body>(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?|[零〇一二两三四五六七八九十百千]+)"
    r"(?P<mag>(?:[万亿wWkK千])(?:[0-9](?![0-9])|[一二两三四五六七八九](?![十百千万亿]))?)?"
    r"(?P<unit>\s?(?:元|块钱|块|rmb|RMB|人民币))?")
# After a number these make it a count of something, not money ("3台", "10万用户", "5%").
_QUANTITY_AFTER = re.compile(
    r"^(?:多|余|来)?(?:用户|会员|粉丝|访问|平方|个|台|套|件|人|次|平|吨|米|公里|字|条|家|份|盒|箱|辆|张|粉|户|年|岁|天|周|月|号|日|"
    r"点|分|倍|%|折|页|层|楼|小时|度|瓦|斤|g|G|公斤|位|名|单|期|轮|款|种|项|批|支|只|根|卷|瓶|包|部|座|所|间)")
_MONEY_BEFORE = re.compile(
    r"(?:报价|报了|报的|报|价格|价钱|价|总价|单价|总共|一共|合计|总额|金额|预算|合同额?|成交|签了|订单|单子|"
    r"回款|付款|首付|尾款|定金|订金|费用|降到|调到|改成|改为|谈到|压到|砍到|还到|杀到)"
    r"(?:是|为|在|约|大概|大约|到|了|差不多|:|\s)*$")
_TOTAL_WORDS = re.compile(r"(?:总价|总共|一共|合计|总额|金额|成交|签了|合同)")
_QUOTE_WORDS = re.compile(r"(?:报价|报了|报的|报|价格|降到|调到|改成|改为|谈到|压到|砍到|还价到|还到|杀到|订单|单子)")
_OTHER_SIDE = re.compile(r"(?:对方|竞品|别家|友商|人家|竞争对手|其他家)[^\s，,。]{0,4}$")
_DELTA = re.compile(r"(?:降了|便宜了?|贵了?|优惠了?|让了|少了|砍了|差了|差|涨了|多了|高了|低了)\s?$")


@dataclass(frozen=True)
class _Amount:
    start: int
    value: Decimal
    rank: int   # 3 total, 2 quote, 1 plain or budget, 0 the competitor's


def _amount_value(body: str, mag: str) -> Decimal:
    mag = mag.replace("w", "万").replace("W", "万").replace("k", "千").replace("K", "千")
    raw = (body.replace(",", "") + mag)
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", raw):
        return Decimal(raw)
    try:
        value = cn2an.cn2an(raw, "smart")
    except (KeyError, IndexError, TypeError) as exc:   # cn2an's odd failures on malformed numerals
        raise ValueError(f"not a number: {raw!r}") from exc
    return Decimal(str(value)).quantize(Decimal("0.01"))


def find_amounts(text: str, skip: list[tuple[int, int]]) -> list[_Amount]:
    """Every money amount in `text`, outside the `skip` spans (dates and times)."""
    found = []
    for m in _AMOUNT.finditer(text):
        if any(m.start() < e and m.end() > s for s, e in skip):
            continue
        body, mag, cur, unit = m.group("body"), m.group("mag") or "", m.group("cur"), m.group("unit")
        after = text[m.end():m.end() + 4]
        before = text[max(0, m.start() - 10):m.start()]
        if not (cur or unit) and _QUANTITY_AFTER.match(after):
            continue
        money_word = _MONEY_BEFORE.search(before)
        strong = bool(cur or unit) or (mag[:1] in ("万", "亿", "w", "W"))
        thousands = mag[:1] in ("千", "k", "K") or "千" in body
        if not strong:
            if body.replace(",", "").isdigit() and len(body.replace(",", "")) >= 11:
                continue   # a phone number, even right after "价"
            if not (money_word or thousands):
                continue
        try:
            value = _amount_value(body, mag)
        except (ValueError, ArithmeticError):   # cn2an refuses odd numerals: not an amount
            continue
        if value <= 0 or (not strong and not thousands and value < 100):
            continue
        if _DELTA.search(before):
            continue   # "便宜了2万", "比别家贵10万": a difference, not the deal amount
        found.append(_Amount(m.start(), value, _rank(before)))
    return found


def _rank(before: str) -> int:
    if _OTHER_SIDE.search(before):
        return 0
    near = before[-6:]
    if _TOTAL_WORDS.search(near):
        return 3
    if _QUOTE_WORDS.search(near):
        return 2
    return 1


def pick_amount(amounts: list[_Amount]) -> Decimal | int | None:
    """The deal amount: a total beats a quote beats a plain or budget figure; ties -> the later one."""
    if not amounts:
        return None
    best = max(amounts, key=lambda a: (a.rank, a.start))
    value = best.value
    return int(value) if value == value.to_integral_value() else value.normalize()


# ============================================================================ customers
_LEGAL_SUFFIX = re.compile(r"(?:股份有限公司|有限责任公司|集团有限公司|集团股份有限公司|有限公司|集团|公司|厂|商行|工作室)$")
_REGIONS = (
    "北京 上海 天津 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 四川 "
    "贵州 云南 陕西 甘肃 青海 内蒙古 广西 西藏 宁夏 新疆 香港 澳门 台湾 苏州 杭州 南京 无锡 宁波 合肥 深圳 广州 "
    "常州 南通 嘉兴 绍兴 温州 金华 台州 徐州 扬州 镇江 泰州 盐城 昆山 佛山 东莞 珠海 厦门 福州 青岛 济南 烟台 "
    "武汉 长沙 郑州 成都 西安 沈阳 大连 哈尔滨 长春 石家庄 太原 南昌 昆明 贵阳 南宁 兰州 芜湖 义乌 中山 惠州"
).split()
_INDUSTRY = (
    "设备 机电 精密机械 机械 科技 电子 物流 建材 化工 软件 投资 纺织 电气 贸易 实业 信息技术 信息 技术 网络 "
    "智能 自动化 制造 工业 材料 新材料 能源 环保 医疗器械 医疗 生物 食品 服饰 服装 家居 建筑 工程 咨询 "
    "管理 发展 控股 商贸 国际 创新 电器 汽车 配件 仪器 仪表 五金 塑料 包装 印刷 传媒 文化 教育 数据"
).split()
_TITLES = r"(?:总|经理|总监|主任|老师|工|老板|董|姐|哥|主管|部长|处长|科长|厂长)"
_SURNAME_RE = re.compile(r"([\u4e00-\u9fff])" + _TITLES)


_REGIONS_LONGEST_FIRST = sorted(_REGIONS, key=len, reverse=True)
_INDUSTRY_LONGEST_FIRST = sorted(_INDUSTRY, key=len, reverse=True)


def _strip_region(core: str) -> str:
    for region in _REGIONS_LONGEST_FIRST:
        for form in (region + "市", region + "省", region):
            if core.startswith(form) and len(core) > len(form) + 1:
                return core[len(form):]
    return core


@lru_cache(maxsize=4096)
def company_keys(company: str) -> frozenset[str]:
    """Short forms reps use for a company: "上海华东机电设备有限公司" -> 华东机电设备, 华东机电, 华东 ..."""
    keys = {company}
    core = company
    while True:
        stripped = _LEGAL_SUFFIX.sub("", core)
        if stripped == core or len(stripped) < 2:
            break
        core = stripped
    keys.add(core)
    brand = _strip_region(core)
    keys.add(brand)
    changed = True
    while changed:
        changed = False
        for word in _INDUSTRY_LONGEST_FIRST:
            if brand.endswith(word) and len(brand) - len(word) >= 2:
                brand = brand[: -len(word)]
                keys.add(brand)
                if core != brand:
                    keys.add(core[: len(core) - len(_strip_region(core))] + brand)   # 上海华东
                changed = True
                break
    return frozenset(k for k in keys if len(k) >= 2 and k not in _INDUSTRY and k not in _REGIONS)


@lru_cache(maxsize=8192)
def _customer_keys(customer: CustomerRef) -> frozenset[str]:
    """Every way the note may name this customer: name, aliases, company and its short forms."""
    keys = {customer.name, *customer.aliases}
    if customer.company:
        keys |= company_keys(customer.company)
    if not _person_name(customer):
        keys |= company_keys(customer.name)
    return frozenset(k for k in keys if len(k) >= 2)


@lru_cache(maxsize=8192)
def _person_name(customer: CustomerRef) -> bool:
    return 2 <= len(customer.name) <= 4 and bool(re.fullmatch(r"[\u4e00-\u9fff]+", customer.name)) \
        and not _LEGAL_SUFFIX.search(customer.name)


@dataclass(frozen=True)
class _CustomerIndex:
    owners: dict[str, frozenset[int]]     # every way to name a customer -> who it may be
    surnames: dict[str, frozenset[int]]   # contact surname -> customers ("王总")
    longest: int


@lru_cache(maxsize=32)
def _customer_index(customers: tuple[CustomerRef, ...]) -> _CustomerIndex:
    owners: dict[str, set[int]] = {}
    surnames: dict[str, set[int]] = {}
    for customer in customers:
        for key in _customer_keys(customer):
            owners.setdefault(key, set()).add(customer.id)
        if _person_name(customer):
            surnames.setdefault(customer.name[0], set()).add(customer.id)
    return _CustomerIndex({k: frozenset(v) for k, v in owners.items()},
                          {k: frozenset(v) for k, v in surnames.items()},
                          max(map(len, owners), default=0))


def match_customer(text: str, customers: Sequence[CustomerRef]) -> tuple[str | None, int | None]:
    """(the customer as written, its id) — the id only when the longest mention names one customer."""
    if not customers:
        return None, None
    index = _customer_index(tuple(customers))
    mentions = []   # (length, start, text, ids)
    for start in range(len(text)):
        for end in range(start + 2, min(len(text), start + index.longest) + 1):
            ids = index.owners.get(text[start:end])
            if ids:
                mentions.append((end - start, start, text[start:end], ids))
    for m in _SURNAME_RE.finditer(text):
        ids = index.surnames.get(m.group(1))
        if ids:
            mentions.append((len(m.group(0)), m.start(), m.group(0), ids))
    if not mentions:
        return None, None
    # Drop mentions inside a longer one ("华东" inside "华东机电").
    mentions.sort(key=lambda x: (-x[0], x[1]))
    kept: list = []
    for mention in mentions:
        span = (mention[1], mention[1] + mention[0])
        if all(span[1] <= k[1] or span[0] >= k[1] + k[0] for k in kept):
            kept.append(mention)
    unambiguous = [m for m in kept if len(m[3]) == 1]
    if unambiguous:
        best = unambiguous[0]
        return best[2], next(iter(best[3]))
    return kept[0][2], None


_COMPANY_GUESS = re.compile(r"[\u4e00-\u9fff]{2,12}?(?:有限公司|公司|集团|工厂|厂)")
_LEAD_IN = re.compile(r"^.*(?:今天|明天|去了|拜访了?|见了|到了|联系了?|和|跟|给|在|到|去)")
_COMMAND = re.compile(r"^\s*跟进\s+(?P<who>[^\s#]+)")


# ============================================================================ public API
def parse_note(text: str, now: datetime, playbook: Playbook,
               customers: Sequence[CustomerRef] = ()) -> ParsedNote:
    """Parse one follow-up note. `now` must be tz-aware; it is read in the playbook's zone.

    Raises CaptureError (with a Chinese message for the rep) for an empty or over-long note.
    """
    if now.tzinfo is None:
        raise ValueError("parse_note needs a tz-aware `now`")
    if text is None or not text.strip():
        raise CaptureError("跟进内容是空的，请写一句跟进情况。", "empty note")
    if len(text) > MAX_NOTE_CHARS:
        raise CaptureError(f"跟进内容太长了（超过{MAX_NOTE_CHARS}字），请分几条发送。",
                           f"note of {len(text)} chars")
    now = now.astimezone(playbook.tz)
    normal = _normalise(text)

    command = _COMMAND.match(normal)
    body_start = command.end() if command else 0

    followup = resolve_followup(normal, now)
    tags, denied, hashtag_spans = find_tags(normal, playbook, followup.future_spans)
    amount = pick_amount(find_amounts(normal, followup.spans + hashtag_spans))

    if command:
        # "跟进 <客户> ...": the rep named the customer; match only that word.
        hint = command.group("who")
        customer_id = match_customer(hint, customers)[1]
    else:
        hint, customer_id = match_customer(normal, customers)
        if hint is None:
            guess = _COMPANY_GUESS.search(normal)
            # "今天去了宏达机械有限公司" -> "宏达机械有限公司": drop the words before the name.
            hint = _LEAD_IN.sub("", guess.group(0)) if guess else None

    pause_reason = None
    paused = next((t for t in tags if t.reasons), None)
    if paused is not None:
        pause_reason = find_pause_reason(normal, paused)

    return ParsedNote(
        tags=[t.label for t in tags],
        next_followup_at=followup.when,
        amount=amount,
        customer_hint=hint,
        customer_id=customer_id,
        note=_clean_note(normal, body_start, hashtag_spans),
        pause_reason=pause_reason,
        negated_tags=[t.label for t in denied],
    )


def _clean_note(text: str, body_start: int, hashtag_spans: list[tuple[int, int]]) -> str:
    """The rep's words without the `跟进 <客户>` command and the recognised #tags.

    Dates, amounts and tag phrases stay: cutting them out garbles the sentence a manager reads.
    """
    chars = list(text)
    for start, end in hashtag_spans:
        chars[start:end] = [""] * (end - start)
    rest = "".join(chars[body_start:])
    return re.sub(r"\s+", " ", rest).strip()
