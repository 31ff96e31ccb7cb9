"""Validate the package: frictionless for structure, pandera for values, the source texts for quotes.

1. frictionless checks every CSV against its Table Schema: shape, types, constraints,
   primary keys. A table that fails here is not read further.
2. pandera checks every typed table against a schema generated from the same Table
   Schema (``pandera.io.pandas_io.from_frictionless_schema``), extended with what a Table
   Schema cannot say: foreign keys (the converter ignores them), the rules of ``rules``,
   and the quote check against the source texts.
3. The ledger counts the numeric mentions of each source that rows and exclusions account for.

Every problem is one line, ``file:line: column: rule: message``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import ledger, rules
from .read import read_raw, typed
from .schema import (FACT_COLUMNS, SchemaFileError, Table, default_root, dump_json, line_of, package_descriptor,
                     read_package, read_tables)
from .sources import read_texts, seeds_dir


@dataclass
class Problem:
    file: str
    line: int
    column: str
    rule: str
    message: str

    def __str__(self) -> str:
        message = " ".join(str(self.message).split())  # one line, whatever a cell held
        return f"{self.file}:{self.line}: {self.column}: {self.rule}: {message}"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    descriptor: dict | None = None
    texts: dict[str, str] = field(default_factory=dict)  # folded source texts, when found
    ledger: list = field(default_factory=list)  # ledger.Coverage of each source

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        rows = sum(len(f) for f in self.frames.values())
        facts = sum(len(self.frames[n]) for n, t in self.tables.items() if t.is_fact and n in self.frames)
        state = "valid" if self.ok else f"{len(self.problems)} problem(s)"
        return f"{state}: {len(self.tables)} tables, {rows} rows, {facts} facts"


def validate(root: Path | None = None) -> Report:
    """Run every check on the package at ``root``; never raises for bad data."""
    root = Path(root or default_root())
    report = Report()
    try:
        report.tables = read_tables(root)
        report.descriptor = package_descriptor(root)
    except SchemaFileError as e:
        report.problems.append(Problem(e.file, e.line, e.column, e.rule, e.message))
        return report
    report.problems += _resource_files(root)
    if report.problems:
        return report
    lines = {}
    for name, table in report.tables.items():
        try:
            raw, lines[name] = read_raw(table)
        except FileNotFoundError:
            report.problems.append(Problem(_rel(table.csv, root), 0, "-", "file", "file not found"))
        except UnicodeDecodeError as e:
            line = e.object[: e.start].count(b"\n") + 1
            report.problems.append(Problem(_rel(table.csv, root), line, "-", "encoding",
                                           f"not UTF-8 ({e.reason} at byte {e.start}); save the file as UTF-8"))
        else:
            if raw.columns.empty:
                report.problems.append(Problem(_rel(table.csv, root), 1, "-", "empty",
                                               "the file is empty: it needs at least its header line"))
            report.frames[name] = raw
    if report.problems:
        return report
    report.problems += _structure(root, report.descriptor, lines)
    for name, table in report.tables.items():
        report.problems += _cells(root, table, report.frames[name], lines[name])
    if report.problems:
        return report
    report.frames = {n: typed(t, report.frames[n]) for n, t in report.tables.items()}
    ctx, notices = _context(root, report)
    report.notices += notices
    for name, table in report.tables.items():
        report.problems += _values(root, table, report.frames, ctx, lines[name])
    report.texts = ctx.texts
    report.ledger = ledger.coverage(report.frames, ctx.texts)
    cited = cited_sources(report)
    if (root / "datapackage.json").read_text("utf-8") != dump_json(package_descriptor(root, cited)):
        report.notices.append("datapackage.json differs from what schemas/ give: `sensetime-data build` rewrites it")
    return report


def _resource_files(root: Path) -> list[Problem]:
    """Every resource of the datapackage.json on disk points to a file that exists."""
    problems = []
    for r in read_package(root).get("resources", []):
        for key in ("path", "schema"):
            target = r.get(key)
            if isinstance(target, str) and not (root / target).exists():
                line = line_of(root / "datapackage.json", f'"{target}"')
                problems.append(Problem("datapackage.json", line, key, "resource_file",
                                        f"resource {r.get('name')!r} points to {target}, which does not exist"))
    return problems


def cited_sources(report: Report) -> dict[str, list[str]]:
    """The source_ids each table's rows cite, in order of first appearance."""
    return {
        n: list(dict.fromkeys(f["source_id"].dropna()))
        for n, f in report.frames.items()
        if "source_id" in f and n != "sources"
    }


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


# --- 1. structure: frictionless ----------------------------------------------------------


def _structure(root: Path, descriptor: dict, lines: dict[str, list[int]]) -> list[Problem]:
    import frictionless

    problems = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            package = frictionless.Package(descriptor, basepath=str(root))
        except frictionless.FrictionlessException as e:
            reasons = dict.fromkeys(r.message for r in e.reasons) or [e.error.message]
            return [Problem("datapackage.json", 1, "-", e.error.type, m) for m in reasons]
        # foreign keys are left to pandera, which names the offending column and value
        report = package.validate(checklist=frictionless.Checklist(skip_errors=["foreign-key"]))
    for task in report.tasks:
        table = descriptor_table(descriptor, task.name)
        file = table["path"]
        for error in task.errors:
            row = getattr(error, "row_number", None)
            rows = lines.get(task.name, [])
            line = rows[row - 2] if row and 2 <= row < len(rows) + 2 else (row or 1)
            column = getattr(error, "field_name", None) or getattr(error, "label", None)
            if not column and getattr(error, "field_number", None):
                column = f"column {error.field_number}"
            if error.type == "primary-key":
                column = "+".join(_pk(root, table))
            if error.type in ("schema-error", "field-error"):
                file = table["schema"]
            problems.append(Problem(file, line, column or "-", error.type, error.note or error.message))
    return problems


def _cells(root: Path, table: Table, raw: pd.DataFrame, lines: list[int]) -> list[Problem]:
    """Cells no schema constraint catches: NaN and inf in numbers, formulas in text."""
    problems = []
    for f in table.fields:
        if f["name"] not in raw:
            continue
        for index, text in raw[f["name"]].items():
            found = rules.cell_problem(text, f.get("type", "string"))
            if found:
                problems.append(Problem(_rel(table.csv, root), lines[index], f["name"], *found))
    return problems


def descriptor_table(descriptor: dict, name: str) -> dict:
    return next(r for r in descriptor["resources"] if r["name"] == name)


def _pk(root: Path, resource: dict) -> list[str]:
    import json

    pk = json.loads((root / resource["schema"]).read_text("utf-8")).get("primaryKey", [])
    return [pk] if isinstance(pk, str) else pk


# --- 2. values: pandera -------------------------------------------------------------------


def _context(root: Path, report: Report) -> tuple[rules.Context, list[str]]:
    frames = report.frames
    ctx = rules.Context(metrics=frames.get("metrics", pd.DataFrame()), periods=frames.get("periods", pd.DataFrame()),
                        units=frames.get("units", pd.DataFrame()), sources=frames.get("sources", pd.DataFrame()))
    seeds = seeds_dir(root)
    if seeds is None:
        return ctx, ["quote check skipped, and the ledger: source texts not found (set SENSETIME_DATA_SEEDS to their directory)"]
    ctx.texts, missing = read_texts(frames["sources"].to_dict("records"), seeds)
    for line in missing:
        report.problems.append(Problem("tables/sources.csv", 1, "sha256", "source_text", line))
    return ctx, [f"quotes checked against {len(ctx.texts)} source texts in {seeds}"]


def table_rules(table: Table) -> dict[str, tuple[str, object]]:
    """The rules of ``rules`` that apply to a table, by name: (column, function)."""
    cols = set(table.columns)
    out = {}
    if {"source_id", "quote"} <= cols:
        out["quote_in_source"] = rules.ROW_RULES["quote_in_source"]
    if {"source_id", "excerpt"} <= cols:
        out["excerpt_in_source"] = ("excerpt", rules.excerpt_in_source)
    if set(FACT_COLUMNS) <= cols:
        out.update({k: v for k, v in rules.ROW_RULES.items() if k != "quote_in_source"})
        if "metric" in cols:
            out.update(rules.METRIC_RULES)
    return out


def to_pandera(table: Table, frames: dict[str, pd.DataFrame], ctx: rules.Context, rule_names=None):
    """The pandera schema of a table: converted from its Table Schema, then given the
    dtypes of ``read.typed``, its foreign keys and the rules of ``rules`` (all of them, or
    those in ``rule_names``)."""
    import pandera.pandas as pa
    from pandera.io.pandas_io import from_frictionless_schema

    converted = from_frictionless_schema({"fields": table.fields, "primaryKey": table.primary_key})
    sample = typed(table, pd.DataFrame({c: pd.Series([], dtype=str) for c in table.columns}))
    columns = {}
    for f in table.fields:
        name = f["name"]
        checks = list(converted.columns[name].checks)
        for column, other, other_column in table.foreign_keys:
            if column == name and other in frames:
                keys = frozenset(frames[other][other_column].dropna().astype(str))
                checks.append(pa.Check(
                    lambda s, keys=keys: s.isna() | s.astype(str).isin(keys),
                    name="foreign_key", error=f"not a {other_column} of {other}",
                ))
        columns[name] = pa.Column(
            sample[name].dtype, checks=checks, nullable=not table.required(name),
            unique=converted.columns[name].unique, name=name,
        )
    checks = [
        pa.Check(lambda df, fn=fn: fn(df, ctx).eq(""), name=rule, error=rule)
        for rule, (_, fn) in table_rules(table).items()
        if rule_names is None or rule in rule_names
    ]
    return pa.DataFrameSchema(columns, checks=checks, strict=True, unique=converted.unique, name=table.name)


def _values(root: Path, table: Table, frames: dict, ctx: rules.Context, lines: list[int]) -> list[Problem]:
    import pandera.pandas as pa

    frame, file = frames[table.name], _rel(table.csv, root)
    if not ctx.texts:
        ctx_rules = {k: v for k, v in table_rules(table).items() if k not in ("quote_in_source", "excerpt_in_source")}
    else:
        ctx_rules = table_rules(table)
    schema = to_pandera(table, frames, ctx, set(ctx_rules))
    try:
        schema.validate(frame, lazy=True)
        return []
    except pa.errors.SchemaErrors as e:
        cases = e.failure_cases
    except pa.errors.SchemaError as e:  # raised before lazy collection, e.g. a wrong dtype
        return [Problem(file, 1, "-", "pandera", str(e).splitlines()[0])]
    problems, seen = [], set()
    messages = {}
    for case in cases.to_dict("records"):
        check, index = str(case["check"]), case["index"]
        line = lines[index] if isinstance(index, int) and 0 <= index < len(lines) else 1
        if check in ctx_rules:
            if (check, index) in seen:
                continue
            seen.add((check, index))
            column, fn = ctx_rules[check]
            if check not in messages:
                messages[check] = fn(frame, ctx)
            problems.append(Problem(file, line, column, check, messages[check].get(index, "")))
        else:
            column = case["column"] or "-"
            rule = "foreign_key" if check.startswith("not a ") else check
            problems.append(Problem(file, line, column, rule, f"{case['failure_case']!r} {check}"))
    return sorted(problems, key=lambda p: (p.line, p.column))
