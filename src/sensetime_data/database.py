"""Write the SQLite database: the tables, their labels, the data dictionary, the views and the
search index, in one transaction.

Search. A row is searched by its pieces of text: its own string cells (ids, quote and its
translation, note, names...) and the English and Chinese labels of the rows its foreign keys
point to: metric, segment, model, benchmark, evaluation, source, period, unit: the columns each
schema names in ``search_labels``. So ``revenue`` and 营业收入 find the revenue rows although
their quotes say neither, and ``MMLU`` finds every MMLU score. Most pieces are the same few
texts cited by many rows (a source's title, a metric's labels), so each distinct piece is
indexed once, in three tables:

- ``search_index``: an FTS5 table (trigram tokenizer) of each distinct piece of text, once;
- ``search_rows``: the rows searched (``id``, ``table_name``, ``row_id`` the row's rowid,
  ``row_key`` a fact's key in ``observations``, so the view is searched too; NULL for others);
- ``search_map``: which pieces each row holds (``piece`` a rowid of ``search_index``, ``row``
  an ``id`` of ``search_rows``), keyed by piece.

A row holds a word when one of its pieces does. The index is a table of its own rather than an
FTS table over each table, which Datasette would detect and answer with trigram MATCH alone
(nothing for two characters): ``site_plugin`` answers ``_search`` for every table and for
``observations``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from .schema import Table
from .views import VIEWS

LABEL = "label"  # the generated column that shows a lookup row in two languages
SEARCH_INDEX = "search_index"  # FTS5 over each distinct piece of text, once
SEARCH_ROWS = "search_rows"  # the rows searched: table, rowid, key in observations
SEARCH_MAP = "search_map"  # which pieces each searched row holds
SEARCH_TABLES = (SEARCH_INDEX, SEARCH_ROWS, SEARCH_MAP)
DICTIONARY = "data_dictionary"

if TYPE_CHECKING:
    import pandas as pd


def write_sqlite(path: Path, tables: dict[str, Table], frames: dict[str, pd.DataFrame]) -> list[tuple]:
    """Write ``frames`` (each table's rows with its output columns) to a new database at ``path``;
    returns what ``pragma foreign_key_check`` finds (nothing when every key holds)."""
    import sqlite_utils

    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    # The file is a fresh one inside a build directory that becomes current only when complete,
    # so it needs no journal of its own: a failed build is thrown away whole.
    db.execute("pragma journal_mode = off")
    db.execute("pragma synchronous = off")
    try:
        db.execute("begin")
        for name, table in tables.items():
            _create(db, table)
            columns = ", ".join(f'"{c}"' for c in table.output_columns)
            marks = ", ".join("?" * len(table.output_columns))
            db.conn.executemany(f'insert into "{name}" ({columns}) values ({marks})', rows(table, frames[name]))
            _index(db, table)  # after the rows: an index built once is quicker than one kept up row by row
        add_labels(db.conn, tables)
        add_dictionary(db, tables)
        for name, view in VIEWS.items():
            db.execute(f"create view {name} as {view.sql(tables)}")
        add_search(db.conn, tables)
        broken = db.execute("pragma foreign_key_check").fetchall()
        db.execute("commit")
    finally:
        db.close()  # also on failure, so a full disk's space is freed at once
    return broken


def _create(db, table: Table) -> None:
    """The table as its schema says: column types, primary key, foreign keys, not null."""
    pk = table.primary_key
    db.table(table.name).create(
        {f.name: f.sql_type for f in table.output_fields}, pk=pk[0] if len(pk) == 1 else tuple(pk),
        foreign_keys=table.foreign_keys, not_null={f.name for f in table.output_fields if f.required})


def _index(db, table: Table) -> None:
    """An index on each foreign key that is not the primary key."""
    for column, _, _ in table.foreign_keys:
        if table.primary_key != [column]:
            db.table(table.name).create_index([column], find_unique_name=True)


def rows(table: Table, frame: pd.DataFrame) -> Iterator[tuple]:
    """Rows as plain Python values for SQLite: dates as ISO text, booleans as 0/1, NULL for missing."""
    columns = []
    for f in table.output_fields:
        column = frame[f.name]
        if f.type == "date":
            column = column.dt.strftime("%Y-%m-%d")
        elif f.type == "boolean":
            column = column.astype("Int64")
        columns.append(column.astype(object).where(column.notna(), None).tolist())
    return zip(*columns, strict=True)


def label_sql(table: Table) -> str | None:
    """SQL of the bilingual label of a lookup table whose ``label_column`` lists two columns."""
    columns = table.descriptor.get("label_column")
    if not isinstance(columns, list):
        return None
    return " || ' · ' || ".join(f'coalesce("{c}", \'\')' for c in columns)


def add_labels(conn: sqlite3.Connection, tables: dict[str, Table]) -> None:
    """Give lookup tables their bilingual label column."""
    for name, table in tables.items():
        expression = label_sql(table)
        if expression:
            # A virtual generated column: shown as a foreign key's label, never stored twice.
            conn.execute(f'alter table "{name}" add column "{LABEL}" text generated always as ({expression}) virtual')


def add_dictionary(db, tables: dict[str, Table]) -> None:
    """The data dictionary as a table: a rowid table, so pages list columns in schema order."""
    db[DICTIONARY].insert_all(dictionary_rows(tables))


def dictionary_rows(tables: dict[str, Table]) -> list[dict]:
    return [f.dictionary_row(name, position) for name, table in tables.items()
            for position, f in enumerate(table.output_fields, 1)]


# --- search ----------------------------------------------------------------------------------


def observation_key(fact_table: str, subject: str, metric: str, context: str) -> str:
    """SQL of a fact's key in ``observations`` (unique by the contract), from SQL expressions of its parts."""
    parts = [fact_table, subject, metric, f"coalesce({context}, '')", "period", "source_id"]
    return " || char(31) || ".join(f"({p})" for p in parts)


# The same key over the view's own columns: `site_plugin` searches `observations` with it.
VIEW_KEY = observation_key("fact_table", "subject", "metric", "context")


def _rows(conn, name: str, columns: list[str], extra: str = "null") -> Iterator[tuple]:
    """(rowid, the columns' values..., ``extra``) for every row of a table, in rowid order."""
    select = ", ".join([f'"{c}"' for c in columns] + [extra])
    return conn.execute(f'select rowid, {select} from "{name}" order by rowid')


class _Pieces:
    """Each distinct text's rowid in ``search_index``, the text written there the first time it comes."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.ids: dict[str, int] = {}  # the one thing held whole: the distinct texts, not the rows

    def __call__(self, values) -> list[int]:
        """The rowids of the texts among ``values`` (cells; None and "" hold no text)."""
        found = []
        for value in values:
            if value is None or value == "":
                continue
            text = str(value)
            if text not in self.ids:
                self.ids[text] = len(self.ids) + 1
                self.conn.execute(f"insert into {SEARCH_INDEX} (rowid, text) values (?, ?)", (self.ids[text], text))
            found.append(self.ids[text])
        return found


def _naming_pieces(conn, table: Table, pieces: _Pieces) -> dict[str, list[int]]:
    """The pieces that name each row (its schema's ``search_labels``), by key, for the rows pointing to it."""
    columns = table.search_labels
    if len(table.primary_key) != 1 or not columns:
        return {}
    return {key: pieces(values) for _, *values, key in _rows(conn, table.name, columns, f'"{table.primary_key[0]}"')}


BATCH = 10_000  # rows written at a time: memory stays flat at any scale


def add_search(conn: sqlite3.Connection, tables: dict[str, Table]) -> None:
    """Fill the search tables: every row's own text and the labels of what it points to (module docstring)."""
    conn.execute(f"create virtual table {SEARCH_INDEX} using fts5(text, tokenize = 'trigram')")
    conn.execute(f"create table {SEARCH_ROWS} (id integer primary key, table_name text not null, "
                 "row_id integer not null, row_key text)")
    conn.execute(f"create table {SEARCH_MAP} (piece integer not null, row integer not null, "
                 "primary key (piece, row)) without rowid")
    # Each row's pieces wait here as a JSON list and go into the map sorted, at the end: inserted
    # row by row they land all over its B-tree (19 s at 1000x, against 8 s sorted).
    conn.execute("create temp table search_pending (row integer primary key, pieces text not null)")
    pieces = _Pieces(conn)
    naming = {name: _naming_pieces(conn, table, pieces) for name, table in tables.items()}
    numbered = enumerate(_search_rows(conn, tables, naming, pieces), 1)
    while batch := list(islice(numbered, BATCH)):
        conn.executemany(f"insert into {SEARCH_ROWS} (id, table_name, row_id, row_key) values (?, ?, ?, ?)",
                         [(row, *where) for row, (_, *where) in batch])
        conn.executemany("insert into search_pending (row, pieces) values (?, ?)",
                         [(row, f"[{','.join(map(str, ids))}]") for row, (ids, *_) in batch])
    conn.execute(f"insert into {SEARCH_MAP} select distinct j.value, p.row from search_pending p, json_each(p.pieces) j "
                 "order by 1, 2")  # distinct: a text twice in a row is one pair
    conn.execute("drop table search_pending")


def _search_rows(conn, tables: dict[str, Table], naming: dict[str, dict[str, list[int]]],
                 pieces: _Pieces) -> Iterator[tuple]:
    """(the rowids of its pieces, table, rowid, key in observations) of every row searched, one at a time."""
    for name, table in tables.items():
        own = [f.name for f in table.output_fields if f.type == "string"]
        key = "null"
        if table.is_fact:
            obs = table.observations
            key = observation_key(f"'{name}'", obs["subject"], obs["metric"], obs.get("context", "null"))
        pointers = [(own.index(column), naming[other]) for column, other, _ in table.foreign_keys
                    if column in own and naming.get(other)]
        for rowid, *values, row_key in _rows(conn, name, own, key):
            labels = [label for at, names in pointers for label in names.get(values[at], ())]
            yield pieces(values) + labels, name, rowid, row_key
    for rowid, *values, _ in _rows(conn, DICTIONARY, ["table_name", "column_name", "description"]):
        yield pieces(values), DICTIONARY, rowid, None
