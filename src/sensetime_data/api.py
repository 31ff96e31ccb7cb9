"""The Python API: the packaged tables as typed DataFrames, the database as SQL.

>>> import sensetime_data as sd
>>> sd.tables()                                    # doctest: +SKIP
>>> sd.load("financials").query("metric == 'revenue'")   # doctest: +SKIP
>>> sd.sql("select * from observations where source_id = ?", ["deck_1h2023"])  # doctest: +SKIP

Reads the built outputs (``build/parquet`` and ``build/sensetime.db``) beside the package's
data: inside an installed wheel they are packaged; in a clone, ``sensetime-data build`` makes
them, and ``load`` reads the CSV through the schemas until it has.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .schema import OBSERVATION_COLUMNS, default_root

if TYPE_CHECKING:
    import frictionless
    import pandas as pd


class UnknownTableError(KeyError):
    """A table name the package does not have; the message lists the ones it has."""

    def __str__(self) -> str:
        return str(self.args[0])


def _root() -> Path:
    return default_root()


def _resources() -> dict[str, dict]:
    descriptor = json.loads((_root() / "datapackage.json").read_text("utf-8"))
    return {r["name"]: r for r in descriptor["resources"]}


def _check_name(name: str) -> None:
    names = sorted(_resources())
    if name not in names:
        raise UnknownTableError(f"unknown table {name!r}; the tables are: {', '.join(names)}")


def _database() -> Path:
    path = _root() / "build" / "sensetime.db"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `sensetime-data build` first")
    return path


def connect() -> sqlite3.Connection:
    """A read-only connection to the packaged SQLite database (tables, `observations`, `fact_agreement`)."""
    return sqlite3.connect(f"file:{_database()}?mode=ro&immutable=1", uri=True)


def sql(query: str, params: Any = None) -> pd.DataFrame:
    """The result of a SQL query on the packaged database, as a DataFrame.

    >>> sd.sql("select period, value from financials where metric = :m", {"m": "revenue"})  # doctest: +SKIP
    """
    import pandas as pd

    with connect() as con:
        return pd.read_sql_query(query, con, params=params)


def tables() -> pd.DataFrame:
    """Every table of the package: name, title, description and number of rows."""
    import pandas as pd

    resources = _resources()
    with connect() as con:
        counts = {n: con.execute(f'select count(*) from "{n}"').fetchone()[0] for n in resources}
    return pd.DataFrame(
        [{"name": n, "title": r.get("title"), "description": r.get("description"), "rows": counts[n]}
         for n, r in sorted(resources.items())]
    )


def load(name: str) -> pd.DataFrame:
    """One table as a typed DataFrame: dates as dates, enumerations as categories."""
    _check_name(name)
    parquet = _root() / "build" / "parquet" / f"{name}.parquet"
    if parquet.exists():
        import pandas as pd

        return pd.read_parquet(parquet)
    from .read import read_table  # a clone not built yet: the CSV, typed by its schema
    from .schema import read_tables

    return read_table(read_tables(_root())[name])


def observations(**filters: Any) -> pd.DataFrame:
    """Every numeric fact in one shape (the `observations` view), filtered by column equality.

    >>> sd.observations(topic="compute", metric="gpus")  # doctest: +SKIP
    """
    unknown = sorted(set(filters) - set(OBSERVATION_COLUMNS))
    if unknown:
        raise TypeError(f"unknown column(s) {', '.join(unknown)}; the columns are: {', '.join(OBSERVATION_COLUMNS)}")
    where = " and ".join(f'"{column}" = :{column}' for column in filters) or "1"
    return sql(f"select * from observations where {where}", filters)


def package() -> frictionless.Package:
    """The Frictionless data package (``datapackage.json`` with its CSV files and Table Schemas)."""
    import frictionless

    return frictionless.Package(str(_root() / "datapackage.json"))


def _table_list() -> str:
    """The tables and what they hold, for the docstring of ``load``: from datapackage.json."""
    try:
        resources = _resources()
    except (OSError, ValueError):
        return ""
    lines = [f"    {n}: {r.get('title', '')}. {r.get('description', '')}" for n, r in sorted(resources.items())]
    return "\n\nTables:\n\n" + "\n".join(lines)


load.__doc__ += _table_list()
