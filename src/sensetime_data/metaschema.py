"""The schemas checked against the project's own meta-schema (``metaschema.json``) before any data is read.

A Table Schema says what the checks of its table are, so a schema that loses a field, a
foreign key, an enum or a pattern would quietly loosen them. The meta-schema names the fact
tables and the lookup tables and what each must keep; every schema may use only the options
this package honours (``read.typed`` reads booleans as 1/0/true/false and dates as ISO dates,
so ``trueValues``, a date ``format`` or ``groupChar`` would make frictionless and the reader
disagree), and every key, label column, facet and ``observations`` expression must name
what exists. Each violation is one problem naming the schema file, its line and the field.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from .schema import SchemaFileError, Table, line_of, meta

RULE = "meta-schema"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # names go into SQL, file names and URLs
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check(tables: dict[str, Table], root: Path) -> list[SchemaFileError]:
    """Every way the schemas of ``tables`` break the meta-schema, one problem each."""
    m = meta()
    problems = []
    for name in [*m["fact_tables"], *m["lookup_tables"]]:
        if name not in tables:
            problems.append(SchemaFileError(f"schemas/{name}.json", 0, f"the meta-schema requires table {name!r}, which "
                                            f"has no schema: restore schemas/{name}.json and its CSV", RULE))
    for table in tables.values():
        problems += _check_table(table, tables, m, _rel(table.schema_file, root))
    return problems + _observations_sql(tables, m, root)


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _check_table(table: Table, tables: dict[str, Table], m: dict, file: str) -> list[SchemaFileError]:
    d = table.descriptor
    fields = {f["name"]: f for f in d["fields"]}

    def problem(needle: str, column: str, message: str) -> SchemaFileError:
        return SchemaFileError(file, line_of(table.schema_file, needle) if needle else 1, message, RULE, column)

    def field_problem(name: str, message: str) -> SchemaFileError:
        return problem(f'"name": "{name}"', name, message)

    out = []
    if not NAME.match(table.name):
        out.append(problem("", "-", f"table name {table.name!r} must be lower snake_case "
                           "(it names a file, a SQL table, a URL)"))
    for key in d:
        if key not in m["allowed"]["schema"]:
            out.append(problem(f'"{key}"', "-", f"{key!r} is not a schema option this package honours "
                               f"({', '.join(m['allowed']['schema'])})"))
    seen = set()
    for f in d["fields"]:
        name = f["name"]
        if name in seen:
            out.append(field_problem(name, f"field {name!r} is defined twice"))
        seen.add(name)
        if not FIELD_NAME.match(name):
            out.append(field_problem(name, f"field name {name!r} must be letters, digits and underscores"))
        out += [field_problem(name, message) for message in _options(f, m["allowed"])]
        constraints: dict = f["constraints"] if isinstance(f.get("constraints"), dict) else {}
        if (name == "metric" or name.endswith("_id")) and not (
                constraints.get("pattern") == m["identifiers"]["pattern"] or constraints.get("enum")):
            out.append(field_problem(name, f"an id field keeps the pattern {m['identifiers']['pattern']!r} or an enum"))
    out += _keys(table, tables, fields, problem, field_problem)
    out += _rules(table, m, problem)
    if table.name in m["fact_tables"]:
        spec = m["fact_table"]
        out += _fields(spec["fields"], fields, field_problem, f"a fact table ({table.name})", problem)
        missing = [k for k in spec["primary_key_includes"] if k not in table.primary_key]
        if missing:
            out.append(problem('"primaryKey"', "+".join(table.primary_key) or "-",
                               f"the primary key of a fact table must include {' and '.join(missing)}"))
        obs = d.get("observations")
        if not isinstance(obs, dict) or any(not isinstance(obs.get(k), str) for k in spec["observations"]):
            out.append(problem('"observations"', "-", "a fact table needs `observations` with SQL for "
                               + ", ".join(spec["observations"])
                               + " (it puts the table's facts into the observations view)"))
    elif table.name in m["lookup_tables"]:
        spec = m["lookup_tables"][table.name]
        out += _fields(spec["fields"], fields, field_problem, f"the lookup table {table.name}", problem)
        if table.primary_key != spec["primaryKey"]:
            out.append(problem('"primaryKey"', "+".join(table.primary_key) or "-",
                               f"the primary key of {table.name} must be {'+'.join(spec['primaryKey'])}"))
    out += _references(table, tables, m["references"], problem)
    return out


def _rules(table: Table, m: dict, problem) -> list[SchemaFileError]:
    """The rules a schema declares exist and name its columns, and keep those the meta-schema requires."""
    from .rules import RULES

    declared = table.descriptor.get("rules", [])
    if not isinstance(declared, list) or not all(isinstance(r, str) for r in declared):
        return [problem('"rules"', "-", "rules must be a list of rule names")]
    out = []
    for name in declared:
        if name not in RULES:
            out.append(problem(f'"{name}"', "-", f"{name!r} is not a rule of sensetime_data.rules"))
        elif RULES[name][0] not in table.columns:
            out.append(problem(f'"{name}"', RULES[name][0], f"rule {name!r} checks column {RULES[name][0]!r}, which the table lacks"))
    if table.name in m["fact_tables"]:
        required = m["fact_table"]["rules"] + (m["fact_table"]["metric_rules"] if "metric" in table.columns else [])
    else:
        required = m["lookup_tables"].get(table.name, {}).get("rules", [])
    missing = [r for r in required if r not in declared]
    if missing:
        out.append(problem('"rules"' if "rules" in table.descriptor else "", "-",
                           f"the meta-schema requires the rules {', '.join(missing)}: a schema may add rules, not drop them"))
    return out


def _options(f: dict, allowed: dict) -> list[str]:
    """Options of a field the reader does not honour."""
    out = [f"{k!r} is not a field option this package honours (it reads booleans as 1/0/true/false, numbers "
           "without separators, dates as YYYY-MM-DD)" for k in f if k not in allowed["field"]]
    kind = f.get("type", "string")
    fmt = f.get("format", "default")
    if fmt not in allowed["formats"].get(kind, ["default"]):
        out.append(f"format {fmt!r} is not one this package reads for a {kind} "
                   f"({', '.join(allowed['formats'].get(kind, ['default']))})")
    constraints = f.get("constraints", {})
    if not isinstance(constraints, dict):
        return out + ["constraints must be an object"]
    out += [f"constraint {k!r} is not one this package checks ({', '.join(allowed['constraints'])})"
            for k in constraints if k not in allowed["constraints"]]
    if "pattern" in constraints:
        try:
            re.compile(str(constraints["pattern"]))
        except re.error as e:
            out.append(f"pattern {constraints['pattern']!r} is not a valid regular expression ({e})")
    return out


def _fields(specs: dict, fields: dict, field_problem, scope: str, problem) -> list[SchemaFileError]:
    out = []
    for name, spec in specs.items():
        if name not in fields:
            out.append(problem('"fields"', name, f"{scope} must have the field {name!r}"))
            continue
        out += [field_problem(name, f"{message} ({scope})") for message in _field_spec(fields[name], spec)]
    return out


def _field_spec(f: dict, spec: dict) -> list[str]:
    """How a field falls short of its spec in the meta-schema."""
    out = []
    kind, c = f.get("type", "string"), f.get("constraints", {}) or {}
    if kind != spec.get("type", kind):
        out.append(f"type is {kind!r}, must be {spec['type']!r}")
    for key in ("required", "unique"):
        if spec.get(key) and c.get(key) is not True:
            out.append(f"constraints.{key} must be true")
    if spec.get("enum") is True and not c.get("enum"):
        out.append("constraints.enum is missing")
    elif isinstance(spec.get("enum"), list):
        enum = c.get("enum")
        if not isinstance(enum, list) or sorted(map(str, enum)) != sorted(spec["enum"]):
            out.append(f"constraints.enum must be exactly {spec['enum']}")
    if spec.get("pattern") is True and not c.get("pattern"):
        out.append("constraints.pattern is missing")
    elif isinstance(spec.get("pattern"), str) and c.get("pattern") != spec["pattern"]:
        out.append(f"constraints.pattern must be {spec['pattern']!r}")
    if "minLength" in spec and not (isinstance(c.get("minLength"), int) and c["minLength"] >= spec["minLength"]):
        out.append(f"constraints.minLength must be at least {spec['minLength']}")
    if "format" in spec and f.get("format", "default") != spec["format"]:
        out.append(f"format must be {spec['format']!r}")
    return out


def _keys(table: Table, tables: dict[str, Table], fields: dict, problem, field_problem) -> list[SchemaFileError]:
    """The primary key, foreign keys, label columns, facets and sort name fields that exist."""
    d, out = table.descriptor, []
    pk = d.get("primaryKey", [])
    for name in [pk] if isinstance(pk, str) else pk if isinstance(pk, list) else [pk]:
        if name not in fields:
            out.append(problem('"primaryKey"', str(name), f"the primary key names {name!r}, which is not a field"))
    for fk in d.get("foreignKeys", []) if isinstance(d.get("foreignKeys", []), list) else [None]:
        ref = fk.get("reference") if isinstance(fk, dict) else None
        if not isinstance(fk, dict) or not isinstance(ref, dict) or "fields" not in fk or "fields" not in ref or "resource" not in ref:
            out.append(problem('"foreignKeys"', "-",
                               f"a foreign key needs fields and a reference with a resource and fields: {fk!r}"))
            continue
        own = [fk["fields"]] if isinstance(fk["fields"], str) else fk["fields"]
        other_fields = [ref["fields"]] if isinstance(ref["fields"], str) else ref["fields"]
        other = tables.get(ref["resource"] or table.name)
        for name in own:
            if name not in fields:
                out.append(problem('"foreignKeys"', str(name), f"a foreign key names {name!r}, which is not a field"))
        if other is None:
            out.append(problem(f'"resource": "{ref["resource"]}"', "+".join(map(str, own)),
                               f"a foreign key refers to table {ref['resource']!r}, which does not exist"))
        elif len(other_fields) != len(own) or any(n not in other.columns for n in other_fields):
            out.append(problem(f'"resource": "{ref["resource"]}"', "+".join(map(str, own)),
                               f"a foreign key refers to {ref['resource']}.{'+'.join(map(str, other_fields))}, "
                               "which is not a field of it"))
    label = d.get("label_column")
    labels = [label] if isinstance(label, str) else label if isinstance(label, list) else [] if label is None else [label]
    for name in labels:
        if name not in fields:
            out.append(problem('"label_column"', str(name), f"label_column names {name!r}, which is not a field"))
    search_labels = d.get("search_labels", [])
    for name in search_labels if isinstance(search_labels, list) else [search_labels]:
        if name not in fields:
            out.append(problem('"search_labels"', str(name), f"search_labels names {name!r}, which is not a field"))
    facets = d.get("facets", [])
    for name in facets if isinstance(facets, list) else [facets]:
        if name not in fields:
            out.append(problem('"facets"', str(name), f"facets name {name!r}, which is not a field"))
    if "sort" in d and d["sort"] not in fields:
        out.append(problem('"sort"', str(d["sort"]), f"sort names {d['sort']!r}, which is not a field"))
    return out


def _references(table: Table, tables: dict[str, Table], references: dict, problem) -> list[SchemaFileError]:
    """A column named for a lookup table's key (source_id, unit, period, metric, ...) is a foreign key to it."""
    out = []
    have = {(c, o, oc) for c, o, oc in table.foreign_keys}
    for column, other in references.items():
        if column not in table.columns or other == table.name or other not in tables:
            continue
        key = tables[other].primary_key
        if (column, other, key[0] if key else column) not in have:
            out.append(problem('"foreignKeys"', column, f"{column} must be a foreign key to {other}.{column}: "
                               f"without it a {column} that is not in {other} passes"))
    return out


def _observations_sql(tables: dict[str, Table], m: dict, root: Path) -> list[SchemaFileError]:
    """Each fact table's ``observations`` expressions run on an empty copy of the tables."""
    con = sqlite3.connect(":memory:")
    out = []
    try:
        for name, table in tables.items():
            columns = list(dict.fromkeys(table.columns))
            if NAME.match(name) and all(FIELD_NAME.match(c) for c in columns):
                con.execute(f'create table "{name}" ({", ".join(chr(34) + c + chr(34) for c in columns)})')
        for name, table in tables.items():
            obs = table.descriptor.get("observations")
            if name not in m["fact_tables"] or not isinstance(obs, dict):
                continue
            for key, sql in obs.items():
                if key not in (*m["fact_table"]["observations"], "context"):
                    message = f"observations.{key} is not a column of the observations view"
                elif not isinstance(sql, str):
                    message = f"observations.{key} must be an SQL expression"
                else:
                    try:
                        con.execute(f'select {sql} from "{name}" limit 0')
                        continue
                    except (sqlite3.Error, sqlite3.Warning) as e:
                        message = f"observations.{key} is not an SQL expression over {name}: {e} ({sql[:60]!r})"
                out.append(SchemaFileError(_rel(table.schema_file, root), line_of(table.schema_file, f'"{key}"'),
                                           message, RULE, "observations"))
    finally:
        con.close()
    return out
