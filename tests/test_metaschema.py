"""The meta-schema: the real schemas keep to it, and it covers every column the rules rely on."""

from pathlib import Path

import sensetime_data
from sensetime_data import metaschema
from sensetime_data.schema import FACT_COLUMNS


def test_the_schemas_keep_to_the_meta_schema(root, tables):
    assert [str(p) for p in metaschema.check(tables, root)] == []


def test_every_fact_column_is_in_the_meta_schema():
    # a fact column the meta-schema does not know could be deleted from a schema without a sound
    assert set(FACT_COLUMNS) <= set(metaschema.meta()["fact_table"]["fields"])


def test_every_fact_table_is_named_in_the_meta_schema(tables):
    facts = {name for name, table in tables.items() if table.is_fact}
    assert facts == set(metaschema.meta()["fact_tables"])


def test_the_meta_schema_ships_inside_the_package():
    assert metaschema.META.parent == Path(sensetime_data.__file__).parent
    assert metaschema.META.is_file()
