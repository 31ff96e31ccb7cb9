"""The built outputs: SQLite, Parquet and Datasette metadata, checked against the schemas."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from sensetime_data.schema import OBSERVATION_COLUMNS

CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "tools" / "check_contract.py"


def csv_rows(path):
    with path.open(encoding="utf-8", newline="") as f:
        return sum(1 for _ in csv.DictReader(f))


def test_every_table_is_in_the_database_with_all_its_rows(db, tables, root):
    for name, table in tables.items():
        columns = [r[1] for r in db.execute(f"pragma table_info({name})")]
        assert columns == [f.name for f in table.output_fields], name
        assert db.execute(f"select count(*) from {name}").fetchone()[0] == csv_rows(root / "tables" / f"{name}.csv")


def test_keys_and_indexes_follow_the_schemas(db, tables):
    for name, table in tables.items():
        pk = [r[1] for r in sorted(db.execute(f"pragma table_info({name})"), key=lambda r: r[5]) if r[5]]
        assert pk == table.primary_key, name
        fks = {(r[3], r[2], r[4]) for r in db.execute(f"pragma foreign_key_list({name})")}
        assert fks == set(table.foreign_keys), name
        indexed = {db.execute(f"pragma index_info({r[1]})").fetchone()[2] for r in db.execute(f"pragma index_list({name})")}
        for column, _, _ in table.foreign_keys:
            assert column in indexed, f"{name}.{column} has no index"


def test_foreign_key_check_is_empty(db):
    assert db.execute("pragma foreign_key_check").fetchall() == []


def test_observations_view_holds_every_fact_row(db, tables):
    columns = [r[1] for r in db.execute("pragma table_info(observations)")]
    assert columns == list(OBSERVATION_COLUMNS)
    facts = sum(db.execute(f"select count(*) from {n}").fetchone()[0] for n, t in tables.items() if t.is_fact)
    assert db.execute("select count(*) from observations").fetchone()[0] == facts
    assert db.execute("select count(*) from observations where (value is null) != (comparator = 'missing')").fetchone()[0] == 0


def test_agreement_view_shows_revenue_stated_by_two_fy2021_articles(db):
    # 中新经纬 and 格隆汇 both print FY2021 revenue as 47亿元
    row = db.execute(
        "select sources, min_value, max_value, values_agree from fact_agreement "
        "where topic = 'financials' and metric = 'revenue' and period = 'FY2021'"
    ).fetchone()
    assert row == (2, 4700.0, 4700.0, 1)


def test_contract_checker_passes_on_the_build(built):
    if not CONTRACT.exists():
        pytest.skip("shared/tools/check_contract.py is not beside the project")
    done = subprocess.run([sys.executable, str(CONTRACT), str(built / "sensetime.db")],
                          cwd=built.parent, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]


# What each Table Schema type must be in Parquet, written out here rather than taken from the build.
ARROW = {"string": pa.string(), "number": pa.float64(), "integer": pa.int64(), "boolean": pa.bool_(), "date": pa.date32()}


def test_parquet_files_follow_the_schemas_with_every_row(built, tables, root):
    for name, table in tables.items():
        path = built / "parquet" / f"{name}.parquet"
        schema = pq.read_schema(path)
        assert schema.names == [f.name for f in table.output_fields], name
        for f in table.output_fields:
            kind = f.type
            expected = pa.dictionary(pa.int32(), pa.string()) if f.enum and kind == "string" else ARROW[kind]
            assert schema.field(f.name).type == expected, f"{name}.{f.name}"
        assert pq.read_metadata(path).num_rows == csv_rows(root / "tables" / f"{name}.csv"), name


def test_parquet_dates_are_dates_and_enums_are_categories(built):
    periods = pq.read_table(built / "parquet" / "periods.parquet")
    assert periods.schema.field("start").type == pa.date32()
    financials = pq.read_table(built / "parquet" / "financials.parquet").to_pandas()
    assert str(financials["comparator"].dtype) == "category"


def test_datasette_metadata_describes_every_table_and_column(built, tables):
    metadata = yaml.safe_load((built / "metadata.yml").read_text("utf-8"))
    described = metadata["databases"]["sensetime"]["tables"]
    assert metadata["title"] and metadata["license"] and metadata["source"]
    for name, table in tables.items():
        assert described[name]["description"] == table.description
        assert described[name]["columns"] == {f.name: f.description for f in table.output_fields}, name
    assert {"observations", "fact_agreement"} <= set(described)


def test_two_builds_are_byte_identical(good_copy, built, tmp_path, monkeypatch):
    """Same tables, two builds: every output file the same bytes (the build time from SOURCE_DATE_EPOCH).
    The first is the good build of the run, made earlier (by any worker) with the same SOURCE_DATE_EPOCH."""
    from conftest import EPOCH, tree_digest

    from sensetime_data.build import build

    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    descriptor = (good_copy / "datapackage.json").read_bytes()
    assert build(good_copy, tmp_path / "two").ok
    one, two = tree_digest(built / "current"), tree_digest(tmp_path / "two" / "current")
    assert {"sensetime.db", "metadata.yml", "build.json", "parquet/financials.parquet"} <= set(one)
    assert one == two
    assert json.loads((built / "build.json").read_text("utf-8"))["built_at"] == "2023-11-14T22:13:20+00:00"
    assert (good_copy / "datapackage.json").read_bytes() == descriptor  # a build writes nothing outside its directory
