"""Documentation generated from the schemas and the tables, so it cannot drift.

``sensetime-data docs`` rewrites the table list between the markers in README.md.
"""

from __future__ import annotations

import re
from pathlib import Path

from .validate import Report

START, END = "<!-- tables:start -->", "<!-- tables:end -->"


def tables_markdown(report: Report) -> str:
    """The README's list of tables: name, title, row count and description."""
    lines = ["| table | rows | what it holds |", "| --- | ---: | --- |"]
    for name, table in sorted(report.tables.items(), key=lambda kv: (not kv[1].is_fact, kv[0])):
        lines.append(f"| `{name}` | {len(report.frames[name])} | **{table.title}.** {table.description} |")
    return "\n".join(lines)


def readme_with_tables(readme: str, report: Report) -> str:
    block = f"{START}\n{tables_markdown(report)}\n{END}"
    return re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, readme, flags=re.S)


def write_readme(root: Path, report: Report) -> bool:
    """Rewrite README.md's table list; True when it changed."""
    path = root / "README.md"
    old = path.read_text("utf-8")
    new = readme_with_tables(old, report)
    if new != old:
        path.write_text(new, "utf-8")
    return new != old
