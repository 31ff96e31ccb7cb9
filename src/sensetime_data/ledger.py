"""The ledger: every numeric mention of a source is either in a quote or in an exclusion.

A numeric mention is a run of Arabic digits (with its decimal point and thousands commas)
or a Chinese numeral used as a quantity: a numeral before a measure word (四款, 两次),
a numeral with 十/百/千/万/亿 (千亿, 十亿), 数 before a multiplier (数亿), a rank (第一,
前三) or a zero (零漏检). A mention is
accounted for when it lies wholly inside an occurrence of a quote of a row of the same
source, or inside an exclusion excerpt.

>>> [m.text for m in mentions("交付四款AI传感器，支持20个千亿参数大模型")]
['四款', '20', '千亿']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from .read import records
from .sources import fold

_CN = "零〇一二两三四五六七八九"
_BIG = "十百千万亿"
MEASURE = "个款家次倍种项名台条位件张座大辆人"
NUMERIC = re.compile(
    r"\d+(?:[.,]\d+)*(?: ?[十百千万亿]+)?"  # 47, 3,400, 214.5, 47亿, 38 亿, 2.7万
    r"|[²³¹⁰⁴⁵⁶⁷⁸⁹]+"  # superscripts: footnote markers and exponents
    rf"|(?:(?<!以)[上近]|[数几])?[{_CN}]*[{_BIG}][{_CN}{_BIG}]*"  # 千亿, 十亿, 一百, 千卡, 万卡, 上百, wherever they stand
    rf"|[二两三四五六七八九][{MEASURE}年卡]"  # 四款, 两次, 三年
    r"|[第前][一二三四五六七八九十]+(?![份方])"  # ranks (第一, 全球前三), not 第一份 or 第三方
    r"|零(?=[\u4e00-\u9fff])"  # 零漏检, 零接管
    r"|冠军"  # a champion: rank 1, as 第一 is
)
# Words in which a numeral is not a quantity.
NOT_NUMBERS = ("万物", "百业", "千里", "万里", "千万里", "十九届", "四小龙", "三重", "一体", "三位一体")


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    text: str


def mentions(text: str) -> list[Mention]:
    """Every numeric mention in folded text, in order."""
    return list(_mentions(text))


@lru_cache(maxsize=1 << 16)  # the same text (a quote, a source) is read by several rules and the ledger
def _mentions(text: str) -> tuple[Mention, ...]:
    words = [(i, i + len(w)) for w in NOT_NUMBERS for i in _find_all(text, w)]
    return tuple(
        Mention(m.start(), m.end(), m.group())
        for m in NUMERIC.finditer(text)
        if not any(a <= m.start() and m.end() <= b for a, b in words)
    )


def _find_all(text: str, needle: str):
    start = text.find(needle)
    while start >= 0:
        yield start
        start = text.find(needle, start + 1)


# Cells that describe a row rather than print something of the source.
UNPRINTED = {"quote", "excerpt", "note", "description", "source_id", "reason",
             "quote_en", "relationship_en", "caption_en", "claim_en"}  # the curators' translations print nothing


def _spans(text: str, needle: str) -> list[tuple[int, int]]:
    return [(i, i + len(needle)) for i in _find_all(text, needle)] if needle else []


def stated(text: str, rows: list[dict]) -> list[tuple[int, int, dict]]:
    """Where rows state something, with the row: a printed cell (as_reported, a name) inside an
    occurrence of the row's quote.

    A number in a quote that no row of that quote prints is not stated:
    >>> text = "按年同比增长36.4%至47亿元"
    >>> [(a, b) for a, b, _ in stated(text, [{"quote": text, "as_reported": "47亿元"}])]
    [(12, 16)]
    """
    spans = []
    starts: dict[str, list[int]] = {}  # where each quote stands in the text: rows share quotes
    inside: dict[tuple[str, str], list[int]] = {}  # where a cell stands in a quote
    printing: dict[tuple, list[str]] = {}  # the columns that may print something, by a row's columns
    folded: dict[str, str] = {}  # each cell's text folded once: rows repeat codes, units and figures
    for row in rows:
        printed = str(row.get("quote") or "")
        quote = folded.get(printed) or folded.setdefault(printed, fold(printed))
        if quote not in starts:
            starts[quote] = list(_find_all(text, quote)) if quote else []
        if not starts[quote]:
            continue
        columns = printing.get(keys := tuple(row))
        if columns is None:
            columns = printing[keys] = [k for k in keys if k not in UNPRINTED and not k.startswith("_")]
        cells = {folded.get(v) or folded.setdefault(v, fold(v)) for k in columns if isinstance(v := row[k], str)}
        for cell in cells:
            if (quote, cell) not in inside:
                inside[quote, cell] = list(_find_all(quote, cell)) if cell else []
            if inside[quote, cell]:
                spans += [(start + i, start + i + len(cell), row) for start in starts[quote] for i in inside[quote, cell]]
    return spans


def excluded(text: str, exclusions: list[dict]) -> list[tuple[int, int, dict]]:
    """Every occurrence of every exclusion excerpt, with the exclusion."""
    return [(a, b, row) for row in exclusions for a, b in _spans(text, fold(str(row["excerpt"])))]


def rows_by_source(frames: dict[str, pd.DataFrame]) -> dict[str, tuple[list[dict], list[dict]]]:
    """For each source, the rows with a quote citing it (each with its table in ``_table``) and its
    exclusions, reading each table once."""
    out: dict[str, tuple[list[dict], list[dict]]] = {}
    for name, frame in frames.items():
        if "source_id" not in frame or not ({"excerpt", "quote"} & set(frame.columns)):
            continue
        for r in records(frame):
            rows, exclusions = out.setdefault(r["source_id"], ([], []))
            if "excerpt" in r:
                if isinstance(r["excerpt"], str):
                    exclusions.append(r)
            else:
                r["_table"] = name  # a record of its own, made here
                rows.append(r)
    return out


@dataclass
class Mark:
    """A numeric mention and what accounts for it: a fact row, an exclusion, or nothing."""

    mention: Mention
    kind: str  # "recorded", "excluded" or "unaccounted"
    row: dict | None = None


def marks(text: str, rows: list[dict], exclusions: list[dict]) -> list[Mark]:
    """Every mention of the text, marked by the first row that states it, else the first exclusion around it."""
    spans = [(a, b, r, "recorded") for a, b, r in stated(text, rows)] + [(a, b, r, "excluded") for a, b, r in excluded(text, exclusions)]
    # One span per place and kind, its first row: rows that state the same figure of the same
    # quote add nothing, and the search below stays as long as the text, not the tables.
    first: dict[tuple, tuple] = {}
    for s in spans:
        first.setdefault((s[0], s[1], s[3]), s)
    spans = sorted(first.values(), key=lambda s: s[0])
    out = []
    for m in mentions(text):
        hit = next((s for s in spans if s[0] <= m.start and m.end <= s[1] and s[3] == "recorded"), None) or next(
            (s for s in spans if s[0] <= m.start and m.end <= s[1]), None)
        out.append(Mark(m, hit[3], hit[2]) if hit else Mark(m, "unaccounted"))
    return out


def unaccounted(text: str, rows: list[dict], exclusions: list[dict]) -> tuple[list[Mention], int]:
    """Mentions of the text neither stated by a row nor inside an exclusion, and the number of mentions in all."""
    found = marks(text, rows, exclusions)
    return [m.mention for m in found if m.kind == "unaccounted"], len(found)


@dataclass
class Coverage:
    source_id: str
    total: int
    missing: list[Mention]

    @property
    def percent(self) -> float:
        return 100.0 * (self.total - len(self.missing)) / self.total if self.total else 100.0

    def __str__(self) -> str:
        done = self.total - len(self.missing)
        return f"{self.source_id}: coverage {self.percent:.1f}% ({done} of {self.total} numeric mentions accounted for)"


def coverage(frames: dict[str, pd.DataFrame], texts: dict[str, str]) -> list[Coverage]:
    """The ledger of each source: its numeric mentions and the ones no row or exclusion accounts for."""
    out = []
    by_source = rows_by_source(frames)
    for source_id, text in texts.items():
        missing, total = unaccounted(text, *by_source.get(source_id, ([], [])))
        out.append(Coverage(source_id, total, missing))
    return out


def context(text: str, m: Mention, width: int = 30) -> str:
    """The mention in brackets with the text around it, on one line."""
    return f"{text[max(0, m.start - width):m.start]}[{m.text}]{text[m.end:m.end + width]}"
