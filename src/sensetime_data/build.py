"""Build the outputs from validated tables: SQLite, Parquet, Datasette metadata, datapackage.json.

Everything is written to a staging directory inside ``build/`` and moved into place only
after every table validated and the database passed ``PRAGMA foreign_key_check``; a
failed build leaves the last good outputs as they were.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from .schema import Table, default_root, dump_json, inputs_digest, package_descriptor
from .site import add_dictionary, add_labels_and_search, datasette_metadata
from .validate import Problem, Report, cited_sources, validate

OUTPUTS = ("sensetime.db", "metadata.yml", "parquet", "build.json")

SQL_TYPES = {"string": str, "number": float, "integer": int, "boolean": int, "date": str}


class BuildError(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


class OutputError(ValueError):
    """An output directory a build must not write to; the message is one line saying what to do."""


def output_dir(root: Path, out: Path | None = None) -> Path:
    """``out``, else ``build/`` beside the tables; never inside the installed package (site-packages).

    An installed wheel carries its build: a new one goes to a directory the user names.
    """
    out = Path(out or root / "build")
    if out.resolve().is_relative_to(Path(__file__).resolve().parent):
        raise OutputError(f"{out} is inside the installed package, which stays read-only: "
                          "name a directory for the build with `sensetime-data build --out DIR`")
    return out


def build(root: Path | None = None, out: Path | None = None) -> Report:
    """Validate, then write every output; returns the validation report.

    >>> report = build()            # doctest: +SKIP
    >>> report.ok                   # doctest: +SKIP
    True
    """
    root = Path(root or default_root())
    out = output_dir(root, out)
    report = validate(root)
    if not report.ok:
        return report
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        write_sqlite(staging / "sensetime.db", report)
        write_parquet(staging / "parquet", report)
        (staging / "metadata.yml").write_text(datasette_metadata(report), "utf-8")
        (staging / "build.json").write_text(json.dumps(build_info(root), indent=2) + "\n", "utf-8")
        _swap(staging, out)
        _write_if_changed(root / "datapackage.json", dump_json(package_descriptor(root, cited_sources(report))))
    except BuildError as e:
        report.problems += e.problems
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _swap(staging: Path, out: Path) -> None:
    old = staging / ".old"
    old.mkdir()
    for name in OUTPUTS:
        if (out / name).exists():
            os.replace(out / name, old / name)
        os.replace(staging / name, out / name)


def _write_if_changed(path: Path, text: str) -> None:
    if path.exists() and path.read_text("utf-8") == text:
        return
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


def _build_time() -> str:
    """Now, or $SOURCE_DATE_EPOCH when set, so that a rebuild can be byte-identical in every file."""
    from datetime import datetime, timezone

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch else datetime.now(timezone.utc)
    return moment.replace(microsecond=0).isoformat()


def build_info(root: Path) -> dict:
    from . import __version__

    return {
        "version": __version__,
        "built_at": _build_time(),
        "inputs_sha256": inputs_digest(root),
    }


# --- SQLite ------------------------------------------------------------------------------


def records(table: Table, frame: pd.DataFrame) -> list[dict]:
    """Rows as plain Python values for SQLite: dates as ISO text, booleans as 0/1, NULL for missing."""
    out = frame.copy()
    for f in table.fields:
        name = f["name"]
        if f.get("type") == "date":
            out[name] = out[name].dt.strftime("%Y-%m-%d")
        elif f.get("type") == "boolean":
            out[name] = out[name].astype("Int64")
        out[name] = out[name].astype(object).where(out[name].notna(), None)
    return out.to_dict("records")


def write_sqlite(path: Path, report: Report) -> None:
    import sqlite_utils

    db = sqlite_utils.Database(path)
    for name, table in report.tables.items():
        pk = table.primary_key
        db[name].create(
            {f["name"]: SQL_TYPES[f.get("type", "string")] for f in table.fields},
            pk=pk[0] if len(pk) == 1 else tuple(pk),
            foreign_keys=[fk for fk in table.foreign_keys],
            not_null={f["name"] for f in table.fields if table.required(f["name"])},
        )
        db[name].insert_all(records(table, report.frames[name]))
        for column, _, _ in table.foreign_keys:
            if pk != [column]:
                db[name].create_index([column], find_unique_name=True)
    add_labels_and_search(db, report.tables)
    add_dictionary(db, report.tables)
    db.execute(f"create view observations as {observations_sql(report.tables)}")
    db.execute(f"create view fact_agreement as {AGREEMENT_SQL}")
    broken = db.execute("pragma foreign_key_check").fetchall()
    db.conn.commit()
    db.close()
    if broken:
        raise BuildError([Problem(f"build/{path.name}", 0, t, "foreign_key_check", f"row {r} breaks a foreign key to {o}")
                          for t, r, o, _ in broken])


def observations_sql(tables: dict[str, Table]) -> str:
    parts = []
    for name, table in tables.items():
        if not table.is_fact:
            continue
        obs = table.observations
        parts.append(
            f"select {obs['topic']} as topic, {obs['subject']} as subject, {obs['metric']} as metric, "
            f"{obs.get('context', 'null')} as context, period, value, value_high, unit, comparator, as_reported, "
            f"source_id, quote, period_basis, ambiguous, note, '{name}' as fact_table from {name}"
        )
    return "\nunion all\n".join(parts)


AGREEMENT_SQL = """
select topic, subject, metric, context, period, unit,
       count(distinct source_id) as sources,
       group_concat(source_id || ': ' || as_reported, ' | ') as statements,
       min(value) as min_value, max(value) as max_value,
       case when min(value) = max(value) and min(coalesce(value_high, value)) = max(coalesce(value_high, value))
            then 1 else 0 end as values_agree
from observations
where comparator != 'missing'
group by topic, subject, metric, context, period, unit
having count(distinct source_id) > 1
"""


# --- Parquet -----------------------------------------------------------------------------


def arrow_schema(table: Table):
    """The Parquet schema of a table: dates as date32, enums as dictionaries (categories)."""
    import pyarrow as pa

    def arrow_type(f):
        kind = f.get("type", "string")
        if kind == "string" and "enum" in f.get("constraints", {}):
            return pa.dictionary(pa.int32(), pa.string())
        return {"string": pa.string(), "number": pa.float64(), "integer": pa.int64(),
                "boolean": pa.bool_(), "date": pa.date32()}[kind]

    fields = [
        pa.field(f["name"], arrow_type(f), nullable=not table.required(f["name"]),
                 metadata={"description": f.get("description", "")})
        for f in table.fields
    ]
    return pa.schema(fields, metadata={"title": table.title, "description": table.description})


def write_parquet(directory: Path, report: Report) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory.mkdir()
    for name, table in report.tables.items():
        schema = arrow_schema(table)
        frame = report.frames[name].copy()
        for f in table.fields:
            if f.get("type") == "date":
                frame[f["name"]] = frame[f["name"]].dt.date
        arrow = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        pq.write_table(arrow.replace_schema_metadata(schema.metadata), directory / f"{name}.parquet")
