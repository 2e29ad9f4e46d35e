"""Identifier checks: mobile and landline numbers (phonenumbers), e-mail, and the unified social
credit code (统一社会信用代码, GB 32100-2015) with its check character."""
from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import phonenumbers
from phonenumbers import PhoneNumberType

from .errors import InvalidInput

# GB 32100-2015: 18 characters from this alphabet (no I, O, Z, S, V); weights 3^i mod 31.
_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")


def credit_code_check_char(first17: str) -> str:
    total = sum(_CODE_ALPHABET.index(ch) * w for ch, w in zip(first17, _CODE_WEIGHTS))
    return _CODE_ALPHABET[(31 - total % 31) % 31]


def normalize_credit_code(value: str) -> str:
    """Upper-cased, full-width folded, spaces removed; raises InvalidInput when the check fails."""
    code = unicodedata.normalize("NFKC", value).replace(" ", "").upper()
    if len(code) != 18 or any(ch not in _CODE_ALPHABET for ch in code):
        raise InvalidInput("credit_code", "统一社会信用代码应为18位数字或大写字母")
    if credit_code_check_char(code[:17]) != code[17]:
        raise InvalidInput("credit_code", "统一社会信用代码校验位不正确，请核对")
    return code


def normalize_mobile(value: str) -> str:
    """A mainland mobile as 11 digits (e.g. 13812345678); +86, spaces and dashes accepted."""
    try:
        number = phonenumbers.parse(unicodedata.normalize("NFKC", value), "CN")
    except phonenumbers.NumberParseException:
        raise InvalidInput("mobile", "手机号格式不正确") from None
    if number.country_code != 86 or not phonenumbers.is_valid_number(number) \
            or phonenumbers.number_type(number) not in (PhoneNumberType.MOBILE,
                                                        PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise InvalidInput("mobile", "手机号格式不正确，请填写11位中国大陆手机号")
    return str(number.national_number)


def first_mobile(values) -> str | None:
    """The first value that is a valid mainland mobile (normalized), or None: for data we did not
    type ourselves (OCR, remarks), where an invalid number is simply not a mobile."""
    for value in values:
        try:
            return normalize_mobile(value)
        except InvalidInput:
            continue
    return None


def mobile_in_text(text: str) -> str | None:
    """The first mainland mobile written anywhere in free text (a voice-note transcript)."""
    found = (phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
             for m in phonenumbers.PhoneNumberMatcher(text, "CN"))
    return first_mobile(found)


def normalize_phone(value: str) -> str:
    """Any valid phone (landline with area code, optional extension) in national format."""
    text = unicodedata.normalize("NFKC", value)
    text = re.sub(r"\s*(转|分机|ext\.?|x)\s*", " ext. ", text, flags=re.I)
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        raise InvalidInput("phone", "电话号码格式不正确") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput("phone", "电话号码格式不正确，座机请带区号")
    nsn = phonenumbers.national_significant_number(number)
    if phonenumbers.number_type(number) == PhoneNumberType.MOBILE:
        formatted = nsn
    else:
        area = phonenumbers.length_of_geographical_area_code(number)
        formatted = f"0{nsn[:area]}-{nsn[area:]}" if area else nsn
    return f"{formatted}-{number.extension}" if number.extension else formatted


def normalize_email(value: str) -> str:
    email = unicodedata.normalize("NFKC", value).strip()
    if not _EMAIL.match(email):
        raise InvalidInput("email", "邮箱格式不正确")
    return email.lower()


_COMPANY_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团公司", "公司", "集团")


def normalize_name(name: str) -> str:
    """For duplicate detection and search: full-width folded, no spaces or brackets, no legal suffix."""
    text = unicodedata.normalize("NFKC", name).strip().lower()
    text = re.sub(r"[\s()（）·.,，]", "", text)
    for suffix in _COMPANY_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix) + 1:
            text = text[: -len(suffix)]
            break
    return text


# An amount column is Numeric(14, 2): below 10^12 yuan, two decimals. NaN and Infinity parse as
# Decimals but no column holds them (PostgreSQL refuses NaN in a bounded numeric).
AMOUNT_MAX = Decimal("999999999999.99")


def amount_yuan(value, field: str = "amount") -> Decimal | None:
    """A finite, non-negative amount in yuan with at most two decimals, or None when empty."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise InvalidInput(field, "金额格式不正确")
    try:
        # reps type thousands separators, ASCII or full-width: "80,000" / "80，000"
        amount = Decimal(str(value).strip().replace(",", "").replace("，", ""))
    except InvalidOperation:
        raise InvalidInput(field, "金额格式不正确") from None
    if not amount.is_finite():
        raise InvalidInput(field, "金额格式不正确")
    if amount < 0:
        raise InvalidInput(field, "金额不能为负数")
    if amount > AMOUNT_MAX:
        raise InvalidInput(field, "金额过大，请核对")
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def bounded_text(value, max_chars: int, field: str, label: str) -> str | None:
    """Stripped text that fits its column, or None when empty; refuses (never cuts) longer text."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(field, f"{label}应为文字")
    value = value.strip()
    if len(value) > max_chars:
        raise InvalidInput(field, f"{label}最多{max_chars}个字，现在是{len(value)}个字")
    return value or None
