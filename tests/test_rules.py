"""Reading printed figures: examples taken from the sources, values worked out by hand."""

import pytest

from sensetime_data.rules import expected_value, interval, parse_printed


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
