"""Read a table's CSV into a typed DataFrame, as its schema says.

The dtypes are the fields' (``schema.Field.pandas_dtype``); this module parses the text.
"""

from __future__ import annotations

import csv
import io

import pandas as pd

from .schema import Table, text_dtype

# The csv module's default limit; frictionless raises the process-wide one, so the reader checks
# it itself and a table reads the same in every process.
FIELD_LIMIT = 131072
TOO_LONG = f"a cell is longer than {FIELD_LIMIT} characters, the CSV field limit"
TRUE = {"1", "true", "True", "TRUE"}
FALSE = {"0", "false", "False", "FALSE"}


class CSVFormatError(ValueError):
    """A CSV file the reader cannot turn into one column per header: where and why."""

    def __init__(self, line: int, column: str, rule: str, message: str):
        super().__init__(message)
        self.line, self.column, self.rule, self.message = line, column, rule, message


def read_raw(table: Table) -> tuple[pd.DataFrame, list[int]]:
    """The CSV as strings ("" for empty cells), and the file line each row starts on.

    Raises :class:`CSVFormatError` for a header naming a column twice or with spaces around a
    name, or a cell the CSV reader refuses (longer than its field limit).
    """
    text = table.csv.read_text("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows, lines = [], []
    line = 1
    try:
        header = next(reader, [])
        seen = set()
        for name in header:
            if name in seen:
                raise CSVFormatError(1, name, "duplicate-label", f"the header names column {name!r} twice")
            if name != name.strip():
                raise CSVFormatError(1, name.strip() or "-", "incorrect-label",
                                     f"the header cell {name!r} has spaces around it")
            seen.add(name)
        line = reader.line_num + 1
        width = len(header)
        for row in reader:
            if max(map(len, row), default=0) > FIELD_LIMIT:
                raise CSVFormatError(line, "-", "csv", TOO_LONG)
            if len(row) != width:  # ragged rows are reported by frictionless; keep the frame rectangular
                row = (row + [""] * width)[:width]
            rows.append(row)
            lines.append(line)
            line = reader.line_num + 1
    except csv.Error as e:  # under the default limit the reader refuses a long cell itself
        raise CSVFormatError(line, "-", "csv", TOO_LONG if "field limit" in str(e) else str(e)) from None
    frame = pd.DataFrame(rows, columns=header, dtype=text_dtype()) if rows else pd.DataFrame(columns=header, dtype=text_dtype())
    return frame, lines


def typed(table: Table, raw: pd.DataFrame) -> pd.DataFrame:
    """Convert the string frame of ``read_raw`` to the dtypes of the table's fields (``Field.pandas_dtype``)."""
    out: dict[str, object] = {}
    for f in table.fields:
        col = raw[f.name] if f.name in raw else pd.Series([""] * len(raw), dtype=text_dtype(), index=raw.index)
        empty = col.to_numpy() == ""
        present = col.mask(empty) if empty.any() else col
        if f.type in ("number", "integer"):
            out[f.name] = pd.to_numeric(present, errors="coerce").astype(f.pandas_dtype)
        elif f.type == "boolean":
            out[f.name] = col.map(lambda v: True if v in TRUE else False if v in FALSE else pd.NA).astype(f.pandas_dtype)
        elif f.type == "date":
            out[f.name] = pd.to_datetime(present, format="%Y-%m-%d", errors="coerce").astype(f.pandas_dtype)
        elif isinstance(f.pandas_dtype, pd.CategoricalDtype):  # a word outside them is frictionless's problem to name
            codes = f.pandas_dtype.categories.get_indexer(pd.Index(present))  # -1, missing, for a word outside them
            out[f.name] = pd.Series(pd.Categorical.from_codes(codes, dtype=f.pandas_dtype), index=raw.index)
        else:
            out[f.name] = present.astype(f.pandas_dtype)
    return pd.DataFrame(out, index=raw.index)


def read_table(table: Table) -> pd.DataFrame:
    return typed(table, read_raw(table)[0])


def records(frame: pd.DataFrame) -> list[dict]:
    """The rows as dicts, the values those of ``frame.to_dict("records")``, made in half its time."""
    names = list(frame.columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*(frame[c].tolist() for c in names), strict=True)]
