"""The ledger: every numeric mention of the five sources is a fact row or an exclusion."""

import re

import pytest
from helpers import delete, run

from sensetime_data.ledger import mentions
from sensetime_data.sources import fold

SCORE = re.compile(r"^(\d+(\.\d+)?%?|-|未上榜)$")


@pytest.mark.parametrize(
    "text, found",
    [
        ("交付四款AI传感器，支持20个千亿参数大模型", ["四款", "20", "千亿"]),
        ("覆盖数亿用户，半年内完成两次大版本升级", ["数亿", "两次"]),
        ("收入47亿元，同比 -19%，2.7万+ GPU", ["47亿", "19", "2.7万"]),
        ("排名全球第二，全球前三的文生图模型，动力缺陷零漏检", ["第二", "前三", "零"]),
        ("万物互联，赋能百业，第三方插件，第一份年报", []),
    ],
)
def test_numeric_mentions_are_found_in_chinese_and_arabic(text, found):
    assert [m.text for m in mentions(text)] == found


def test_every_source_is_fully_accounted_for(checked, seeds):
    assert len(checked.report.ledger) == 5
    for source in checked.report.ledger:
        assert source.total > 0
        assert source.percent == 100.0, "\n".join([str(source)] + [m.text for m in source.missing])


def test_validate_prints_coverage_of_each_source(cli_validate, seeds):
    code, out = cli_validate
    lines = [ln for ln in out.splitlines() if "coverage" in ln]
    assert code == 0
    assert len(lines) == 5
    assert all("coverage 100.0%" in ln for ln in lines), lines


def test_a_number_in_a_quote_counts_only_where_a_row_prints_it(broken_copy, seeds, capsys):
    # 按年同比增长36.4%至47亿元 stays the quote of the revenue row; without the growth row, 36.4% is open
    delete(broken_copy, "financials", {"metric": "revenue_growth", "period": "FY2021", "source_id": "zxjw_fy2021"})
    code, out = run(capsys, "--root", str(broken_copy), "ledger", "--source", "zxjw_fy2021")
    assert code == 1
    assert "zxjw_fy2021: coverage " in out and "coverage 100.0%" not in out
    open_lines = [ln for ln in out.splitlines() if ln.startswith("  zxjw_fy2021 @")]
    assert len(open_lines) == 1 and "同比增长[36.4]%至47亿元" in open_lines[0], out


def test_ledger_lists_a_mention_whose_exclusion_was_removed(broken_copy, seeds, capsys):
    delete(broken_copy, "exclusions", {"source_id": "shzqb_aidc", "excerpt": "1月21日晚间"})
    code, out = run(capsys, "--root", str(broken_copy), "ledger", "--source", "shzqb_aidc")
    assert code == 1
    open_lines = [ln for ln in out.splitlines() if ln.startswith("  shzqb_aidc @")]
    assert [ln.split(": ", 1)[1].split()[0] for ln in open_lines] == ["1", "21"], out
    assert "[1]月21日晚间" in open_lines[0]
    assert out.splitlines()[-1].startswith("2 numeric mention(s) not accounted for")


def test_ledger_on_complete_sources_lists_nothing(ledger_pages):
    code, out, _ = ledger_pages  # `ledger --html DIR`: the pages' line comes last
    assert code == 0
    assert not [ln for ln in out.splitlines() if ln.startswith("  ")]
    assert out.splitlines()[-2].startswith("0 numeric mention(s)")
    assert out.splitlines()[-1].startswith("wrote ")


def test_ledger_names_the_valid_sources_for_an_unknown_one(root, seeds, capsys):
    code, out = run(capsys, "--root", str(root), "ledger", "--source", "reuters")
    assert code == 1
    assert "unknown source 'reuters'" in out and "deck_1h2023" in out


def test_every_cell_of_the_interim_decks_benchmark_tables_is_a_row(checked, seeds):
    """Read the deck's tab-separated tables straight from the raw file; each score cell must be a row
    of model_benchmarks with that printed value, the model and benchmark of its row and column."""
    sources = checked.frames["sources"].set_index("source_id")
    raw = (seeds / sources.loc["deck_1h2023", "file"]).read_text("utf-8").splitlines()
    mb = checked.frames["model_benchmarks"]
    mb = mb[mb["source_id"] == "deck_1h2023"]
    names = {
        **dict(zip(checked.frames["models"]["model_id"], checked.frames["models"]["name"], strict=False)),
        **dict(zip(checked.frames["benchmarks"]["benchmark_id"], checked.frames["benchmarks"]["name"], strict=False)),
    }
    rows = {(fold(q), r, names[m], names[b]) for q, r, m, b in mb[["quote", "as_reported", "model_id", "benchmark_id"]].itertuples(index=False)}

    def label(cell):
        return re.sub(r"^- |\s*[¹²³]$", "", cell.strip())

    cells, header = 0, None
    for line in raw:
        parts = line.split("\t")
        if len(parts) < 3:
            header = None
            continue
        if not any(SCORE.match(p.strip()) for p in parts):
            header = parts
            continue
        first = next(i for i, p in enumerate(parts) if SCORE.match(p.strip()))
        for i in range(first, len(parts)):
            pair = {label(parts[first - 1]), label(header[i])}
            hits = [r for r in rows if r[1] == parts[i].strip() and r[0] in fold(line) and {r[2], r[3]} == pair]
            assert len(hits) == 1, f"no single row for cell {parts[i]!r} of {line!r} under {header[i]!r}"
            cells += 1
    # 20 benchmarks × 5 models, 5 × 4 (InternLM-7B), 4 × 4 (API errors), 6 models × 5: counted on the slides
    assert cells == len(mb) == 166
