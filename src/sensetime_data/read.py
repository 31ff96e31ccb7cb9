"""Read a table's CSV into a typed DataFrame, as its schema says.

Types: ``number`` → float64, ``integer`` → Int64 (a missing count stays missing),
``boolean`` → bool (nullable ``boolean`` when optional), ``date`` → datetime64,
a string with an ``enum`` constraint → categorical with the enum's categories.
"""

from __future__ import annotations

import csv
import io

import pandas as pd

from .schema import Table

TRUE = {"1", "true", "True", "TRUE"}
FALSE = {"0", "false", "False", "FALSE"}


class CSVFormatError(ValueError):
    """A CSV file the reader cannot turn into one column per header: where and why."""

    def __init__(self, line: int, column: str, rule: str, message: str):
        super().__init__(message)
        self.line, self.column, self.rule, self.message = line, column, rule, message


def read_raw(table: Table) -> tuple[pd.DataFrame, list[int]]:
    """The CSV as strings ("" for empty cells), and the file line each row starts on.

    Raises :class:`CSVFormatError` for a header naming a column twice or a cell the CSV
    reader refuses (longer than its field limit, a stray quote at the end of the file).
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
            seen.add(name)
        line = reader.line_num + 1
        for row in reader:  # ragged rows are reported by frictionless; keep the frame rectangular
            rows.append((row + [""] * len(header))[: len(header)])
            lines.append(line)
            line = reader.line_num + 1
    except csv.Error as e:
        limit = csv.field_size_limit()
        message = f"a cell is longer than {limit} characters, the CSV reader's limit" if "field limit" in str(e) else str(e)
        raise CSVFormatError(line, "-", "csv", message) from None
    frame = pd.DataFrame(rows, columns=header, dtype=str) if rows else pd.DataFrame(columns=header, dtype=str)
    return frame, lines


def typed(table: Table, raw: pd.DataFrame) -> pd.DataFrame:
    """Convert the string frame of ``read_raw`` to the schema's types."""
    out = {}
    for f in table.fields:
        name, kind = f["name"], f.get("type", "string")
        col = raw[name] if name in raw else pd.Series([""] * len(raw), dtype=str)
        missing = col.eq("")
        if kind == "number":
            out[name] = pd.to_numeric(col.where(~missing), errors="coerce").astype("float64")
        elif kind == "integer":
            out[name] = pd.to_numeric(col.where(~missing), errors="coerce").astype("Int64")
        elif kind == "boolean":
            values = col.map(lambda v: True if v in TRUE else False if v in FALSE else pd.NA)
            out[name] = values.astype("bool" if table.required(name) else "boolean")
        elif kind == "date":
            out[name] = pd.to_datetime(col.where(~missing), format="%Y-%m-%d", errors="coerce").astype("datetime64[s]")
        elif "enum" in f.get("constraints", {}):
            out[name] = pd.Categorical(col.where(~missing), categories=f["constraints"]["enum"])
        else:
            out[name] = col.where(~missing).astype("str")
    return pd.DataFrame(out, index=raw.index)


def read_table(table: Table) -> pd.DataFrame:
    return typed(table, read_raw(table)[0])
