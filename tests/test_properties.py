"""Property tests: whatever a curator types into a fact table, `validate` ends in a clean pass or a
clean report (one line per problem, file:line: column: rule: message), never an exception.

Each example validates a whole package: the number of examples comes from the Hypothesis profile
in conftest.py (30 in CI, a few on a developer's machine: HYPOTHESIS_PROFILE=ci for the full count)."""

import csv
import re
import shutil

import pytest
from conftest import ROOT, copy_inputs
from helpers import read_rows, write_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensetime_data.schema import read_tables
from sensetime_data.validate import validate

pytestmark = pytest.mark.slow

FACT_TABLES = [name for name, table in read_tables(ROOT).items() if table.is_fact]
PROBLEM = re.compile(r"^[^\n:]+:\d+: [^\n:]+: [\w-]+: [^\n]*$")

cells = st.one_of(
    st.text(max_size=30),  # any Unicode, control characters and line breaks included
    st.sampled_from(["", "=", "missing", "NaN", "-inf", "1e999", "0", "-1", "47亿元", "2.7万+", "FY2022",
                     "2022-12-31", "deck_fy2022", "percent", "=SUM(A1)", "+cmd|' /C calc'!A0", "\ufeff", "\r\n"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


def check(report):
    for problem in report.problems:
        assert PROBLEM.match(str(problem)), repr(str(problem))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=st.sampled_from(FACT_TABLES), row=st.integers(0, 10_000), column=st.integers(0, 20), text=cells)
def test_a_random_cell_gives_a_clean_report(tmp_path_factory, seeds, table, row, column, text):
    root = tmp_path_factory.mktemp("cell")
    copy_inputs(ROOT, root)
    path = root / "tables" / f"{table}.csv"
    rows = read_rows(path)
    name = list(rows[0])[column % len(rows[0])]
    rows[row % len(rows)][name] = text
    write_rows(path, rows)
    check(validate(root))
    shutil.rmtree(root)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=st.sampled_from(FACT_TABLES), values=st.lists(cells, min_size=0, max_size=14))
def test_a_random_row_gives_a_clean_report(tmp_path_factory, seeds, table, values):
    root = tmp_path_factory.mktemp("row")
    copy_inputs(ROOT, root)
    with (root / "tables" / f"{table}.csv").open("a", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerow(values)  # ragged on purpose: too few or too many cells
    report = validate(root)
    check(report)
    if values:
        assert not report.ok  # a random row is never a valid fact
    shutil.rmtree(root)
