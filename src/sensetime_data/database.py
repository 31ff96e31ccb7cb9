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
- ``search_map``: the rows holding each piece (``piece`` a rowid of ``search_index``, ``rows``
  a JSON array of ids of ``search_rows``), one row per piece: a list read whole with
  ``json_each`` is written and stored in a fraction of the time and space of a pair per row.

A row holds a word when one of its pieces does. The index is a table of its own rather than an
FTS table over each table, which Datasette would detect and answer with trigram MATCH alone
(nothing for two characters): ``site_plugin`` answers ``_search`` for every table and for
``observations``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
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
        add_search(db.conn, tables, frames)
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


def add_search(conn: sqlite3.Connection, tables: dict[str, Table], frames: dict[str, pd.DataFrame]) -> None:
    """Fill the search tables from the rows just written (row k of a frame is rowid k + 1 of its
    table): every row's own text and the labels of what it points to (module docstring)."""
    import pandas as pd

    conn.execute(f"create virtual table {SEARCH_INDEX} using fts5(text, tokenize = 'trigram')")
    conn.execute(f"create table {SEARCH_ROWS} (id integer primary key, table_name text not null, "
                 "row_id integer not null, row_key text)")
    conn.execute(f"create table {SEARCH_MAP} (piece integer primary key, rows text not null)")
    searched = {name: (frames[name], [f.name for f in table.output_fields if f.type == "string"])
                for name, table in tables.items()}
    searched[DICTIONARY] = (pd.DataFrame(dictionary_rows(tables)), ["table_name", "column_name", "description"])
    first, end = {}, 1  # the search_rows id of each table's first row; one past the last id
    for name, (frame, _) in searched.items():
        first[name], end = end, end + len(frame)
        key = "null"
        if name in tables and tables[name].is_fact:
            obs = tables[name].observations
            key = observation_key(f"'{name}'", obs["subject"], obs["metric"], obs.get("context", "null"))
        conn.execute(f"insert into {SEARCH_ROWS} (id, table_name, row_id, row_key) "
                     f'select rowid + {first[name] - 1}, ?, rowid, {key} from "{name}" order by rowid', (name,))
    texts, held = _pairs(tables, frames, searched, first, end)
    conn.executemany(f"insert into {SEARCH_INDEX} (rowid, text) values (?, ?)", enumerate(texts, 1))
    conn.executemany(f"insert into {SEARCH_MAP} (piece, rows) values (?, ?)", _holders(held, end))


def _pairs(tables: dict[str, Table], frames: dict[str, pd.DataFrame], searched: dict[str, tuple[pd.DataFrame, list[str]]],
           first: dict[str, int], end: int):
    """The distinct texts of the searched cells (a piece is its position + 1), and the pairs of a
    piece and a search_rows id holding it, each as one number, piece * ``end`` + id: each row's
    own cells and the labels of the rows its foreign keys point to."""
    import numpy as np
    import pandas as pd

    ids = {name: np.arange(first[name], first[name] + len(frame)) for name, (frame, _) in searched.items()}
    cells = [(frame[column].astype(object), ids[name]) for name, (frame, columns) in searched.items() for column in columns]
    text = pd.concat([c for c, _ in cells], ignore_index=True)
    codes, texts = pd.factorize(text.where(text != "", None))  # a distinct text once; -1 for none
    pairs = [(codes, np.concatenate([i for _, i in cells]))]
    for name, table in tables.items():
        for column, other, _ in table.foreign_keys:
            labels = tables[other].search_labels if other in tables else []
            if column not in searched[name][1] or len(tables[other].primary_key) != 1 or not labels:
                continue
            lookup = frames[other]
            target = pd.Index(lookup[tables[other].primary_key[0]]).get_indexer(frames[name][column])
            pointing = target >= 0
            pairs += [(texts.get_indexer(pd.Index(lookup[label], dtype=object))[target[pointing]], ids[name][pointing])
                      for label in labels]
    # one number per pair, so that one sort orders them by piece, then row
    held = np.concatenate([(p.astype(np.int64) + 1) * end + r for p, r in pairs])
    return texts.tolist(), held[held >= end]  # piece 0: a cell with no text


BATCH = 1_000_000  # pairs turned into JSON at a time: the text made at once stays small at any scale


def _holders(held, end: int) -> Iterator[tuple[int, str]]:
    """(piece, the JSON array of the distinct rows holding it) for each piece of the pairs ``held``
    (piece * ``end`` + row), in order."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(held):
        return
    held.sort()  # in place (np.unique, which hashes first, is slower)
    held = held[np.r_[True, held[1:] != held[:-1]]]  # a text twice in a row is one pair
    piece = held // end
    starts = np.flatnonzero(np.r_[True, piece[1:] != piece[:-1]])
    ends = np.r_[starts[1:], len(held)]
    begin = 0
    while begin < len(starts):
        stop = max(begin + 1, int(np.searchsorted(starts, starts[begin] + BATCH)))  # a piece's rows are never split
        offsets = np.r_[starts[begin:stop], ends[stop - 1]] - starts[begin]
        rows = held[starts[begin]:ends[stop - 1]] % end
        # the JSON text made by Arrow: str() on millions of ids takes seconds
        lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int64()), pc.cast(pa.array(rows), pa.string()))
        arrays = pc.binary_join_element_wise("[", pc.binary_join(lists, ","), "]", "")
        yield from zip(piece[starts[begin:stop]].tolist(), arrays.to_pylist(), strict=True)
        begin = stop
