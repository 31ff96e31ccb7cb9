"""Validate the package: frictionless for structure, pandera for values, the source texts for quotes.

0. The schemas are checked against the project's meta-schema (``metaschema``), so that no
   check can be loosened by editing a schema, and the package's paths and links are checked.
1. frictionless checks every CSV against its Table Schema: shape, types, constraints,
   primary keys; then the cells a schema cannot judge (control characters, full-width
   digits, spaces around keys, keys differing only in case). A table that fails here is
   not read further. frictionless runs in a second process (``structure``) while steps 2
   and 3 go on; when it finds a problem, what they found is dropped and its problems are
   the report's, as if they had not started.
2. pandera checks every typed table against a schema generated from the same Table
   Schema (``schema.Field.pandera_column``: dtype, required, unique, enum, pattern, lengths,
   bounds), with its foreign keys, its primary key and the rules its schema declares
   (``rules.RULES``), the quote checks against the source texts among them. Its problems
   are kept by a digest of all they depend on (``_values_key``): in one program, a table none
   of whose inputs changed is not checked again.
3. The ledger counts the numeric mentions of each source that rows and exclusions account
   for; with the texts present, a mention accounted for by neither is a problem.

Every problem is one line, ``file:line: column: rule: message``.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pandas as pd

from . import ledger, metaschema, rules, structure
from .read import CSVFormatError, read_raw, records, typed
from .schema import (
    SchemaFileError,
    Table,
    default_root,
    dump_json,
    line_of,
    package_descriptor,
    read_package,
    read_tables,
)
from .sources import SEEDS_ENV, read_texts, seeds_dir


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
    """The results of a validation alone: its problems, notices, counts and the ledger of each source."""

    problems: list[Problem] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # tables, rows, facts, problems
    ledger: list = field(default_factory=list)  # ledger.Coverage of each source

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        c = self.counts
        state = "valid" if self.ok else f"{len(self.problems)} problem(s)"
        return f"{state}: {c.get('tables', 0)} tables, {c.get('rows', 0)} rows, {c.get('facts', 0)} facts"

    def to_json(self) -> dict:
        """For `validate --json`: problems, notices, counts, ledger coverage."""
        return {
            "valid": self.ok,
            "counts": {**self.counts, "problems": len(self.problems)},
            "problems": [asdict(p) for p in self.problems],
            "notices": self.notices,
            "coverage": [{"source_id": c.source_id, "mentions": c.total, "unaccounted": [m.text for m in c.missing],
                          "percent": round(c.percent, 1)} for c in self.ledger],
        }


@dataclass
class Validated:
    """What a validation read, for what is made from it (the build, the docs, the ledger pages):
    its report, the tables' schemas and typed frames, the descriptor and the folded source texts."""

    root: Path
    report: Report = field(default_factory=Report)
    tables: dict[str, Table] = field(default_factory=dict)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    descriptor: dict = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


def validate(root: Path | None = None) -> Report:
    """Run every check on the package at ``root``; never raises for bad data.

    >>> validate().summary()                 # doctest: +SKIP
    'valid: 17 tables, 905 rows, 398 facts'
    """
    return check(root).report


def check(root: Path | None = None) -> Validated:
    """``validate``, keeping what it read: ``build`` writes its outputs from the frames of a valid package."""
    root = Path(root or default_root())
    v = Validated(root)
    with rare_collections():
        _check(v)
    v.report.counts = {
        "tables": len(v.tables),
        "rows": sum(len(f) for f in v.frames.values()),
        "facts": sum(len(v.frames[n]) for n, t in v.tables.items() if t.is_fact and n in v.frames),
    }
    return v


@contextmanager
def rare_collections(allocations: int = 50_000) -> Iterator[None]:
    """Python's cyclic garbage collector run every ``allocations`` new containers, not every 700.
    Reading and checking a package makes a list or dict for each row, hardly any of them in a
    cycle: at 1000x the default threshold had the collector take 2 to 3 s of a 20 s build."""
    before = gc.get_threshold()
    gc.set_threshold(max(allocations, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _check(v: Validated) -> None:
    root, report = v.root, v.report
    try:
        v.tables = read_tables(root)
        v.descriptor = package_descriptor(root)
    except SchemaFileError as e:
        report.problems.append(Problem(e.file, e.line, e.column, e.rule, e.message))
        return
    report.problems += [Problem(e.file, e.line, e.column, e.rule, e.message)
                        for e in metaschema.check(v.tables, root)]
    report.problems += _resource_files(root) + _links(root) + _inside(root, v.tables)
    if report.problems:
        return
    checked = structure.start(str(root), _inline(v.descriptor, v.tables))  # beside what follows
    lines, digests = {}, {}
    for name, table in v.tables.items():
        try:
            raw, lines[name] = read_raw(table)
            digests[name] = hashlib.sha256(table.csv.read_bytes()).digest()
        except FileNotFoundError:
            report.problems.append(Problem(_rel(table.csv, root), 0, "-", "file", "file not found"))
        except OSError as e:  # a directory, or a file that may not be read
            report.problems.append(Problem(_rel(table.csv, root), 0, "-", "file", f"cannot be read: {e.strerror}"))
        except CSVFormatError as e:
            report.problems.append(Problem(_rel(table.csv, root), e.line, e.column, e.rule, e.message))
        except UnicodeDecodeError as e:
            line = e.object[: e.start].count(b"\n") + 1
            report.problems.append(Problem(_rel(table.csv, root), line, "-", "encoding",
                                           f"not UTF-8 ({e.reason} at byte {e.start}); save the file as UTF-8"))
        else:
            if raw.columns.empty:
                report.problems.append(Problem(_rel(table.csv, root), 1, "-", "empty",
                                               "the file is empty: it needs at least its header line"))
            v.frames[name] = raw
    if report.problems:
        return
    for name, table in v.tables.items():
        report.problems += _cells(root, table, v.frames[name], lines[name])
        report.problems += _case_duplicates(root, table, v.frames[name], lines[name])
    if report.problems:  # the tables are not read further; frictionless's problems come first
        report.problems = _structure(root, v.tables, checked.result(), lines) + report.problems
        return
    strings = v.frames

    def found_broken() -> bool:  # without waiting: then what is done below would be dropped
        return checked.done() and bool(checked.result())

    try:  # while frictionless runs; if it finds a table broken, what this gives is dropped
        v.frames = {n: typed(t, strings[n]) for n, t in v.tables.items()}
        ctx, notices = _context(root, v, lines["sources"])
        texts = hashlib.sha256(json.dumps(sorted(ctx.texts.items())).encode()).digest()
        values = []
        with rules.shared_rows():  # the frames do not change while their rules run
            for name, table in v.tables.items():
                if found_broken():
                    break
                key = _values_key(root, table, v.tables, digests, texts)
                if key not in VALUES:
                    structure.keep(VALUES, key, _values(root, table, v.frames, ctx, lines[name]), MOST_VALUES)
                values += [replace(p) for p in VALUES[key]]
        coverage = [] if found_broken() else ledger.coverage(v.frames, ctx.texts)
    except Exception:
        if not checked.result():
            raise
    if broken := _structure(root, v.tables, checked.result(), lines):
        report.problems, v.frames = broken, strings
        return
    report.notices += notices
    report.problems += values
    v.texts, report.ledger = ctx.texts, coverage
    report.problems += _ledger_problems(report, v.texts)
    cited = cited_sources(v.frames)
    on_disk, wanted = (root / "datapackage.json").read_text("utf-8"), dump_json(package_descriptor(root, cited))
    if on_disk != wanted:  # build writes nothing outside build/: this file has a command of its own
        old, new = on_disk.splitlines(), wanted.splitlines()
        line = next((i for i, (a, b) in enumerate(zip(old, new, strict=False), 1) if a != b), min(len(old), len(new)) + 1)
        report.problems.append(Problem("datapackage.json", line, "-", "stale",
                                       "differs from what schemas/ and the tables give: `sensetime-data docs` rewrites it"))


def _resource_files(root: Path) -> list[Problem]:
    """Every resource of the datapackage.json on disk points to a file inside the package that exists."""
    problems = []
    resources = read_package(root).get("resources", [])
    for r in resources if isinstance(resources, list) else []:
        for key in ("path", "schema"):
            target = r.get(key) if isinstance(r, dict) else None
            if not isinstance(target, str):
                continue
            line = line_of(root / "datapackage.json", f'"{target}"')
            if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:|^[/\\~]", target) or ".." in re.split(r"[/\\]", target):
                problems.append(Problem("datapackage.json", line, key, "resource_path",
                                        f"resource {r.get('name')!r} points to {target[:60]!r}: a resource path is a "
                                        "relative path inside the package (no absolute path, `..` or URL)"))
            elif not (root / target).exists():
                problems.append(Problem("datapackage.json", line, key, "resource_file",
                                        f"resource {r.get('name')!r} points to {target}, which does not exist"))
            elif not (root / target).resolve().is_relative_to(root.resolve()):
                problems.append(Problem("datapackage.json", line, key, "resource_path",
                                        f"resource {r.get('name')!r} points to {target}, which leads outside the package"))
    return problems


LINK = re.compile(r"^https?://[^\s<>\"]+$")
LINK_KEYS = ("path", "url", "homepage", "href")


def _links(root: Path) -> list[Problem]:
    """Links in datapackage.json (licences, sources, homepage) are http or https: the site renders them."""
    problems = []

    def walk(node):
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key == "resources":
                    for r in value if isinstance(value, list) else []:
                        walk({k: v for k, v in r.items() if k not in ("path", "schema")} if isinstance(r, dict) else r)
                elif key in LINK_KEYS and isinstance(value, str) and not LINK.match(value):
                    line = line_of(root / "datapackage.json", json.dumps(value, ensure_ascii=False))
                    problems.append(Problem("datapackage.json", line, key, "link",
                                            f"{value[:60]!r} is not an http or https address"))
                else:
                    walk(value)

    walk(read_package(root))
    return problems


def _inside(root: Path, tables: dict[str, Table]) -> list[Problem]:
    """No table or schema file is a link leading outside the package."""
    base = root.resolve()
    return [
        Problem(_rel(path, root), 0, "-", "resource_path",
                f"{_rel(path, root)} leads outside the package, to {path.resolve()}")
        for table in tables.values()
        for path in (table.csv, table.schema_file)
        if path.exists() and not path.resolve().is_relative_to(base)
    ]


def cited_sources(frames: dict[str, pd.DataFrame]) -> dict[str, list[str]]:
    """The source_ids each table's rows cite, in order of first appearance."""
    return {
        n: list(dict.fromkeys(f["source_id"].dropna()))
        for n, f in frames.items()
        if "source_id" in f and n != "sources"
    }


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


# --- 1. structure: frictionless ----------------------------------------------------------


def _inline(descriptor: dict, tables: dict[str, Table]) -> dict:
    """The package with each schema inline, without its foreign keys: pandera checks those and
    names the offending column and value, so frictionless need not build lookups it would skip."""
    return {**descriptor, "resources": [
        {**r, "schema": {k: v for k, v in tables[r["name"]].descriptor.items() if k != "foreignKeys"}}
        if r.get("name") in tables else r for r in descriptor["resources"]]}


def _structure(root: Path, tables: dict[str, Table], errors: list[list], lines: dict[str, list[int]]) -> list[Problem]:
    """frictionless's errors (``structure.errors``) as problems on the lines of the files."""
    problems = []
    for name, row, column, kind, message in errors:
        if name is None:
            problems.append(Problem("datapackage.json", 1, "-", kind, message))
            continue
        table = tables[name]
        rows = lines.get(name, [])
        line = rows[row - 2] if row and 2 <= row < len(rows) + 2 else (row or 1)
        if kind == "primary-key":
            column = "+".join(table.primary_key)
        file = table.schema_file if kind in ("schema-error", "field-error") else table.csv
        problems.append(Problem(_rel(file, root), line, column or "-", kind, message))
    return problems


NO_NEWLINE = "^[^\\r\\n]*$"  # the pattern of free text kept on one line
PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$", re.ASCII)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _cells(root: Path, table: Table, raw: pd.DataFrame, lines: list[int]) -> list[Problem]:
    """Cells no schema constraint catches: NaN and inf in numbers, formulas in text, control
    characters, numbers the reader would not read as frictionless does, codes with full-width
    digits or surrounding spaces, links that are not http or https."""
    problems = []
    references = {column for column, _, _ in table.foreign_keys}
    for f in table.fields:
        if f.name not in raw:
            continue
        # a code is matched or parsed, never quoted text (a key like an exclusion excerpt may quote ²)
        code = bool(f.type != "string" or f.name in references or f.constraints.get("unique") or f.enum
                    or f.constraints.get("pattern", NO_NEWLINE) != NO_NEWLINE)
        key = code or f.name in table.primary_key
        column = raw[f.name].tolist()
        # each distinct text once (codes, units and periods repeat), then its problem on every line it stands
        found = {text: rules.cell_problem(text, f.type) or _cell_problem(text, f.type, f.format, code, key)
                 for text in dict.fromkeys(column)}
        if not any(found.values()):
            continue
        for index, text in enumerate(column):
            if problem := found[text]:
                problems.append(Problem(_rel(table.csv, root), lines[index], f.name, *problem))
    return problems


def _cell_problem(text: str, kind: str, fmt: str | None, code: bool, key: bool) -> tuple[str, str] | None:
    control = CONTROL.search(text)
    if control:
        return "control", f"holds the control character {control.group()!r} (a NUL byte or the like)"
    if code and any(ch.isdigit() and not ch.isascii() for ch in text):
        return "fullwidth", f"{text[:40]!r} has full-width or non-ASCII digits: write 0-9"
    if key and text != text.strip():
        return "spaces", f"{text[:40]!r} has spaces around it: a code or key is written without them"
    if kind in ("number", "integer") and text and not PLAIN_NUMBER.match(text) and text.lower().lstrip("+-") not in (
            "nan", "inf", "infinity"):
        return "number", f"{text[:40]!r} is not a plain number (digits, a point, an exponent): the reader would lose it"
    if fmt == "uri" and text and not LINK.match(text):
        return "link", f"{text[:60]!r} is not an http or https address"
    return None


def _case_duplicates(root: Path, table: Table, raw: pd.DataFrame, lines: list[int]) -> list[Problem]:
    """Keys that differ only in case (`mmlu` beside `MMLU`): one thing under two ids."""
    problems = []
    keys = [table.primary_key] + [[f.name] for f in table.fields if f.constraints.get("unique")]
    for key in dict.fromkeys(tuple(k) for k in keys if k and all(c in raw for c in k)):
        values = list(zip(*(raw[c].tolist() for c in key), strict=True))
        folded = [tuple(v.casefold() for v in row) for row in values]
        if len(set(folded)) == len(folded):
            continue  # no two alike in any case: nothing to look at row by row
        seen: dict[tuple, int] = {}
        for index, (row, fold) in enumerate(zip(values, folded, strict=True)):
            first = seen.setdefault(fold, index)
            if values[first] != row:
                problems.append(Problem(_rel(table.csv, root), lines[index], "+".join(key), "case_duplicate",
                                        f"{'/'.join(row)!r} differs only in case from line {lines[first]} "
                                        f"({'/'.join(values[first])!r})"))
    return problems


# --- 2. values: pandera -------------------------------------------------------------------


def _context(root: Path, v: Validated, source_lines: list[int]) -> tuple[rules.Context, list[str]]:
    frames = v.frames
    ctx = rules.Context(metrics=frames.get("metrics", pd.DataFrame()), periods=frames.get("periods", pd.DataFrame()),
                        units=frames.get("units", pd.DataFrame()), sources=frames.get("sources", pd.DataFrame()))
    seeds = seeds_dir(root)
    if seeds is None:
        return ctx, ["quote check skipped, and the ledger: source texts not found (set SENSETIME_DATA_SEEDS to their directory)"]
    sources = records(frames["sources"])
    ctx.texts, missing = read_texts(sources, seeds)
    line_of_source = dict(zip((s["source_id"] for s in sources), source_lines, strict=False))
    for line in missing:
        source_id = line.split(":")[0]
        named = f" (named by {SEEDS_ENV})" if os.environ.get(SEEDS_ENV) else ""
        v.report.problems.append(Problem("tables/sources.csv", line_of_source.get(source_id, 1), "file", "source_text",
                                       f"{line}{named}: the quote checks need every source text"))
    return ctx, [f"quotes checked against {len(ctx.texts)} source texts in {seeds}"]


def _ledger_problems(report: Report, texts: dict[str, str]) -> list[Problem]:
    """With the texts present, every numeric mention of every source is a fact or an exclusion."""
    problems = []
    for cov in report.ledger:
        if cov.missing:
            text = texts[cov.source_id]
            shown = ", ".join(f"{m.text} (…{ledger.context(text, m, 12)}…)" for m in cov.missing[:3])
            more = ", …" if len(cov.missing) > 3 else ""
            problems.append(Problem("tables/exclusions.csv", 1, "-", "ledger",
                                    f"{cov.source_id}: {len(cov.missing)} numeric mention(s) not accounted for: {shown}"
                                    f"{more}; add a fact row or an exclusion (sensetime-data ledger --source "
                                    f"{cov.source_id} lists them)"))
    return problems


def table_rules(table: Table) -> dict[str, tuple[str, rules.Rule]]:
    """The rules a table's schema declares, by name: (the column its problems name, the rule)."""
    return {name: rules.RULES[name] for name in table.rules}


def to_pandera(table: Table, frames: dict[str, pd.DataFrame], ctx: rules.Context, messages: dict | None = None):
    """The pandera schema of a table: each field's column (``Field.pandera_column``) with its
    foreign key, the primary key, and the rules its schema declares. Each rule runs once: its
    messages (one per row, "" where the row passes) are kept in ``messages`` under its name."""
    import pandera.pandas as pa

    references = {column: (other, other_column) for column, other, other_column in table.foreign_keys if other in frames}
    columns = {}
    for f in table.fields:
        checks = []
        if f.name in references:
            other, other_column = references[f.name]
            keys = frozenset(frames[other][other_column].dropna().astype(str))
            checks.append(pa.Check(lambda s, keys=keys: s.isna() | s.astype(str).isin(keys), name=FOREIGN_KEY))
        columns[f.name] = f.pandera_column(checks)
    kept = {} if messages is None else messages

    def run(name: str, rule: rules.Rule, frame: pd.DataFrame) -> bool:
        kept[name] = rule(frame, ctx)
        return bool(kept[name].eq("").all())  # one answer: the rows and messages are in `kept`

    checks = [pa.Check(lambda df, name=name, rule=rule: run(name, rule, df), name=name)
              for name, (_, rule) in table_rules(table).items()]
    return pa.DataFrameSchema(columns, checks=checks, strict=True, unique=table.primary_key or None, name=table.name)


FOREIGN_KEY = "foreign_key"

# A table's pandera problems by the digest of all they depend on (``_values_key``), so that a
# program validating often, or validating copies of one package, checks again only what changed.
VALUES: dict[str, list[Problem]] = {}
MOST_VALUES = 1024
CONTEXT_TABLES = ("metrics", "periods", "units", "sources")  # what ``rules.Context`` holds


def _values_key(root: Path, table: Table, tables: dict[str, Table], digests: dict[str, bytes], texts: bytes) -> str:
    """What a table's values are checked against: its schema and file, the schemas and files of
    the tables its foreign keys and the rules' context read, the source texts, and its rules
    (a program, or a test, may swap one)."""
    h = hashlib.sha256(texts + table.name.encode() + b"\0")
    h.update(repr([id(rule) for _, rule in table_rules(table).values()]).encode())
    for name in sorted({table.name, *CONTEXT_TABLES, *(other for _, other, _ in table.foreign_keys)} & tables.keys()):
        other = tables[name]
        h.update(json.dumps([name, _rel(other.csv, root), other.descriptor], sort_keys=True).encode())
        h.update(digests[name])
    return h.hexdigest()


def _values(root: Path, table: Table, frames: dict, ctx: rules.Context, lines: list[int]) -> list[Problem]:
    import pandera.pandas as pa

    frame, file = frames[table.name], _rel(table.csv, root)
    messages: dict[str, pd.Series] = {}
    schema = to_pandera(table, frames, replace(ctx, table=table), messages)
    try:
        schema.validate(frame, lazy=True)
        return []
    except pa.errors.SchemaErrors as e:
        cases = e.failure_cases
    except pa.errors.SchemaError as e:  # raised before lazy collection, e.g. a wrong dtype
        return [Problem(file, 1, "-", "pandera", str(e).splitlines()[0])]

    def line(index) -> int:
        return lines[index] if isinstance(index, int) and 0 <= index < len(lines) else 1

    found = table_rules(table)
    problems = [Problem(file, line(index), found[name][0], name, message)
                for name, series in messages.items() for index, message in series.items() if message]
    references = {column: (other, other_column) for column, other, other_column in table.foreign_keys}
    for case in cases.to_dict("records"):
        check = str(case["check"])
        if check in found:
            if check not in messages:  # the rule raised: pandera caught it
                problems.append(Problem(file, 1, found[check][0], check, f"the rule failed: {case['failure_case']}"))
            continue  # its messages are above
        column = case["column"] or "-"
        if check == FOREIGN_KEY:
            other, other_column = references[column]
            message = f"{case['failure_case']!r} is not a {other_column} of {other}"
        else:
            message = f"{case['failure_case']!r} {check}"
        problems.append(Problem(file, line(case["index"]), column, check, message))
    return sorted(problems, key=lambda p: (p.line, p.column))
