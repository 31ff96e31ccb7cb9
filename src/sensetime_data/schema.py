"""The one model of the data: ``schemas/*.json`` (Frictionless Table Schemas) read into tables and fields.

Everything downstream (the package descriptor, pandera schemas, SQLite tables, Parquet
schemas, Datasette metadata) is derived from what this module reads. Besides the standard
Table Schema properties, a schema may carry:

- ``title``, ``description``: the resource's title and description;
- ``observations``: for a fact table, SQL expressions over its columns giving the
  ``topic``, ``subject``, ``metric`` and (where one is needed to tell facts apart)
  ``context`` of each row in the ``observations`` view;
- ``label_column``: for a lookup table, the column Datasette shows for its foreign keys, or
  two columns (English and Chinese) joined into a generated ``label`` column;
- ``search_labels``: for a lookup table, the columns (English and Chinese names, publisher,
  developer...) by which a search finds the rows that point to it;
- ``rules``: the names of the rules (``rules.RULES``) the table is checked with; the
  meta-schema (``metaschema.json``) says which rules each table must keep;
- ``facets``, ``sort``: the Datasette facets and default sort of the table's page.

Each column is a :class:`Field`, which gives every output its own view of the column: the
pandas dtype, the Arrow type, the SQLite type, the pandera column and the data-dictionary row.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

ROOT_ENV = "SENSETIME_DATA_ROOT"
FIELD_TYPES = ("string", "number", "integer", "boolean", "date")  # the Table Schema types this package reads
META = Path(__file__).with_name("metaschema.json")
# The contract's `observations` view, in order (see ../shared/DESIGN.md).
OBSERVATION_COLUMNS = ("topic", "subject", "metric", "context", "period", "period_start", "period_end", "value",
                       "value_high", "unit", "comparator", "as_reported", "source_id", "quote", "period_basis", "ambiguous",
                       "note", "fact_table")
# Columns the build adds after `period` to every fact table (SQLite, Parquet, the views), from the
# `periods` row of the period; the CSV files do not have them.
PERIOD_DATES = {"period_start": "start", "period_end": "end"}  # derived column: column of `periods`
DERIVED_FIELDS = (
    {"name": "period_start", "type": "date", "constraints": {"required": True},
     "description": "First day of `period`, from `periods` (derived by the build; not in the CSV file)."},
    {"name": "period_end", "type": "date", "constraints": {"required": True},
     "description": "Last day of `period`, from `periods` (derived by the build; not in the CSV file): the time "
                    "order of facts, `order by period_end`. A stock's as-of date is its own start and end."},
)


@cache
def text_dtype():
    """pandas' ``str`` dtype kept in Python objects: the same ``str`` to users, and rules that read
    cells one by one do not pay for converting each out of Arrow."""
    import numpy as np
    import pandas as pd

    return pd.StringDtype("python", na_value=np.nan)


@cache
def _pandera_text():
    """pandera's type for ``text_dtype``, answering its check once for the column. pandera's own
    compares the dtypes and then answers True for each cell, which it post-processes as failure
    cases: 4 ms a column, a third of a validation of the real package."""
    from pandera.engines import pandas_engine

    class Text(pandas_engine.STRING):
        def check(self, pandera_dtype, data_container=None):
            try:
                if pandas_engine.Engine.dtype(pandera_dtype).type == self.type:
                    return True
            except TypeError:
                pass
            return super().check(pandera_dtype, data_container)

    return Text(text_dtype().storage)


@cache
def meta() -> dict:
    """The meta-schema (``metaschema.json``): what every schema must keep (see ``metaschema``)."""
    return json.loads(META.read_text("utf-8"))


# The columns every fact table ends with, in order: the meta-schema's fact-table fields.
FACT_COLUMNS = list(meta()["fact_table"]["fields"])


@dataclass(frozen=True)
class Field:
    """One column, read from a Table Schema field; each output asks it for its own view of the type.

    >>> f = Field.of({"name": "value", "type": "number", "description": "The figure."})
    >>> f.pandas_dtype, f.sql_type, str(f.arrow_type())
    ('float64', <class 'float'>, 'double')
    """

    name: str
    type: str
    description: str
    constraints: dict
    format: str | None = None

    @classmethod
    def of(cls, descriptor: dict) -> Field:
        constraints = descriptor.get("constraints")
        return cls(descriptor["name"], descriptor.get("type", "string"), descriptor.get("description", ""),
                   constraints if isinstance(constraints, dict) else {}, descriptor.get("format"))

    @property
    def required(self) -> bool:
        return bool(self.constraints.get("required"))

    @property
    def enum(self) -> list | None:
        return self.constraints.get("enum")

    @cached_property  # a categorical dtype is costly to make, and asked for per column and per check
    def pandas_dtype(self):
        """The dtype of the column in a typed frame: float64, nullable Int64 (a missing count stays
        missing), bool (nullable boolean when optional), datetime64[s], categorical for an enum, str."""
        import pandas as pd

        if self.type == "string":
            return pd.CategoricalDtype(self.enum) if self.enum else text_dtype()
        return {"number": "float64", "integer": "Int64", "date": "datetime64[s]",
                "boolean": "bool" if self.required else "boolean"}[self.type]

    @property
    def sql_type(self) -> builtins.type:
        """The SQLite column type (sqlite-utils' Python type): dates as ISO text, booleans as 0/1."""
        return {"string": str, "number": float, "integer": int, "boolean": int, "date": str}[self.type]

    def arrow_type(self):
        """The Parquet type: dates as date32, enums as dictionaries (categories)."""
        import pyarrow as pa

        if self.type == "string" and self.enum:
            return pa.dictionary(pa.int32(), pa.string())
        return {"string": pa.string(), "number": pa.float64(), "integer": pa.int64(),
                "boolean": pa.bool_(), "date": pa.date32()}[self.type]

    def arrow_field(self):
        import pyarrow as pa

        return pa.field(self.name, self.arrow_type(), nullable=not self.required, metadata={"description": self.description})

    def pandera_column(self, checks: Sequence = ()):
        """The pandera column: this dtype, the checks of the field's constraints and ``checks``, nullable unless required."""
        import pandera.pandas as pa

        c = self.constraints
        own = []
        if self.enum:
            own.append(pa.Check.isin(self.enum))
        if "pattern" in c:
            own.append(pa.Check.str_matches(f"^(?:{c['pattern']})$"))  # a Table Schema pattern matches the whole value
        if "minLength" in c or "maxLength" in c:
            own.append(pa.Check.str_length(c.get("minLength"), c.get("maxLength")))
        if "minimum" in c:
            own.append(pa.Check.ge(c["minimum"]))
        if "maximum" in c:
            own.append(pa.Check.le(c["maximum"]))
        dtype = _pandera_text() if self.pandas_dtype is text_dtype() else self.pandas_dtype
        return pa.Column(dtype, checks=[*own, *checks], nullable=not self.required,
                         unique=bool(c.get("unique")), name=self.name)

    def dictionary_row(self, table: str, position: int) -> dict:
        """The field's row in the data dictionary (the ``data_dictionary`` table, docs/data-dictionary.md)."""
        shown = {k: v for k, v in self.constraints.items() if k != "required"}
        return {"table_name": table, "position": position, "column_name": self.name, "type": self.type,
                "required": int(self.required), "constraints": ", ".join(f"{k}: {v}" for k, v in shown.items()),
                "description": self.description}


class SchemaFileError(Exception):
    """A schema or descriptor file that cannot be read; carries the file and line."""

    def __init__(self, file: str, line: int, message: str, rule: str = "schema", column: str = "-"):
        super().__init__(message)
        self.file, self.line, self.message, self.rule, self.column = file, line, message, rule, column


INPUTS = ("tables/*.csv", "schemas/*.json", "datapackage.json")


def inputs_digest(root: Path) -> str:
    """SHA-256 over every input file: a build records it, so `serve` and the wheel can tell a stale build."""
    h = hashlib.sha256()
    for pattern in INPUTS:
        for path in sorted(p for p in root.glob(pattern) if p.is_file()):  # a directory named x.csv is validate's to report
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def default_root() -> Path:
    """Where the data lives: $SENSETIME_DATA_ROOT, the copy inside an installed wheel, or the repo."""
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV])
    packaged = Path(__file__).parent / "data"
    if (packaged / "datapackage.json").exists():
        return packaged
    return Path(__file__).resolve().parents[2]


@dataclass
class Table:
    """A table: its schema's descriptor, its fields and what the outputs need to know of it."""

    name: str
    descriptor: dict
    csv: Path
    schema_file: Path
    fields: list[Field] = field(init=False)

    def __post_init__(self):
        self.fields = [Field.of(f) for f in self.descriptor["fields"]]

    @property
    def title(self) -> str:
        return self.descriptor.get("title", self.name)

    @property
    def description(self) -> str:
        return self.descriptor.get("description", "")

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def primary_key(self) -> list[str]:
        pk = self.descriptor.get("primaryKey", [])
        return [pk] if isinstance(pk, str) else list(pk)

    @property
    def foreign_keys(self) -> list[tuple[str, str, str]]:
        """(column, other table, other column) for each foreign key; a malformed one is left to the meta-schema."""
        out = []
        fks = self.descriptor.get("foreignKeys", [])
        for fk in fks if isinstance(fks, list) else []:
            ref = fk.get("reference") if isinstance(fk, dict) else None
            if not isinstance(ref, dict) or not {"fields", "resource"} <= set(ref) or "fields" not in fk:
                continue
            fields = [fk["fields"]] if isinstance(fk["fields"], str) else fk["fields"]
            others = ref["fields"] if isinstance(ref["fields"], list) else [ref["fields"]]
            out += [(f, ref["resource"] or self.name, o) for f, o in zip(fields, others, strict=False)]
        return out

    @property
    def observations(self) -> dict:
        """The `observations` expressions of a fact table; empty for a lookup table."""
        return self.descriptor.get("observations") or {}

    @property
    def is_fact(self) -> bool:
        return "observations" in self.descriptor

    @property
    def rules(self) -> list[str]:
        """The names of the rules (``rules.RULES``) the table is checked with, as its schema declares them."""
        declared = self.descriptor.get("rules", [])
        return [r for r in declared if isinstance(r, str)] if isinstance(declared, list) else []

    @property
    def search_labels(self) -> list[str]:
        """The columns that name a row in the search index of the rows pointing to it (``search_labels``)."""
        labels = self.descriptor.get("search_labels", [])
        return [c for c in labels if c in self.columns] if isinstance(labels, list) else []

    @property
    def subject_columns(self) -> list[str]:
        """The key columns that say what a fact is about (segment_id, model_id, ...): the primary key
        but the metric, period and source. Facts alike in these, metric and period are levels of one another."""
        return [c for c in self.primary_key if c not in {*FACT_COLUMNS, "metric"}]

    @property
    def output_fields(self) -> list[Field]:
        """The fields of the built table: the schema's, with ``DERIVED_FIELDS`` after ``period`` in a fact table."""
        if not self.is_fact or "period" not in self.columns:
            return self.fields
        at = self.columns.index("period") + 1
        return [*self.fields[:at], *(Field.of(f) for f in DERIVED_FIELDS), *self.fields[at:]]

    @property
    def output_columns(self) -> list[str]:
        return [f.name for f in self.output_fields]

    def field(self, name: str) -> Field:
        return next(f for f in self.output_fields if f.name == name)

    def required(self, name: str) -> bool:
        return self.field(name).required


def _read_json(path: Path, root: Path) -> dict:
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise SchemaFileError(rel, 0, "file not found") from None
    except OSError as e:  # a directory, or a file that may not be read
        raise SchemaFileError(rel, 0, f"cannot be read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise SchemaFileError(rel, 1, f"not UTF-8 ({e.reason})") from None
    except json.JSONDecodeError as e:
        raise SchemaFileError(rel, e.lineno, f"not valid JSON: {e.msg} (column {e.colno})", "json") from None
    if not isinstance(data, dict):
        raise SchemaFileError(rel, 1, f"must hold a JSON object, not a {type(data).__name__}", "json")
    return data


def line_of(path: Path, needle: str) -> int:
    """The first line of a file that contains ``needle`` (1 when none does)."""
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if needle in line:
            return number
    return 1


def read_tables(root: Path | None = None) -> dict[str, Table]:
    """Every table of the package (one per ``schemas/*.json``), in foreign-key order."""
    root = Path(root or default_root())
    tables = {}
    for res in package_descriptor(root)["resources"]:
        schema_file = root / res["schema"]
        descriptor = _read_json(schema_file, root)
        if not isinstance(descriptor.get("fields"), list) or not all(
            isinstance(f, dict) and isinstance(f.get("name"), str) for f in descriptor["fields"]
        ):
            raise SchemaFileError(res["schema"], 1, "a Table Schema needs a list of fields, each with a name")
        for f in descriptor["fields"]:
            if f.get("type", "string") not in FIELD_TYPES:
                raise SchemaFileError(res["schema"], line_of(schema_file, f'"name": "{f["name"]}"'), f"type {f.get('type')!r} is "
                                      f"not one this package uses ({', '.join(FIELD_TYPES)})", "field-error", f["name"])
        tables[res["name"]] = Table(res["name"], descriptor, root / res["path"], schema_file)
    return {n: tables[n] for n in _dependency_order(tables)}


def _dependency_order(tables: dict[str, Table]) -> list[str]:
    order, seen = [], set()

    def visit(name):
        if name in seen or name not in tables:
            return
        seen.add(name)
        for _, other, _ in tables[name].foreign_keys:
            if other != name:
                visit(other)
        order.append(name)

    for name in sorted(tables):
        visit(name)
    return order


def read_package(root: Path) -> dict:
    return _read_json(root / "datapackage.json", root)


def schema_names(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "schemas").glob("*.json"))


def package_descriptor(root: Path, cited: dict[str, list[str]] | None = None) -> dict:
    """``datapackage.json`` as it should be: its package-level metadata kept, its resources
    regenerated from ``schemas/*.json`` (one resource per schema, ``tables/<name>.csv``).

    ``cited`` maps a table to the source_ids its rows cite; a resource lists those sources,
    and tables without source columns list every source of the package.
    """
    from . import __version__

    package = read_package(root)
    sources = package.get("sources", [])
    by_id: dict[str, dict] = {str(s.get("name")): s for s in sources if isinstance(s, dict)} if isinstance(sources, list) else {}
    resources = []
    for name in schema_names(root):
        schema = _read_json(root / "schemas" / f"{name}.json", root)
        ids = (cited or {}).get(name) or list(by_id)
        resources.append({
            "name": name,
            "profile": "tabular-data-resource",
            "path": f"tables/{name}.csv",
            "schema": f"schemas/{name}.json",
            "title": schema.get("title", name),
            "description": schema.get("description", ""),
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "sources": [by_id[i] for i in ids if i in by_id],
            "licenses": package.get("licenses", []),
        })
    return {**package, "version": __version__, "resources": resources}


def dump_json(descriptor: dict) -> str:
    return json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n"
