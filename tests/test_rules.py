"""Reading printed figures, the visible text of a source and period codes: examples taken from the
sources, values worked out by hand."""

import pandas as pd
import pytest

from sensetime_data.rules import expected_value, interval, parse_printed, period_dates
from sensetime_data.sources import fold, markup


@pytest.mark.parametrize(
    "printed, unit, value",
    [
        ("47亿元", "CNY_million", 4700),
        ("214.5亿元", "CNY_million", 21450),
        ("~99亿人民币", "CNY_million", 9900),
        ("36.4%", "percent", 36.4),
        ("(同比 -19%)", "percent", 19),
        ("2.7万+", "count", 27000),
        ("4.5亿", "count", 450_000_000),
        ("34,000多个", "count", 34000),
        ("1.17 exaflops", "PFLOPS", 1170),
        ("5.0+ exaFlops", "PFLOPS", 5000),
        ("3740 Petaflops", "PFLOPS", 3740),
        ("5,000+P", "PFLOPS", 5000),
        ("13倍", "times", 13),
        ("+5.7x", "times", 5.7),
        ("四款", "count", 4),
        ("千亿参数", "parameters", 100_000_000_000),
        ("320亿参数", "parameters", 32_000_000_000),
        ("10万亿+", "tokens", 10_000_000_000_000),
        ("104B", "parameters", 104_000_000_000),
        ("1,500万+ m²", "sqm", 15_000_000),
        ("NO.1", "rank", 1),
    ],
)
def test_printed_figure_reads_to_its_canonical_value(printed, unit, value):
    magnitude, _ = expected_value(printed, unit)
    assert magnitude == pytest.approx(value)


@pytest.mark.parametrize(
    "printed, bound, sign",
    [
        ("2.7万+", ">", 0),
        ("超过30家", ">", 0),
        ("34000多个", ">", 0),
        ("~30,000", "≈", 0),
        ("约10%", "≈", 0),
        ("0.5%以内", "<", 0),
        ("↓65%", "", -1),
        ("-25%", "", -1),
        ("+130%", "", 1),
        ("(14.3%)", "", 0),
        ("47亿元", "", 0),
    ],
)
def test_wording_gives_comparator_and_sign(printed, bound, sign):
    p = parse_printed(printed)
    assert (p.bound, p.sign) == (bound, sign)


def test_half_step_follows_printed_precision():
    # 38亿元 stands for 37.5亿 to 38.5亿: half a step is 0.5亿 = 50 CNY_million
    assert expected_value("38 亿元", "CNY_million")[1] == pytest.approx(50)
    assert expected_value("36.4%", "percent")[1] == pytest.approx(0.05)


def test_text_without_a_number_reads_as_none():
    assert parse_printed("未上榜") is None


def test_a_bound_reaches_one_unit_of_its_last_significant_digit():
    # 34000多 (more than 34000) stands for 34000 to 35000; 6.7万+ for 67000 to 68000
    assert interval(34000, ">", 0.5) == (34000, 35000)
    assert interval(67000, ">", 500) == (67000, 68000)
    assert interval(15, "<", 0.5) == (14, 15)


# --- the visible text quotes are compared as (../shared/DESIGN.md, Provenance) ---


@pytest.mark.parametrize(
    "raw, visible",
    [
        ("<p>一年。</p><p>如果说</p>", "一年。 如果说"),  # block tags are a boundary
        ("让AI<strong>无所不及</strong>", "让AI无所不及"),  # inline tags vanish
        ("第一<br>第二<br/>第三", "第一 第二 第三"),
        ("<td>38</td><td>47</td>", "38 47"),
        ("38&nbsp;亿元 R&amp;D &lt;p&gt;", "38 亿元 R&D <p>"),  # entities decoded, then whitespace folded
        ("<!-- EM_StockImg_Start -->收入<a href='x'>47亿元</a>", "收入47亿元"),  # comments and links
        ("<script>var x = 38;</script>收入", "收入"),  # never shown
        ("收入   47亿元\n\n(同比 -19%)", "收入 47亿元 (同比 -19%)"),
        ("<1% of <b>revenue</b>", "<1% of revenue"),  # a lone < is text
    ],
)
def test_fold_gives_the_visible_text(raw, visible):
    assert fold(raw) == visible


@pytest.mark.parametrize(
    "text, found",
    [
        ("<img src=x onerror=alert(1)>38 亿元", "<img src=x onerror=alert(1)>"),
        ("38&nbsp;亿元", "&nbsp;"),
        ("38&#20159;元", "&#20159;"),
        ("38 亿元 <!-- x -->", "<!-- x -->"),
        ("R&D 30.6亿元", None),
        ("<1%", None),
        ("增长  36.4%", None),  # whitespace alone is not markup
    ],
)
def test_markup_finds_tags_and_entities_in_a_quote(text, found):
    assert markup(text) == found


@pytest.mark.parametrize(
    "code, kind, start, end",
    [
        ("FY2019", "fiscal_year", "2019-01-01", "2019-12-31"),
        ("1H2023", "half_year", "2023-01-01", "2023-06-30"),
        ("2H2022", "half_year", "2022-07-01", "2022-12-31"),
        ("2Q2023", "quarter", "2023-04-01", "2023-06-30"),
        ("2024-02", "month", "2024-02-01", "2024-02-29"),
        ("2023-03-28", "date", "2023-03-28", "2023-03-28"),
        ("FY2020/FY2025", "span", "2020-01-01", "2025-12-31"),
        ("2023-03-28/2023-08-28", "span", "2023-03-28", "2023-08-28"),
    ],
)
def test_a_period_code_gives_its_kind_and_dates(code, kind, start, end):
    assert period_dates(code) == (kind, pd.Timestamp(start), pd.Timestamp(end))


@pytest.mark.parametrize("code", ["2022-02-30", "2023-13", "2023-00-10", "FY2025/FY2020", "FY22", "3H2023"])
def test_a_code_for_no_real_period_gives_none(code):
    assert period_dates(code) is None
