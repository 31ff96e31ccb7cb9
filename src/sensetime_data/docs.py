"""Documentation generated from the schemas and the tables, so it cannot drift.

``sensetime-data docs`` rewrites the table list between the markers in README.md and the
data dictionary, ``docs/data-dictionary.md``.
"""

from __future__ import annotations

import re
from pathlib import Path

from .database import dictionary_rows
from .rules import RULES
from .validate import Validated

START, END = "<!-- tables:start -->", "<!-- tables:end -->"


def tables_markdown(validated: Validated) -> str:
    """The README's list of tables: name, title, row count and description."""
    lines = ["| table | rows | what it holds |", "| --- | ---: | --- |"]
    for name, table in sorted(validated.tables.items(), key=lambda kv: (not kv[1].is_fact, kv[0])):
        lines.append(f"| `{name}` | {len(validated.frames[name])} | **{table.title}.** {table.description} |")
    return "\n".join(lines)


def readme_with_tables(readme: str, validated: Validated) -> str:
    block = f"{START}\n{tables_markdown(validated)}\n{END}"
    return re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, readme, flags=re.S)


def write_readme(root: Path, validated: Validated) -> bool:
    """Rewrite README.md's table list; True when it changed."""
    path = root / "README.md"
    old = path.read_text("utf-8")
    new = readme_with_tables(old, validated)
    if new != old:
        path.write_text(new, "utf-8")
    return new != old


DICTIONARY = "docs/data-dictionary.md"


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def data_dictionary(validated: Validated) -> str:
    """Every table and column: type, unit, constraints, description and row counts, from the schemas."""
    out = [
        "# Data dictionary",
        "",
        "Generated from `schemas/*.json` by `sensetime-data docs`; a test fails when it is stale.",
        "Facts carry their unit in the `unit` column (codes in the `units` table); the `value` of a",
        "fact is in that unit. `required` columns are never empty.",
        "",
    ]
    rows = dictionary_rows(validated.tables)
    for name, table in sorted(validated.tables.items(), key=lambda kv: (not kv[1].is_fact, kv[0])):
        key = ", ".join(f"`{c}`" for c in table.primary_key)
        out += [f"## `{name}`: {table.title}", "", table.description, "",
                f"{len(validated.frames[name])} rows. Primary key: {key or 'none'}."]
        links = [f"`{c}` → `{other}.{oc}`" for c, other, oc in table.foreign_keys]
        if links:
            out += ["Foreign keys: " + ", ".join(links) + "."]
        if table.rules:
            out += ["Checked by the rules " + ", ".join(f"[`{r}`](#rules)" for r in table.rules) + "."]
        out += ["", "| column | type | unit | required | constraints | description |",
                "| --- | --- | --- | --- | --- | --- |"]
        for r in rows:
            if r["table_name"] != name:
                continue
            unit = "the row's `unit`" if r["column_name"] in ("value", "minimum", "maximum") else ""
            out.append(f"| `{r['column_name']}` | {r['type']} | {unit} | {'yes' if r['required'] else ''} | "
                       f"{_cell(r['constraints'])} | {_cell(r['description'])} |")
        out.append("")
    out += ["## Rules", "", "What each rule checks, beyond the Table Schema (`sensetime_data.rules`; each schema's",
            "`rules` names those of its table, and `metaschema.json` those a table may not drop).", "",
            "| rule | column | what it checks |", "| --- | --- | --- |"]
    used = dict.fromkeys(r for t in validated.tables.values() for r in t.rules)
    for name in sorted(used):
        column, rule = RULES[name]
        out.append(f"| `{name}` | `{column}` | {_cell(' '.join((rule.__doc__ or '').split()))} |")
    out.append("")
    return "\n".join(out)


def write_dictionary(root: Path, validated: Validated) -> bool:
    """Rewrite docs/data-dictionary.md; True when it changed."""
    path = root / DICTIONARY
    new = data_dictionary(validated)
    old = path.read_text("utf-8") if path.exists() else None
    if new != old:
        path.parent.mkdir(exist_ok=True)
        path.write_text(new, "utf-8")
    return new != old
