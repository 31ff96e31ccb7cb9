"""The Python API, on a good build: lazy import, typed tables, SQL, observations, clear errors."""

import datetime
import sqlite3
import subprocess
import sys

import pandas as pd
import pytest

import sensetime_data as sd
from helpers import installed, read_rows
from sensetime_data.schema import ROOT_ENV

HEAVY = ("frictionless", "pandera", "datasette", "sqlite_utils", "pyarrow")


@pytest.fixture(autouse=True)
def packaged(good_copy, monkeypatch):
    monkeypatch.setenv(ROOT_ENV, str(good_copy))
    return good_copy


def test_import_loads_no_heavy_library():
    code = f"import sys, sensetime_data; print([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_tables_lists_every_table_with_its_rows(packaged, tables):
    listed = sd.tables().set_index("name")
    assert set(listed.index) == set(tables)
    for name in tables:
        assert listed.loc[name, "rows"] == len(read_rows(packaged / "tables" / f"{name}.csv")), name
        assert listed.loc[name, "description"] == tables[name].description


def test_load_gives_every_table_typed(packaged, tables):
    for name in tables:
        frame = sd.load(name)
        assert len(frame) == len(read_rows(packaged / "tables" / f"{name}.csv")), name
        assert list(frame.columns) == tables[name].columns, name
    periods = sd.load("periods")
    assert all(isinstance(d, datetime.date) for d in periods["start"])
    assert isinstance(sd.load("financials")["comparator"].dtype, pd.CategoricalDtype)
    assert sd.load("financials")["value"].dtype == "float64"


def test_unknown_table_names_the_valid_ones():
    with pytest.raises(KeyError) as e:
        sd.load("revenue")
    assert "unknown table 'revenue'" in str(e.value) and "financials" in str(e.value)
    assert isinstance(e.value, sd.UnknownTableError)


def test_connect_is_read_only():
    con = sd.connect()
    assert con.execute("select count(*) from segments").fetchone() == (4,)
    with pytest.raises(sqlite3.OperationalError):
        con.execute("delete from segments")


def test_sql_and_observations_return_frames():
    revenue = sd.sql("select source_id, as_reported from financials where metric = ? and period = ?",
                     ["revenue", "FY2021"])
    assert set(revenue["as_reported"]) == {"47亿元"} and len(revenue) == 2
    gpus = sd.observations(topic="compute", metric="gpus")
    assert list(gpus.sort_values("period")["as_reported"]) == ["2.7万+", "~30,000"]
    with pytest.raises(TypeError, match="unknown column"):
        sd.observations(company="sensetime")


def test_package_is_the_frictionless_package(tables):
    assert {r.name for r in sd.package().resources} == set(tables)


def test_load_docstring_describes_the_tables(tables):
    for name, table in tables.items():
        assert f"{name}: {table.title}" in sd.load.__doc__


def test_info_command_lists_tables_and_sources(packaged):
    done = subprocess.run([str(installed("sensetime-data")), "--root", str(packaged), "info"],
                          capture_output=True, text=True, check=True)
    assert "model_benchmarks" in done.stdout and "166" in done.stdout
    for source in read_rows(packaged / "tables" / "sources.csv"):
        assert f"{source['source_id']}" in done.stdout and source["sha256"] in done.stdout
