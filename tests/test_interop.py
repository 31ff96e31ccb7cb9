"""Other tools read the outputs: DuckDB reads every Parquet file with the rows and types the
SQLite database holds. (DuckDB's SQLite extension downloads itself at run time, so the
database side is read with Python's sqlite3.)"""

import sqlite3

import duckdb

# How each Table Schema type is stored: SQLite has no boolean or date type.
SQLITE = {"string": "TEXT", "number": "REAL", "integer": "INTEGER", "boolean": "INTEGER", "date": "TEXT"}
DUCKDB = {"string": "VARCHAR", "number": "DOUBLE", "integer": "BIGINT", "boolean": "BOOLEAN", "date": "DATE"}


def plain(value):
    """A cell as both files mean it: dates as ISO text, booleans as 0/1."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return int(value) if isinstance(value, bool) else value


def test_duckdb_reads_the_parquet_files_as_the_database_holds_them(built, tables):
    duck = duckdb.connect()
    db = sqlite3.connect(built / "sensetime.db")
    for name, table in tables.items():
        parquet = f"read_parquet('{built / 'parquet' / f'{name}.parquet'}')"
        duck_types = {row[0]: row[1] for row in duck.execute(f"describe select * from {parquet}").fetchall()}
        sqlite_types = {row[1]: row[2] for row in db.execute(f'pragma table_info("{name}")')}
        assert list(duck_types) == [f.name for f in table.output_fields], name
        for f in table.output_fields:
            kind = f.type
            assert (duck_types[f.name], sqlite_types[f.name]) == (DUCKDB[kind], SQLITE[kind]), (name, f.name)
        columns = ", ".join(f'"{c}"' for c in duck_types)
        from_duck = [tuple(map(plain, row)) for row in duck.execute(f"select {columns} from {parquet}").fetchall()]
        from_sqlite = db.execute(f'select {columns} from "{name}"').fetchall()
        assert len(from_duck) == len(from_sqlite) > 0, name
        assert sorted(from_duck, key=repr) == sorted(from_sqlite, key=repr), name
