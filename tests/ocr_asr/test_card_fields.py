"""Field rules on OCR lines written by hand: the messy shapes real cards come in, no model needed."""
from __future__ import annotations

import math

import pytest

from ocr_asr.card_fields import extract_card, parse_numbers
from ocr_asr.ocr import OcrLine


def line(text: str, x: float, y: float, h: float = 28, w: float | None = None, score: float = 0.98) -> OcrLine:
    """An OCR line whose box is top-left (x, y), `h` high and about as wide as its text."""
    w = w if w is not None else sum(h if ord(c) > 0x2e80 else h * 0.55 for c in text)
    return OcrLine(text=text, box=[(x, y), (x + w, y), (x + w, y + h), (x, y + h)], score=score)


def tilt(lines: list[OcrLine], degrees: float, cx: float = 500, cy: float = 300) -> list[OcrLine]:
    a = math.radians(degrees)
    def turn(p):
        x, y = p[0] - cx, p[1] - cy
        return (cx + x * math.cos(a) - y * math.sin(a), cy + x * math.sin(a) + y * math.cos(a))
    return [OcrLine(l.text, [turn(p) for p in l.box], l.score) for l in lines]


def classic_card() -> list[OcrLine]:
    return [
        line("上海博远信息技术有限公司", 60, 40, 36),
        line("王建国", 60, 110, 64),
        line("华东区销售总监 Regional Sales Director", 60, 190, 30),
        line("手机：138 1234 5678", 60, 250),
        line("电话：021-6234 5678 转 8001", 60, 290),
        line("传真：021-6234 5679", 60, 330),
        line("邮箱：wang.jianguo@boyuan.com.cn", 60, 370),
        line("地址：上海市浦东新区张江路1234号", 60, 410),
        line("科技园A座5楼", 60, 450),
        line("网址：www.boyuan.com.cn", 60, 490),
    ]


def test_classic_chinese_card():
    card = extract_card(classic_card())
    assert card.name == "王建国"
    assert card.company == "上海博远信息技术有限公司"
    assert card.title == "华东区销售总监"
    assert card.mobile == "13812345678"
    assert card.phone == "021-62345678-8001"
    assert card.email == "wang.jianguo@boyuan.com.cn"
    assert card.address == "上海市浦东新区张江路1234号科技园A座5楼"
    assert card.website == "www.boyuan.com.cn"
    assert card.fax == "021-62345679"       # kept under its own key, never the phone
    assert card.mobile2 is None and card.english_name is None
    assert card.english_title == "Regional Sales Director"   # the person's, beside the Chinese title
    assert set(card.confidence) == {"name", "company", "title", "mobile", "phone", "email", "address", "website",
                                    "fax", "english_title"}
    assert all(0 < value <= 1 for value in card.confidence.values())
    assert card.lines[0] == "上海博远信息技术有限公司" and len(card.lines) == 10


def test_tilted_photo_gives_the_same_fields():
    assert extract_card(tilt(classic_card(), 7)).fields() == extract_card(classic_card()).fields()
    assert extract_card(tilt(classic_card(), -8)).fields() == extract_card(classic_card()).fields()


def test_english_single_letter_labels():
    card = extract_card([
        line("深圳市恒通电子有限公司", 300, 40, 34),
        line("李娜", 300, 100, 70),
        line("Account Manager", 300, 190, 26),
        line("M: +86 139-2233-4455", 300, 240),
        line("T: +86 755 8888 6666", 300, 280),
        line("E: lina@hengtong.cn", 300, 320),
        line("W: http://www.hengtong.cn/", 300, 360),
        line("A: 广东省深圳市南山区科苑路18号", 300, 400),
    ])
    assert (card.name, card.title) == ("李娜", "Account Manager")
    assert card.mobile == "13922334455"
    assert card.phone == "0755-88886666"
    assert card.email == "lina@hengtong.cn"
    assert card.website == "www.hengtong.cn"
    assert card.address == "广东省深圳市南山区科苑路18号"


def test_mobile_printed_under_tel_is_the_mobile():
    card = extract_card([
        line("杭州云启网络科技有限公司", 60, 40, 34),
        line("赵敏", 60, 100, 66),
        line("电话：18657112345", 60, 200),
        line("Tel: 0571-8765 4321", 60, 240),
    ])
    assert card.mobile == "18657112345"
    assert card.phone == "0571-87654321"


def test_only_mobile_under_tel_leaves_phone_empty():
    card = extract_card([line("周杰", 60, 60, 60), line("Tel:(+86)186-5711-2345", 60, 150)])
    assert card.mobile == "18657112345" and card.phone is None


@pytest.mark.parametrize("printed, kind, value", [
    ("13812345678", "mobile", "13812345678"),
    ("138 1234 5678", "mobile", "13812345678"),
    ("138-1234-5678", "mobile", "13812345678"),
    ("+86 138 1234 5678", "mobile", "13812345678"),
    ("(+86)13812345678", "mobile", "13812345678"),
    ("+86-13812345678", "mobile", "13812345678"),
    ("021-62345678", "phone", "021-62345678"),
    ("(021) 6234 5678", "phone", "021-62345678"),
    ("+86 21 6234 5678", "phone", "021-62345678"),
    ("0755-8600 1234 转 8001", "phone", "0755-86001234-8001"),
    ("021-62345678-8001", "phone", "021-62345678-8001"),
    ("010 8888 6666 ext. 12", "phone", "010-88886666-12"),
    ("02062345678转3007", "phone", "020-62345678-3007"),
    ("400-820-8820", "phone", "400-820-8820"),
])
def test_numbers_are_normalized(printed, kind, value):
    numbers = parse_numbers(printed)
    assert [(n.kind, n.value) for n in numbers] == [(kind, value)]


def test_two_numbers_on_one_line():
    numbers = parse_numbers("13812345678 021-62345678")
    assert [(n.kind, n.value) for n in numbers] == [("mobile", "13812345678"), ("phone", "021-62345678")]


def test_postcode_qq_and_short_digits_are_not_numbers():
    assert parse_numbers("邮编：200120") == []
    assert parse_numbers("张江路1234号5楼") == []
    card = extract_card([line("孙磊", 60, 60, 60), line("QQ：1234567890", 60, 150), line("邮编：200120", 60, 190)])
    assert card.mobile is None and card.phone is None


def test_fax_on_the_same_line_as_tel_is_not_the_phone():
    card = extract_card([
        line("孙磊", 60, 60, 60),
        line("电话：021-6234 5678   传真：021-6234 5679", 60, 150),
        line("Fax: 021-6234 5670", 60, 190),
    ])
    assert card.phone == "021-62345678"


def test_fax_printed_first_does_not_become_the_phone():
    card = extract_card([line("孙磊", 60, 60, 60), line("传真 021-62345679", 60, 150),
                         line("座机 021-62345678", 60, 190)])
    assert card.phone == "021-62345678"


def test_bilingual_labels_and_full_width_colons():
    card = extract_card([
        line("北京中科软件股份有限公司", 60, 40, 34),
        line("陈思", 60, 100, 66),
        line("手机/Mobile：135 0110 2233", 60, 200),
        line("电话/Tel：(010)82345678", 60, 240),
        line("邮箱/Email：chensi@zhongke.com", 60, 280),
        line("地址/Add：北京市海淀区中关村大街1号", 60, 320),
    ])
    assert (card.mobile, card.phone) == ("13501102233", "010-82345678")
    assert card.email == "chensi@zhongke.com"
    assert card.address == "北京市海淀区中关村大街1号"


def test_labels_without_separator_as_ocr_reads_them():
    # OCR often drops the space between the label and the value.
    card = extract_card([line("刘洋", 60, 60, 60), line("手机15121948924", 60, 150),
                         line("座机025-25781565", 60, 190), line("官网http://www.x-tech.net", 60, 230),
                         line("地址江苏省南京市玄武区金科路2737号", 60, 270)])
    assert (card.mobile, card.phone, card.website) == ("15121948924", "025-25781565", "www.x-tech.net")
    assert card.address == "江苏省南京市玄武区金科路2737号"


def test_unlabelled_card():
    card = extract_card([
        line("成都天成物流有限公司", 60, 40, 34),
        line("黄磊", 60, 100, 66),
        line("项目经理", 60, 180, 30),
        line("18980001234", 60, 240),
        line("028-85551234", 60, 280),
        line("huanglei@tiancheng.cn", 60, 320),
        line("www.tiancheng.cn", 60, 360),
        line("四川省成都市高新区天府大道999号", 60, 400),
    ])
    assert card.fields() == {
        "name": "黄磊", "company": "成都天成物流有限公司", "title": "项目经理", "mobile": "18980001234",
        "phone": "028-85551234", "email": "huanglei@tiancheng.cn", "website": "www.tiancheng.cn",
        "address": "四川省成都市高新区天府大道999号"}


def test_name_is_the_largest_type_not_the_brand_in_the_logo():
    card = extract_card([
        line("华信", 40, 30, 90),                      # logo lettering, larger than the name
        line("华信贸易有限公司", 200, 60, 30),
        line("林静", 200, 140, 60),
        line("总经理", 200, 210, 28),
        line("手机 13900001111", 200, 260, 24),
    ])
    assert card.name == "林静" and card.company == "华信贸易有限公司" and card.title == "总经理"


def test_letter_spaced_name():
    card = extract_card([line("王  伟", 60, 60, 64), line("销售代表", 60, 140, 28), line("13900001111", 60, 190)])
    assert card.name == "王伟" and card.title == "销售代表"


def test_name_and_title_merged_into_one_box():
    card = extract_card([line("嘉禾科技有限公司", 60, 30, 30), line("侯红大客户部总监", 60, 90, 60),
                         line("13900001111", 60, 170, 26), line("hou@jiahe.com", 60, 210, 26)])
    assert card.name == "侯红" and card.title == "大客户部总监"


def test_title_starting_like_a_surname_is_not_split():
    card = extract_card([line("石墨梓", 60, 60, 64), line("高级工程师", 60, 140, 34),
                         line("13900001111", 60, 190, 26)])
    assert card.name == "石墨梓" and card.title == "高级工程师"


def test_english_title_beside_chinese_title():
    card = extract_card([line("欧阳娜娜", 60, 60, 64), line("运营总监OperationsDirector", 60, 140, 30),
                         line("13900001111", 60, 190, 26)])
    assert card.name == "欧阳娜娜" and card.title == "运营总监"
    assert card.english_title == "Operations Director"


def test_english_title_on_its_own_line_attaches_to_the_person():
    card = extract_card([line("华信科技有限公司", 60, 30, 34), line("HUAXIN TECHNOLOGY CO., LTD.", 60, 70, 20),
                         line("李明", 60, 110, 64), line("Kevin Li", 200, 130, 26),
                         line("客户经理", 60, 190, 30), line("Account Manager", 60, 226, 24),
                         line("手机：13812345678", 60, 280)])
    assert (card.name, card.english_name, card.title) == ("李明", "Kevin Li", "客户经理")
    assert card.english_title == "Account Manager"
    assert card.company == "华信科技有限公司"
    # Neither a department nor an English-only title is taken for it.
    sales = extract_card([line("李明", 60, 110, 64), line("销售部", 60, 190, 30), line("Sales", 60, 226, 24)])
    assert sales.english_title is None
    english_only = extract_card([line("David Wang", 60, 100, 54), line("Sales Director", 60, 170, 28)])
    assert english_only.title == "Sales Director" and english_only.english_title is None


def test_chinese_address_preferred_and_wrapped_address_stops_at_next_field():
    card = extract_card([
        line("程兰", 60, 40, 64),
        line("Add: 5F, Building A, 88 Keyuan Rd, Shanghai", 60, 120),
        line("地址：上海市徐汇区漕河泾开发区宜山路", 60, 160),
        line("705号", 60, 200),
        line("sales@xinrui.com", 60, 240),
    ])
    assert card.address == "上海市徐汇区漕河泾开发区宜山路705号"
    assert card.email == "sales@xinrui.com"


def test_email_ocr_digit_confusion_is_repaired():
    card = extract_card([line("彭强", 60, 60, 64), line("E: huang6l@anjiesoft.com.cn", 60, 140)])
    assert card.email == "huang61@anjiesoft.com.cn"


def test_company_split_by_ocr_is_glued_back():
    card = extract_card([line("瑞丰智能装备", 60, 40, 35), line("(广州)", 290, 40, 35), line("有限公司", 420, 40, 36),
                         line("夏瑞斌", 60, 110, 60)])
    assert card.company == "瑞丰智能装备（广州）有限公司"


def test_english_only_card():
    card = extract_card([line("Huaxin Technology Co., Ltd.", 60, 40, 32), line("David Wang", 60, 100, 54),
                         line("Sales Director", 60, 170, 28), line("Mob: +86 138 1234 5678", 60, 220)])
    assert card.company == "Huaxin Technology Co., Ltd."
    assert (card.name, card.title, card.mobile) == ("David Wang", "Sales Director", "13812345678")


def test_nothing_found_is_none_not_a_guess():
    card = extract_card([line("谢谢惠顾", 60, 60, 40, score=0.9), line("欢迎光临本店", 60, 120, 30)])
    assert card.mobile is card.phone is card.email is card.website is card.address is card.company is None
    assert extract_card([]).fields() == dict.fromkeys(card.fields())


def test_english_labels_glued_to_the_value():
    card = extract_card([line("彭强", 60, 60, 64), line("E-mailhuang96@boyuan-group.com", 60, 140),
                         line("Webwww.boyuan-group.com", 60, 180), line("Mob13812345678", 60, 220)])
    assert card.email == "huang96@boyuan-group.com"
    assert card.website == "www.boyuan-group.com"
    assert card.mobile == "13812345678"


@pytest.mark.parametrize("printed, title", [
    ("首席执行官CEO", "首席执行官"),
    ("首席执行官 CEO", "首席执行官"),
    ("Sales Manager / 销售经理", "销售经理"),
    ("IT经理", "IT经理"),
    ("区域销售总监 Regional Sales Director", "区域销售总监"),
])
def test_title_keeps_the_chinese(printed, title):
    card = extract_card([line("林静", 60, 60, 64), line(printed, 60, 140, 30), line("13900001111", 60, 190)])
    assert card.title == title


def test_ocr_stroke_noise_between_chinese_characters_is_dropped():
    card = extract_card([line("林静", 60, 60, 64), line("地址：四川l省成都市武侯区天府大道1542号4楼", 60, 140)])
    assert card.address == "四川省成都市武侯区天府大道1542号4楼"


def test_chinese_label_touching_a_web_address():
    card = extract_card([line("东方物流有限公司", 60, 40, 34), line("宋红", 60, 100, 70),
                         line("官网www.dongfang-group.net", 60, 200)])
    assert card.company == "东方物流有限公司" and card.website == "www.dongfang-group.net"


def test_company_loses_ocr_specks_beside_brackets():
    card = extract_card([line("鼎盛贸易,(北京)有限公司", 60, 40, 34), line("宋红", 60, 100, 70)])
    assert card.company == "鼎盛贸易（北京）有限公司"


def test_chinese_and_english_name_on_one_line():
    card = extract_card([line("王伟 David Wang", 60, 60, 60), line("M 138 1234 5678", 60, 150)])
    assert card.name == "王伟" and card.mobile == "13812345678"
    assert card.english_name == "David Wang"
    # OCR often runs the English words together.
    glued = extract_card([line("薛伟 LilyLi", 60, 60, 60), line("董事长Chairman", 60, 130, 30)])
    assert (glued.name, glued.english_name) == ("薛伟", "Lily Li")
    assert (glued.title, glued.english_title) == ("董事长", "Chairman")
    below = extract_card([line("沈雪娟", 40, 150, 80), line("AmyXu", 265, 190, 36), line("客户经理", 40, 240, 34)])
    assert (below.name, below.english_name, below.title) == ("沈雪娟", "Amy Xu", "客户经理")


@pytest.mark.parametrize("printed, mobile, phone", [
    ("Tel：+86 (21) 6234-5678", None, "021-62345678"),
    ("手机：138-1234-5678 / 139-8765-4321", "13812345678", None),
    ("T.021-62345678", None, "021-62345678"),
    ("电话：021-62345678  手机：13912345678", "13912345678", "021-62345678"),
    ("服务热线：400-820-8820", None, "400-820-8820"),
])
def test_more_number_shapes_on_cards(printed, mobile, phone):
    card = extract_card([line("赵敏", 60, 60, 60), line(printed, 60, 150)])
    assert (card.mobile, card.phone) == (mobile, phone)


def test_department_line_is_not_the_title():
    card = extract_card([line("郭杰", 60, 40, 64), line("销售部", 60, 120, 30), line("总经理", 60, 160, 30),
                         line("大客户事业部", 60, 200, 30)])
    assert card.title == "总经理"
    assert extract_card([line("郭杰", 60, 40, 64), line("华东大区", 60, 120, 30)]).title is None


def test_landline_in_a_block_phonenumbers_does_not_list():
    # 021-8005xxxx is shaped right but not in the metadata's valid ranges.
    assert [(n.kind, n.value) for n in parse_numbers("021-80050105-9822")] == [("phone", "021-80050105-9822")]
    assert [(n.kind, n.value) for n in parse_numbers("+86 21 8005 0105")] == [("phone", "021-80050105")]
    assert parse_numbers("123456789") == []


def test_block_letter_in_address_is_upper_case():
    card = extract_card([line("郭杰", 60, 40, 64), line("地址：成都市高新区天府大道372号软件园c区3栋", 60, 120)])
    assert card.address == "成都市高新区天府大道372号软件园C区3栋"


def _card_with(email_line: str, website: str | None = None, company: str = "杭州立信新材料股份有限公司"):
    lines = [line(company, 60, 40, 36), line("陆霞文", 60, 110, 64), line("手机 13387437904", 60, 200),
             line(email_line, 60, 240)]
    if website:
        lines.append(line(website, 60, 280))
    return extract_card(lines)


def test_at_read_as_o_is_put_back_where_the_website_says_the_domain_starts():
    # Kai and Ming type draw @ so that OCR reads an o; the card's website tells which o it was.
    card = _card_with("E-mail huizhaoozhongke.cn", website="网址：www.zhongke.cn")
    assert card.email == "huizhao@zhongke.cn" and card.website == "www.zhongke.cn"


def test_at_read_as_o_is_put_back_where_the_company_name_is_spelled():
    # No website: 立信 spelled in pinyin starts the domain.
    assert _card_with("E-mail huiyangolixintech.net").email == "huiyang@lixintech.net"
    assert _card_with("邮箱：zhou.chenelixinsoft.com.cn").email == "zhou.chen@lixinsoft.com.cn"


def test_at_read_as_o_without_evidence_takes_the_first_o_on_a_labelled_line():
    card = _card_with("E-mail ruiwuohengtongsoft.com", company="杭州博远贸易集团有限公司")
    assert card.email == "ruiwu@hengtongsoft.com"
    assert card.confidence["email"] < 0.9


def test_unlabelled_address_without_at_stays_the_website_without_evidence():
    card = _card_with("salesoxingchen.com.cn", company="杭州博远贸易集团有限公司")
    assert card.email is None and card.website == "salesoxingchen.com.cn"
    # With the company's name in the domain, it is the e-mail and not a website.
    card = _card_with("salesoxingchen.com.cn", company="星辰电子股份有限公司")
    assert card.email == "sales@xingchen.com.cn" and card.website is None


@pytest.mark.parametrize("printed, email, website", [
    ("邮箱：1iu79@jiahe-group.com.cn", "liu79@jiahe-group.com.cn", None),
    ("Email:1ihuang@zhiliansoft.com", "lihuang@zhiliansoft.com", None),
    ("网址：www.1ixinsoft.com.cn", None, "www.lixinsoft.com.cn"),
    ("网址：ww.zhongke.net", None, "www.zhongke.net"),
    ("邮箱：sun1@163.com", "sun1@163.com", None),   # a 1 before a digit or the @ stays
])
def test_one_read_for_l_at_the_start_of_a_word(printed, email, website):
    card = _card_with(printed)
    assert card.email == email and card.website == website


def test_website_cut_short_takes_the_email_domain():
    card = _card_with("邮箱/Email:wu.ting@zhuoyue-group.net", website="网址/Web:https://www.zhuoyue-group.")
    assert card.website == "www.zhuoyue-group.net"
    card = _card_with("邮箱：xu.wei@xinruisoft.net", website="网址：www.xinruisoftnet")
    assert card.website == "www.xinruisoft.net"
    # A website of its own is left alone.
    assert _card_with("邮箱：xu.wei@xinruisoft.net", website="网址：www.xinrui.com").website == "www.xinrui.com"


def test_dash_in_a_name_is_the_character_yi():
    card = extract_card([line("上海天成网络科技有限公司", 60, 40, 36), line("程婷—", 60, 110, 64),
                         line("David Zhang", 60, 190, 30), line("Mob:18638085725", 60, 240)])
    assert card.name == "程婷一" and card.english_name == "David Zhang"


def test_bare_address_without_at_gives_way_to_the_www_website_below_it():
    card = _card_with("junhuangozhiliansoft.cn", website="www.zhiliansoft.cn", company="智联软件有限公司")
    assert card.email == "junhuang@zhiliansoft.cn" and card.website == "www.zhiliansoft.cn"


def test_lines_of_a_contract_read_with_the_card_fill_no_field():
    # The page the card lay on was read too: its party, price and attendee lines are no card's.
    card = extract_card([line("公司", 60, 10, 30), line("乙方：云启科技股份有限公司", 60, 40, 30),
                         line("参会：总经理、技术总监", 60, 80, 30), line("三、付款方式：预付30%", 60, 120, 30),
                         line("鼎盛软件（南京）有限公司", 60, 200, 30), line("贾墨", 60, 250, 64),
                         line("区域销售总监", 60, 330, 30), line("手机：15819508496", 60, 380)])
    assert (card.company, card.name, card.title, card.mobile) == (
        "鼎盛软件（南京）有限公司", "贾墨", "区域销售总监", "15819508496")


def test_website_printed_after_a_number_on_its_line_is_read():
    card = extract_card([line("孟洋", 60, 60, 64), line("传真+861069245325 http://www.anjiesoft.net", 60, 150),
                         line("010-69245320", 60, 190)])
    assert (card.fax, card.website, card.phone) == ("010-69245325", "www.anjiesoft.net", "010-69245320")


def test_email_label_with_a_one_for_the_l_still_labels_the_email():
    # Kai type: "E-mail" read as "E-mai1", and the @ read as o: the company's pinyin puts it back.
    card = extract_card([line("智联电子（深圳）有限公司", 60, 20, 34), line("卢芳", 60, 70, 64),
                         line("E-mai1 wang29ozhilian.net", 60, 160)])
    assert card.email == "wang29@zhilian.net" and card.website is None
