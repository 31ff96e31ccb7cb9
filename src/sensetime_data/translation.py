"""English beside Chinese: a translation may reword a quote but never change one of its figures.

Every numeric mention of the Chinese text (as the ledger finds them) must appear in the
English, either as printed (``47亿`` ⇔ ``47``, ``34,000`` ⇔ ``34000``) or as its full
value in digits with an optional English scale word (``47亿`` ⇔ ``4.7 billion`` or
``4,700,000,000``; ``四款`` ⇔ ``4``; ``第一`` ⇔ ``1``). Each English number keeps one
mention, so a figure printed twice is kept twice. Footnote markers (``¹``) and ``数亿``
(no figure) need nothing. The other way round, every English number must stand for a figure
of the Chinese, so a gloss cannot misstate one (``47亿元 (RMB 4.8 billion)``).

>>> missing_numbers("按年同比增长36.4%至47亿元", "Up 36.4% year on year to 47亿元 (RMB 4.7 billion)")
[]
>>> missing_numbers("按年同比增长36.4%至47亿元", "Up 36.4% year on year to RMB 4.8 billion")
['47亿']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

import pandas as pd

from .ledger import mentions

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_SECTIONS = {"万": 10**4, "亿": 10**8}
_ARABIC = re.compile(r"\d[\d,]*(?:\.\d+)?")
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12,
           "quadrillion": 10**15, "quintillion": 10**18}
_ENGLISH = re.compile(r"(?<!\d)(?<!\d\.)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:\s*(" + "|".join(_SCALES) + r")\b)?", re.I)
_NO_FIGURE = "数几²³¹⁰⁴⁵⁶⁷⁸⁹"  # 数亿, 几百 (several hundred million, a few hundred) and footnote markers
_WORDS = {"冠军": 1}  # a champion is rank 1, as the ledger counts it


def chinese_value(text: str) -> int:
    """The value of a Chinese numeral; other characters (第, 款, 卡) are skipped.

    >>> [chinese_value(t) for t in ("千亿", "十亿", "万亿", "十万亿", "四款", "第一", "两次", "一百二十三", "零")]
    [100000000000, 1000000000, 1000000000000, 10000000000000, 4, 1, 2, 123, 0]
    """
    total, section, digit = 0, 0, 0
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            section += (digit or 1) * _UNITS[ch]
            digit = 0
        elif ch == "万":
            total += (section + digit or 1) * 10**4
            section = digit = 0
        elif ch == "亿":
            total = (total + section + digit or 1) * 10**8
            section = digit = 0
    return total + section + digit


def mention_value(text: str) -> tuple[Decimal | None, Decimal] | None:
    """(the digits as printed, the full value) of a mention; None when it prints no figure.

    >>> mention_value("47亿"), mention_value("2,300万"), mention_value("四款")
    ((Decimal('47'), Decimal('4700000000')), (Decimal('2300'), Decimal('23000000')), (None, Decimal('4')))
    >>> mention_value("上百"), mention_value("冠军")
    ((None, Decimal('100')), (None, Decimal('1')))
    >>> mention_value("数亿") is None and mention_value("¹") is None
    True
    """
    if text[0] in _NO_FIGURE:
        return None
    if text in _WORDS:
        return None, Decimal(_WORDS[text])
    m = _ARABIC.match(text)
    if m is None:
        if not any(ch in _DIGITS or ch in _UNITS or ch in _SECTIONS for ch in text):
            return None  # a word the ledger counts that names no figure
        return None, Decimal(chinese_value(text))
    printed = Decimal(m.group().replace(",", ""))
    scale = 1
    for ch in text[m.end():]:
        scale *= {**_UNITS, **_SECTIONS}.get(ch, 1)
    return printed, printed * scale


@dataclass
class Number:
    """A number of the English text: as printed, its value, and whether an English scale word follows."""

    text: str
    value: Decimal
    scaled: bool

    def keeps(self, mention: tuple[Decimal | None, Decimal]) -> bool:
        printed, full = mention
        return self.value == full if self.scaled else self.value in (printed, full)


def english_numbers(text: str) -> list[Number]:
    """Every number of the English text, thousands separators removed, times its scale word.

    >>> [(n.text, n.value) for n in english_numbers("RMB 4.7 billion, 34,000 models, GPT-4")]
    [('4.7 billion', Decimal('4700000000.0')), ('34,000', Decimal('34000')), ('4', Decimal('4'))]
    """
    out = []
    for m in _ENGLISH.finditer(text):
        number, scale = Decimal(m.group(1).replace(",", "") + (m.group(2) or "")), m.group(3)
        out.append(Number(m.group(), number * _SCALES[scale.lower()] if scale else number, bool(scale)))
    return out


def _figures(zh: str) -> list[tuple[str, tuple[Decimal | None, Decimal]]]:
    return [(m.text, v) for m in mentions(zh) if (v := mention_value(m.text)) is not None]


def missing_numbers(zh: str, en: str) -> list[str]:
    """The numeric mentions of ``zh`` that ``en`` does not keep, as printed in ``zh``.

    >>> missing_numbers("2021年底交付四款AI传感器", "At the end of 2021, delivered 4 AI sensors")
    []
    >>> missing_numbers("连续三年蝉联中国计算机视觉应用市场份额第一", "Ranked first for three years running")
    ['三年', '第一']
    """
    wanted, numbers = _figures(zh), english_numbers(en)
    owner: dict[int, int] = {}  # English number -> the mention it keeps

    def assign(i: int, seen: set[int]) -> bool:  # augmenting path: a figure printed twice needs two numbers
        for j, number in enumerate(numbers):
            if j not in seen and number.keeps(wanted[i][1]):
                seen.add(j)
                if j not in owner or assign(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    kept = {i for i in range(len(wanted)) if assign(i, set())}
    return [text for i, (text, _) in enumerate(wanted) if i not in kept]


def added_numbers(zh: str, en: str) -> list[str]:
    """The numbers of ``en`` that stand for no figure of ``zh``, as printed in ``en``: a wrong gloss.

    >>> added_numbers("按年同比增长36.4%至47亿元", "Up 36.4% year on year to 47亿元 (RMB 4.8 billion)")
    ['4.8 billion']
    """
    wanted = [v for _, v in _figures(zh)]
    return [n.text for n in english_numbers(en) if not any(n.keeps(v) for v in wanted)]


@lru_cache(maxsize=1 << 16)  # a text and its translation read the same wherever they stand
def _translation_problem(column: str, zh, en) -> str:
    if not isinstance(zh, str) or not isinstance(en, str):
        return ""  # an empty cell is for the schema's `required` to report
    parts = []
    if missing := missing_numbers(zh, en):
        parts.append(f"{column}_en does not keep {', '.join(missing)} of the {column}")
    if added := added_numbers(zh, en):
        parts.append(f"{column}_en has {', '.join(added)}, which the {column} does not print")
    return "; ".join(parts)


def keeps_numbers(column: str):
    """The rule that ``{column}_en`` keeps every number of ``column`` and adds none, in the
    shape of the rules in ``rules``: a message per row, "" where the row passes."""
    def rule(frame: pd.DataFrame, ctx) -> pd.Series:
        pairs = zip(frame[column].tolist(), frame[f"{column}_en"].tolist(), strict=True)
        return pd.Series([_translation_problem(column, zh, en) for zh, en in pairs], index=frame.index, dtype=object)

    rule.__name__ = f"{column}_en_keeps_numbers"
    rule.__doc__ = f"`{column}_en` keeps every number of `{column}` (as printed, or its full value in digits) and adds none."
    return rule


quote_en_keeps_numbers = keeps_numbers("quote")
