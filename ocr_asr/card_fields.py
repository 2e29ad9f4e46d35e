"""Business-card fields from OCR lines and their boxes.

A card says what a line is in three ways, and the rules use all three:
- a label in front of it (手机 / M / Mob / 电话 / Tel / 座机 / 办公 / 传真 / 邮箱 / E / 地址 / Add / 网址 / Web ...),
  Chinese, English, bilingual ("电话/Tel："), or none at all;
- its shape: an e-mail, a web address, a phone number (parsed by `phonenumbers`, which also tells a
  mobile from a landline whatever the label says), a company suffix (有限公司 / 集团 / 科技 ...),
  an address (省 / 市 / 区 / 路 / 号 / 楼 ...), a job title (经理 / 总监 / Manager ...);
- its type size: the name is the largest short Chinese line that is nothing else.

Output formats (the contract of `crmbot scan-card`):
- mobile: 11 digits, no country code: "13812345678".
- phone (landline): area code with its leading 0, a dash, the subscriber number, and a dash plus the
  extension when printed ("转8001", "ext. 8001", "-8001"): "021-62345678", "0755-86001234-8001".
  Nationwide numbers keep their usual grouping: "400-820-8820". A fax is never taken as the phone.
- email: lower case. website: lower case, without "http(s)://" and a trailing "/": "www.example.com.cn".
- title: the Chinese title when there is one ("区域销售总监 Regional Sales Director" -> "区域销售总监"),
  otherwise the English one.
- address: the Chinese address when there is one, label removed, a line wrapped onto the next joined.
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType
from pypinyin import lazy_pinyin

from ocr_asr.ocr import OcrLine

FIELDS = ("name", "company", "title", "mobile", "phone", "email", "address", "website")
# Added after the first contract (new keys only): a second mobile, the fax (kept apart so it is never
# taken for the phone), and the English name and title printed beside or below the Chinese ones.
EXTRA_FIELDS = ("mobile2", "fax", "english_name", "english_title")


@dataclass
class BusinessCard:
    name: str | None = None
    company: str | None = None
    title: str | None = None
    mobile: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    website: str | None = None
    mobile2: str | None = None
    fax: str | None = None
    english_name: str | None = None
    english_title: str | None = None
    confidence: dict[str, float] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def fields(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in FIELDS}

    def all_fields(self) -> dict[str, str | None]:
        """The contract's fields and the added ones (`crmbot scan-card --json` prints all)."""
        return {name: getattr(self, name) for name in FIELDS + EXTRA_FIELDS}


# ---------------------------------------------------------------- labels

# (kind, pattern, what must follow the label). Kinds: mobile, phone, fax, email, address, website,
# other (QQ, WeChat, post code ...: never a phone). "What must follow" keeps words such as 办公楼 or
# an address starting "A座" from being read as labels.
_NUMBER_AHEAD = r"(?=[\s:：.]*[+(（\d])"
_LABELS: list[tuple[str, str, str]] = [
    ("fax", r"传真|fax|f", _NUMBER_AHEAD),
    ("mobile", r"手机号码|手机号|手机|移动电话|mobile\s*phone|mobile|mob|cell\s*phone|cell|h\.?p|m", _NUMBER_AHEAD),
    ("phone", r"办公电话|联系电话|固定电话|服务热线|全国热线|客服热线|电话|座机|固话|总机|热线|办公|"
              r"telephone|phone|tel|office|direct|t|p|o", _NUMBER_AHEAD),
    # (mai1: Kai and Ming type draw l and 1 alike)
    ("email", r"电子邮箱|电子邮件|邮箱|电邮|邮件|e-?mai[l1]|mai[l1]|e", r"(?=[\s:：.]*[A-Za-z0-9])"),
    ("website", r"公司网址|网址|网站|官网|主页|website|web|url|w", r"(?=[\s:：.]*[A-Za-z])"),
    ("address", r"公司地址|联系地址|办公地址|地址|address|addr|add|a", r""),
    ("other", r"邮政编码|邮编|qq|微信号|微信|wechat|税号|开户行|开户银行|银行账号|账号|帐号|p\.?\s?c|zip|post\s*code", r""),
]
_CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")


def _label_words(words: str) -> str:
    """Chinese labels may touch the value (官网www...); English ones need a word boundary."""
    chinese = [w for w in words.split("|") if _CJK_CHAR.search(w)]
    english = [w for w in words.split("|") if not _CJK_CHAR.search(w)]
    return "|".join(chinese + [rf"(?<![A-Za-z])(?:{'|'.join(english)})(?![A-Za-z])"])


# Label, optionally a second one after "/" (电话/Tel), optionally a colon; then what it announces.
# _split_by_labels below decides when a bare letter (M, T, E ...) is really a label.
_LABEL_RE = re.compile(
    "|".join(
        rf"(?P<{kind}{i}>(?:{_label_words(words)})(?:\s*[/|]\s*(?:{_label_words(words)}))?\s*[:：.]?\s*){ahead}"
        for i, (kind, words, ahead) in enumerate(_LABELS)),
    re.IGNORECASE)
_COLON = re.compile(r"[:：]")


def _label_kind(match: re.Match) -> str:
    return re.sub(r"\d+$", "", match.lastgroup or "")


@dataclass
class _Piece:
    """A labelled (or unlabelled) stretch of one OCR line."""

    line: int
    kind: str | None     # label kind, None when unlabelled
    text: str


def _split_by_labels(text: str, line_no: int) -> list[_Piece]:
    pieces: list[_Piece] = []
    starts = []
    for match in _LABEL_RE.finditer(text):
        label = match.group(0)
        single_letter = len(re.sub(r"[\s:：./|]", "", label)) == 1
        at_start = not text[:match.start()].strip()
        if single_letter and not _COLON.search(label) and not at_start:
            continue  # "Sales Manager E" is not a label; "... E: x@y.com" is
        if single_letter and re.match(r"[A-Za-z0-9]", text[match.start() - 1:match.start()]):
            continue  # the last letter of a misread word ("Mobi1e：") is not a label
        after_chinese = bool(_CJK_CHAR.match(text[match.start() - 1:match.start()]))
        if not at_start and not _COLON.search(label) and after_chinese:
            continue  # 办公 in the middle of Chinese text (科技园办公楼...) is a word, not a label.
        if single_letter and label.strip().lower() == "a" and not _COLON.search(label):
            continue  # "A座3楼" is an address, not "Address:"
        starts.append(match)
    position = 0
    kind: str | None = None
    for match in starts:
        before = text[position:match.start()]
        if before.strip():
            pieces.append(_Piece(line_no, kind, before.strip()))
        kind = _label_kind(match)
        position = match.end()
    rest = text[position:]
    if rest.strip() or kind:
        pieces.append(_Piece(line_no, kind, rest.strip()))
    return pieces


# ---------------------------------------------------------------- shapes

_WEB_AFTER_NUMBER = re.compile(r"(?:https?\s?:\s?/\s?/\s?|www\s?\.)[A-Za-z0-9./-]+", re.IGNORECASE)
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+\s?@\s?[A-Za-z0-9-]+(?:\s?\.\s?[A-Za-z0-9-]+)+")
_URL_RE = re.compile(r"(?:https?\s?:\s?/\s?/\s?)?(?:www\s?\.\s?)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?:/[\w./-]*)?",
                     re.IGNORECASE)
# A run that can hold a phone number: digits with the separators printed numbers use.
_NUMBER_RUN_RE = re.compile(r"[+(（]?\s*\d[\d\s\-()（）.+]{5,}\d")
_EXTENSION_RE = re.compile(r"^\s*(?:转|轉|分机|ext\.?|x|-|#)\s*(\d{1,5})(?!\d)", re.IGNORECASE)
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")

_COMPANY_STRONG = re.compile(
    r"有限责任公司|股份有限公司|有限公司|集团|公司|研究院|研究所|事务所|工作室|银行|医院|大学|学院|协会|商会|"
    r"合作社|经营部|门市部|商行|(?<![A-Za-z])(?:co\.?,?\s*ltd|ltd|limited|inc|corp|corporation|group|gmbh|llc)(?![A-Za-z])",
    re.IGNORECASE)
_COMPANY_WEAK = re.compile(r"科技|技术|电子|实业|贸易|控股|国际|传媒|文化|物流|制造|工业|网络|软件|信息|中心|厂")
_ADDRESS_WORDS = re.compile(r"省|市|区|县|镇|乡|村|路|街|道|巷|弄|号|楼|室|座|栋|幢|层|大厦|广场|园|中心|大道|开发区")
_ADDRESS_START = re.compile(r"^(?:中国)?[\u4e00-\u9fff]{2,3}(?:省|市|自治区)|^(?:中国)")
_TITLE_WORDS = re.compile(
    r"经理|总监|总裁|董事|主管|主任|专员|工程师|顾问|代表|总经理|创始人|合伙人|负责人|首席|部长|处长|科长|"
    r"局长|院长|校长|教授|律师|会计师|设计师|医生|医师|秘书|助理|行长|店长|厂长|总工|架构师|分析师|策划|"
    r"编辑|记者|讲师|主编|总编|执行官|监事|会长|秘书长|业务员|销售|"
    r"(?<![A-Za-z])(?:ceo|cto|cfo|coo|cmo|vp|manager|director|president|engineer|consultant|supervisor|"
    r"specialist|officer|representative|founder|partner|chairman|assistant|executive|sales|head|lead)(?![A-Za-z])",
    re.IGNORECASE)
# Words that appear in titles but also alone in department names (销售部, Sales Dept.).
_TITLE_WEAK = re.compile(r"销售|业务|(?<![A-Za-z])(?:sales|head|lead)(?![A-Za-z])", re.IGNORECASE)
_DEPARTMENT_END = re.compile(r"(?:部|处|科|事业部|中心|大区|区|分公司|办事处|dept\.?|department)$", re.IGNORECASE)
# How a title printed right after the name usually begins (used to split "张伟销售总监").
_TITLE_STARTS = (
    "销售", "市场", "技术", "总经理", "总监", "总裁", "总工", "副总经理", "副总裁", "副总", "副", "区域", "大客户", "客户",
    "项目", "采购", "运营", "商务", "首席", "高级", "资深", "董事", "财务", "人力", "行政", "产品", "研发", "业务",
    "华东", "华南", "华北", "华中", "西南", "西北", "东北", "部门", "执行", "创始", "合伙", "主任", "主管", "经理",
    "工程", "设计", "顾问", "销售部", "市场部", "事业部", "CEO", "CTO", "COO", "CFO", "VP")


def _title_start(text: str) -> int:
    """Length of the longest usual title beginning `text` starts with (0: none)."""
    return max((len(start) for start in _TITLE_STARTS if text.startswith(start)), default=0)


_CJK = re.compile(r"[\u4e00-\u9fff]")
_SURNAMES_2 = ("欧阳", "司马", "诸葛", "上官", "司徒", "东方", "独孤", "南宫", "夏侯", "慕容", "尉迟", "长孙", "皇甫", "令狐",
               "宇文", "公孙", "轩辕", "端木", "申屠", "澹台")
_SURNAMES_1 = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康"
    "施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成"
    "苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫"
    "费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝")


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _squeeze_cjk_spaces(text: str) -> str:
    """OCR keeps the spaces of letter-spaced Chinese (王  伟); English needs its spaces. A lone
    l, I or | between two Chinese characters is a stroke OCR read twice (四川l省), not a letter."""
    text = re.sub(r"(?<=[\u4e00-\u9fff])[lI|](?=[\u4e00-\u9fff])", "", text)
    return re.sub(r"(?<=[\u4e00-\u9fff（）()])\s+(?=[\u4e00-\u9fff（）()\d])|(?<=[\d])\s+(?=[\u4e00-\u9fff])",
                  "", text).strip()


# ---------------------------------------------------------------- phone numbers

@dataclass
class _Number:
    kind: str          # "mobile" or "phone"
    value: str


def parse_numbers(text: str) -> list[_Number]:
    """Every phone number printed in `text`, normalized (see the module docstring)."""
    text = _nfkc(text)
    found: list[_Number] = []
    for run in _NUMBER_RUN_RE.finditer(text):
        parts = [p for p in re.split(r"\s{2,}|/|、|,|;", run.group(0)) if p.strip()]
        for i, part in enumerate(parts):
            after = text[run.end():] if i == len(parts) - 1 else ""
            found.extend(_numbers_in(part, after))
    return found


def _numbers_in(candidate: str, after: str) -> list[_Number]:
    """One number, or several printed side by side ("13812345678 021-62345678"): take the longest
    leading stretch of space-separated groups that parses, then go on after it."""
    groups = candidate.split()
    found: list[_Number] = []
    start = 0
    while start < len(groups):
        for end in range(len(groups), start, -1):
            last = end == len(groups)
            number = _normalize_number(" ".join(groups[start:end]), after if last else "")
            if number:
                found.append(number)
                start = end
                break
        else:
            start += 1
    return found


def _normalize_number(candidate: str, after: str) -> _Number | None:
    digits = re.sub(r"[^\d+]", "", candidate)
    if len(re.sub(r"\D", "", digits)) < 7:
        return None
    ext_match = _EXTENSION_RE.match(after)
    extension = ext_match.group(1) if ext_match else None
    parsed = _parse_cn(digits)
    if parsed is None and "-" in candidate:
        # "021-62345678-8001": the last dash group is the extension.
        head, _, tail = candidate.strip().rpartition("-")
        if tail.strip().isdigit() and len(tail.strip()) <= 5:
            head_digits = re.sub(r"[^\d+]", "", head)
            parsed = _parse_cn(head_digits)
            if parsed is not None or _landline_by_plan(head_digits):
                digits, extension = head_digits, extension or tail.strip()
    if parsed is None:
        bare = re.sub(r"^\+?86", "", digits) if len(digits.lstrip("+")) == 13 else digits
        if _MOBILE_RE.match(bare):
            # A mobile range newer than the phonenumbers metadata is still a mobile.
            return _Number("mobile", bare)
        landline = _landline_by_plan(digits)
        if landline is None:
            return None
        return _Number("phone", landline + (f"-{extension}" if extension else ""))
    national = str(parsed.national_number)
    kind = phonenumbers.number_type(parsed)
    if kind == PhoneNumberType.MOBILE or _MOBILE_RE.match(national):
        return _Number("mobile", national)
    area_length = phonenumbers.length_of_geographical_area_code(parsed)
    if area_length:
        value = f"0{national[:area_length]}-{national[area_length:]}"
    else:
        # 400 / 800 service numbers and other non-geographic ones: the usual national grouping.
        value = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        value = re.sub(r"\s+", "-", value.strip())
    if extension:
        value += f"-{extension}"
    return _Number("phone", value)


def _landline_by_plan(digits: str) -> str | None:
    """A landline printed with its area code that phonenumbers calls possible but not valid (its
    metadata does not list every allocated block). China's plan: area code 10 or 2x (two digits)
    or three digits, then a 7-8 digit subscriber number not starting with 0 or 1."""
    match = re.fullmatch(r"(?:\+?86|0)(10|2\d|[3-9]\d{2})([2-9]\d{6,7})", digits)
    if not match:
        return None
    try:
        if not phonenumbers.is_possible_number(phonenumbers.parse(digits, "CN")):
            return None
    except NumberParseException:
        return None
    return f"0{match.group(1)}-{match.group(2)}"


def _parse_cn(digits: str) -> phonenumbers.PhoneNumber | None:
    try:
        parsed = phonenumbers.parse(digits, "CN")
    except NumberParseException:
        return None
    if parsed.country_code != 86 or not phonenumbers.is_valid_number(parsed):
        return None
    return parsed


# ---------------------------------------------------------------- the extractor

# Labels of a contract's or meeting minutes' lines: 乙方：… 总价：… 付款方式：… 参会：…
_DOCUMENT_LINE = re.compile(r"^[一二三四五六七八九十、.\d\s]*(?:甲方|乙方|丙方|买方|卖方|供方|需方|总价|合同金额|付款方式|"
                            r"交货时间|交货日期|交货地点|验收|违约责任|会议纪要|参会人?员?|会议时间|会议地点)[:：]")


@dataclass
class _Line:
    no: int
    ocr: OcrLine
    text: str                        # NFKC, spaces between Chinese characters removed
    raw: str                         # NFKC only
    used: bool = False


def extract_card(lines: list[OcrLine]) -> BusinessCard:
    """Fields of a business card from its OCR lines (any order; boxes in one upright image)."""
    ordered = _reading_order(_level(l for l in lines if l.text.strip()))
    card = BusinessCard(lines=[l.text for l in ordered])
    rows = [_Line(i, l, _squeeze_cjk_spaces(_nfkc(l.text)), _nfkc(l.text).strip()) for i, l in enumerate(ordered)]
    for row in rows:
        # A contract's or minutes' line (a page beside the card that was read with it): no card
        # prints these, so none of their words may fill a field.
        row.used = bool(_DOCUMENT_LINE.match(row.text))
    unsure = _take_contacts(card, rows)
    _take_address(card, rows)
    _take_company(card, rows)
    _take_title_and_name(card, rows)
    _mend_email(card, unsure)
    _mend_website(card)
    return card


def _level(lines) -> list[OcrLine]:
    """Undo a photo's tilt: rotate every box by the median slope of the long lines, so that
    "same row", "right below" and "lined up on the left" mean what they say on the card."""
    lines = list(lines)
    slopes = sorted(math.atan2(l.box[1][1] - l.box[0][1], l.box[1][0] - l.box[0][0])
                    for l in lines if l.width > 3 * l.height)
    if not slopes:
        return lines
    angle = slopes[len(slopes) // 2]
    if abs(angle) < 0.005 or abs(angle) > 0.5:  # level already, or not a tilt this code understands
        return lines
    cos, sin = math.cos(-angle), math.sin(-angle)
    return [OcrLine(text=l.text, box=[(x * cos - y * sin, x * sin + y * cos) for x, y in l.box], score=l.score)
            for l in lines]


def _reading_order(lines: list[OcrLine]) -> list[OcrLine]:
    """Top to bottom; lines on the same row (their middles within half a line) left to right,
    pieces of one printed line that OCR cut apart (瑞丰智能装备 | （广州） | 有限公司) glued back."""
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda l: l.center_y):
        if rows and abs(rows[-1][0].center_y - line.center_y) < 0.5 * min(rows[-1][0].height, line.height):
            rows[-1].append(line)
        else:
            rows.append([line])
    ordered: list[OcrLine] = []
    for row in rows:
        row.sort(key=lambda l: l.left)
        merged = [row[0]]
        for line in row[1:]:
            last = merged[-1]
            gap = line.left - last.right
            if gap < 0.8 * min(last.height, line.height) and 0.8 < line.height / last.height < 1.25:
                merged[-1] = _glue(last, line)
            else:
                merged.append(line)
        ordered.extend(merged)
    return ordered


def _glue(first: OcrLine, second: OcrLine) -> OcrLine:
    if second.left < first.right and first.text[-1:] == second.text[:1]:
        # Overlapping boxes both read the character where they overlap: 装备 + 备（南京）.
        second = OcrLine(second.text[1:], second.box, second.score)
    text = first.text + (" " if re.search(r"[A-Za-z0-9]$", first.text) and re.match(r"[A-Za-z0-9]", second.text)
                         else "") + second.text
    box = [first.box[0], second.box[1], second.box[2], first.box[3]]
    return OcrLine(text=text, box=box, score=min(first.score, second.score))


def _set(card: BusinessCard, name: str, value: str | None, confidence: float) -> None:
    if value and getattr(card, name) is None:
        setattr(card, name, value)
        card.confidence[name] = round(max(0.0, min(1.0, confidence)), 2)


@dataclass
class _Unsure:
    """An e-mail line whose @ may have been misread (see `_mend_email`)."""

    text: str
    score: float
    labelled: bool     # under an e-mail label; else an unlabelled name.domain taken for the website


def _take_contacts(card: BusinessCard, rows: list[_Line]) -> list[_Unsure]:
    """Numbers, e-mail and website, labelled or not. The label of a number only matters for a fax
    (never the phone): a mobile printed under 电话/Tel is still the mobile. Returns the e-mail
    lines that have no @ (OCR read it as o in Kai and Ming type), for `_mend_email`."""
    unsure: list[_Unsure] = []
    bare: list[tuple[str, float]] = []
    for row in rows:
        if row.used:
            continue
        pieces = _split_by_labels(row.text, row.no)
        consumed = 0
        for piece in pieces:
            score = row.ocr.score
            labelled = 1.0 if piece.kind else 0.9
            if piece.kind in ("address", "other"):
                continue
            email = _EMAIL_RE.search(piece.text)
            if email and piece.kind in (None, "email"):
                _set(card, "email", _clean_email(email.group(0)), score * labelled)
                consumed += 1
                continue
            url = _URL_RE.search(piece.text)
            if url and piece.kind == "website" or (url and piece.kind is None and _looks_like_web(url.group(0))):
                consumed += 1
                if piece.kind is None and not re.match(r"\s*(?:www|https?)\b", url.group(0), re.IGNORECASE):
                    # A bare name.domain: the website only if no line says www/http or Web (it
                    # may be an e-mail that lost its @).
                    unsure.append(_Unsure(url.group(0), score, labelled=False))
                    bare.append((url.group(0), score * labelled))
                    continue
                _set(card, "website", _clean_url(url.group(0)), score * labelled)
                continue
            if piece.kind == "email" and piece.text:
                unsure.append(_Unsure(piece.text, score, labelled=True))
            if piece.kind in ("email", "website"):
                continue
            text = piece.text
            web = _WEB_AFTER_NUMBER.search(text)
            if web:   # "传真 +86… http://www.x.net": a website printed after a number on its line
                _set(card, "website", _clean_url(web.group(0)), score * labelled)
                text = text[:web.start()]
            numbers = parse_numbers(text)
            if numbers:
                consumed += 1
            if piece.kind == "fax":
                # A fax is never the phone or the mobile; it is kept under its own key.
                landlines = [n for n in numbers if n.kind == "phone"]
                if landlines:
                    _set(card, "fax", landlines[0].value, score)
                continue
            for number in numbers:
                if number.kind == "mobile" and card.mobile and number.value != card.mobile:
                    # "138… / 139…" or a second 手机 line: the second mobile is a second way to call.
                    _set(card, "mobile2", number.value, score * labelled)
                    continue
                _set(card, number.kind, number.value, score * labelled)
        row.used = bool(consumed) and all(p.kind not in ("address",) for p in pieces) and not _has_leftover(row.text)
    for text, score in bare:
        _set(card, "website", _clean_url(text), score)
    return unsure


def _has_leftover(text: str) -> bool:
    """True when a contact line also carries Chinese words other than labels (e.g. a title)."""
    stripped = _LABEL_RE.sub(" ", text)
    stripped = _EMAIL_RE.sub(" ", stripped)
    stripped = _NUMBER_RUN_RE.sub(" ", stripped)
    stripped = _URL_RE.sub(" ", stripped)
    return len(_CJK.findall(stripped)) >= 2


def _clean_email(text: str) -> str:
    text = re.sub(r"\s", "", text).strip(".")
    local, _, domain = text.partition("@")
    # OCR glues the label on when the space is narrow: "E-mailhuang96@...".
    unlabelled = re.sub(r"^(?:e-mail|email)[:.]?", "", local, flags=re.IGNORECASE)
    local = unlabelled or local
    # OCR reads a 1 after a digit as l or I (huang6l@): numbers in an address are digits.
    local = re.sub(r"(?<=\d)[lI|](?=\d|$)", "1", local)
    local = re.sub(r"(?<=\d)[oO](?=\d|$)", "0", local)
    return _letters_in_domain(f"{local}@{domain}".lower())


def _letters_in_domain(domain: str) -> str:
    """A 1 among letters of a domain name (or of an address's user name) is an l that OCR misread:
    Kai and Ming type draw l and 1 alike. Between two letters (ju1itech.com -> julitech.com), and
    at the start of a word before a letter (1ixinsoft, 1iu79@): names and domains put their
    digits after the letters (liu79, sun95), and a word never starts 1i / 1u / 1a ..."""
    domain = re.sub(r"(?<=[A-Za-z])1(?=[A-Za-z])", "l", domain)
    return re.sub(r"(?:(?<=^)|(?<=[.@_/-]))1(?=[a-z])", "l", domain)


def _looks_like_web(text: str) -> bool:
    low = text.lower().replace(" ", "")
    return low.startswith(("www.", "http")) or bool(re.search(r"\.(?:com|cn|net|org)(?:\.cn)?$", low)) \
        and not re.search(r"\d{4,}", low)


def _clean_url(text: str) -> str:
    text = re.sub(r"\s", "", text).lower()
    text = re.sub(r"^(?:website|web|url|w)[:.]?(?=www\.|http)", "", text)  # a glued-on label
    text = re.sub(r"^https?:/*", "", text)
    text = re.sub(r"^ww\.", "www.", text)   # one w of three lost by OCR: no host is called "ww"
    return _letters_in_domain(text.rstrip("/."))


# What OCR makes of an @ in Kai and Ming type (and of a worn one): a round letter.
_AT_MISREAD = "o0"
_AT_MISREAD_WITH_EVIDENCE = "o0eaQ"
_DOMAIN_RE = re.compile(r"[a-z0-9][a-z0-9-]{2,}(?:\.[a-z0-9-]+)*\.(?:com|cn|net|org|cc|biz|info|co|top|vip)")


def _mend_email(card: BusinessCard, unsure: list[_Unsure]) -> None:
    """An e-mail line without its @: Kai and Ming type draw @ so that OCR reads it as o
    ("E-mail huiyangolixintech.net"). Where the @ stood is told by what the card says elsewhere:
    the domain is the website's (www.lixintech.net) or spells the company's name in pinyin
    (立信 -> lixin...). Without such evidence, a labelled line takes the first o that leaves a
    user name and a domain of three or more letters; an unlabelled one is left as it was read."""
    if card.email or not unsure:
        return
    known = _domain_evidence(card)
    for item in unsure:
        text = re.sub(r"^(?:e-?mail|email)[:.]?", "", re.sub(r"\s", "", _nfkc(item.text)), flags=re.IGNORECASE)
        mended = _mend_at(text.lower(), known, guess=item.labelled)
        if mended is None:
            continue
        if not item.labelled and card.website == _clean_url(item.text):
            card.website = None   # the "website" was this address
            card.confidence.pop("website", None)
        _set(card, "email", _clean_email(mended), item.score * (0.8 if item.labelled else 0.7))
        return


def _mend_at(text: str, known: set[str], guess: bool) -> str | None:
    candidates = []
    for i, char in enumerate(text):
        if i < 2 or char not in _AT_MISREAD_WITH_EVIDENCE.lower():
            continue
        local, domain = text[:i], text[i + 1:]
        if not re.fullmatch(r"[a-z0-9][a-z0-9._%+-]*[a-z0-9]", local) or not _DOMAIN_RE.fullmatch(domain):
            continue
        label = domain.split(".")[0]
        evidence = any(label.startswith(word) for word in known)
        if evidence or (guess and char in _AT_MISREAD):
            candidates.append((evidence, -i, f"{local}@{domain}"))
    if not candidates:
        return None
    return max(candidates)[2]


def _domain_evidence(card: BusinessCard) -> set[str]:
    """Words a domain on this card may start with: the website's name, the company's short
    forms in pinyin (四个字 or fewer: 立信, 立信新材料 -> lixin, lixinxincailiao)."""
    words = set()
    if card.website:
        host = re.sub(r"^www\.", "", card.website).split("/")[0]
        if "." in host:
            words.add(host.split(".")[0])
    if card.company:
        from ocr_asr.note_parser import company_keys
        # 聚力信息技术（上海）有限公司: the city in brackets is not part of the name.
        for key in company_keys(re.sub(r"（[^）]*）|\([^)]*\)", "", card.company)):
            if 2 <= len(key) <= 6 and _CJK.fullmatch(key[0]):
                spelled = "".join(lazy_pinyin(key))
                if spelled.isascii() and len(spelled) >= 4:
                    words.add(spelled.lower())
    return words


def _mend_website(card: BusinessCard) -> None:
    """A website cut short by OCR (www.zhuoyue-group, its .net lost) or that lost its last dot
    (www.xinruisoftnet), whose name is the e-mail's domain, is the e-mail's domain."""
    if not card.website or not card.email:
        return
    host = card.website.split("/")[0]
    domain = card.email.partition("@")[2]
    if "." in re.sub(r"^www\.", "", host) or host == "www.":
        return
    # Cut short (www.zhuoyue-group) or its dot lost (www.xinruisoftnet).
    if f"www.{domain}".startswith(host) or host.replace(".", "") == f"www{domain}".replace(".", ""):
        card.website = f"www.{domain}"


def _take_address(card: BusinessCard, rows: list[_Line]) -> None:
    candidates: list[tuple[float, _Line, str]] = []
    for row in rows:
        if row.used:
            continue
        for piece in _split_by_labels(row.text, row.no):
            if piece.kind == "address" and piece.text:
                weight = 2.0 if _CJK.search(piece.text) else 1.0   # a Chinese address beats the English one
                candidates.append((weight, row, piece.text))
            elif piece.kind is None and _is_address_like(piece.text):
                candidates.append((0.8, row, piece.text))
    if not candidates:
        return
    weight, row, text = max(candidates, key=lambda c: (c[0], -c[1].no))
    row.used = True
    parts = [text]
    # A long address wraps: take the lines right below that line up with it and are nothing else.
    current = row
    while True:
        below = _line_below(current, rows)
        if below is None or not _continues_address(below):
            break
        below.used = True
        parts.append(below.text)
        current = below
    joiner = "" if _CJK.search(text) else " "
    address = joiner.join(p.strip() for p in parts)
    if _CJK.search(address):
        # Block letters are capitals (A座, C区); OCR cannot tell c from C.
        address = re.sub(r"(?<![A-Za-z])[a-z](?![A-Za-z])", lambda m: m.group(0).upper(), address)
    _set(card, "address", address, row.ocr.score * min(1.0, weight / 2 + 0.3))


def _is_address_like(text: str) -> bool:
    if _COMPANY_STRONG.search(text) or len(text) < 6:
        return False
    hits = len(_ADDRESS_WORDS.findall(text))
    has_number = bool(re.search(r"\d", text))
    return bool(_ADDRESS_START.search(text)) and hits >= 2 or (hits >= 3 and has_number)


def _line_below(row: _Line, rows: list[_Line]) -> _Line | None:
    box = row.ocr
    best = None
    for other in rows:
        o = other.ocr
        if other.no == row.no or o.center_y <= box.center_y:
            continue
        gap = o.top - box.bottom
        overlaps = min(box.right, o.right) - max(box.left, o.left) > 0
        if overlaps and gap < 1.2 * box.height and abs(o.left - box.left) < 1.5 * box.height \
                and 0.6 < o.height / box.height < 1.6:
            if best is None or o.center_y < best.ocr.center_y:
                best = other
    return best


def _continues_address(row: _Line) -> bool:
    if row.used:
        return False
    pieces = _split_by_labels(row.text, row.no)
    if any(p.kind for p in pieces):
        return False
    text = row.text
    if _EMAIL_RE.search(text) or parse_numbers(text) or _COMPANY_STRONG.search(text) or _TITLE_WORDS.search(text):
        return False
    if _CJK.search(text):
        return bool(re.search(r"[\d号楼室座栋幢层区路街道园厦]", text)) or len(text) <= 12
    return bool(re.search(r"\d|road|rd|street|st\.|floor|room|building|district|city|china", text, re.I))


def _take_company(card: BusinessCard, rows: list[_Line]) -> None:
    candidates = []
    for row in rows:
        if row.used:
            continue
        text = row.text
        if _EMAIL_RE.search(text) or re.search(r"www\.|https?:", text, re.IGNORECASE) or parse_numbers(text):
            continue  # "官网 www.x-group.com" is not the company
        strong = _COMPANY_STRONG.search(text)
        weak = _COMPANY_WEAK.search(text)
        if not (strong or weak) or _TITLE_WORDS.search(text) and not strong:
            continue
        if _CJK.search(text) and len(re.sub(r"\W", "", text)) < 4:
            continue  # "公司" alone: the end of a line cut off, not a name
        cjk = bool(_CJK.search(text))
        score = (2 if strong else 1) + (1 if cjk else 0) + min(row.ocr.height / 100, 0.5)
        candidates.append((score, row))
    if not candidates:
        return
    score, row = max(candidates, key=lambda c: (c[0], -c[1].no))
    row.used = True
    text = row.text
    if _CJK.search(text):
        # "华信科技有限公司 HUAXIN TECH CO., LTD": keep the Chinese name.
        text = re.sub(r"\s+[A-Za-z][A-Za-z .,&()-]*$", "", text)
        # Registered Chinese company names use full-width brackets: 华信科技（上海）有限公司.
        text = text.replace("(", "（").replace(")", "）")
        text = re.sub(r"[,，.、·]+(?=（)|(?<=）)[,，.、·]+", "", text)  # OCR specks beside brackets
    _set(card, "company", text.strip(), row.ocr.score * (1.0 if score >= 3 else 0.7))


def _take_title_and_name(card: BusinessCard, rows: list[_Line]) -> None:
    names: list[tuple[float, _Line, str]] = []
    titles: list[tuple[float, _Line, str]] = []
    heights = sorted(row.ocr.height for row in rows)
    median_height = heights[len(heights) // 2] if heights else 0.0
    for row in rows:
        if row.used:
            continue
        text = row.text
        if _TITLE_WORDS.search(text):
            # Only a line in larger type than most can hold the name as well as the title.
            name, title = _split_name_title(row.raw) if row.ocr.height >= 1.2 * median_height else (None, text)
            title = _squeeze_cjk_spaces(title)
            if name:
                names.append((row.ocr.height, row, name))
            position = bool(_TITLE_WORDS.search(_TITLE_WEAK.sub(" ", title)))
            if not position and _DEPARTMENT_END.search(title):
                continue  # 销售部 / 大客户事业部 is where the person works, not the title
            titles.append(((1.0 if _CJK.search(title) else 0.5) + (1.0 if position else 0.0), row, title))
        else:
            # "王伟 David Wang" on one line: the Chinese name is the name.
            both = re.fullmatch(r"([\u4e00-\u9fff]{2,4})\s*([A-Z][a-z]+(?:[ .-]?[A-Z][a-z]+){0,2})", text)
            if both:
                text = both.group(1)
            # 一 in a name is one stroke, which OCR reads as a dash: 程婷— is 程婷一.
            text = re.sub(r"(?<=[\u4e00-\u9fff])[—－–-](?=[\u4e00-\u9fff]|$)", "一", text)
            if not _CJK.search(text):
                text = _unglue(text)   # "AmyXu" as OCR runs it together
            if _is_name_like(text):
                names.append((row.ocr.height * (1.0 if _starts_with_surname(text) else 0.7), row, text))
    if titles:
        weight, row, text = max(titles, key=lambda t: (t[0], -t[1].no))
        _set(card, "title", _title_text(text), row.ocr.score * (0.9 if weight == 2.0 else 0.7))
        if _CJK.search(text):
            _attach_english_title(card, row, text, rows)
    chinese = [n for n in names if _CJK.search(n[2]) and not (card.company and n[2] in card.company)]
    english = [n for n in names if not _CJK.search(n[2])]
    pool = chinese or english
    if pool:
        height, row, text = max(pool, key=lambda n: n[0])
        others = sorted((n[0] for n in pool if n[1] is not row), reverse=True)
        margin = 1.0 if not others else min(1.0, 0.6 + (height - others[0]) / max(height, 1))
        _set(card, "name", text, row.ocr.score * margin * (1.0 if _starts_with_surname(text) else 0.7))
        if chinese:
            _attach_english_name(card, row, english, rows)


def _attach_english_name(card: BusinessCard, name_row: _Line, english: list, rows: list[_Line]) -> None:
    """The person's English name: on the name's own line ("王伟 David Wang"), or a Latin name line
    beside or right below it. It belongs to the person and is never the company or the title."""
    both = re.fullmatch(r"[\u4e00-\u9fff]{2,4}\s*([A-Z][a-z]+(?:[ .-]?[A-Z][a-z]+){0,2})", name_row.text)
    if both:
        _set(card, "english_name", _unglue(both.group(1)), name_row.ocr.score)
        return
    box = name_row.ocr
    near = [(abs(row.ocr.center_y - box.center_y), row, text) for _, row, text in english
            if row.ocr.top < box.bottom + 2.0 * box.height and row.ocr.bottom > box.top - 0.5 * box.height]
    if near:
        _, row, text = min(near, key=lambda n: n[0])
        row.used = True
        _set(card, "english_name", text.strip(), row.ocr.score)


# Latin words only (an English title, once `_is_english_title` also finds a title's word in it).
_ENGLISH_TITLE = re.compile(r"[A-Za-z][A-Za-z .,&/-]*[A-Za-z.]")
# The English beside a Chinese title: after it ("销售经理 Sales Manager", "运营总监OperationsDirector"),
# or before it when set apart ("Sales Manager / 销售经理"); `_title_text` drops it, the English title is it.
_ENGLISH_AFTER = re.compile(r"[\s/|]*([A-Za-z][A-Za-z .,&/()|-]*)$")
_ENGLISH_BEFORE = re.compile(r"^([A-Za-z][A-Za-z .,&()-]*?)\s*[\s/|]\s*(?=[\u4e00-\u9fff])")


def _attach_english_title(card: BusinessCard, title_row: _Line, text: str, rows: list[_Line]) -> None:
    """The English title printed with the Chinese one: on its line ("销售经理 Sales Manager",
    "Sales Manager / 销售经理"), or a Latin line of title words beside or right below it."""
    for part in (_ENGLISH_AFTER.search(text), _ENGLISH_BEFORE.match(text)):
        english = _unglue(part.group(1)) if part else ""
        if _is_english_title(english):
            _set(card, "english_title", english.strip(" /|"), title_row.ocr.score)
            return
    box = title_row.ocr
    near = [(abs(row.ocr.center_y - box.center_y), row) for row in rows
            if not row.used and row is not title_row and _is_english_title(row.text)
            and row.ocr.top < box.bottom + 2.0 * box.height and row.ocr.bottom > box.top - 0.5 * box.height]
    if near:
        _, row = min(near, key=lambda n: n[0])
        row.used = True
        _set(card, "english_title", row.text.strip(), row.ocr.score)


def _unglue(text: str) -> str:
    """Words OCR ran together put apart again: OperationsDirector -> Operations Director."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)


def _is_english_title(text: str) -> bool:
    text = text.strip(" /|")
    return bool(_ENGLISH_TITLE.fullmatch(text)) and bool(_TITLE_WORDS.search(text)) \
        and not _TITLE_WEAK.fullmatch(text) and len(text) <= 60


def _title_text(text: str) -> str:
    """The Chinese part of a bilingual title, or the English title when that is all there is."""
    if _CJK.search(text):
        # English after the Chinese is its translation ("首席执行官 CEO", "运营总监OperationsDirector"),
        # and so is English before it when set apart ("Sales Manager / 销售经理"); "IT经理" keeps its IT.
        chinese = _ENGLISH_BEFORE.sub("", _ENGLISH_AFTER.sub("", text))
        return re.sub(r"\s+", " ", chinese).strip(" /|")
    return text.strip()


def _split_name_title(text: str) -> tuple[str | None, str]:
    """"张伟 销售总监" or (OCR merged the two) "张伟销售总监" -> ("张伟", "销售总监")."""
    spaced = re.match(r"^([\u4e00-\u9fff]{2,4})\s+(.+)$", text)
    if spaced and _starts_with_surname(spaced.group(1)) and not _TITLE_WORDS.search(spaced.group(1)):
        return spaced.group(1), spaced.group(2)
    text = _squeeze_cjk_spaces(text)
    if not _starts_with_surname(text) or _title_start(text):  # 高级工程师 is not Mr 高
        return None, text
    surname = 2 if text[:2] in _SURNAMES_2 else 1
    # Try a given name of two characters, then one; the cut after which the longest usual title
    # begins wins (侯红|大客户部总监 over 侯红大|客户部总监, 李明|总经理 over 李明总|经理).
    best: tuple[int, int] | None = None
    for given in (2, 1):
        cut = surname + given
        rest = text[cut:]
        length = _title_start(rest)
        if len(rest) >= 2 and length and _CJK.match(text[cut - 1]) and not _TITLE_WORDS.search(text[:cut]):
            if best is None or length > best[1]:
                best = (cut, length)
    if best is None:
        return None, text
    return text[:best[0]], text[best[0]:]


def _starts_with_surname(text: str) -> bool:
    return bool(text) and (text[0] in _SURNAMES_1 or text[:2] in _SURNAMES_2)


def _is_name_like(text: str) -> bool:
    compact = re.sub(r"\s", "", text)
    if _CJK.search(compact):
        return bool(re.fullmatch(r"[\u4e00-\u9fff]{2,4}|[\u4e00-\u9fff]{2,5}·[\u4e00-\u9fff]{2,8}", compact))
    # An English name ("David Wang") counts only when no Chinese name is printed.
    return bool(re.fullmatch(r"[A-Z][a-z]+(?:[ .-][A-Z][a-z]+){1,2}", text.strip()))


def starts_with_surname(text: str) -> bool:
    """True when `text` begins with a common Chinese surname (one or two characters)."""
    return _starts_with_surname(text)
