"""Pinyin search keys: initials or full pinyin of any part of a name, never from mid-word."""
from storage.name_search import name_keys, pinyin_keys


def _finds(keys: str, typed: str) -> bool:
    return f"|{typed}" in keys   # what search_customers' LIKE '%|typed%' does


def test_initials_of_any_part_of_a_company_name():
    keys = pinyin_keys("上海华东机电设备有限公司")
    assert _finds(keys, "hd") and _finds(keys, "hdjd") and _finds(keys, "sh") and _finds(keys, "huadong")
    assert not _finds(keys, "by")          # 设备有: initials inside a word are no part


def test_region_of_three_characters_keeps_the_parts_aligned():
    keys = pinyin_keys("黑龙江恒通精密机械有限公司")
    assert _finds(keys, "ht") and _finds(keys, "hengtong") and _finds(keys, "jm")


def test_contacts_and_full_pinyin():
    keys = pinyin_keys("上海博远科技有限公司", ["刘建华"])
    for typed in ("by", "boyuan", "ljh", "liujianhua", "jh", "jianhua"):
        assert _finds(keys, typed), typed


def test_names_with_latin_letters_keep_whole_name_keys():
    assert name_keys("ABC科技") == ["kj", "keji"]
