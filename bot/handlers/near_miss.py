"""What a rep most likely meant when a message is not a command word for word.

Reps type on phone keyboards with pinyin input, so the usual slip is a homophone ("代办" for 待办,
"帮主" for 帮助) or the pinyin itself ("cha 华东机电"), and the usual spacing slip is a space
inside the word ("待 办"). Both are found from the router's own alias table — nothing here lists
commands — by comparing tone-less pinyin (pypinyin) with every command word's pinyin.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pypinyin import lazy_pinyin

# Commands that only read: safe to run on a guess. Others are suggested, never run on a guess.
RUN_WHEN_GUESSED = frozenset({"帮助", "待办", "查"})

GREETINGS = frozenset({"你好", "您好", "你好呀", "哈喽", "嗨", "hi", "hello", "hey", "在吗", "在不在",
                       "早", "早上好", "上午好", "中午好", "下午好", "晚上好", "喂", "你是谁"})
_PUNCT = re.compile(r"[\s!！。.,，~～?？、…]+")
_ASCII_HEAD = re.compile(r"^(?P<word>[A-Za-z]+)\s*(?P<rest>.*)$", re.S)


def _plain(text: str) -> str:
    return _PUNCT.sub("", text).lower()


def is_greeting(text: str) -> bool:
    return _plain(text) in GREETINGS


def pinyin(text: str) -> str:
    """'代办' → 'daiban'; ASCII stays as typed (lower case)."""
    return "".join(lazy_pinyin(text)).lower().replace(" ", "")


@lru_cache(maxsize=8)
def _by_pinyin(words: tuple[str, ...]) -> dict[str, str]:
    index: dict[str, str] = {}
    for word in sorted(words, key=len):          # the shortest word of a sound wins ("查" over "茶")
        if not word.isascii():
            index.setdefault(pinyin(word), word)
    return index


def likely_command(text: str, commands: Mapping[str, Any]) -> tuple[str, str] | None:
    """(command word, arguments) the text most likely meant, or None.

    `commands` is the router's table of command words (aliases included)."""
    text = text.strip()
    squeezed = re.sub(r"\s+", "", text).lower()
    if squeezed in commands:                     # "待 办"
        return squeezed, ""
    index = _by_pinyin(tuple(commands))
    ascii_head = _ASCII_HEAD.match(text)
    if ascii_head and ascii_head.group("word").lower() in index:   # "cha 华东机电", "daiban"
        return index[ascii_head.group("word").lower()], ascii_head.group("rest").strip()
    head, _, rest = text.partition(" ")
    if head and not head.isascii() and pinyin(head) in index:        # "代办", "帮主", "茶 华东机电"
        return index[pinyin(head)], rest.strip()
    return None


def could_be_a_name(text: str) -> bool:
    """Worth a customer search: a short phrase without tags, at least two characters."""
    text = text.strip()
    return 2 <= len(text) <= 30 and "#" not in text and "＃" not in text
