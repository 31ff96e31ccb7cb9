"""The Datasette site over the database: metadata from the schemas, labels, full-text search.

Titles, descriptions, columns, facets, sort orders and foreign-key labels come from the
schemas; the home page text from ``datapackage.json``; the canned queries and the dashboard
from ``queries.yml`` and ``dashboards.yml`` beside this module, the only hand-written parts.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from .schema import Table

DB_NAME = "sensetime"
HERE = Path(__file__).parent
LABEL = "label"  # the generated column that shows a lookup row in two languages

# Columns indexed for full-text search (FTS5, trigram tokenizer), where a table has them.
SEARCHED = ("quote", "excerpt", "note", "as_reported", "name", "name_en", "name_zh", "label_en", "label_zh",
            "title", "title_en", "caption", "claim", "relationship", "description", "category_zh", "cites")

VIEWS = {
    "observations": (
        "Every numeric fact of every fact table in one shape: topic, subject, metric, period, "
        "value in its canonical unit, comparator, the figure as printed, source and verbatim quote. "
        "`fact_table` names the table the row comes from."
    ),
    "fact_agreement": (
        "Facts stated by more than one source (same topic, subject, metric, period and unit), "
        "with each source's printed figure and whether the normalised values agree."
    ),
}


def to_html(text: str) -> str:
    """Escaped text with `code` spans, as the descriptions write column and table names."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def label_sql(table: Table) -> str | None:
    """SQL of the bilingual label of a lookup table whose ``label_column`` lists two columns."""
    columns = table.descriptor.get("label_column")
    if not isinstance(columns, list):
        return None
    return " || ' · ' || ".join(f'coalesce("{c}", \'\')' for c in columns)


def label_column(table: Table) -> str | None:
    columns = table.descriptor.get("label_column")
    return LABEL if isinstance(columns, list) else columns


def add_labels_and_search(db, tables: dict[str, Table]) -> None:
    """Give lookup tables their bilingual label column and every table its full-text index."""
    for name, table in tables.items():
        expression = label_sql(table)
        if expression:
            # A virtual generated column: shown as a foreign key's label, never stored twice.
            db.execute(f'alter table "{name}" add column "{LABEL}" text generated always as ({expression}) virtual')
        columns = [c for c in SEARCHED if c in table.columns]
        if columns:
            # The default tokenizer never splits Chinese; trigram matches any run of 3+ characters.
            db[name].enable_fts(columns, tokenize="trigram")


def _read_yaml(name: str) -> dict:
    import yaml

    return yaml.safe_load((HERE / name).read_text("utf-8"))


def _table_metadata(table: Table, resource: dict) -> dict:
    licence = (resource.get("licenses") or [{}])[0]
    entry = {
        "title": table.title,
        "description": table.description,
        "description_html": to_html(table.description),
        "columns": {f["name"]: f.get("description", "") for f in table.fields},
        "source": "; ".join(s["title"] for s in resource.get("sources", [])),
        "license": licence.get("name"),
        "license_url": licence.get("path"),
        "about": f"Table Schema: schemas/{table.name}.json",
    }
    if label_column(table):
        entry["label_column"] = label_column(table)
    for key in ("facets", "sort"):
        if table.descriptor.get(key):
            entry[key] = table.descriptor[key]
    return entry


def home_html(package: dict, tables: dict[str, dict], queries: dict, dashboards: dict) -> str:
    """The home page: what the dataset is, in English and Chinese, how to cite it, and where to go."""
    def link(href, text):
        return f'<a href="{href}">{html.escape(text)}</a>'

    table_items = "".join(
        f'<li>{link(f"/{DB_NAME}/{name}", t["title"])} <code>{name}</code>: {to_html(t["description"])}</li>'
        for name, t in tables.items()
    )
    query_items = "".join(f"<li>{link(f'/{DB_NAME}/{name}', q['title'])}</li>" for name, q in queries.items())
    dashboard_items = "".join(f"<li>{link(f'/-/dashboards/{slug}', d['title'])}</li>" for slug, d in dashboards.items())
    return (
        f"<p>{to_html(package.get('description', ''))}</p>"
        f"<p lang=\"zh\">{html.escape(package.get('description_zh', ''))}</p>"
        f"<p><strong>Cite / 引用:</strong> {html.escape(package.get('citation', ''))}</p>"
        f"<p>{link(f'/{DB_NAME}/data_dictionary', 'Data dictionary 数据字典')}: every column, its type, unit and meaning. "
        f"Search in any table with the search box (three characters or more; 至少三个字), "
        f"or any term of any length with {link(f'/{DB_NAME}/search', 'the search query 全文检索')}.</p>"
        f"<h3>Dashboard 图表</h3><ul>{dashboard_items}</ul>"
        f"<h3>Ready queries 常用查询</h3><ul>{query_items}</ul>"
        f"<h3>Tables 数据表</h3><ul>{table_items}</ul>"
    )


def datasette_metadata(report) -> str:
    """``metadata.yml`` for Datasette: the schemas and the package descriptor, plus queries and dashboards."""
    import yaml

    package = report.descriptor
    resources = {r["name"]: r for r in package.get("resources", [])}
    licence = (package.get("licenses") or [{}])[0]
    tables = {name: _table_metadata(t, resources.get(name, package)) for name, t in report.tables.items()}
    for name, description in VIEWS.items():
        tables[name] = {"title": name.replace("_", " ").capitalize(), "description": description}
    tables[DICTIONARY] = {"title": "Data dictionary 数据字典", "description": DICTIONARY_DESCRIPTION}
    queries = _read_yaml("queries.yml")
    dashboards = _read_yaml("dashboards.yml")
    for dashboard in dashboards.values():
        for chart in dashboard["charts"].values():
            chart.setdefault("db", DB_NAME)
            # SVG rather than canvas, so drawn marks are part of the page and can be checked.
            chart["display"].setdefault("usermeta", {"embedOptions": {"renderer": "svg", "actions": False}})
    metadata = {
        "title": package.get("title"),
        "description_html": home_html(package, tables, queries, dashboards),
        "license": licence.get("name"),
        "license_url": licence.get("path"),
        "source": "; ".join(s["title"] for s in package.get("sources", [])),
        "about": "sensetime-data",
        "databases": {DB_NAME: {"tables": tables, "queries": queries}},
        "plugins": {"datasette-dashboards": dashboards},
    }
    return yaml.safe_dump(metadata, allow_unicode=True, sort_keys=False, width=100)


# --- the data dictionary, as a table of the database ---------------------------------------

DICTIONARY = "data_dictionary"
DICTIONARY_DESCRIPTION = (
    "Every column of every table: its type, whether it is required, its constraints and its "
    "meaning, with the unit where the column has one. Generated from schemas/*.json."
)


def dictionary_rows(tables: dict[str, Table]) -> list[dict]:
    rows = []
    for name, table in tables.items():
        for position, f in enumerate(table.fields, 1):
            constraints = {k: v for k, v in f.get("constraints", {}).items() if k != "required"}
            rows.append({
                "table_name": name,
                "position": position,
                "column_name": f["name"],
                "type": f.get("type", "string"),
                "required": int(table.required(f["name"])),
                "constraints": ", ".join(f"{k}: {v}" for k, v in constraints.items()),
                "description": f.get("description", ""),
            })
    return rows


def add_dictionary(db, tables: dict[str, Table]) -> None:
    db[DICTIONARY].insert_all(dictionary_rows(tables))  # a rowid table: pages list columns in schema order
    db[DICTIONARY].enable_fts(["column_name", "description"], tokenize="trigram")
