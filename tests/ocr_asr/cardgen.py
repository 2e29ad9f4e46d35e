"""Synthetic Chinese business cards with known ground truth, for tests and bench/bench_scan_card.py.

Cards are drawn with a CJK font from Debian (fonts-noto-cjk, or fonts-wqy-zenhei as a fallback) in
several layouts and label styles, light and dark; `photograph()` then degrades a clean card the way
a phone does: the card lies on a table, tilted a few degrees or turned 90/180°, lit unevenly, noisy,
JPEG-compressed. Everything is driven by a seeded random.Random, so a failing card can be redrawn.
"""
from __future__ import annotations

import glob
import io
import math
import random
import unicodedata
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_GLOBS = {
    "sans": ["/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
             "/usr/share/fonts/**/NotoSansCJK-Regular.ttc", "/usr/share/fonts/**/wqy-zenhei.ttc"],
    "sans_bold": ["/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
                  "/usr/share/fonts/**/NotoSansCJK-Bold.ttc", "/usr/share/fonts/**/wqy-zenhei.ttc"],
    "serif": ["/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
              "/usr/share/fonts/**/NotoSerifCJK-Regular.ttc", "/usr/share/fonts/**/wqy-zenhei.ttc"],
    # The typefaces real cards use besides Hei/Song: Kai (brush-like), Ming (AR PL's Song), WenQuanYi's Hei.
    "kai": ["/usr/share/fonts/truetype/arphic/ukai.ttc"],
    "ming": ["/usr/share/fonts/truetype/arphic/uming.ttc"],
    "zenhei": ["/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"],
}
FONT_PACKAGE = "fonts-noto-cjk"
# The desk-photo set (`make_real_card`) draws with these too (Debian: fonts-arphic-ukai,
# fonts-arphic-uming, fonts-wqy-zenhei); a missing one falls back to Noto.
TYPEFACES = ("sans", "serif", "kai", "ming", "zenhei")


def find_font(kind: str = "sans") -> str | None:
    for pattern in FONT_GLOBS[kind]:
        found = sorted(glob.glob(pattern, recursive=True))
        if found:
            return found[0]
    return None


_font_cache: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}


def font(kind: str, size: int) -> ImageFont.FreeTypeFont:
    key = (kind, size)
    if key not in _font_cache:
        path = find_font(kind) or find_font("sans")  # arphic and wqy: face 0 is the Simplified one
        if path is None:
            raise RuntimeError(f"no CJK font found; apt-get install -y {FONT_PACKAGE}")
        index = 0
        if path.endswith(".ttc") and "Noto" in path:
            index = 2  # the Simplified Chinese face inside Noto's collection
        _font_cache[key] = ImageFont.truetype(path, size, index=index)
    return _font_cache[key]


_font = font


# ---------------------------------------------------------------- ground truth

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡杜叶程苏魏吕丁沈姚卢姜崔钟谭陆汪范金石廖贾夏付方白邹孟熊秦邱江薛段雷侯龙史陶贺顾毛郝龚邵钱严武戴孔汤") + ["欧阳", "司马", "诸葛"]
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉建国红文斌浩宇晨雪琳婷博凯瑞思佳欣怡子轩梓涵一诺子墨雨彤")
PINYIN_GIVEN = ["wei", "fang", "na", "min", "jing", "li", "qiang", "lei", "jun", "yang", "yong", "jie", "tao",
                "ming", "chao", "hui", "peng", "hao", "yu", "chen", "xue", "lin", "ting", "bo", "kai", "rui"]
PINYIN_SURNAME = ["wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun"]
CITIES = [("上海", "021", "上海市", ["浦东新区", "徐汇区", "闵行区", "静安区"]),
          ("北京", "010", "北京市", ["海淀区", "朝阳区", "东城区", "丰台区"]),
          ("深圳", "0755", "广东省深圳市", ["南山区", "福田区", "宝安区", "龙岗区"]),
          ("杭州", "0571", "浙江省杭州市", ["西湖区", "滨江区", "余杭区", "拱墅区"]),
          ("苏州", "0512", "江苏省苏州市", ["工业园区", "吴中区", "姑苏区", "相城区"]),
          ("广州", "020", "广东省广州市", ["天河区", "海珠区", "番禺区", "黄埔区"]),
          ("成都", "028", "四川省成都市", ["高新区", "武侯区", "锦江区", "青羊区"]),
          ("南京", "025", "江苏省南京市", ["鼓楼区", "江宁区", "建邺区", "玄武区"])]
BRANDS = ["华信", "博远", "新锐", "恒通", "瑞丰", "智联", "云启", "中科", "天成", "宏达", "嘉禾", "鼎盛",
          "远景", "海纳", "立信", "安捷", "星辰", "明德", "正泰", "汇金", "聚力", "卓越", "蓝海", "东方"]
BRAND_LATIN = ["huaxin", "boyuan", "xinrui", "hengtong", "ruifeng", "zhilian", "yunqi", "zhongke", "tiancheng",
               "hongda", "jiahe", "dingsheng", "yuanjing", "haina", "lixin", "anjie", "xingchen", "mingde",
               "zhengtai", "huijin", "juli", "zhuoyue", "lanhai", "dongfang"]
INDUSTRIES = ["科技", "信息技术", "网络科技", "电子", "贸易", "生物医药", "智能装备", "新材料", "物流", "软件",
              "机械制造", "医疗器械", "环保科技", "供应链管理", "建设工程"]
SUFFIXES = ["有限公司", "有限公司", "股份有限公司", "集团有限公司"]
TITLES = [("销售经理", "Sales Manager"), ("总经理", "General Manager"), ("技术总监", "CTO"),
          ("区域销售总监", "Regional Sales Director"), ("采购主管", "Purchasing Supervisor"),
          ("客户经理", "Account Manager"), ("副总裁", "Vice President"), ("市场部经理", "Marketing Manager"),
          ("董事长", "Chairman"), ("项目经理", "Project Manager"), ("销售代表", "Sales Representative"),
          ("大客户部总监", "Key Account Director"), ("运营总监", "Operations Director"),
          ("商务专员", "Business Specialist"), ("首席执行官", "CEO"), ("高级工程师", "Senior Engineer")]
ROADS = ["张江路", "科苑路", "中关村大街", "文三路", "星湖街", "天河路", "天府大道", "江东中路", "漕河泾开发区宜山路",
         "深南大道", "滨江大道", "金科路", "创业路", "望京街"]
BUILDINGS = ["", "A座", "B栋", "国际大厦", "科技园2号楼", "创新中心", "软件园C区3栋"]
MOBILE_PREFIXES = ["130", "131", "133", "135", "136", "137", "138", "139", "150", "151", "152", "158", "159",
                   "166", "176", "177", "180", "181", "185", "186", "187", "188", "189", "199"]


@dataclass
class CardTruth:
    name: str
    company: str
    title: str | None
    mobile: str | None     # 11 digits
    phone: str | None      # normalized landline: 021-62345678 or 021-62345678-8001
    email: str | None
    address: str | None
    website: str | None
    english_title: str | None = None
    english_name: str | None = None
    fax: str | None = None
    # Lines a real card carries that are none of the fields; the extractor must not take them.
    extras: list[str] = field(default_factory=list)
    english_company: str | None = None
    department: str | None = None
    mobile2: str | None = None  # a second mobile (desk-photo set only)

    def fields(self) -> dict[str, str | None]:
        return {"name": self.name, "company": self.company, "title": self.title, "mobile": self.mobile,
                "phone": self.phone, "email": self.email, "address": self.address, "website": self.website}

    def real_fields(self) -> dict[str, str | None]:
        """The fields scored on desk photos: the eight above plus the second mobile."""
        return {**self.fields(), "mobile2": self.mobile2}


FIELDS = ("name", "company", "title", "mobile", "phone", "email", "address", "website")
REAL_FIELDS = FIELDS + ("mobile2",)


def random_truth(rng: random.Random) -> CardTruth:
    s = rng.randrange(len(SURNAMES))
    surname = SURNAMES[s]
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2, 2])))
    city, area, province_city, districts = rng.choice(CITIES)
    b = rng.randrange(len(BRANDS))
    industry = rng.choice(INDUSTRIES)
    company = rng.choice([f"{city}{BRANDS[b]}{industry}{rng.choice(SUFFIXES)}",
                          f"{BRANDS[b]}{industry}（{city}）有限公司",
                          f"{BRANDS[b]}{industry}{rng.choice(SUFFIXES)}"])
    title, english_title = rng.choice(TITLES)
    has_title = rng.random() < 0.92
    mobile = rng.choice(MOBILE_PREFIXES) + "".join(rng.choice("0123456789") for _ in range(8))
    phone = None
    if rng.random() < 0.6:
        first = rng.choice("2345678")
        length = 8 if area in ("021", "010", "020", "0755", "0571", "0512", "028", "025") else 7
        number = first + "".join(rng.choice("0123456789") for _ in range(length - 1))
        phone = f"{area}-{number}"
        if rng.random() < 0.35:
            phone += "-" + str(rng.randint(100, 9999))
    domain_root = BRAND_LATIN[b] + rng.choice(["", "tech", "-group", "soft"])
    tld = rng.choice([".com", ".com.cn", ".cn", ".net"])
    email_user = rng.choice([
        f"{PINYIN_SURNAME[s % len(PINYIN_SURNAME)]}.{rng.choice(PINYIN_GIVEN)}",
        f"{rng.choice(PINYIN_GIVEN)}{PINYIN_SURNAME[s % len(PINYIN_SURNAME)]}",
        f"{PINYIN_SURNAME[s % len(PINYIN_SURNAME)]}{rng.randint(1, 99)}",
        "sales"])
    email = f"{email_user}@{domain_root}{tld}" if rng.random() < 0.9 else None
    website = f"www.{domain_root}{tld}" if rng.random() < 0.6 else None
    address = None
    if rng.random() < 0.9:
        address = (f"{province_city}{rng.choice(districts)}{rng.choice(ROADS)}{rng.randint(1, 2999)}号"
                   f"{rng.choice(BUILDINGS)}{rng.choice(['', f'{rng.randint(2, 28)}楼', f'{rng.randint(101, 2808)}室'])}")
    english_name = None
    if rng.random() < 0.3:
        english_name = f"{rng.choice(['David', 'Lily', 'Kevin', 'Grace', 'Tony', 'Amy', 'Jason', 'Coco'])} " \
                       f"{PINYIN_SURNAME[s % len(PINYIN_SURNAME)].capitalize()}"
    fax = None
    if phone and rng.random() < 0.3:
        fax = phone.split("-")[0] + "-" + str(int(phone.split("-")[1]) + 1)
    extras = []
    if rng.random() < 0.25:
        extras.append(rng.choice(["微信：", "WeChat: ", "QQ："]) +
                      rng.choice([f"{PINYIN_SURNAME[s % len(PINYIN_SURNAME)]}{rng.randint(1000, 99999999)}",
                                  str(rng.randint(10**7, 10**10))]))
    if rng.random() < 0.2:
        extras.append(f"邮编：{rng.randint(100000, 850000)}")
    english_company = None
    if rng.random() < 0.25:
        english_company = f"{BRAND_LATIN[b].upper()} {rng.choice(['TECHNOLOGY', 'TRADING', 'ELECTRONICS', 'GROUP'])} CO., LTD."
    department = rng.choice(["销售部", "华东大区", "市场部", "大客户事业部"]) if rng.random() < 0.15 else None
    return CardTruth(name=surname + given, company=company, title=title if has_title else None,
                     mobile=mobile if rng.random() < 0.95 or not phone else None, phone=phone, email=email,
                     address=address, website=website,
                     english_title=english_title if has_title and rng.random() < 0.4 else None,
                     english_name=english_name, fax=fax, extras=extras, english_company=english_company,
                     department=department)


# ---------------------------------------------------------------- how numbers are printed

def print_mobile(rng: random.Random, mobile: str) -> str:
    a, b, c = mobile[:3], mobile[3:7], mobile[7:]
    return rng.choice([mobile, f"{a} {b} {c}", f"{a}-{b}-{c}", f"+86 {a} {b} {c}", f"+86-{mobile}",
                       f"(+86){mobile}", f"+86 {mobile}", f"{a} {b}{c}"])


def print_landline(rng: random.Random, phone: str) -> str:
    parts = phone.split("-")
    area, number = parts[0], parts[1]
    ext = parts[2] if len(parts) > 2 else None
    half = len(number) // 2
    base = rng.choice([f"{area}-{number}", f"({area}){number}", f"{area} {number[:half]} {number[half:]}",
                       f"+86 {area[1:]} {number}", f"{area}-{number[:half]} {number[half:]}",
                       f"+86-{area[1:]}-{number}"])
    if ext:
        base += rng.choice([f" 转{ext}", f"-{ext}", f" ext.{ext}", f"转{ext}"])
    return base


LABEL_STYLES = {
    "zh": {"mobile": "手机：", "phone": "电话：", "fax": "传真：", "email": "邮箱：", "address": "地址：",
           "website": "网址："},
    "zh2": {"mobile": "手机 ", "phone": "座机 ", "fax": "传真 ", "email": "E-mail ", "address": "地址 ",
            "website": "官网 "},
    "en": {"mobile": "M: ", "phone": "T: ", "fax": "F: ", "email": "E: ", "address": "Add: ", "website": "W: "},
    "en2": {"mobile": "Mob: ", "phone": "Tel: ", "fax": "Fax: ", "email": "Email: ", "address": "Addr: ",
            "website": "Web: "},
    "bi": {"mobile": "手机/Mobile：", "phone": "电话/Tel：", "fax": "传真/Fax：", "email": "邮箱/Email：",
           "address": "地址/Add：", "website": "网址/Web："},
    "none": {"mobile": "", "phone": "", "fax": "", "email": "", "address": "", "website": ""},
    # Small pictograms instead of words; OCR may read them as a stray character or not at all.
    "icon": {"mobile": "", "phone": "", "fax": "传真 ", "email": "", "address": "", "website": ""},
}


@dataclass
class Card:
    truth: CardTruth
    image: Image.Image          # the clean, upright scan
    style: str = ""
    labels: str = ""
    dark: bool = False
    notes: list[str] = field(default_factory=list)


def contact_lines(rng: random.Random, truth: CardTruth, labels: str) -> list[tuple[str, str]]:
    """(kind, printed text) for each contact line, in a plausible order."""
    lab = LABEL_STYLES[labels]
    out: list[tuple[str, str]] = []
    mobile_label = lab["mobile"]
    if truth.mobile and not truth.phone and labels in ("zh", "en2") and rng.random() < 0.4:
        # Many cards print the only (mobile) number under 电话 / Tel.
        mobile_label = lab["phone"]
    if truth.mobile:
        out.append(("mobile", mobile_label + print_mobile(rng, truth.mobile)))
    if truth.phone:
        out.append(("phone", lab["phone"] + print_landline(rng, truth.phone)))
    if truth.fax:
        out.append(("fax", (lab["fax"] or "传真 ") + print_landline(rng, truth.fax)))
    if truth.email:
        out.append(("email", lab["email"] + truth.email))
    if truth.website:
        out.append(("website", lab["website"] + rng.choice(["", "http://", "https://"]) + truth.website))
    for extra in truth.extras:
        out.append(("extra", extra))
    if labels == "none" and rng.random() < 0.5:
        rng.shuffle(out)
    return out


# ---------------------------------------------------------------- drawing

PALETTES_LIGHT = [((255, 255, 255), (20, 20, 20), (0, 70, 140)), ((250, 247, 240), (40, 40, 40), (150, 30, 30)),
                  ((240, 244, 248), (30, 30, 50), (0, 110, 90)), ((255, 255, 255), (60, 60, 60), (200, 110, 0))]
PALETTES_DARK = [((20, 30, 60), (240, 240, 240), (220, 180, 90)), ((25, 25, 25), (230, 230, 230), (200, 200, 200)),
                 ((0, 70, 80), (250, 250, 250), (255, 210, 120)), ((90, 15, 25), (245, 240, 230), (240, 200, 140))]

CARD_W, CARD_H = 1050, 600


def _wrap(text: str, fnt: ImageFont.FreeTypeFont, max_width: int) -> list[str]:
    lines, current = [], ""
    for ch in text:
        if fnt.getlength(current + ch) > max_width and current:
            lines.append(current)
            current = ch
        else:
            current += ch
    if current:
        lines.append(current)
    return lines


def make_card(seed: int, *, style: str | None = None, labels: str | None = None,
              dark: bool | None = None, real: "RealConditions | None" = None) -> Card:
    """A clean card. `real` adds the conditions of `make_real_card` (typeface, fax beside the phone,
    second mobile, English name beside the Chinese one, logo and QR code); without it the drawing,
    and so every existing seed, is exactly as before."""
    rng = random.Random(seed)
    truth = random_truth(rng)
    if real is not None:
        real.apply(truth)

    def font(kind: str, size: int) -> ImageFont.FreeTypeFont:
        if real is not None and real.typeface not in ("sans", "serif"):
            kind = real.typeface
        return _font(kind, size)
    style = style or rng.choice(["left", "center", "split", "band"])
    labels = labels or rng.choice(list(LABEL_STYLES))
    dark = rng.random() < 0.25 if dark is None else dark
    background, ink, accent = rng.choice(PALETTES_DARK if dark else PALETTES_LIGHT)
    image = Image.new("RGB", (CARD_W, CARD_H), background)
    draw = ImageDraw.Draw(image)
    serif = rng.random() < 0.25
    body_kind = "serif" if serif else "sans"
    name_size = rng.randint(56, 72)
    body_size = rng.randint(24, 30)
    company_size = rng.randint(32, 40)
    title_size = rng.randint(26, 32)
    name_text = truth.name
    if len(truth.name) == 2 and rng.random() < 0.3:
        name_text = truth.name[0] + "  " + truth.name[1]  # names of two characters are often spaced out
    contacts = contact_lines(rng, truth, labels)
    if real is not None:
        contacts = real.contacts(contacts, truth, labels)
    address_label = LABEL_STYLES[labels]["address"]

    def text(xy, s, fnt, fill, anchor="la"):
        if real is not None:
            # A printed card never runs past its own edge: a line too long for the space left is
            # set smaller (the basic set keeps its old drawing, so its numbers stay comparable).
            room = CARD_W - 25 - xy[0] if anchor[0] == "l" else CARD_W - 50
            while fnt.getlength(s) > room and fnt.size > 12:
                fnt = ImageFont.truetype(fnt.path, fnt.size - 1, index=fnt.index)
        draw.text(xy, s, font=fnt, fill=fill, anchor=anchor)

    if style == "band":
        # A coloured band across the top with the company; the rest below.
        band_h = 110
        draw.rectangle((0, 0, CARD_W, band_h), fill=accent)
        text((50, band_h // 2), truth.company, font("sans_bold", company_size), background, "lm")
        y0, x0, width = band_h + 40, 60, CARD_W - 120
        style_left = True
    elif style == "split":
        # Logo block on the left, all text on the right.
        draw.rectangle((40, 40, 250, 250), outline=accent, width=8)
        draw.ellipse((90, 90, 200, 200), fill=accent)
        x0, y0, width = 300, 50, CARD_W - 340
        text((x0, y0), truth.company, font("sans_bold", company_size - 4), accent)
        y0 += company_size + 40
        style_left = True
    elif style == "center":
        x0, y0, width = CARD_W // 2, 50, CARD_W - 100
        text((x0, y0), truth.company, font("sans_bold", company_size), accent, "ma")
        style_left = False
        y0 += company_size + 45
    else:
        x0, y0, width = 60, 50, CARD_W - 120
        draw.ellipse((CARD_W - 150, 40, CARD_W - 60, 130), fill=accent)  # a logo
        text((x0, y0), truth.company, font("sans_bold", company_size), accent)
        y0 += company_size + 45
        style_left = True

    if truth.english_company and style != "band":
        y0 -= 30
        text((x0, y0), truth.english_company, font("sans", 20), accent, "la" if style_left else "ma")
        y0 += 40
    name_font = font("sans_bold" if not serif else "serif", name_size)
    title_font = font(body_kind, title_size)
    body_font = font(body_kind, body_size)
    if style_left:
        text((x0, y0), name_text, name_font, ink)
        name_w = name_font.getlength(name_text)
        if truth.title and rng.random() < 0.5:
            # Title beside the name, on its baseline (no room for an English name: not printed).
            truth.english_name = None
            text((x0 + name_w + 30, y0 + name_size - title_size), truth.title, title_font, ink)
            if truth.english_title:
                text((x0 + name_w + 30 + title_font.getlength(truth.title) + 20, y0 + name_size - title_size),
                     truth.english_title, font("sans", title_size - 6), ink)
            y0 += name_size + 25
        else:
            y0 += name_size + 20
            if truth.english_name and real is not None and real.english_beside:
                # "王伟  David Wang": the English name on the name's baseline.
                text((x0 + name_w + 30, y0 - 20 - title_size), truth.english_name,
                     font("sans", title_size - 2), ink)
            elif truth.english_name:
                text((x0, y0), truth.english_name, font("sans", title_size - 4), ink)
                y0 += title_size + 8
            if truth.department:
                text((x0, y0), truth.department, font(body_kind, title_size - 4), ink)
                y0 += title_size + 6
            if truth.title:
                text((x0, y0), truth.title, title_font, ink)
                if truth.english_title:
                    text((x0 + title_font.getlength(truth.title) + 20, y0 + 4), truth.english_title,
                         font("sans", title_size - 6), ink)
                y0 += title_size + 25
    else:
        text((x0, y0), name_text, name_font, ink, "ma")
        y0 += name_size + 20
        truth.english_name = None   # this layout prints no English name
        if truth.title:
            t = truth.title + ("  " + truth.english_title if truth.english_title else "")
            text((x0, y0), t, title_font, ink, "ma")
            y0 += title_size + 25
        x0, width = 70, CARD_W - 140

    line_gap = body_size + 12
    lines_left = (CARD_H - 30 - y0) // line_gap
    address_lines = _wrap(address_label + truth.address, body_font,
                          min(width, rng.choice([width, 560]))) if truth.address else []
    items = [t for _, t in contacts]
    if not style_left and len(items) >= 4:
        # Two columns at the bottom of a centred card.
        half = (len(items) + 1) // 2
        col_w = (CARD_W - 140) // 2
        for i, item in enumerate(items):
            col, row = divmod(i, half)
            text((x0 + col * (col_w + 20), y0 + row * line_gap), item, font(body_kind, body_size - 3), ink)
        y0 += half * line_gap
    else:
        needed = len(items) + len(address_lines)
        if needed > lines_left:
            body_font = font(body_kind, body_size - 5)
            line_gap = body_size + 3
            address_lines = _wrap(address_label + truth.address, body_font, width) if truth.address else []
        for item in items:
            text((x0 + _icon(draw, labels, x0, y0, line_gap, accent), y0), item, body_font, ink)
            y0 += line_gap
    indent = 0
    for i, line in enumerate(address_lines):
        if i == 0:
            indent = _icon(draw, labels, x0, y0, line_gap, accent)
        text((x0 + indent, y0), line, body_font, ink)
        y0 += line_gap
    if y0 > CARD_H - 5:
        # Too much for this layout: draw it again smaller rather than cut a field off.
        return make_card(seed + 100_000, style=style, labels=labels, dark=dark, real=real)
    if real is not None:
        real.decorate(image, accent, background, seed)
    return Card(truth=truth, image=image, style=style, labels=labels, dark=dark)


def _icon(draw: ImageDraw.ImageDraw, labels: str, x: int, y: int, size: int, color) -> int:
    """Draw a pictogram (a dot in a ring, or a rounded square) where a label would be; return the indent."""
    if labels != "icon":
        return 0
    d = size - 14
    if (x + y) % 2:
        draw.ellipse((x, y + 4, x + d, y + 4 + d), outline=color, width=3)
        draw.ellipse((x + d // 3, y + 4 + d // 3, x + 2 * d // 3, y + 4 + 2 * d // 3), fill=color)
    else:
        draw.rounded_rectangle((x, y + 4, x + d, y + 4 + d), radius=4, fill=color)
    return d + 12


# ---------------------------------------------------------------- phone-photo degradations

def photograph(card: Image.Image, seed: int, *, turn: int | None = None, tilt: float | None = None,
               quality: int | None = None) -> bytes:
    """A phone photo of a card lying on a desk, as JPEG bytes.

    turn: 0/90/180/270 degrees counter-clockwise (a photo taken sideways, EXIF lost);
    tilt: small rotation in degrees; then an uneven light gradient, sensor noise, blur, JPEG."""
    rng = random.Random(seed)
    turn = rng.choice([0, 0, 90, 180, 270]) if turn is None else turn
    tilt = rng.uniform(5, 8) * rng.choice([-1, 1]) if tilt is None else tilt
    quality = rng.randint(55, 80) if quality is None else quality
    desk_color = rng.choice([(120, 100, 80), (180, 175, 165), (60, 60, 65), (200, 190, 170)])
    margin = rng.randint(80, 160)
    desk = Image.new("RGB", (card.width + 2 * margin, card.height + 2 * margin), desk_color)
    desk.paste(card, (margin + rng.randint(-30, 30), margin + rng.randint(-30, 30)))
    photo = desk.rotate(tilt, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=desk_color)
    photo = _light_gradient(photo, rng)
    photo = _noise(photo, rng)
    photo = photo.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.9)))
    if turn:
        photo = photo.rotate(turn, expand=True)
    # A phone would deliver more pixels; scale up a little so downscaling is exercised too.
    scale = rng.uniform(1.0, 1.5)
    photo = photo.resize((int(photo.width * scale), int(photo.height * scale)), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _light_gradient(image: Image.Image, rng: random.Random) -> Image.Image:
    """Light falling off from one side: brightness from 100% down to 45-65%."""
    low = rng.uniform(0.45, 0.65)
    ramp = np.linspace(low, 1.0, image.width if rng.random() < 0.5 else image.height)
    if rng.random() < 0.5:
        ramp = ramp[::-1]
    pixels = np.asarray(image, dtype=np.float32)
    if len(ramp) == image.width:
        pixels *= ramp[None, :, None]
    else:
        pixels *= ramp[:, None, None]
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def _noise(image: Image.Image, rng: random.Random) -> Image.Image:
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0, rng.uniform(4, 10), (image.height, image.width, 1))
    pixels = np.asarray(image, dtype=np.float32) + noise
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def scan_bytes(card: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    card.save(out, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return out.getvalue()


def same_field(name: str, got: str | None, want: str | None) -> bool:
    """Scoring rule for tests and the benchmark: equal after width folding (NFKC) and, for Chinese
    text, ignoring whitespace. A field the card does not print must come back as None."""
    if want is None or got is None:
        return got is None and want is None

    def fold(value: str) -> str:
        value = unicodedata.normalize("NFKC", value).strip()
        if name in ("name", "company", "address", "title"):
            value = "".join(value.split())
        return value.lower() if name in ("email", "website") else value

    return fold(got) == fold(want)


# ---------------------------------------------------------------- real-world conditions (desk photos)
#
# What reps' phones really send (issue 14): the card small on a cluttered desk, printed paper around
# it, a Kai or Ming typeface, a vertical card, a fax line beside the phone, a logo and a QR code,
# English names and titles beside the Chinese ones. `make_real_card(seed)` draws such a card and
# `desk_photo(card, seed)` photographs it. Seeds 0-199 were used while writing the card finder and
# the field rules; the benchmark reports seeds 9000 and up, which were not looked at.

FAX_LABELS = {"zh": "传真：", "zh2": "传真 ", "en": "F: ", "en2": "Fax: ", "bi": "传真/Fax：", "none": "传真 ",
              "icon": "传真 "}
MOBILE2_LABELS = {"zh": "手机：", "zh2": "手机 ", "en": "M: ", "en2": "Mob: ", "bi": "手机/Mobile：", "none": "",
                  "icon": ""}


@dataclass
class RealConditions:
    """What a desk-photo card carries beyond the basic card; drawn from its own seeded generator so
    the basic card of the same seed stays what it was."""

    seed: int
    typeface: str = "sans"
    portrait: bool = False
    fax_beside: bool = False
    mobile2: bool = False
    english_beside: bool = False
    english_title: bool = False
    qr: bool = False
    logo: bool = False

    @classmethod
    def draw(cls, seed: int) -> "RealConditions":
        rng = random.Random(seed * 7919 + 17)
        return cls(seed=seed, typeface=rng.choice(TYPEFACES), portrait=rng.random() < 0.3,
                   fax_beside=rng.random() < 0.5, mobile2=rng.random() < 0.3, english_beside=rng.random() < 0.5,
                   english_title=rng.random() < 0.5, qr=rng.random() < 0.6, logo=rng.random() < 0.6)

    def _rng(self) -> random.Random:
        return random.Random(self.seed * 104729 + 3)

    def apply(self, truth: CardTruth) -> None:
        rng = self._rng()
        surname_latin = PINYIN_SURNAME[rng.randrange(len(PINYIN_SURNAME))].capitalize()
        if self.english_beside:
            truth.english_name = f"{rng.choice(['David', 'Lily', 'Kevin', 'Grace', 'Tony', 'Amy', 'Jason', 'Coco'])}" \
                                 f" {surname_latin}"
        if self.english_title and truth.title:
            truth.english_title = dict(TITLES).get(truth.title)
        if self.fax_beside:
            if not truth.phone:
                area = rng.choice(["021", "010", "0755", "0571"])
                truth.phone = f"{area}-{rng.randint(5000000, 8999999) * (10 if area in ('021', '010', '0755', '0571') else 1)}"
            parts = truth.phone.split("-")
            truth.fax = f"{parts[0]}-{int(parts[1]) + rng.randint(1, 9)}"
        if self.mobile2 and truth.mobile:
            truth.mobile2 = rng.choice(MOBILE_PREFIXES) + "".join(rng.choice("0123456789") for _ in range(8))

    def contacts(self, contacts: list[tuple[str, str]], truth: CardTruth, labels: str) -> list[tuple[str, str]]:
        rng = self._rng()
        out = list(contacts)
        if self.fax_beside and truth.fax:
            out = [c for c in out if c[0] != "fax"]
            fax = FAX_LABELS[labels] + print_landline(rng, truth.fax)
            for i, (kind, printed) in enumerate(out):
                if kind == "phone":
                    out[i] = ("phone", printed + "   " + fax)   # 电话：021-62345678   传真：021-62345679
                    break
        if truth.mobile2:
            second = print_mobile(rng, truth.mobile2)
            for i, (kind, printed) in enumerate(out):
                if kind == "mobile":
                    if rng.random() < 0.5:
                        out[i] = ("mobile", printed + " / " + second)
                    else:
                        out.insert(i + 1, ("mobile2", (MOBILE2_LABELS[labels] or "") + second))
                    break
        return out

    def decorate(self, image: Image.Image, accent, background, seed: int) -> None:
        """A logo and a QR code in free corners of the card (skipped only where no corner is free)."""
        rng = self._rng()
        draw = ImageDraw.Draw(image)
        size = min(image.size) // 4
        corners = [(image.width - size - 30, image.height - size - 25), (image.width - size - 30, 25),
                   (30, image.height - size - 25)]
        for wanted, painter in ((self.qr, _draw_qr), (self.logo, _draw_logo)):
            if not wanted:
                continue
            for x, y in corners:
                if _free(image, (x, y, x + size, y + size), background):
                    painter(draw, x, y, size, accent, background, rng)
                    corners.remove((x, y))
                    break


def _free(image: Image.Image, box, background) -> bool:
    region = np.asarray(image.crop(box), dtype=np.int16)
    return bool((np.abs(region - np.array(background, dtype=np.int16)).sum(axis=2) > 60).mean() < 0.002)


def _draw_qr(draw: ImageDraw.ImageDraw, x: int, y: int, size: int, accent, background, rng: random.Random) -> None:
    """A QR-code look-alike: three finder squares and random modules (nothing to decode: OCR must
    simply not read it as text)."""
    modules = 25
    cell = size // modules
    ink = (0, 0, 0) if sum(background) > 380 else (255, 255, 255)
    for row in range(modules):
        for col in range(modules):
            finder = (row < 8 and col < 8) or (row < 8 and col >= modules - 8) or (row >= modules - 8 and col < 8)
            if not finder and rng.random() < 0.5:
                draw.rectangle((x + col * cell, y + row * cell, x + (col + 1) * cell - 1, y + (row + 1) * cell - 1),
                               fill=ink)
    for fx, fy in ((0, 0), (modules - 7, 0), (0, modules - 7)):
        ox, oy = x + fx * cell, y + fy * cell
        draw.rectangle((ox, oy, ox + 7 * cell - 1, oy + 7 * cell - 1), fill=ink)
        draw.rectangle((ox + cell, oy + cell, ox + 6 * cell - 1, oy + 6 * cell - 1), fill=background)
        draw.rectangle((ox + 2 * cell, oy + 2 * cell, ox + 5 * cell - 1, oy + 5 * cell - 1), fill=ink)


def _draw_logo(draw: ImageDraw.ImageDraw, x: int, y: int, size: int, accent, background, rng: random.Random) -> None:
    """A brand mark: a ring or a diamond with two Latin initials in it."""
    letters = "".join(rng.choice("ABCDEGHKMNRSTXYZ") for _ in range(2))
    if rng.random() < 0.5:
        draw.ellipse((x, y, x + size, y + size), outline=accent, width=max(4, size // 14))
    else:
        half = size // 2
        draw.polygon([(x + half, y), (x + size, y + half), (x + half, y + size), (x, y + half)], fill=accent)
    draw.text((x + size // 2, y + size // 2), letters, font=_font("sans_bold", size // 3),
              fill=accent if sum(draw.im.getpixel((x + size // 2, y + size // 2))[:3]) != sum(accent) else background,
              anchor="mm")


def make_real_card(seed: int) -> Card:
    """A card with the real-world conditions (typeface, orientation, fax, second mobile, English,
    logo, QR) drawn from the seed."""
    real = RealConditions.draw(seed)
    if real.portrait:
        return make_portrait_card(seed, real)
    card = make_card(seed, real=real)
    card.notes.append(_describe(real))
    return card


def _describe(real: RealConditions) -> str:
    parts = [real.typeface, "portrait" if real.portrait else "landscape"]
    parts += [name for name in ("fax_beside", "mobile2", "english_beside", "qr", "logo") if getattr(real, name)]
    return ",".join(parts)


PORTRAIT_W, PORTRAIT_H = 600, 1050


def make_portrait_card(seed: int, real: RealConditions) -> Card:
    """A vertical card (portrait, 54 x 90 mm held upright): logo on top, company, name and title
    centred, contact lines left-aligned below, QR code at the bottom."""
    rng = random.Random(seed)
    truth = random_truth(rng)
    real.apply(truth)
    labels = rng.choice(list(LABEL_STYLES))
    dark = rng.random() < 0.2
    background, ink, accent = rng.choice(PALETTES_DARK if dark else PALETTES_LIGHT)
    face = real.typeface if real.typeface not in ("sans", "serif") else None

    def fnt(kind: str, size: int) -> ImageFont.FreeTypeFont:
        return _font(face or kind, size)

    image = Image.new("RGB", (PORTRAIT_W, PORTRAIT_H), background)
    draw = ImageDraw.Draw(image)
    cx, y = PORTRAIT_W // 2, 50
    if real.logo:
        _draw_logo(draw, cx - 55, y, 110, accent, background, real._rng())
        y += 140
    company_font = fnt("sans_bold", 34)
    for line in _wrap(truth.company, company_font, PORTRAIT_W - 80):
        draw.text((cx, y), line, font=company_font, fill=accent, anchor="ma")
        y += 46
    y += 40
    name_font = fnt("sans_bold", rng.randint(60, 72))
    draw.text((cx, y), truth.name, font=name_font, fill=ink, anchor="ma")
    y += name_font.size + 18
    if truth.english_name:
        draw.text((cx, y), truth.english_name, font=fnt("sans", 26), fill=ink, anchor="ma")
        y += 40
    if truth.title:
        draw.text((cx, y), truth.title, font=fnt("serif", 30), fill=ink, anchor="ma")
        y += 42
        if truth.english_title:
            draw.text((cx, y), truth.english_title, font=fnt("sans", 22), fill=ink, anchor="ma")
            y += 34
    y += 30
    contacts = real.contacts(contact_lines(rng, truth, labels), truth, labels)
    items = [printed for _, printed in contacts]
    body = fnt("sans", 24)
    for item in items:
        size = 24
        while body.getlength(item) > PORTRAIT_W - 80 and size > 16:
            size -= 1
            body = fnt("sans", size)
        draw.text((40, y), item, font=body, fill=ink)
        y += size + 14
        body = fnt("sans", 24)
    if truth.address:
        for line in _wrap(LABEL_STYLES[labels]["address"] + truth.address, body, PORTRAIT_W - 80):
            draw.text((40, y), line, font=body, fill=ink)
            y += 38
    if real.qr and y < PORTRAIT_H - 170:
        _draw_qr(draw, cx - 65, PORTRAIT_H - 160, 130, accent, background, real._rng())
    elif y > PORTRAIT_H - 20:
        real.qr = False
    if y > PORTRAIT_H - 10:
        return make_portrait_card(seed + 100_000, real)
    card = Card(truth=truth, image=image, style="portrait", labels=labels, dark=dark)
    card.notes.append(_describe(real))
    return card


# Text of the printed paper lying beside the card: words a card also has (titles, numbers, company
# and address words), so a reader that does not find the card first takes them.
PAPER_LINES = ["采购合同（草案）", "甲方：{brand}贸易有限公司", "乙方：{brand2}科技股份有限公司", "联系人：{name} 销售总监",
               "电话：{phone}  传真：{fax}", "地址：{city}市{road}{num}号", "一、产品名称及数量", "二、交货时间：2026年12月15日前",
               "三、付款方式：预付30%，验收后付清", "项目经理负责现场安装调试", "总价：人民币壹拾贰万元整", "技术顾问 {name2}",
               "手机：{mobile}", "会议纪要 2026-11-20", "参会：总经理、技术总监、采购主管", "邮箱：{email}"]


def _paper_text(rng: random.Random) -> list[str]:
    values = {"brand": rng.choice(BRANDS), "brand2": rng.choice(BRANDS), "name": rng.choice(SURNAMES) + rng.choice(GIVEN),
              "name2": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
              "phone": f"0{rng.choice(['21', '10', '571'])}-{rng.randint(50000000, 89999999)}",
              "fax": f"0{rng.choice(['21', '10'])}-{rng.randint(50000000, 89999999)}", "city": rng.choice(CITIES)[0],
              "road": rng.choice(ROADS), "num": rng.randint(1, 999),
              "mobile": rng.choice(MOBILE_PREFIXES) + str(rng.randint(10000000, 99999999)),
              "email": f"{rng.choice(PINYIN_GIVEN)}@{rng.choice(BRAND_LATIN)}.com"}
    lines = PAPER_LINES[:]
    rng.shuffle(lines)
    return [line.format(**values) for line in lines]


def desk_photo(card: Image.Image, seed: int, *, turn: int | None = None, size: tuple[int, int] = (3000, 2250),
               quality: int | None = None) -> bytes:
    """A phone photo of a card lying small on a cluttered desk, with printed paper around it.

    The card takes 30-50% of the frame's width, is turned up to ±20°, seen at a slight angle
    (perspective), casts a shadow; an A4 page of printed text lies partly in the frame, beside or
    under the card; a pen, a mug and a sticky note lie about; then light fall-off, sensor noise,
    blur, JPEG 60-85 and, for `turn` 90/180/270, the whole photo turned with no EXIF."""
    return desk_scene(card, seed, turn=turn, size=size, quality=quality).photo


@dataclass
class DeskScene:
    photo: bytes                            # the JPEG
    corners: list[tuple[float, float]]      # the card's upper-left, upper-right, lower-right, lower-left as printed
    desk: str                               # wood, laminate or dark
    on_page: bool                           # the card lies (partly) on the printed page


def desk_scene(card: Image.Image, seed: int, *, turn: int | None = None, size: tuple[int, int] = (3000, 2250),
               quality: int | None = None) -> DeskScene:
    """`desk_photo`, where the card's corners lie in the photo (the truth a card finder is checked
    against) and what it lies on (the conditions the benchmark reports by)."""
    rng = random.Random(seed * 31 + 5)
    turn = rng.choice([0, 0, 0, 90, 180, 270]) if turn is None else turn
    quality = rng.randint(60, 85) if quality is None else quality
    width, height = size
    desk, desk_kind = _desk_texture(rng, width, height)
    # The card's size in the frame decides the page's: A4 is 2.3 times a card's long side, and its
    # body text (10.5-12 pt) about 1/55 of the page's width.
    long_side = int(width * rng.uniform(0.3, 0.5))
    page_w = int(long_side * 2.33)
    page = Image.new("RGB", (page_w, int(page_w * 1.414)), rng.choice([(250, 250, 248), (244, 242, 236)]))
    page_draw = ImageDraw.Draw(page)
    line_font = _font(rng.choice(["serif", "ming", "sans"]), max(16, page_w // 55))
    y = page_w // 10
    for line in _paper_text(rng) * 4:
        page_draw.text((page_w // 10, y), line, font=line_font, fill=(30, 30, 30))
        y += int(line_font.size * 1.8)
        if y > page.height - page_w // 10:
            break
    page = page.convert("RGBA").rotate(rng.uniform(-25, 25), expand=True, resample=Image.Resampling.BICUBIC)
    # The page lies off to one side, a third to two thirds of it in the frame.
    px = rng.choice([rng.randint(-page.width * 2 // 3, -page.width // 3),
                     rng.randint(width - page.width * 2 // 3, width - page.width // 3)])
    py = rng.randint(-page.height // 2, height // 3)
    desk.paste(page, (px, py), page)
    _clutter(desk, rng)
    # The card: its long side 30-50% of the frame's width, seen at a slight angle.
    scale = long_side / max(card.size)
    small = card.resize((int(card.width * scale), int(card.height * scale)), Image.Resampling.LANCZOS)
    angle = rng.uniform(-20, 20)
    warped, mask, corners = _perspective(small, rng)
    corners = _rotated_points(corners, angle, warped.size)
    warped = warped.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    mask = mask.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    # Place it away from the page's middle but anywhere it fits; a quarter of the time on the page.
    cx = rng.randint(warped.width // 2 + 40, width - warped.width // 2 - 40)
    cy = rng.randint(warped.height // 2 + 40, height - warped.height // 2 - 40)
    x, y = cx - warped.width // 2, cy - warped.height // 2
    shadow = Image.new("L", mask.size, 0)
    shadow.paste(mask.point(lambda v: int(v * 0.55)), (0, 0))
    shadow = shadow.filter(ImageFilter.GaussianBlur(12))
    desk.paste((0, 0, 0), (x + 10, y + 14), shadow)
    desk.paste(warped, (x, y), mask)
    corners = [(cx_ + x, cy_ + y) for cx_, cy_ in corners]
    on_page = any(0 <= u - px < page.width and 0 <= v - py < page.height and page.getpixel((int(u - px), int(v - py)))[3]
                  for u, v in corners + [(cx, cy)])
    photo = _light_gradient(desk, rng)
    photo = _noise(photo, rng)
    photo = photo.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.0)))
    if turn:
        corners = [_turned_point(p, turn, photo.size) for p in corners]
        photo = photo.rotate(turn, expand=True)
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=quality)
    return DeskScene(out.getvalue(), corners, desk_kind, bool(on_page))


def _rotated_points(points, angle: float, size: tuple[int, int]) -> list[tuple[float, float]]:
    """Where points of an image of `size` land when it is rotated `angle` degrees counter-clockwise
    about its centre with expand=True (what PIL's `rotate` does)."""
    w, h = size
    a = math.radians(angle)
    cos, sin = math.cos(a), math.sin(a)
    new_w = abs(w * cos) + abs(h * sin)
    new_h = abs(w * sin) + abs(h * cos)
    out = []
    for x, y in points:
        dx, dy = x - w / 2, y - h / 2
        out.append((new_w / 2 + dx * cos + dy * sin, new_h / 2 - dx * sin + dy * cos))
    return out


def _turned_point(point, turn: int, size: tuple[int, int]) -> tuple[float, float]:
    """Where a point lands when an image of `size` is turned 90/180/270° counter-clockwise."""
    (x, y), (w, h) = point, size
    return {90: (y, w - x), 180: (w - x, h - y), 270: (h - y, x)}.get(turn, (x, y))


def _desk_texture(rng: random.Random, width: int, height: int) -> tuple[Image.Image, str]:
    """Wood grain (stripes of shifting brown), a grey laminate, or a dark mat."""
    kind = rng.choice(["wood", "wood", "laminate", "dark"])
    base = {"wood": (150, 110, 75), "laminate": (170, 168, 160), "dark": (55, 58, 62)}[kind]
    np_rng = np.random.default_rng(rng.randrange(2**32))
    pixels = np.ones((height, width, 3), dtype=np.float32) * np.array(base, dtype=np.float32)
    if kind == "wood":
        rows = np.arange(height, dtype=np.float32)
        grain = 18 * np.sin(rows / rng.uniform(6, 14) + 3 * np.sin(rows / rng.uniform(80, 200)))
        pixels += grain[:, None, None] + np_rng.normal(0, 6, (height, 1, 1)).astype(np.float32)
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8)), kind


def _clutter(desk: Image.Image, rng: random.Random) -> None:
    """A pen, a mug seen from above and a sticky note with a scribble."""
    draw = ImageDraw.Draw(desk)
    w, h = desk.size
    for _ in range(rng.randint(1, 3)):
        # A pen: a long thin dark bar with a cap.
        x, y = rng.randint(0, w), rng.randint(0, h)
        length, angle = rng.randint(w // 8, w // 5), rng.uniform(0, math.pi)
        x2, y2 = x + length * math.cos(angle), y + length * math.sin(angle)
        draw.line((x, y, x2, y2), fill=rng.choice([(20, 20, 90), (15, 15, 15), (160, 20, 20)]), width=w // 120)
    if rng.random() < 0.7:
        r = w // 14
        x, y = rng.randint(r, w - r), rng.randint(r, h - r)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=rng.choice([(235, 235, 235), (40, 90, 160), (200, 60, 50)]))
        draw.ellipse((x - r + r // 6, y - r + r // 6, x + r - r // 6, y + r - r // 6), fill=(70, 45, 30))
    if rng.random() < 0.6:
        s = w // 12
        x, y = rng.randint(0, w - s), rng.randint(0, h - s)
        draw.rectangle((x, y, x + s, y + s), fill=(250, 235, 120))
        draw.text((x + s // 10, y + s // 3), rng.choice(["明天回电", "周五开会", "报价单", "买咖啡"]),
                  font=_font("kai", s // 5), fill=(40, 40, 120))


def _perspective(card: Image.Image, rng: random.Random) -> tuple[Image.Image, Image.Image, list]:
    """The card seen slightly from one side: corners pulled in by up to 6%; returns it, its mask and
    its corners."""
    w, h = card.size
    pull = [rng.uniform(0, 0.06) for _ in range(4)]
    # Destination corners (upper-left, upper-right, lower-right, lower-left) inside a w x h frame.
    dst = [(pull[0] * w, pull[0] * h / 3), (w - pull[1] * w, pull[1] * h / 3), (w - pull[2] * w, h - pull[2] * h / 3),
           (pull[3] * w, h - pull[3] * h / 3)]
    coeffs = _perspective_coeffs(dst, [(0, 0), (w, 0), (w, h), (0, h)])
    warped = card.transform((w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC)
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).polygon(dst, fill=255)
    return warped, mask, dst


def _perspective_coeffs(dst, src) -> list[float]:
    """PIL's PERSPECTIVE data: maps output (dst) points back to input (src) points."""
    matrix, vector = [], []
    for (x, y), (u, v) in zip(dst, src):
        matrix.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        matrix.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        vector += [u, v]
    return list(np.linalg.solve(np.array(matrix, dtype=np.float64), np.array(vector, dtype=np.float64)))
