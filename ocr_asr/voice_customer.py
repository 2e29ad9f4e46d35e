"""A new customer from what a rep says: name, company, title and mobile out of a voice-note transcript.

    parse_voice_customer("刚见了先和科技的王总，手机13912345678，他们在看我们的产品")
    -> VoiceCustomer(name="王总", company="先和科技", title=None, mobile="13912345678")

The result has the same keys as a card photo's fields (`card_fields.FIELDS` + `EXTRA_FIELDS`), so the capture job
makes the same draft card, duplicate check included, whichever way the customer came in.

How reps say it, and what is understood:
- mobile: digits as Whisper writes them ("13912345678", "139 1234 5678") or as spoken Chinese digits
  one by one ("一三九一二三四五六七八", 幺 for 1), mixed, with pauses ("一三九，一二三四，五六七八").
  Chinese digits are turned into Arabic ones by `cn2an` (its "cn2an" transform reads a run of
  single digits as a digit string), then the number is parsed like a printed one
  (`card_fields.parse_numbers`, i.e. `phonenumbers`): only a mobile counts. A second, different
  mobile ("另一个手机一三八…") is the second mobile, as on a card printing two.
- company: the words ending in a company word (有限公司 / 公司 / 集团 / 科技 / 物流 / 厂 …), cut after
  the verb or filler before them ("刚见了|先和科技", "拜访了|恒通物流有限公司").
- title: a job title (销售总监, 采购经理, 总经理, 工程师 …) with the department words right before it.
- name: "叫/姓名是 X", a surname-initial word of 2-3 characters right before or after a title
  ("销售总监王志刚", "王志刚经理"), else the way reps refer to a contact: surname + 总/经理/工/老师
  ("王总"). The name is only a draft: the rep confirms or edits it on the card.
Absent fields are None, never a guess.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import cn2an
import opencc

from ocr_asr.card_fields import EXTRA_FIELDS, FIELDS, parse_numbers, starts_with_surname

_TWO_CHAR_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "司徒", "东方", "夏侯", "慕容", "尉迟", "长孙", "皇甫", "令狐")

_TO_SIMPLIFIED = opencc.OpenCC("t2s")

# A company's name ends in one of these (longest first so 有限公司 wins over 公司).
_COMPANY_END = ("股份有限公司", "有限责任公司", "有限公司", "集团", "公司", "研究院", "事务所", "科技", "技术", "物流",
                "电子", "贸易", "实业", "制造", "机电", "电气", "医药", "软件", "网络", "工厂", "厂")
# Words before the company that are not part of it: verbs, fillers, "at/from", "the customer".
_BEFORE_COMPANY = re.compile(
    r".*(?:[了过见访到是在自的给位个户、，。,.!！?？:：;；\s]|新客户|客户|认识|拜访|联系|对接)")
# "with"/"from" words: a boundary only when a name of two or more characters follows
# ("刚和|星河科技"), not inside a brand ("先和科技").
_WITH = re.compile(r".*[和跟与从同]")
_TITLE_WORDS = ("总经理", "副总经理", "董事长", "副总裁", "总裁", "总监", "经理", "主管", "主任", "工程师", "总工",
                "顾问", "专员", "部长", "处长", "科长", "厂长", "院长", "行长", "店长", "助理", "秘书", "负责人",
                "采购", "老板", "CEO", "CTO")
_DEPARTMENT = re.compile(r"(?:销售|市场|技术|采购|财务|人事|行政|运营|商务|产品|研发|项目|客户|大客户|区域|华东|华南|华北|"
                         r"华中|西南|西北|东北|设备|质量|生产|工程|信息|IT|副|首席|高级|资深)+$")
_HONORIFIC = re.compile(r"([\u4e00-\u9fff]{1,2})(总|经理|工|老师|主任|处长|科长|部长|厂长|姐|哥)(?![\u4e00-\u9fff]{0,1}(?:监|裁))")
_NAMED = re.compile(r"(?:叫|名字是|姓名是|姓名|名字叫)\s*([\u4e00-\u9fff]{2,4}?)(?=[，,。.\s的是在他她手电]|$)")
_STOP_AFTER_NAME = re.compile(r"[，,。.;；！!？?\s]|的|是|在|他|她|手机|电话|号码|联系|经理|总监|总|说|也|和|跟|想|要|觉|对|"
                              r"来|去|已|问|今|明|下|上")
_CONTACT_WORD = re.compile(r"(?:客户|联系人|对接人)")


@dataclass
class VoiceCustomer:
    name: str | None = None
    company: str | None = None
    title: str | None = None
    mobile: str | None = None
    mobile2: str | None = None

    def fields(self) -> dict[str, str | None]:
        """The same keys as a scanned card's fields (missing ones None)."""
        found = {"name": self.name, "company": self.company, "title": self.title, "mobile": self.mobile,
                 "mobile2": self.mobile2}
        return {key: found.get(key) for key in FIELDS + EXTRA_FIELDS}

    def __bool__(self) -> bool:
        return bool(self.name or self.company or self.mobile)


def parse_voice_customer(text: str) -> VoiceCustomer:
    """Name, company, title and mobile of a new customer from a transcript (Chinese)."""
    text = _TO_SIMPLIFIED.convert(text or "").strip()
    if not text:
        return VoiceCustomer()
    # Homophones speech recognition writes for a title after its department: 采购经历 and 销售金里
    # (Whisper base, with the rep's hotwords in its prompt) are 采购经理 / 销售经理.
    text = re.sub(r"(?<=[购售场术务目户务理])(?:经历|金里|经里|金理)", "经理", text)
    mobiles = _mobiles(text)
    result = VoiceCustomer(mobile=next(iter(mobiles), None), mobile2=next(iter(mobiles[1:]), None))
    # Digits and the clause holding the number are no longer needed for the words.
    words = re.sub(r"[0-9０-９一二三四五六七八九零〇幺两][0-9０-９一二三四五六七八九零〇幺两\s，,\-]{6,}", "，", text)
    result.company = _company(words)
    rest = words.replace(result.company, "，") if result.company else words
    result.title, title_at = _title(rest)
    result.name = _name(rest, result.title, title_at)
    return result


def _mobiles(text: str) -> list[str]:
    """The different mobiles said, in order."""
    # Spoken digits one by one: "一三九 一二三四 五六七八" -> "139 1234 5678"; 幺 is how 1 is said in numbers.
    digits = cn2an.transform(text.replace("幺", "一"), "cn2an")
    digits = re.sub(r"(?<=\d)[\s，,、\-—]+(?=\d)", "", digits)
    return list(dict.fromkeys(n.value for n in parse_numbers(digits) if n.kind == "mobile"))


def _company(text: str) -> str | None:
    best: str | None = None
    for end in _COMPANY_END:
        for match in re.finditer(re.escape(end), text):
            head = text[:match.start()]
            cut = _BEFORE_COMPANY.match(head)
            stem = head[cut.end():] if cut else head
            with_word = _WITH.match(stem)
            if with_word and len(stem) - with_word.end() >= 2 \
                    and not stem[with_word.end():].startswith(_COMPANY_END):
                stem = stem[with_word.end():]
            stem = stem[-12:]
            if len(stem) < 2 or not re.fullmatch(r"[\u4e00-\u9fffA-Za-z（）()]+", stem):
                continue
            name = stem + end
            # "先和科技有限公司" beats "先和科技": the longer name at the same place wins.
            if best is None or len(name) > len(best):
                best = name
    return best


def _title(text: str) -> tuple[str | None, int]:
    """The title and where it starts in `text` (-1: none)."""
    best: tuple[str, int] | None = None
    for word in _TITLE_WORDS:
        for match in re.finditer(word, text):
            start = match.start()
            department = _DEPARTMENT.search(text[max(0, start - 6):start])
            if department:
                start -= len(department.group(0))
            title = text[start:match.end()]
            if title in ("采购", "老板") and not department:
                continue  # "在看采购" is not a title
            if best is None or len(title) > len(best[0]):
                best = (title, start)
    return best if best else (None, -1)


def _name(text: str, title: str | None, title_at: int) -> str | None:
    named = _NAMED.search(text)
    if named and starts_with_surname(named.group(1)):
        return named.group(1)
    if title:
        after = text[title_at + len(title):]
        word = _word_at(after)
        if word:
            return word
        before = re.search(r"([\u4e00-\u9fff]{2,3})[，,\s]*$", text[:title_at])
        if before and starts_with_surname(before.group(1)) and not _BEFORE_COMPANY.fullmatch(before.group(1)):
            return before.group(1)
    for contact in _CONTACT_WORD.finditer(text):
        word = _word_at(text[contact.end():])
        if word:
            return word
    honorific = _HONORIFIC.search(text)
    if honorific:
        surname = honorific.group(1)[-1] if honorific.group(1)[-1:] and starts_with_surname(honorific.group(1)[-1:]) \
            else honorific.group(1)
        if starts_with_surname(surname):
            return surname + honorific.group(2)
    return None


def _word_at(text: str) -> str | None:
    """A name of 2-3 characters at the start of `text`, stopped by the words that follow names."""
    text = text.lstrip("，, ")
    stop = _STOP_AFTER_NAME.search(text)
    word = text[:stop.start()] if stop else text
    if len(word) == 4 and word[:2] not in _TWO_CHAR_SURNAMES:
        word = word[:3]  # speech recognition ran the name into the next word: 王志刚语 -> 王志刚
    if 2 <= len(word) <= 3 and re.fullmatch(r"[\u4e00-\u9fff]+", word) and starts_with_surname(word):
        return word
    return None
