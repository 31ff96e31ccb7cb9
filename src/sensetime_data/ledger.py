"""The ledger: every numeric mention of a source is either in a quote or in an exclusion.

A numeric mention is a run of Arabic digits (with its decimal point and thousands commas)
or a Chinese numeral used as a quantity: a numeral before a measure word (四款, 两次),
a numeral with 十/百/千/万/亿 (千亿, 十亿), or 数 before a multiplier (数亿). A mention is
accounted for when it lies wholly inside an occurrence of a quote of a row of the same
source, or inside an exclusion excerpt.

>>> [m.text for m in mentions("交付四款AI传感器，支持20个千亿参数大模型")]
['四款', '20', '千亿']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from .sources import fold

_CN = "零〇一二两三四五六七八九"
_BIG = "十百千万亿"
MEASURE = "个款家次倍种项名台条位件张座大辆人"
NUMERIC = re.compile(
    r"\d+(?:[.,]\d+)*(?: ?[十百千万亿]+)?"  # 47, 3,400, 214.5, 47亿, 38 亿, 2.7万
    r"|[²³¹⁰⁴⁵⁶⁷⁸⁹]+"  # superscripts: footnote markers and exponents
    rf"|数[{_BIG}]+"  # 数亿
    rf"|[{_CN}]*[{_BIG}][{_CN}{_BIG}]*(?=[{MEASURE}万亿元参级人年天]|$|[^\u4e00-\u9fff])"  # 千亿, 十亿, 一百
    rf"|[二两三四五六七八九][{MEASURE}]"  # 四款, 两次
)
# Words in which a numeral is not a quantity.
NOT_NUMBERS = ("万物", "百业", "千里", "万里", "千万里", "十九届", "四小龙", "三重", "一体", "三位一体")


@dataclass
class Mention:
    start: int
    end: int
    text: str


def mentions(text: str) -> list[Mention]:
    """Every numeric mention in folded text, in order."""
    words = [(i, i + len(w)) for w in NOT_NUMBERS for i in _find_all(text, w)]
    return [
        Mention(m.start(), m.end(), m.group())
        for m in NUMERIC.finditer(text)
        if not any(a <= m.start() and m.end() <= b for a, b in words)
    ]


def _find_all(text: str, needle: str):
    start = text.find(needle)
    while start >= 0:
        yield start
        start = text.find(needle, start + 1)


def covered_spans(text: str, excerpts: list[str]) -> list[tuple[int, int]]:
    """Every (start, end) where one of the excerpts occurs in the text."""
    spans = []
    for excerpt in set(excerpts):
        needle = fold(excerpt)
        if needle:
            spans += [(i, i + len(needle)) for i in _find_all(text, needle)]
    return sorted(spans)


def source_excerpts(frames: dict[str, pd.DataFrame], source_id: str) -> list[str]:
    """Quotes of every row citing the source, and its exclusion excerpts."""
    out = []
    for frame in frames.values():
        if "source_id" not in frame:
            continue
        rows = frame[frame["source_id"] == source_id]
        for column in ("quote", "excerpt"):
            if column in rows:
                out += rows[column].dropna().astype(str).tolist()
    return out


def unaccounted(text: str, excerpts: list[str]) -> tuple[list[Mention], int]:
    """Mentions of the text inside no excerpt, and the number of mentions in all."""
    spans = covered_spans(text, excerpts)
    found = mentions(text)
    missing = [m for m in found if not any(a <= m.start and m.end <= b for a, b in spans)]
    return missing, len(found)


def coverage(frames: dict[str, pd.DataFrame], texts: dict[str, str]) -> dict[str, tuple[int, int, list[Mention]]]:
    """For each source: (mentions accounted for, mentions in all, the ones not accounted for)."""
    out = {}
    for source_id, text in texts.items():
        missing, total = unaccounted(text, source_excerpts(frames, source_id))
        out[source_id] = (total - len(missing), total, missing)
    return out


def context(text: str, m: Mention, width: int = 30) -> str:
    return f"{text[max(0, m.start - width):m.start]}[{m.text}]{text[m.end:m.end + width]}"
