"""The package descriptor and the schemas: valid, in sync, every field described."""

import json
import subprocess

import pytest
from helpers import installed

from sensetime_data.schema import FACT_COLUMNS, dump_json, package_descriptor
from sensetime_data.validate import cited_sources

CONTRACT_TABLES = ["segments", "financials", "compute_capacity", "automotive_partners", "model_benchmarks"]


def test_frictionless_cli_says_the_package_is_valid(root):
    exe = installed("frictionless")
    done = subprocess.run([exe, "validate", "datapackage.json"], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "INVALID" not in done.stdout


def test_datapackage_json_is_in_sync_with_the_schemas(root, checked):
    expected = dump_json(package_descriptor(root, cited_sources(checked.frames)))
    assert (root / "datapackage.json").read_text("utf-8") == expected, "run `sensetime-data docs` to resync"


def test_every_resource_has_title_description_sources_and_licence(root):
    package = json.loads((root / "datapackage.json").read_text("utf-8"))
    names = [r["name"] for r in package["resources"]]
    assert set(CONTRACT_TABLES) <= set(names)
    for r in package["resources"]:
        assert r["title"] and r["description"], r["name"]
        assert r["sources"] and r["licenses"], r["name"]


def test_every_table_and_field_is_described(tables):
    for name, table in tables.items():
        assert table.title and table.description, name
        for f in table.fields:
            assert f.description, f"{name}.{f.name} has no description"
        assert table.primary_key, f"{name} has no primary key"


def test_shared_fact_fields_are_defined_identically(tables):
    facts = {n: t for n, t in tables.items() if t.is_fact}
    assert {"financials", "segment_results", "compute_capacity", "model_benchmarks"} <= set(facts)
    reference = facts["financials"]
    for name, table in facts.items():
        for column in FACT_COLUMNS:
            assert table.field(column) == reference.field(column), f"{name}.{column} drifted from financials.{column}"
        assert table.columns[-len(FACT_COLUMNS):] == FACT_COLUMNS, name


def test_foreign_keys_point_at_primary_keys(tables):
    for name, table in tables.items():
        for column, other, other_column in table.foreign_keys:
            assert other in tables, f"{name}.{column} → unknown table {other}"
            assert tables[other].primary_key == [other_column], f"{name}.{column} → {other}.{other_column} is not its key"


@pytest.mark.parametrize("table", CONTRACT_TABLES)
def test_contract_tables_have_csv_files(root, table):
    assert (root / "tables" / f"{table}.csv").exists()


def test_readme_table_list_is_current(root, checked):
    from sensetime_data.docs import readme_with_tables

    readme = (root / "README.md").read_text("utf-8")
    assert readme == readme_with_tables(readme, checked), "run `sensetime-data docs`"
    for name in checked.tables:
        assert f"| `{name}` | {len(checked.frames[name])} |" in readme


def test_pandera_schemas_are_generated_from_the_table_schemas(root, tables):
    from sensetime_data.read import read_table
    from sensetime_data.rules import Context
    from sensetime_data.validate import table_rules, to_pandera

    frames = {n: read_table(t) for n, t in tables.items()}
    ctx = Context(metrics=frames["metrics"], periods=frames["periods"])
    for name, table in tables.items():
        schema = to_pandera(table, frames, ctx)
        assert list(schema.columns) == table.columns, name
        for f in table.fields:
            column = schema.columns[f.name]
            assert column.nullable == (not table.required(f.name)), f"{name}.{f.name}"
            checks = {c.name for c in column.checks}
            if f.enum:
                assert "isin" in checks, f"{name}.{f.name} lost its enum"
            if "pattern" in f.constraints:
                assert "str_matches" in checks, f"{name}.{f.name} lost its pattern"
            if any(fk[0] == f.name for fk in table.foreign_keys):
                assert "foreign_key" in checks, f"{name}.{f.name} lost its foreign key"
        assert {c.name for c in schema.checks} == set(table_rules(table)), name


def test_data_dictionary_is_current(root, checked):
    from sensetime_data.docs import DICTIONARY, data_dictionary

    assert (root / DICTIONARY).read_text("utf-8") == data_dictionary(checked), "run `sensetime-data docs`"
    for name, table in checked.tables.items():
        for f in table.fields:
            assert f"| `{f.name}` | {f.type} |" in data_dictionary(checked), (name, f.name)
