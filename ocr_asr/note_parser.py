"""Turn a rep's follow-up note (typed or transcribed) into a structured follow-up.

    parse_note("华东机电 报价30万 老板没拍板 下周三再约", now, playbook, customers)
    -> ParsedNote(tags=["已报价", "老板未拍板"], next_followup_at=date(2026, 12, 2), amount=300000,
                  customer_hint="华东机电", customer_id=1, note="华东机电 报价30万 老板没拍板 下周三再约")

Tags come from the playbook (labels, synonyms, `phrases` regexes, `#标签`); dates from `datewords`; amounts are numbers with a money
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
    unknown_hashtags: list[str] = field(default_factory=list)  # "#不存在标签": kept in `note`, named to the rep

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
# How reps say each tag beyond its synonyms lives in the playbook (`phrases`, regexes over squeezed
# text), so a company teaches crmbot its own phrasing without touching code.

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
        for extra in tag.phrases:
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


# Tags that report something done (playbook `reported_fact`). Written after a date still ahead in
# the same clause ("下周二去拜访", "月底前要把报价单发过去") they are a plan, not a fact.
# (#hashtags always count.)
_PLAN_BEFORE = re.compile(r"(?:准备|打算|计划|要去|想|要把|要给|需要|要)$")
# "我说要请示领导": our own boss, not the customer's (playbook `customer_side`).
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

    `future_spans` are the date phrases still ahead (see `reported_fact`).
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
        if tag.reported_fact and _planned(text, start, future_spans):
            continue
        if tag.customer_side and _OUR_SIDE.search(text[max(0, start - 5):start]):
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


def unknown_hashtags(text: str, playbook: Playbook) -> list[str]:
    """The #words that are no playbook tag, in order (their text stays in the note)."""
    patterns = _cached_patterns(playbook)
    found: list[str] = []
    for m in _HASHTAG.finditer(_normalise(text)):
        if _hashtag_tag(m.group(1), playbook, patterns) is None and m.group(1) not in found:
            found.append(m.group(1))
    return found


def find_pause_reason(text: str, tag: Tag) -> str | None:
    """The first of the tag's reasons (in playbook order) the note mentions."""
    for reason in tag.reasons:
        phrase = tag.reason_phrases.get(reason)
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

    followup = resolve_followup(normal, now, playbook.followup.period_times)
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
        unknown_hashtags=unknown_hashtags(normal, playbook),
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
