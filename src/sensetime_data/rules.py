"""Rules across columns and tables that a Table Schema cannot state.

Each rule takes a fact table's typed frame and a :class:`Context` (the other tables) and
returns a Series of messages, one per row: ``""`` where the row passes. ``validate`` wraps
each rule as a pandera check. Figures are compared as intervals: a printed figure stands
for every number that rounds to it (38亿元 is 3750–3850 CNY_million), widened on the open
side by its comparator (2.7万+ is 27000–28000), so checks never fail on rounding alone.
"""

from __future__ import annotations

import math
import re
import weakref
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property, lru_cache

import pandas as pd

from .read import records
from .schema import Table
from .sources import fold
from .translation import keeps_numbers

# --- reading a printed figure -------------------------------------------------------

CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_UNITS = {"十": 10, "百": 100, "千": 1000}
MULTIPLIERS = {"万亿": 1e12, "千亿": 1e11, "百亿": 1e10, "十亿": 1e9, "亿": 1e8, "千万": 1e7, "百万": 1e6, "十万": 1e5, "万": 1e4}
LATIN_MULTIPLIERS = {"B": 1e9, "M": 1e6, "K": 1e3}

LOWER_BOUND = ("超过", "超", "逾", "多于", "大于", "上")  # 上百 = a hundred or more
LOWER_BOUND_AFTER = ("+", "多", "以上", "余")
APPROX = ("~", "～", "约", "近")
UPPER_BOUND = ("低于", "不到", "少于")
UPPER_BOUND_AFTER = ("以内", "以下")

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?|[零〇一二两三四五六七八九十百千]+|数(?=[十百千万亿])")
# A printed range: 5-6倍, 2～3倍; or a count of digits: 三位数 (100 to 999).
_RANGE = re.compile(r"(\d+(?:\.\d+)?)\s*[-–~～至到]\s*(\d+(?:\.\d+)?)")
_DIGIT_COUNT = re.compile(r"([一二三四五六七八九]|\d)位数")
_ORDER = re.compile(r"(?<![\d零〇一二两三四五六七八九])(?:万亿|千亿|百亿|十亿|千万|百万|十万)")  # an order of magnitude alone


@dataclass(frozen=True)
class Printed:
    """A printed figure read into its parts."""

    number: float  # the digits as printed, without multiplier
    step: float  # one unit of the last printed digit
    multiplier: float  # 万, 亿, B ...
    rest: str  # what follows the number and multiplier (units, bounds)
    sign: int  # -1 for - or ↓, +1 for + or ↑, 0 when not printed
    bound: str  # comparator hinted by the wording, or ""


def _chinese_number(text: str) -> int:
    total, digit = 0, 0
    for ch in text:
        if ch in CN_DIGITS:
            digit = CN_DIGITS[ch]
        else:
            total += (digit or 1) * CN_UNITS[ch]
            digit = 0
    return total + digit


@lru_cache(maxsize=1 << 16)  # as_reported figures repeat: 第一, 100%, -
def parse_printed(text: str) -> Printed | None:
    """Read the first number of a printed figure with its multiplier, sign and bound.

    >>> p = parse_printed("2.7万+")
    >>> p.number, p.multiplier, p.bound
    (2.7, 10000.0, '>')
    >>> parse_printed("(同比 -19%)").sign
    -1
    """
    m = _NUMBER.search(text)
    if not m:
        if "冠军" in text:  # a champion is rank 1, as 第一 and NO.1 are
            return Printed(1.0, 1.0, 1.0, "", 0, "")
        return None
    before, digits, after = text[: m.start()], m.group(), text[m.end():]
    if digits[0].isdigit():
        number = float(digits.replace(",", ""))
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        step = 10.0 ** -decimals
    elif digits == "数":  # 数亿 = several hundred million: at least one of the multiplier
        number, step, before = 1.0, 1.0, before + "超"
    elif all(ch in CN_UNITS for ch in digits) and (digits + after).startswith(tuple(MULTIPLIERS)):
        after, number, step = digits + after, 1.0, 1.0  # 千亿, 百亿: the multiplier alone is the figure
    else:
        number, step = float(_chinese_number(digits)), 1.0  # 四, 二十, 百 (上百)
    multiplier = 1.0
    stripped = after.lstrip()
    for word, value in list(MULTIPLIERS.items()) + list(LATIN_MULTIPLIERS.items()):
        if stripped.startswith(word) and not (word in LATIN_MULTIPLIERS and stripped[1:2].isalpha()):
            multiplier, after = value, stripped[len(word):]
            break
    head = before.strip()
    sign = -1 if head.endswith(("-", "−", "↓")) or head.endswith("(↓") else 1 if head.endswith(("+", "↑")) else 0
    if head.startswith("(") and after.rstrip().endswith(")") and not sign:
        sign = 0  # accounting parentheses: sign depends on the metric, not checked here
    tail = after.strip()
    bound = ""
    if head.endswith(LOWER_BOUND) or tail.startswith(LOWER_BOUND_AFTER) or tail.endswith(("+", "以上")):
        bound = ">"
    elif head.endswith(APPROX) or head.startswith(APPROX):
        bound = "≈"
    elif head.endswith(UPPER_BOUND) or tail.startswith(UPPER_BOUND_AFTER) or tail.endswith(UPPER_BOUND_AFTER):
        bound = "<"
    return Printed(number, step, multiplier, tail, sign, bound)


def unit_scale(unit: str, printed: Printed) -> float:
    """Factor from the printed number (times its multiplier) to the canonical unit."""
    rest = printed.rest.lower()
    if unit == "CNY_million":
        return 1e-6  # every money figure in the sources is printed in yuan (亿元, 人民币)
    if unit == "PFLOPS":
        return 1000.0 if "exa" in rest else 1.0
    return 1.0


@lru_cache(maxsize=1 << 16)
def expected_value(as_reported: str, unit: str) -> tuple[float, float] | None:
    """(magnitude, half a printed step) in the canonical unit, or None when no number is printed."""
    p = parse_printed(as_reported)
    if p is None:
        return None
    if unit == "rank" and re.search(r"NO\.\s*\d|第[一二三四五六七八九十\d]", as_reported, re.I) is None and p.number > 100:
        return None
    scale = unit_scale(unit, p) * p.multiplier
    return p.number * scale, p.step * scale / 2


@lru_cache(maxsize=1 << 16)
def printed_range(as_reported: str, unit: str) -> tuple[float, float] | None:
    """The two ends of a printed range in the canonical unit, or None when none is printed.

    >>> printed_range("5-6倍", "times"), printed_range("三位数", "percent")
    ((5.0, 6.0), (100.0, 999.0))
    >>> printed_range("千亿", "parameters")  # the hundred-billion class: 1000亿 to 9999亿
    (100000000000.0, 999900000000.0)
    """
    m = _RANGE.search(as_reported)
    if m:
        high = parse_printed(as_reported[m.start(2):])
        assert high is not None  # the range's second number
        scale = unit_scale(unit, high) * high.multiplier
        return float(m.group(1)) * scale, float(m.group(2)) * scale
    m = _DIGIT_COUNT.search(as_reported)
    if m:
        digits = int(m.group(1)) if m.group(1).isdigit() else CN_DIGITS[m.group(1)]
        return 10.0 ** (digits - 1), 10.0 ** digits - 1
    m = _ORDER.search(as_reported)
    if m:  # 千亿: every count of 亿 with four digits; 万亿: with five
        one = parse_printed("1" + as_reported[m.end():])
        assert one is not None
        scale = unit_scale(unit, one)
        low, step = MULTIPLIERS[m.group()] * scale, MULTIPLIERS[m.group()[-1]] * scale
        return low, low * 10 - step
    return None


def last_place(value: float) -> float:
    """The place of the last significant digit: 34000 → 1000, 6.7 → 0.1."""
    if not value:
        return 0.0
    exponent = Decimal(repr(abs(value))).normalize().as_tuple().exponent
    return float(Decimal(1).scaleb(int(exponent)))


def interval(value: float, comparator: str, half: float) -> tuple[float, float]:
    """Every true figure a printed one may stand for.

    A bound reaches one unit of its last significant digit: 34000多 is 34000 to 35000.
    """
    if comparator == ">":
        return value, value + max(2 * half, last_place(value))
    if comparator == "<":
        return value - max(2 * half, last_place(value)), value
    if comparator == "≈":
        return value - 4 * half, value + 4 * half
    return value - half, value + half


# --- cells, before typing -----------------------------------------------------------------

# What a spreadsheet would run on opening an exported CSV: `=` and anything, or +, -, @ before a
# function or command name (=HYPERLINK(...), +cmd|..., @SUM(...)). Printed figures such as
# +59% or -19 and the comparator `=` are not formulas.
FORMULA = re.compile(r"^(=.|[+\-@]\s*[A-Za-z_][\w.]*\s*[(|!])", re.S)


def cell_problem(text: str, kind: str) -> tuple[str, str] | None:
    """(rule, message) for a raw cell no table may hold, whatever its schema allows."""
    if kind in ("number", "integer") and text:
        try:
            number = float(text)
        except ValueError:
            return None  # a type error, reported by frictionless
        if not math.isfinite(number):
            return "finite", f"{text!r} is not a finite number (SQLite and Parquet readers differ on NaN and inf)"
    if kind == "string" and FORMULA.match(text):
        return "formula", f"{text[:40]!r} would run as a formula in a spreadsheet"
    return None


# --- the context a rule sees ----------------------------------------------------------


@dataclass
class Context:
    metrics: pd.DataFrame
    periods: pd.DataFrame
    units: pd.DataFrame = field(default_factory=pd.DataFrame)
    sources: pd.DataFrame = field(default_factory=pd.DataFrame)
    texts: dict[str, str] = field(default_factory=dict)  # folded source texts; empty when absent
    table: Table | None = None  # the table whose frame the rules read; its key says what a fact is about

    @cached_property
    def _metrics_by_id(self) -> dict[str, dict]:
        return {r["metric"]: r for r in self.metrics.to_dict("records")} if len(self.metrics) else {}

    def metric(self, metric_id: str) -> dict:
        return self._metrics_by_id.get(metric_id, {})

    @cached_property
    def _periods(self) -> dict[str, dict]:
        return {r["period"]: r for r in self.periods.to_dict("records")} if len(self.periods) else {}

    @cached_property
    def _period_by_dates(self) -> dict[tuple, str]:
        out: dict[tuple, str] = {}
        for r in self._periods.values():
            out.setdefault((r["kind"], r["start"], r["end"]), r["period"])
        return out

    def prior(self, period: str) -> str | None:
        """The same period a year earlier (FY2022 → FY2021; 2022-12-31 → 2021-12-31)."""
        p = self._periods.get(period)
        if p is None:
            return None
        year = pd.DateOffset(years=1)
        return self._period_by_dates.get((p["kind"], p["start"] - year, p["end"] - year))

    def end_date(self, period: str) -> str | None:
        """The date period on which a period ends (FY2022 → 2022-12-31)."""
        p = self._periods.get(period)
        return None if p is None else self._period_by_dates.get(("date", p["end"], p["end"]))


# Every rule: the typed frame of one table and the context in, one message per row out ("" where it passes).
Rule = Callable[[pd.DataFrame, "Context"], pd.Series]

_SHARED: dict[tuple[int, str], tuple[weakref.ref, object]] | None = None


@contextmanager
def shared_rows():
    """Within the block, every rule of a frame reads one list of its rows and one index of its levels.

    ``validate`` runs a table's rules inside it; outside it nothing is kept, so a frame changed
    between two calls is always read afresh.
    """
    global _SHARED
    _SHARED = {}
    try:
        yield
    finally:
        _SHARED = None


def _per_frame(frame: pd.DataFrame, what: str, make):
    """``make(frame)``, once per frame object inside ``shared_rows``."""
    if _SHARED is None:
        return make(frame)
    key = (id(frame), what)
    hit = _SHARED.get(key)
    if hit is None or hit[0]() is not frame:
        hit = _SHARED[key] = (weakref.ref(frame), make(frame))
    return hit[1]


def _messages(frame: pd.DataFrame, fn) -> pd.Series:
    rows = _per_frame(frame, "records", records)
    return pd.Series([fn(r) for r in rows], index=frame.index, dtype=object)


# --- rules on one row ------------------------------------------------------------------


def value_empty_when_missing(frame, ctx):
    """`value` is empty exactly when `comparator` is `missing`."""
    def check(r):
        empty = r["value"] is None or (isinstance(r["value"], float) and math.isnan(r["value"]))
        if empty and r["comparator"] != "missing":
            return "value is empty but comparator is not `missing`"
        if not empty and r["comparator"] == "missing":
            return f"comparator is `missing` but value is {r['value']}"
        if not empty and not math.isfinite(r["value"]):
            return f"value {r['value']} is not a finite number"
        return ""
    return _messages(frame, check)


def value_in_unit_range(frame, ctx):
    """`value` lies within its unit's `minimum` and `maximum` (no negative count, no percent of 10 000)."""
    out = pd.Series("", index=frame.index, dtype=object)
    if not len(ctx.units):
        return out
    bounds = ctx.units.set_index("unit")
    units = frame["unit"].astype(object)
    lo, hi = units.map(bounds["minimum"]), units.map(bounds["maximum"])
    outside = frame["value"].notna() & ((lo.notna() & (frame["value"] < lo)) | (hi.notna() & (frame["value"] > hi)))
    for index in frame.index[outside.to_numpy(dtype=bool)]:
        value, unit, a, b = frame.at[index, "value"], units[index], lo[index], hi[index]
        out[index] = f"{value:g} {unit} is outside [{'' if pd.isna(a) else f'{a:g}'}, {'' if pd.isna(b) else f'{b:g}'}]"
    return out


def as_reported_matches_value(frame, ctx):
    """`as_reported` reads back to `value` in `unit` (47亿元 ⇔ 4700 CNY_million) and its wording
    agrees with `comparator` (+, 超过 ⇒ `>`; ~, 约 ⇒ `≈`) and with the sign of `value`."""
    def check(r):
        if r["comparator"] == "missing":
            return ""
        if r["comparator"] == "range":
            ends = printed_range(str(r["as_reported"]), str(r["unit"]))
            if ends is None:
                return f"comparator is `range` but no range can be read in {r['as_reported']!r}"
            if not all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(ends, (r["value"], r["value_high"]), strict=False)):
                return (f"{r['as_reported']!r} reads as {ends[0]:g} to {ends[1]:g} {r['unit']}, "
                        f"but value and value_high are {r['value']:g} and {r['value_high']:g}")
            return ""
        expected = expected_value(str(r["as_reported"]), str(r["unit"]))
        if expected is None:
            return f"no number can be read in {r['as_reported']!r}"
        magnitude, half = expected
        value = abs(r["value"])
        if not math.isclose(value, magnitude, rel_tol=1e-9, abs_tol=1e-9):
            return f"{r['as_reported']!r} reads as {magnitude:g} {r['unit']}, but value is {r['value']:g}"
        p = parse_printed(str(r["as_reported"]))
        if p.bound and p.bound != r["comparator"]:
            return f"{r['as_reported']!r} is worded as `{p.bound}` but comparator is `{r['comparator']}`"
        if p.sign < 0 and r["value"] > 0:
            return f"{r['as_reported']!r} is printed as a fall but value {r['value']:g} is positive"
        if p.sign > 0 and r["value"] < 0:
            return f"{r['as_reported']!r} is printed as a rise but value {r['value']:g} is negative"
        return ""
    return _messages(frame, check)


def as_reported_in_quote(frame, ctx):
    """`as_reported` appears inside `quote`."""
    return _messages(
        frame, lambda r: "" if fold(str(r["as_reported"])) in fold(str(r["quote"])) else f"{r['as_reported']!r} is not in the quote"
    )


def _in_source(column):
    def check(frame, ctx):
        found: dict[tuple, bool] = {}  # a quote cited by several rows is searched for once

        def one(r):
            text = ctx.texts.get(r["source_id"])
            key = (r["source_id"], r[column])
            if key not in found:
                found[key] = text is None or fold(str(r[column])) in text
            return "" if found[key] else f"{column} not found in source {r['source_id']}: {str(r[column])[:40]!r}"
        return _messages(frame, one)
    return check


quote_in_source = _in_source("quote")
quote_in_source.__doc__ = "`quote` is found in the text of its source (tags removed, whitespace folded)."
excerpt_in_source = _in_source("excerpt")
excerpt_in_source.__doc__ = "`excerpt` is found in the text of its source (tags removed, whitespace folded)."


def unit_is_metric_unit(frame, ctx):
    """`unit` is the unit of the row's metric in `metrics`."""
    def check(r):
        m = ctx.metric(r["metric"])
        return "" if not m or m["unit"] == r["unit"] else f"metric {r['metric']} is in {m['unit']}, not {r['unit']}"
    return _messages(frame, check)


def period_fits_metric(frame, ctx):
    """A stock (a level at a date) has an as-of date or month; a flow has a period, not a day."""
    kinds = dict(zip(ctx.periods["period"], ctx.periods["kind"], strict=False))

    def check(r):
        m, kind = ctx.metric(r["metric"]), kinds.get(r["period"])
        if not m or kind is None:
            return ""
        if m["kind"] == "stock" and kind not in ("date", "month"):
            return f"{r['metric']} is a stock: give an as-of date, not the {kind} {r['period']}"
        if m["kind"] == "flow" and kind == "date":
            return f"{r['metric']} is a flow: give a period code, not the date {r['period']}"
        return ""
    return _messages(frame, check)


def value_high_only_for_ranges(frame, ctx):
    """`value_high` is set exactly when `comparator` is `range`, and is not below `value`."""
    def check(r):
        high = r["value_high"]
        empty = high is None or (isinstance(high, float) and math.isnan(high))
        if r["comparator"] == "range":
            if empty:
                return "comparator is `range` but value_high is empty: give the high end of the range"
            if not pd.isna(r["value"]) and high < r["value"]:
                return f"value_high {high:g} is below value {r['value']:g}: value is the low end of the range"
        elif not empty:
            return f"value_high is {high:g} but comparator is `{r['comparator']}`: value_high is only for a `range`"
        return ""
    return _messages(frame, check)


def inferred_period_is_ambiguous(frame, ctx):
    """A period read from context (`period_basis` = `inferred`) makes the fact `ambiguous`."""
    return _messages(frame, lambda r: "" if r["period_basis"] != "inferred" or r["ambiguous"] else
                     "period_basis is `inferred`, so ambiguous must be 1 and the note must say how the period was read")


def publication_period_is_published(frame, ctx):
    """A fact dated by its source's publication (`period_basis` = `publication`) carries that month or day."""
    published = dict(zip(ctx.sources["source_id"], ctx.sources["published"], strict=False)) if len(ctx.sources) else {}

    def check(r):
        day = published.get(r["source_id"])
        if r["period_basis"] != "publication" or day is None or r["period"] in (day, day[:7]):
            return ""
        return f"period_basis is `publication` but period {r['period']} is not the publication date {day} of {r['source_id']}"
    return _messages(frame, check)


# --- rules across rows -------------------------------------------------------------------


def _subject_columns(ctx: Context) -> list[str]:
    if ctx.table is None:
        raise ValueError("a rule across rows needs Context.table, the table whose rows it compares")
    return ctx.table.subject_columns


def _levels(frame, ctx, subject: tuple, metric: str, period: str) -> list[tuple[float, float]]:
    return _per_frame(frame, "levels", lambda f: _level_index(f, _subject_columns(ctx))).get((subject, metric, period), [])


def _level_index(frame, cols: list[str]) -> dict[tuple, list[tuple[float, float]]]:
    """Every stated level of the frame by (subject, metric, period): built once, looked up per row."""
    index: dict[tuple, list[tuple[float, float]]] = {}
    for r in _per_frame(frame, "records", records):
        if r["comparator"] != "missing":
            index.setdefault((tuple(r[c] for c in cols), r["metric"], r["period"]), []).append(_interval_of(r, absolute=True))
    return index


def _interval_of(r, absolute: bool = False) -> tuple[float, float]:
    """Every true figure a fact row may stand for: its range, or its printed figure widened by rounding."""
    if r["comparator"] == "range":
        return r["value"], r["value_high"]
    half = (expected_value(str(r["as_reported"]), str(r["unit"])) or (0, 0))[1]
    return interval(abs(r["value"]) if absolute else r["value"], r["comparator"], half)


def _level_periods(ctx, level: str, period: str) -> tuple[str, str] | None:
    """The two periods a growth or change connects; a stock is read at their end dates,
    so the growth of cities served in FY2022 is checked against the counts at 2022-12-31 and 2021-12-31."""
    prior = ctx.prior(period)
    if prior is None:
        return None
    if ctx.metric(level).get("kind") == "stock" and ctx.end_date(period) and ctx.end_date(prior):
        return ctx.end_date(period), ctx.end_date(prior)
    return period, prior


def _level_pair(frame, ctx, subject: tuple, level: str, period: str):
    periods = _level_periods(ctx, level, period)
    if periods is None:
        return [], []
    return tuple(_levels(frame, ctx, subject, level, p) for p in periods)


def _between(ctx, level: str, period: str) -> str:
    periods = _level_periods(ctx, level, period)
    return f"{level} in {periods[0]} and {periods[1]}" if periods else level


def _related(frame, ctx, relation: str, compute, describe):
    """Shared body of the growth, change and ratio rules."""
    cols = _subject_columns(ctx)

    def check(r):
        m = ctx.metric(r["metric"])
        target = m.get(relation)
        if not isinstance(target, str) or not target or r["comparator"] == "missing":
            return ""
        subject = tuple(r[c] for c in cols)
        pairs = compute(target, r, subject)
        if not pairs:
            return ""
        half = (expected_value(str(r["as_reported"]), str(r["unit"])) or (0, 0))[1]
        lo, hi = _interval_of(r)
        tolerance = max(half, 1e-9)
        if any(a - tolerance <= hi and lo <= b + tolerance for a, b in pairs):
            return ""
        a, b = pairs[0]
        return f"{r['metric']} {r['value']:g} disagrees with {describe(target, r)}, which give {a:.4g} to {b:.4g}"

    return _messages(frame, check)


def growth_matches_levels(frame, ctx):
    """A growth rate (`metrics.growth_of`) agrees with the two levels it connects where both are stated."""
    def compute(level, r, subject):
        now, before = _level_pair(frame, ctx, subject, level, r["period"])
        return [((a0 / b1 - 1) * 100, (a1 / b0 - 1) * 100) for a0, a1 in now for b0, b1 in before if b0 > 0]
    return _related(frame, ctx, "growth_of", compute, lambda t, r: _between(ctx, t, r["period"]))


def change_matches_levels(frame, ctx):
    """An absolute change (`metrics.change_of`) agrees with the two levels it connects where both are stated."""
    def compute(level, r, subject):
        now, before = _level_pair(frame, ctx, subject, level, r["period"])
        return [(a0 - b1, a1 - b0) for a0, a1 in now for b0, b1 in before]
    return _related(frame, ctx, "change_of", compute, lambda t, r: _between(ctx, t, r["period"]))


def ratio_matches_parts(frame, ctx):
    """A ratio (`metrics.ratio_of`, numerator/denominator) agrees with its parts where both are stated."""
    def compute(parts, r, subject):
        num, den = parts.split("/")
        n, d = _levels(frame, ctx, subject, num, r["period"]), _levels(frame, ctx, subject, den, r["period"])
        return [(n0 / d1 * 100, n1 / d0 * 100) for n0, n1 in n for d0, d1 in d if d0 > 0]
    return _related(frame, ctx, "ratio_of", compute, lambda t, r: f"{t.replace('/', ' / ')} in {r['period']}")


def shares_sum_to_100(frame, ctx):
    """Shares of a total (`metrics.share_of_total`) of one period and source add up to 100 ± 2
    when every subject is present, and to no more than 102 when some are missing."""
    shares = set(ctx.metrics.loc[ctx.metrics["share_of_total"].astype(bool), "metric"])
    cols = _subject_columns(ctx)
    rows = frame[frame["metric"].isin(shares) & (frame["comparator"] != "missing")]
    if rows.empty:
        return pd.Series("", index=frame.index, dtype=object)
    n_subjects = rows[cols].drop_duplicates().shape[0]
    sums = rows.groupby(["metric", "period", "source_id"], observed=True)["value"].agg(["sum", "count"])

    def check(r):
        if r["metric"] not in shares or r["comparator"] == "missing":
            return ""
        total, count = sums.loc[(r["metric"], r["period"], r["source_id"])]
        if count >= n_subjects and abs(total - 100) > 2:
            return f"{r['metric']} of {r['period']} in {r['source_id']} sums to {total:g}, not 100 ± 2"
        if count < n_subjects and total > 102:
            return f"{r['metric']} of {r['period']} in {r['source_id']} sums to {total:g} with parts missing"
        return ""
    return _messages(frame, check)


# --- provenance, sign and dates (issue 10) -------------------------------------------------

QUOTE_OCCURS = "quote occurs"  # words of a note that explain a quote found more than once in its source
# How a note or a metric marks a figure dated after its source: a target or a forecast (预计年底).
FORECAST = re.compile(r"\b(?:target|forecast)s?\b", re.IGNORECASE)
_ACCOUNTING_PARENS = re.compile(r"^\(\s*\d[\d,]*(?:\.\d+)?\s*%?\s*\)$")  # (14.3%): a fall, as accounts print it


def _visible(column):
    def check(frame, ctx):
        from .sources import markup

        def one(r):
            found = markup(str(r[column]))
            return "" if found is None else (f"{column} holds markup or an entity ({found[:40]!r}): "
                                             "write the text a reader sees, as the source shows it")
        return _messages(frame, one)
    return check


quote_is_visible_text = _visible("quote")
quote_is_visible_text.__doc__ = "`quote` is visible text: no tag, comment or entity (the check compares visible text)."
excerpt_is_visible_text = _visible("excerpt")
excerpt_is_visible_text.__doc__ = "`excerpt` is visible text: no tag, comment or entity."


def quote_says_more(frame, ctx):
    """`quote` holds more than `as_reported`: the words around a figure are what tie it to its meaning."""
    def check(r):
        quote, printed = fold(str(r["quote"])), fold(str(r["as_reported"]))
        if quote == printed:
            return f"the quote is only the figure {printed!r}: quote the words that say what it measures"
        return ""
    return _messages(frame, check)


def _occurrences(text: str, needle: str) -> int:
    count, start = 0, text.find(needle)
    while start >= 0:
        count, start = count + 1, text.find(needle, start + 1)
    return count


def quote_is_unique(frame, ctx):
    """`quote` occurs once in its source, unless `note` says why it occurs more often (`quote occurs`)."""
    def check(r):
        text = ctx.texts.get(r["source_id"])
        if text is None or QUOTE_OCCURS in str(r["note"] or "").lower():
            return ""
        n = _occurrences(text, fold(str(r["quote"])))
        if n > 1:
            return (f"the quote occurs {n} times in {r['source_id']}: lengthen it until it is unambiguous, or say in "
                    f"the note which occurrence it is (`{QUOTE_OCCURS} ...`)")
        return ""
    return _messages(frame, check)


def value_fits_sign(frame, ctx):
    """`value` lies in its metric's sign domain (`metrics.sign`): a `nonnegative` metric is never below zero; a
    `signed` one (growth, change) printed as a fall, in parentheses or with a minus sign, is negative."""
    def check(r):
        sign = ctx.metric(r["metric"]).get("sign")
        values = [v for v in (r["value"], r.get("value_high")) if v is not None and not pd.isna(v)]
        if sign == "nonnegative" and any(v < 0 for v in values):
            return (f"{r['metric']} is `nonnegative` (metrics.sign) but value is {min(values):g}: a loss or a fall is "
                    "a positive amount of a metric named for it")
        printed = str(r["as_reported"]).strip()
        falls = _ACCOUNTING_PARENS.match(printed) or re.match(r"^[-−↓]", printed)
        if sign == "signed" and falls and values and values[0] > 0:
            return (f"{r['as_reported']!r} is printed as a fall, so this `signed` {r['metric']} is negative, "
                    f"not {values[0]:g}")
        return ""
    return _messages(frame, check)


@lru_cache(maxsize=1024)  # a handful of sources, read for every row
def _last_day(published: str) -> pd.Timestamp | None:
    """The last day a publication date or month stands for (2023-08 → 2023-08-31)."""
    try:
        day = pd.Timestamp(published)
    except ValueError:
        return None
    return day + pd.offsets.MonthEnd(0) if len(published) == 7 else day


def dated_after_source(frame, ctx):
    """A fact's period ends no later than its source was published (or is the month it was published in),
    unless the note or the metric marks it as a target or forecast (the words `target` or `forecast`)."""
    periods = ({p: (k, s, e) for p, k, s, e in zip(*(ctx.periods[c] for c in ("period", "kind", "start", "end")), strict=False)}
               if len(ctx.periods) else {})
    published = dict(zip(ctx.sources["source_id"], ctx.sources["published"], strict=False)) if len(ctx.sources) else {}

    def check(r):
        (kind, start, end), day = periods.get(r["period"], (None, None, None)), published.get(r["source_id"])
        last = _last_day(str(day)) if day else None
        if end is None or pd.isna(end) or last is None or pd.Timestamp(end) <= last:
            return ""
        if kind == "month" and pd.Timestamp(start) <= pd.Timestamp(str(day)):
            return ""  # a stock dated by the month its source appeared in
        metric = ctx.metric(r.get("metric", "")) if "metric" in r else {}
        marks = " ".join(str(x) for x in (r["note"], r.get("metric"), metric.get("label_en")) if isinstance(x, str))
        if FORECAST.search(marks.replace("_", " ")):
            return ""
        return (f"period {r['period']} ends {pd.Timestamp(end):%Y-%m-%d}, after {r['source_id']} was published ({day}): "
                "a figure dated after its source is a target or forecast, and its note must say so (`target`, `forecast`)")
    return _messages(frame, check)


# --- rules of lookup tables ------------------------------------------------------------------

_YEAR_PART = {"FY": ((1, 1), (12, 31)), "1H": ((1, 1), (6, 30)), "2H": ((7, 1), (12, 31)),
              "1Q": ((1, 1), (3, 31)), "2Q": ((4, 1), (6, 30)), "3Q": ((7, 1), (9, 30)), "4Q": ((10, 1), (12, 31))}
_KINDS = {"FY": "fiscal_year", "1H": "half_year", "2H": "half_year"}


def period_dates(code: str) -> tuple[str, pd.Timestamp, pd.Timestamp] | None:
    """(kind, first day, last day) a period code stands for, or None when it names no real period.

    >>> period_dates("FY2019")[1:]
    (Timestamp('2019-01-01 00:00:00'), Timestamp('2019-12-31 00:00:00'))
    >>> period_dates("2022-02-30") is None
    True
    """
    if "/" in code:
        a, b = (period_dates(part) for part in code.split("/", 1))
        return ("span", a[1], b[2]) if a and b and a[1] <= b[2] else None
    m = re.fullmatch(r"(FY|[12]H|[1-4]Q)(\d{4})", code, re.ASCII)
    if m:
        year = int(m.group(2))
        (m1, d1), (m2, d2) = _YEAR_PART[m.group(1)]
        return _KINDS.get(m.group(1), "quarter"), pd.Timestamp(year, m1, d1), pd.Timestamp(year, m2, d2)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", code, re.ASCII):
            day = pd.Timestamp(code)
            return "date", day, day
        if re.fullmatch(r"\d{4}-\d{2}", code, re.ASCII):
            first = pd.Timestamp(code + "-01")
            return "month", first, first + pd.offsets.MonthEnd(0)
    except ValueError:
        return None
    return None


def period_matches_dates(frame, ctx):
    """A period's `kind`, `start` and `end` are what its code says (FY2019 is 2019-01-01 to 2019-12-31), and start ≤ end."""
    def check(r):
        if pd.notna(r["start"]) and pd.notna(r["end"]) and r["start"] > r["end"]:
            return f"start {r['start']:%Y-%m-%d} is after end {r['end']:%Y-%m-%d}"
        found = period_dates(str(r["period"]))
        if found is None:
            return (f"{r['period']!r} names no real period (a day or month that does not exist, or a span that "
                    "ends before it starts)")
        kind, start, end = found
        if kind != r["kind"] or start != r["start"] or end != r["end"]:
            return (f"{r['period']} is the {kind} {start:%Y-%m-%d} to {end:%Y-%m-%d}, but the row says the "
                    f"{r['kind']} {r['start']:%Y-%m-%d} to {r['end']:%Y-%m-%d}")
        return ""
    return _messages(frame, check)


def published_is_a_date(frame, ctx):
    """`published` is a real day or month (2022-02-30 is not)."""
    return _messages(frame, lambda r: "" if _last_day(str(r["published"])) is not None else
                     f"{r['published']!r} is not a real date")


# Every rule by name, with the column its problems name. A schema declares the rules of its table
# (``rules``); the meta-schema says which rules each table must keep. Without the source texts
# the rules that read them pass every row, and the build says the checks were skipped.
RULES: dict[str, tuple[str, Rule]] = {
    "value_empty_when_missing": ("value", value_empty_when_missing),
    "value_in_unit_range": ("value", value_in_unit_range),
    "as_reported_matches_value": ("as_reported", as_reported_matches_value),
    "as_reported_in_quote": ("as_reported", as_reported_in_quote),
    "value_high_only_for_ranges": ("value_high", value_high_only_for_ranges),
    "inferred_period_is_ambiguous": ("period_basis", inferred_period_is_ambiguous),
    "publication_period_is_published": ("period", publication_period_is_published),
    "quote_in_source": ("quote", quote_in_source),
    "quote_is_visible_text": ("quote", quote_is_visible_text),
    "quote_says_more": ("quote", quote_says_more),
    "quote_is_unique": ("quote", quote_is_unique),
    "dated_after_source": ("period", dated_after_source),
    "unit_is_metric_unit": ("unit", unit_is_metric_unit),
    "period_fits_metric": ("period", period_fits_metric),
    "growth_matches_levels": ("value", growth_matches_levels),
    "change_matches_levels": ("value", change_matches_levels),
    "ratio_matches_parts": ("value", ratio_matches_parts),
    "shares_sum_to_100": ("value", shares_sum_to_100),
    "value_fits_sign": ("value", value_fits_sign),
    "excerpt_in_source": ("excerpt", excerpt_in_source),
    "excerpt_is_visible_text": ("excerpt", excerpt_is_visible_text),
    "period_matches_dates": ("period", period_matches_dates),
    "published_is_a_date": ("published", published_is_a_date),
    **{f"{c}_en_keeps_numbers": (f"{c}_en", keeps_numbers(c)) for c in ("quote", "relationship", "caption", "claim")},
}
