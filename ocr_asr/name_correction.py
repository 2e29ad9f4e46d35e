"""Put known names back into a transcript: speech recognition hears "先和科技" for 星河科技 and
"周围" for 张伟, and a wrong name must not become the record.

Every span of the transcript as long as a known name (the rep's customers and contacts) is compared
with that name syllable by syllable in tone-less pinyin (pypinyin). Sounds Mandarin speakers and
recognisers confuse (z/zh, c/ch, s/sh, n/l, f/h, an/ang, en/eng, in/ing, ian/ing…) count as nearly
the same. A span is replaced when its sounds are close enough and at least one syllable is exact;
the caller shows every correction to the rep on the draft card (nothing is saved before a tap),
so a wrong guess is seen and fixed. Thresholds are stricter for short names, where chance
matches are likelier.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

_HAN = re.compile(r"^[\u4e00-\u9fff]+$")
_FUZZY_INITIALS = [{"z", "zh"}, {"c", "ch"}, {"s", "sh"}, {"n", "l"}, {"f", "h"}, {"r", "l"}]
_FUZZY_FINALS = [{"an", "ang"}, {"en", "eng"}, {"in", "ing"}, {"ian", "ing", "in"}, {"uan", "uang"},
                 {"ong", "eng"}, {"ie", "ue"}]
# Minimum mean syllable score for a name of n characters (2 → 0.75, 3+ → 0.8).
MIN_SCORE = {2: 0.75}
DEFAULT_MIN_SCORE = 0.8
# A two-character name is replaced only where the sentence expects a person or a company there:
# "客户周围想要…" is 张伟, "他们周围的客户" is "around them", "陈经理" is a manager named 陈.
_SLOT_BEFORE = re.compile(r"(?:客户|联系人|老板|和|跟|给|找|约|见|拜访|打给|问|是|叫)$")
_SLOT_AFTER = re.compile(r"^(?:说|想|要|讲|问|觉得|同意|答应|表示|那边|这边|已|还|也|的电话|的微信)")


@dataclass(frozen=True)
class Correction:
    heard: str
    name: str

    def __str__(self) -> str:
        return f"{self.heard}→{self.name}"


@lru_cache(maxsize=4096)
def _syllables(text: str) -> tuple[tuple[str, str], ...]:
    initials = lazy_pinyin(text, style=Style.INITIALS, strict=False)
    finals = lazy_pinyin(text, style=Style.FINALS, strict=False)
    return tuple(zip(initials, finals))


def _close(a: str, b: str, groups: list[set[str]]) -> bool:
    return a == b or any(a in g and b in g for g in groups)


def _syllable_score(heard: tuple[str, str], name: tuple[str, str]) -> float:
    if heard == name:
        return 1.0
    initial = _close(heard[0], name[0], _FUZZY_INITIALS)
    final = _close(heard[1], name[1], _FUZZY_FINALS)
    if initial and final:
        return 0.8
    return 0.5 if heard[0] == name[0] or heard[1] == name[1] else 0.0


def _score(a: tuple[tuple[str, str], ...], b: tuple[tuple[str, str], ...]) -> float:
    scores = [_syllable_score(x, y) for x, y in zip(a, b)]
    return sum(scores) / len(scores) if 1.0 in scores else 0.0


def similarity(heard: str, name: str) -> float:
    """Mean syllable score of two equally long Chinese strings, 0 when no syllable is exact."""
    a, b = _syllables(heard), _syllables(name)
    if len(a) != len(b) or not a:
        return 0.0
    return _score(a, b)


def correct_names(text: str, names: Iterable[str]) -> tuple[str, list[Correction]]:
    """`text` with misheard known names replaced, and the list of replacements made."""
    known = sorted({n.strip() for n in names if n and _HAN.match(n.strip()) and len(n.strip()) >= 2},
                   key=len, reverse=True)
    # The transcript's syllables once, char by char (a name's own reading comes from _syllables).
    heard = [_syllables(ch)[0] if _HAN.match(ch) else None for ch in text]
    taken = [False] * len(text)
    replacements: list[tuple[int, int, str]] = []
    corrections: list[Correction] = []
    for name in known:                       # heard right: never touched by another name
        for m in re.finditer(re.escape(name), text):
            taken[m.start():m.end()] = [True] * len(name)
    for name in known:
        if name in text:
            continue
        size, best = len(name), None
        target = _syllables(name)
        if len(target) != size:
            continue
        threshold = MIN_SCORE.get(size, DEFAULT_MIN_SCORE)
        for start in range(len(text) - size + 1):
            window = heard[start:start + size]
            # cheap checks first: all Chinese, free, and one syllable exactly the name's
            if None in window or not any(w == t for w, t in zip(window, target)) or any(taken[start:start + size]):
                continue
            if size == 2 and not (_SLOT_BEFORE.search(text[:start]) or _SLOT_AFTER.match(text[start + size:])):
                continue
            score = _score(tuple(window), target)
            if score >= threshold and (best is None or score > best[0]):
                best = (score, start, text[start:start + size])
        if best is not None:
            _score_value, start, span = best
            taken[start:start + size] = [True] * size
            replacements.append((start, start + size, name))
            corrections.append(Correction(span, name))
    for start, end, name in sorted(replacements, reverse=True):
        text = text[:start] + name + text[end:]
    return text, corrections
