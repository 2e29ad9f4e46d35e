import pytest

from storage.errors import InvalidInput
from storage.validators import (
    credit_code_check_char,
    first_mobile,
    mobile_in_text,
    normalize_credit_code,
    normalize_email,
    normalize_mobile,
    normalize_name,
    normalize_phone,
)

# Published unified social credit codes of well-known companies (public registry data).
REAL_CODES = ["914403001922038216",   # Huawei Technologies
              "9144030071526726XG",   # Tencent (Shenzhen)
              "91330100716105852F",   # Alibaba (China)
              "91350100M000100Y43"]   # the GB 32100-2015 worked example


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_credit_codes_pass(code):
    assert normalize_credit_code(code) == code


def test_credit_code_is_folded_and_upper_cased():
    assert normalize_credit_code(" 9144030071526726xg ") == "9144030071526726XG"
    assert normalize_credit_code("９１４４０３００７１５２６７２６ＸＧ") == "9144030071526726XG"


@pytest.mark.parametrize("code, reason", [
    ("914403001922038217", "校验位"),      # last character changed
    ("9144030071526726X", "18位"),         # too short
    ("9144030071526726XO", "18位"),        # O is not in the alphabet
    ("91440300715267I6XG", "18位"),        # I is not in the alphabet
])
def test_bad_credit_codes_refused(code, reason):
    with pytest.raises(InvalidInput) as err:
        normalize_credit_code(code)
    assert reason in err.value.message and err.value.field == "credit_code"


def test_check_character_matches_every_real_code():
    for code in REAL_CODES:
        assert credit_code_check_char(code[:17]) == code[17]


@pytest.mark.parametrize("raw", ["13812345678", "+86 138 1234 5678", "138-1234-5678", "+8613812345678",
                                 "（+86）13812345678".replace("（", "(").replace("）", ")")])
def test_mobiles_normalize_to_11_digits(raw):
    assert normalize_mobile(raw) == "13812345678"


@pytest.mark.parametrize("raw", ["1381234567", "23812345678", "021-62345678", "abc", "+1 415 555 2671"])
def test_bad_mobiles_refused(raw):
    with pytest.raises(InvalidInput):
        normalize_mobile(raw)


@pytest.mark.parametrize("raw, expected", [
    ("021-62345678转8001", "021-62345678-8001"),
    ("(010) 8888 6666", "010-88886666"),
    ("0755 2688 1234", "0755-26881234"),
    ("+86 21 6234 5678", "021-62345678"),
])
def test_landlines(raw, expected):
    assert normalize_phone(raw) == expected


def test_email():
    assert normalize_email(" Wang.Li@Example.COM ") == "wang.li@example.com"
    with pytest.raises(InvalidInput):
        normalize_email("wang@li")


def test_normalized_name_drops_legal_suffix_and_width():
    assert normalize_name("上海华东机电设备有限公司") == normalize_name("上海华东机电设备（有限公司）".replace("（有限公司）", "有限公司"))
    assert normalize_name("ＡＢＣ科技 股份有限公司") == "abc科技"


def test_first_mobile_skips_what_is_not_a_mobile():
    assert first_mobile(["021-62345678", "abc", "+86 139-0000-1111", "13800000000"]) == "13900001111"
    assert first_mobile([]) is None and first_mobile(["12345"]) is None


def test_mobile_found_in_a_transcript():
    assert mobile_in_text("新客户张总，手机138 1234 5678，公司在南京") == "13812345678"
    assert mobile_in_text("座机021-62345678，没有手机") is None
