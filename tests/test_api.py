"""The Python API and the read-only commands, on a good build: lazy import, typed and described
tables and views, SQL, observations, clear one-line errors, --root."""

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from helpers import installed, read_rows

import sensetime_data as sd
from sensetime_data.schema import ROOT_ENV

HEAVY = ("frictionless", "pandera", "datasette", "sqlite_utils", "pyarrow")
VIEWS = ("observations", "fact_agreement")


@pytest.fixture(autouse=True)
def packaged(good_copy, monkeypatch):
    monkeypatch.setenv(ROOT_ENV, str(good_copy))
    return good_copy


def count(root, name) -> int:
    with sqlite3.connect(root / "build" / "sensetime.db") as con:
        return con.execute(f'select count(*) from "{name}"').fetchone()[0]


def test_import_loads_no_heavy_library():
    code = f"import sys, sensetime_data; print([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_tables_lists_every_table_and_view_with_its_rows(packaged, tables):
    listed = sd.tables().set_index("name")
    assert set(listed.index) == set(tables) | set(VIEWS)
    for name in tables:
        assert listed.loc[name, "rows"] == len(read_rows(packaged / "tables" / f"{name}.csv")), name
        assert listed.loc[name, "description"] == tables[name].description
        assert listed.loc[name, "kind"] == "table"
    for name in VIEWS:
        assert listed.loc[name, "kind"] == "view" and listed.loc[name, "rows"] == count(packaged, name) > 0
        assert listed.loc[name, "description"]


def test_load_gives_every_table_typed(packaged, tables):
    for name, table in tables.items():
        frame = sd.load(name)
        assert len(frame) == len(read_rows(packaged / "tables" / f"{name}.csv")), name
        assert list(frame.columns) == [f.name for f in table.output_fields], name
        for f in table.output_fields:
            column = frame[f.name]
            if f.type == "date":
                assert pd.api.types.is_datetime64_dtype(column), (name, f.name, column.dtype)
            if f.enum:
                assert list(column.cat.categories) == f.enum, (name, f.name)
    periods = sd.load("periods").set_index("period")
    assert periods.loc["FY2022", "start"] == pd.Timestamp("2022-01-01")
    assert sd.load("financials")["value"].dtype == "float64"


def test_load_gives_the_views(packaged, tables):
    for name in VIEWS:
        frame = sd.load(name)
        with sqlite3.connect(packaged / "build" / "sensetime.db") as con:
            columns = [r[1] for r in con.execute(f'pragma table_info("{name}")')]
        assert list(frame.columns) == columns and len(frame) == count(packaged, name), name
    obs = sd.load("observations")
    assert set(obs["fact_table"]) == {n for n, t in tables.items() if t.is_fact}
    assert isinstance(obs["comparator"].dtype, pd.CategoricalDtype)
    agreement = sd.load("fact_agreement")
    assert agreement["values_agree"].dtype == bool and agreement["min_value"].dtype == "float64"


def test_ambiguous_has_one_type_everywhere(tables):
    frames = {name: sd.load(name) for name, t in tables.items() if "ambiguous" in t.columns}
    frames["observations"] = sd.load("observations")
    frames["sd.observations()"] = sd.observations(topic="compute")
    assert len(frames) > 3
    assert {str(f["ambiguous"].dtype) for f in frames.values()} == {"bool"}, {n: f["ambiguous"].dtype for n, f in frames.items()}
    assert frames["observations"]["ambiguous"].sum() == sum(frames[n]["ambiguous"].sum() for n in tables if n in frames)


def test_every_frame_carries_its_descriptions_and_units(packaged, tables):
    units = {row["unit"]: row for row in read_rows(packaged / "tables" / "units.csv")}
    for name, table in tables.items():
        attrs = sd.load(name).attrs
        assert (attrs["name"], attrs["title"], attrs["description"]) == (name, table.title, table.description)
        schema = json.loads(table.schema_file.read_text("utf-8"))
        described = {c: a["description"] for c, a in attrs["columns"].items()}
        assert {c: described[c] for c in table.columns} == {f["name"]: f["description"] for f in schema["fields"]}, name
        assert all(described.values()), name  # the columns the build derives too
    for name in VIEWS:
        attrs = sd.load(name).attrs
        assert attrs["description"] and all(a["description"] for a in attrs["columns"].values()), name
    fin = sd.load("financials")
    assert fin.attrs["columns"]["value"]["unit_column"] == "unit"
    assert set(fin.attrs["units"]) == set(fin["unit"])
    assert units["CNY_million"]["label_en"] in fin.attrs["units"]["CNY_million"]
    obs = sd.observations(topic="compute")
    assert obs.attrs["columns"]["quote"] == fin.attrs["columns"]["quote"]  # a fact column reads as in its tables
    assert set(obs.attrs["units"]) == set(obs["unit"])
    assert fin[fin.metric == "revenue"].attrs["title"] == fin.attrs["title"]  # attrs follow a filtered frame


def test_unknown_table_names_the_valid_ones():
    with pytest.raises(KeyError) as e:
        sd.load("revenue")
    assert "unknown table 'revenue'" in str(e.value) and "financials" in str(e.value)
    assert "observations" in str(e.value)
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
    assert all(f"{name} (view)" in sd.load.__doc__ for name in VIEWS)


def test_info_command_lists_tables_and_sources(packaged):
    done = subprocess.run([str(installed("sensetime-data")), "--root", str(packaged), "info"],
                          capture_output=True, text=True, check=True)
    assert "model_benchmarks" in done.stdout and "166" in done.stdout and "observations" in done.stdout
    for source in read_rows(packaged / "tables" / "sources.csv"):
        assert f"{source['source_id']}" in done.stdout and source["sha256"] in done.stdout


def test_info_honours_root(packaged, tmp_path, monkeypatch):
    """--root names the package info reads, whatever $SENSETIME_DATA_ROOT says (info read that one before)."""
    other = tmp_path / "other"
    shutil.copytree(packaged, other, symlinks=True)
    monkeypatch.setenv(ROOT_ENV, str(tmp_path / "nowhere"))
    done = subprocess.run([str(installed("sensetime-data")), "--root", str(other), "info"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"data in {other}" in done.stdout
    assert ["financials", str(count(other, "financials"))] in [line.split()[:2] for line in done.stdout.splitlines()]


def test_info_into_a_closed_pipe_ends_quietly(packaged):
    """`sensetime-data info | head -2` printed a BrokenPipeError traceback."""
    cli = installed("sensetime-data")
    done = subprocess.run(f"'{cli}' --root '{packaged}' info | head -2", shell=True, capture_output=True, text=True,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert len(done.stdout.splitlines()) == 2
    assert done.stderr == ""


def test_serve_on_a_busy_port_says_so_before_any_address(packaged):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([str(installed("sensetime-data")), "--root", str(packaged), "serve", "--port", str(port)],
                              capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "http://" not in done.stdout + done.stderr
    assert done.stderr.strip() == (f"serve: port {port} on 127.0.0.1 is taken: choose another with --port N "
                                   "(0 picks a free one)")


def test_build_never_writes_into_the_package(tmp_path):
    """An installed wheel's data is inside the package: a build there must be sent elsewhere with --out."""
    from sensetime_data.build import OutputError, output_dir

    inside = Path(sd.__file__).parent / "data" / "build"
    with pytest.raises(OutputError, match="--out DIR"):
        output_dir(inside.parent)
    assert output_dir(tmp_path) == tmp_path / "build"
    assert output_dir(inside.parent, tmp_path / "elsewhere") == tmp_path / "elsewhere"
