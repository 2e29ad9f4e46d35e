"""Pinyin keys for finding a customer by what a rep types on a phone: the initials of any part of
its name ("hd" → 上海华东机电, "by" → 上海博远科技) or of a contact ("ljh" → 刘建华), or the full
pinyin ("boyuan", "liujianhua").

The keys are stored on the customer (`Customer.pinyin_keys`) as "|"-separated strings, one per
place where a part of a name starts, so a search is one indexed-table `LIKE '%|by%'` instead of
computing pinyin for every row. Parts: a Chinese company name is written in two-character words
after its region ("上海|华东|机电|设备|有限|公司"), so parts start after the region and then every
two characters — this keeps "by" from matching 设备有 in the middle of a word. A person's name
(≤ 4 characters) has its surname and its given name as parts.
"""
from __future__ import annotations

from collections.abc import Iterable

from pypinyin import Style, lazy_pinyin

MAX_CHARS = 1000
# Regions a company name starts with (provinces and the cities reps meet most). Only where a region
# ends matters here; a name without one starts its parts at 0.
REGIONS = tuple(sorted((
    "北京 上海 天津 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 四川 "
    "贵州 云南 陕西 甘肃 青海 内蒙古 广西 西藏 宁夏 新疆 香港 澳门 苏州 杭州 南京 无锡 宁波 合肥 深圳 广州 "
    "常州 南通 嘉兴 绍兴 温州 金华 台州 徐州 扬州 镇江 泰州 盐城 昆山 佛山 东莞 珠海 厦门 福州 青岛 济南 烟台 "
    "武汉 长沙 郑州 成都 西安 沈阳 大连 哈尔滨 长春 石家庄 太原 南昌 昆明 贵阳 南宁 兰州 芜湖 义乌 中山 惠州"
).split(), key=len, reverse=True))


def _part_starts(name: str) -> list[int]:
    if len(name) <= 4:                     # a person: surname and given name
        return [0, 1] if len(name) >= 2 else [0]
    region = next((r for r in REGIONS if name.startswith(r)), "")
    after = len(region) + (1 if region and name[len(region):len(region) + 1] in ("市", "省") else 0)
    return sorted({0, *range(after, len(name) - 1, 2)})


def name_keys(name: str) -> list[str]:
    """Initials and full pinyin from every part start of one name."""
    syllables = [s.lower() for s in lazy_pinyin(name, errors="ignore")]
    firsts = [s[:1] for s in syllables]
    if len(syllables) != len(name):       # letters or digits in the name: whole-name keys only
        return ["".join(firsts), "".join(syllables)] if syllables else []
    keys = []
    for start in _part_starts(name):
        keys.append("".join(firsts[start:]))
        keys.append("".join(syllables[start:]))
    return keys


def pinyin_keys(name: str, contact_names: Iterable[str] = ()) -> str:
    """The stored search string: "|key|key|…|" (cut at MAX_CHARS on a key boundary)."""
    keys: list[str] = []
    for one in (name, *contact_names):
        for key in name_keys(one or ""):
            if key and key not in keys:
                keys.append(key)
    text = "|"
    for key in keys:
        if len(text) + len(key) + 1 > MAX_CHARS:
            break
        text += key + "|"
    return text


def initials_of(name: str) -> str:
    return "".join(lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore")).lower()
