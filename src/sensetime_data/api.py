"""The Python API: the packaged tables and views as typed DataFrames, the database as SQL.

>>> import sensetime_data as sd
>>> sd.tables()                                    # doctest: +SKIP
>>> sd.load("financials").query("metric == 'revenue'")   # doctest: +SKIP
>>> sd.sql("select * from observations where source_id = ?", ["deck_1h2023"])  # doctest: +SKIP

Reads the built outputs (``build/parquet`` and ``build/sensetime.db``) beside the package's
data: inside an installed wheel they are packaged; in a clone, ``sensetime-data build`` makes
them, and ``load`` reads a table's CSV through its schema until it has. Needs pandas and
pyarrow only (``connect`` only the standard library): never the curation or site stack.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .schema import OBSERVATION_COLUMNS, Field, Table, default_root
from .views import VIEWS, view_fields

if TYPE_CHECKING:
    import frictionless
    import pandas as pd


# The columns of the views that no fact table has; the others are described by the fact tables' schemas.
class UnknownTableError(KeyError):
    """A table name the package does not have; the message lists the ones it has."""

    def __str__(self) -> str:
        return str(self.args[0])


def _root(root: str | Path | None) -> Path:
    return Path(root) if root else default_root()


def _resources(root: Path) -> dict[str, dict]:
    descriptor = json.loads((root / "datapackage.json").read_text("utf-8"))
    return {r["name"]: r for r in descriptor["resources"]}


def _database(root: Path) -> Path:
    path = root / "build" / "sensetime.db"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `sensetime-data build` first")
    return path


def connect(*, root: str | Path | None = None) -> sqlite3.Connection:
    """A read-only connection to the packaged SQLite database (tables, `observations`, `fact_agreement`)."""
    return sqlite3.connect(f"file:{_database(_root(root))}?mode=ro&immutable=1", uri=True)


def sql(query: str, params: Any = None, *, root: str | Path | None = None) -> pd.DataFrame:
    """The result of a SQL query on the packaged database, as a DataFrame.

    >>> sd.sql("select period, value from financials where metric = :m", {"m": "revenue"})  # doctest: +SKIP
    """
    import pandas as pd

    with closing(connect(root=root)) as con:
        return pd.read_sql_query(query, con, params=params)


def tables(*, root: str | Path | None = None) -> pd.DataFrame:
    """Every table and view of the package: name, kind, title, description and number of rows."""
    import pandas as pd

    root = _root(root)
    entries = [(n, "table", r.get("title"), r.get("description")) for n, r in sorted(_resources(root).items())]
    entries += [(n, "view", v.title, v.description) for n, v in VIEWS.items()]
    with closing(connect(root=root)) as con:
        counts = {n: con.execute(f'select count(*) from "{n}"').fetchone()[0] for n, *_ in entries}
    return pd.DataFrame([{"name": n, "kind": k, "title": t, "description": d, "rows": counts[n]}
                         for n, k, t, d in entries])


def load(name: str, *, root: str | Path | None = None) -> pd.DataFrame:
    """One table or view as a typed DataFrame, described in its ``attrs``.

    Dates are datetime64 columns, enumerations categories with the schema's categories,
    booleans (``ambiguous``) bool. ``attrs`` holds the ``title`` and ``description`` of the
    table, each column's ``type`` and ``description`` under ``columns`` (a number whose unit is
    given row by row says so with ``unit_column``), and the meaning of every unit code the
    table uses under ``units``.
    """
    return _load(name, _root(root))


def observations(**filters: Any) -> pd.DataFrame:
    """Every numeric fact in one shape (the `observations` view), filtered by column equality; typed as ``load``.

    >>> sd.observations(topic="compute", metric="gpus")  # doctest: +SKIP
    """
    unknown = sorted(set(filters) - set(OBSERVATION_COLUMNS))
    if unknown:
        raise TypeError(f"unknown column(s) {', '.join(unknown)}; the columns are: {', '.join(OBSERVATION_COLUMNS)}")
    where = " and ".join(f'"{column}" = :{column}' for column in filters) or "1"
    in_time_order = "order by period_end, period_start desc, topic, subject, metric, context, source_id"
    return _load("observations", default_root(), f"{where} {in_time_order}", filters)


def package(*, root: str | Path | None = None) -> frictionless.Package:
    """The Frictionless data package (``datapackage.json`` with its CSV files and Table Schemas)."""
    try:
        import frictionless
    except ModuleNotFoundError:
        raise ModuleNotFoundError("sd.package() needs frictionless: pip install 'sensetime-data[curate]'") from None
    return frictionless.Package(str(_root(root) / "datapackage.json"))


# --- reading and describing ----------------------------------------------------------------


def _load(name: str, root: Path, where: str = "1", params: dict | None = None) -> pd.DataFrame:
    resources = _resources(root)
    if name in VIEWS:
        with closing(connect(root=root)) as con:
            frame = _read_sql(con, f'select * from "{name}" where {where}', params)
        title, description, fields = _view(name, frame.columns, root, resources)
    elif name in resources:
        table = _table(name, root, resources[name])
        frame = _read_table(table, root)
        title, description, fields = table.title, table.description, table.output_fields
    else:
        names = sorted(resources) + list(VIEWS)
        raise UnknownTableError(f"unknown table {name!r}; the tables are: {', '.join(names)}")
    frame = _typed(frame, fields)
    frame.attrs = {"name": name, "title": title, "description": description,
                   "columns": _columns(frame, fields), "units": _units(frame, root, resources)}
    return frame


def _table(name: str, root: Path, resource: dict) -> Table:
    schema_file = root / resource["schema"]
    return Table(name, json.loads(schema_file.read_text("utf-8")), root / resource["path"], schema_file)


def _read_table(table: Table, root: Path) -> pd.DataFrame:
    parquet = root / "build" / "parquet" / f"{table.name}.parquet"
    if parquet.exists():
        import pandas as pd

        return pd.read_parquet(parquet)
    from .read import read_table  # a clone not built yet: the CSV, typed by its schema

    return read_table(table)


def _read_sql(con: sqlite3.Connection, query: str, params: dict | None) -> pd.DataFrame:
    import pandas as pd

    return pd.read_sql_query(query, con, params=params)


def _view(name: str, columns, root: Path, resources: dict) -> tuple[str, str, list[Field]]:
    """Title, description and fields of a view: its own columns' and, for the rest, the fact schemas'."""
    described = view_fields({n: _table(n, root, r) for n, r in resources.items()})
    fields = [described.get(c) or Field(c, "string", "", {}) for c in columns]
    return VIEWS[name].title, VIEWS[name].description, fields


def _typed(frame: pd.DataFrame, fields: list[Field]) -> pd.DataFrame:
    """The fields' dtypes, whichever file the frame came from (Parquet, SQLite or CSV)."""
    import pandas as pd

    for f in fields:
        if f.name not in frame:
            continue
        column = frame[f.name]
        if f.type == "date":
            frame[f.name] = pd.to_datetime(column).astype(f.pandas_dtype)
        elif f.type == "boolean":  # a view's boolean has no `required`: bool when no row lacks it
            frame[f.name] = column.astype("boolean" if column.isna().any() else "bool")
        else:  # a str column with no value at all would otherwise be object
            frame[f.name] = column.astype(f.pandas_dtype)
    return frame


def _columns(frame: pd.DataFrame, fields: list[Field]) -> dict[str, dict]:
    by_name = {f.name: f for f in fields}
    columns = {}
    for name in frame.columns:
        f = by_name.get(name) or Field(name, "string", "", {})
        entry = {"type": f.type, "description": f.description}
        if entry["type"] in ("number", "integer") and "unit" in frame and name != "unit":
            entry["unit_column"] = "unit"  # the unit differs from row to row: each row's `unit` names it
        columns[name] = entry
    return columns


def _units(frame: pd.DataFrame, root: Path, resources: dict) -> dict[str, str]:
    """Each unit code the frame's `unit` column uses, with what it means (from the `units` table)."""
    if "unit" not in frame:
        return {}
    with (root / resources["units"]["path"]).open(encoding="utf-8", newline="") as f:
        meaning = {row["unit"]: f"{row['label_en']} ({row['label_zh']}): {row['description']}" for row in csv.DictReader(f)}
    return {code: meaning.get(code, "") for code in sorted(frame["unit"].dropna().unique())}


def _table_list() -> str:
    """The tables and views and what they hold, for the docstring of ``load``: from datapackage.json."""
    try:
        resources = _resources(default_root())
    except (OSError, ValueError):
        return ""
    lines = [f"    {n}: {r.get('title', '')}. {r.get('description', '')}" for n, r in sorted(resources.items())]
    lines += [f"    {n} (view): {v.description}" for n, v in VIEWS.items()]
    return "\n\nTables and views:\n\n" + "\n".join(lines)


load.__doc__ = (load.__doc__ or "") + _table_list()
