"""A corpus of bad inputs: each is rejected by `validate` and by `build` with one line naming
the file, the line, the column and the rule, never a traceback, and `build/` stays byte-identical.

Each case breaks a copy of the package one way, as a curator's slip or a tool's mangling would.
"""

import json

import pytest

from conftest import tree_digest
from helpers import CITY_SHARE_1H2023, REVENUE_FY2022, duplicate, edit, run

CARDS = {"scope": "training", "metric": "cards_in_one_job"}


def fin(**changes):
    return lambda root: edit(root, "financials", REVENUE_FY2022, **changes)


def text_edit(path, change):
    """Apply ``change`` to the text of a file; returns a function of the package root."""
    def breaker(root):
        file = root / path
        file.write_bytes(change(file.read_bytes()))
        return None
    return breaker


def schema_edit(name, change):
    def breaker(root):
        path = root / "schemas" / f"{name}.json"
        schema = json.loads(path.read_text("utf-8"))
        change(schema)
        path.write_text(json.dumps(schema, ensure_ascii=False, indent=2), "utf-8")
    return breaker


def set_type(field, kind):
    def change(schema):
        next(f for f in schema["fields"] if f["name"] == field)["type"] = kind
    return change


# name: (breaker(root) -> line or None, file, line (None: the breaker's), column, rule)
CASES = {
    "wrong type": (fin(value="3800亿"), "tables/financials.csv", None, "value", "type-error"),
    "thousands separator in a number": (fin(value="3,800"), "tables/financials.csv", None, "value", "type-error"),
    "empty required field": (fin(quote=""), "tables/financials.csv", None, "quote", "constraint-error"),
    "duplicate primary key": (lambda r: duplicate(r, "financials", REVENUE_FY2022), "tables/financials.csv", None,
                              "metric+period+source_id", "primary-key"),
    "dangling foreign key": (fin(source_id="reuters_fy2022"), "tables/financials.csv", None, "source_id", "foreign_key"),
    "unknown unit": (fin(unit="USD_million"), "tables/financials.csv", None, "unit", "foreign_key"),
    "unknown period": (fin(period="FY2099"), "tables/financials.csv", None, "period", "foreign_key"),
    "unknown comparator": (fin(comparator="≥"), "tables/financials.csv", None, "comparator", "constraint-error"),
    "unknown segment": (lambda r: edit(r, "segment_results", CITY_SHARE_1H2023, segment_id="smart_home"),
                        "tables/segment_results.csv", None, "segment_id", "foreign_key"),
    "unknown metric": (fin(metric="ebitda"), "tables/financials.csv", None, "metric", "foreign_key"),
    "bad boolean": (fin(ambiguous="yes"), "tables/financials.csv", None, "ambiguous", "type-error"),
    "bad date": (lambda r: edit(r, "periods", {"period": "FY2022"}, end="2022/12/31"), "tables/periods.csv", None,
                 "end", "type-error"),
    "exclusion reason not in the list": (
        lambda r: edit(r, "exclusions", {"source_id": "shzqb_aidc", "excerpt": "1月21日晚间"}, reason="boring"),
        "tables/exclusions.csv", None, "reason", "constraint-error"),
    "value contradicts as_reported": (fin(value="3600"), "tables/financials.csv", None, "as_reported",
                                      "as_reported_matches_value"),
    "as_reported not in the quote": (fin(as_reported="39 亿元", value="3900"), "tables/financials.csv", None,
                                     "as_reported", "as_reported_in_quote"),
    "quote not in its source": (fin(quote="38 亿元 集团营业收入翻倍"), "tables/financials.csv", None, "quote",
                                "quote_in_source"),
    "shares not summing to 100": (lambda r: edit(r, "segment_results", CITY_SHARE_1H2023, value="33", as_reported="33%"),
                                  "tables/segment_results.csv", None, "value", "shares_sum_to_100"),
    "value empty but not missing": (fin(value=""), "tables/financials.csv", None, "value", "value_empty_when_missing"),
    "a stock under a flow period": (fin(metric="total_cash_reserves"), "tables/financials.csv", None, "period",
                                    "period_fits_metric"),
    "a negative count": (lambda r: edit(r, "compute_capacity", CARDS, value="-4000"), "tables/compute_capacity.csv",
                         None, "value", "value_in_unit_range"),
    "a percent of 10 000": (lambda r: edit(r, "segment_results", CITY_SHARE_1H2023, value="10000", as_reported="10000%",
                                           quote="10000%"), "tables/segment_results.csv", None, "value",
                            "value_in_unit_range"),
    "NaN": (fin(value="NaN"), "tables/financials.csv", None, "value", "finite"),
    "inf": (fin(value="inf"), "tables/financials.csv", None, "value", "finite"),
    "a number too large for SQLite": (fin(value="1e400"), "tables/financials.csv", None, "value", "finite"),
    "a spreadsheet formula": (fin(note='=HYPERLINK("http://example.com","x")'), "tables/financials.csv", None, "note",
                              "formula"),
    "a command for a spreadsheet": (fin(note="+cmd|' /C calc'!A0"), "tables/financials.csv", None, "note", "formula"),
    "header typo": (text_edit("tables/financials.csv", lambda b: b.replace(b"as_reported", b"as_reportd", 1)),
                    "tables/financials.csv", 1, "as_reported", "incorrect-label"),
    "missing column": (text_edit("tables/units.csv", lambda b: b"\n".join(
        line.rsplit(b",", 1)[0] if line else line for line in b.split(b"\n"))),
        "tables/units.csv", 1, "maximum", "missing-label"),
    "extra column": (text_edit("tables/segments.csv", lambda b: b"\n".join(
        line + b",x" if line else line for line in b.split(b"\n"))), "tables/segments.csv", 1, "x", "extra-label"),
    "a row with too few cells": (text_edit("tables/segments.csv", lambda b: b.rstrip(b"\n") + b"\nsmart_x,Smart X\n"),
                                 "tables/segments.csv", 6, "name_zh", "missing-cell"),
    "GB18030 encoding": (text_edit("tables/segments.csv", lambda b: b.decode("utf-8").encode("gb18030")),
                         "tables/segments.csv", 2, "-", "encoding"),
    "truncated file": (text_edit("tables/financials.csv", lambda b: b[: b.index(b"\n", len(b) // 2) + 40]),
                       "tables/financials.csv", None, None, None),
    "empty file": (text_edit("tables/segments.csv", lambda b: b""), "tables/segments.csv", 1, "-", "empty"),
    "schema is not valid JSON": (text_edit("schemas/units.json", lambda b: b.replace(b'"fields"', b'fields', 1)),
                                 "schemas/units.json", None, "-", "json"),
    "schema type disagrees with the data": (schema_edit("financials", set_type("value", "integer")),
                                            "tables/financials.csv", 3, "value", "type-error"),  # line 3: 36.4%
    "schema with an unknown type": (schema_edit("units", set_type("description", "text")), "schemas/units.json", None,
                                    "description", "field-error"),
    "missing table file": (lambda r: (r / "tables" / "model_facts.csv").unlink(), "datapackage.json", None, "path",
                           "resource_file"),
    "resource pointing to a missing file": (
        text_edit("datapackage.json", lambda b: b.replace(b'"tables/units.csv"', b'"tables/unit.csv"', 1)),
        "datapackage.json", None, "path", "resource_file"),
    "package descriptor is not valid JSON": (text_edit("datapackage.json", lambda b: b[:-20]), "datapackage.json",
                                             None, "-", "json"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_rejected_in_one_line_and_build_is_kept(case, broken_copy, capsys, request):
    breaker, file, line, column, rule = CASES[case]
    if rule == "quote_in_source":
        request.getfixturevalue("seeds")  # needs the source texts
    got_line = breaker(broken_copy)
    line = line if line is not None else got_line
    before = tree_digest(broken_copy / "build")
    for command in ("validate", "build"):
        code, out = run(capsys, "--root", str(broken_copy), command)
        assert code == 1, f"{command} accepted it:\n{out}"
        problems = [l for l in out.splitlines() if l.startswith(f"{file}:")]
        assert problems, f"{command}: no problem names {file}:\n{out}"
        expected = f"{file}:{line}: {column}: {rule}: " if column else None
        if expected and line is not None:
            assert any(l.startswith(expected) for l in problems), f"{command}: no line starts {expected!r}:\n{out}"
        elif column:
            assert any(f": {column}: {rule}: " in l for l in problems), f"{command}: no {column}/{rule}:\n{out}"
    assert "build/ left as it was" in out
    assert tree_digest(broken_copy / "build") == before


def test_a_utf8_bom_and_crlf_line_ends_are_read_as_plain_csv(broken_copy, capsys):
    path = broken_copy / "tables" / "segments.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    code, out = run(capsys, "--root", str(broken_copy), "build")
    assert code == 0, out
    import sqlite3
    con = sqlite3.connect(broken_copy / "build" / "sensetime.db")
    names = dict(con.execute("select segment_id, name_zh from segments"))
    assert names["smart_city"] == "智慧城市" and len(names) == 4
