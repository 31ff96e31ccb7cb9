"""The Datasette metadata of the site (``metadata.yml``), generated from the schemas.

Titles, descriptions, columns, facets, sort orders and foreign-key labels come from the
schemas; the home page text from ``datapackage.json``; the canned queries and the dashboard
from ``queries.yml`` and ``dashboards.yml`` beside this module, the only hand-written parts.
What the site does at request time (search, the pages' templates, CSV for spreadsheets) is
in ``site_plugin``.
The database these pages show (tables, labels, the search index) is written by ``database``.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import TYPE_CHECKING

from .database import DICTIONARY, LABEL, SEARCH_TABLES
from .schema import Table
from .views import VIEWS, View, view_fields

if TYPE_CHECKING:
    from .validate import Validated

DB_NAME = "sensetime"
HERE = Path(__file__).parent

TIME_ORDER = "period_end"  # the default sort of every fact table and view: facts in time order


def to_html(text: str) -> str:
    """The Markdown of the descriptions as HTML: `code`, **bold** and [links](url), the rest escaped text."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"\[([^\]]+)\]\((https?://[^)\s]+|/[^)\s]*)\)", r'<a href="\2">\1</a>', out)


def label_column(table: Table) -> str | None:
    columns = table.descriptor.get("label_column")
    return LABEL if isinstance(columns, list) else columns


# --- metadata ----------------------------------------------------------------------------------


def _read_yaml(name: str) -> dict:
    import yaml

    return yaml.safe_load((HERE / name).read_text("utf-8"))


def _table_metadata(table: Table, resource: dict) -> dict:
    licence = (resource.get("licenses") or [{}])[0]
    sources = resource.get("sources", [])
    entry = {
        "title": table.title,
        "description": table.description,
        "description_html": to_html(table.description),
        "columns": {f.name: f.description for f in table.output_fields},
        "source": "; ".join(s["title"] for s in sources),
        # The sources once, as links to their rows (site_plugin's templates show these, not `source`).
        "source_links": _source_links(sources),
        "license": licence.get("name"),
        "license_url": licence.get("path"),
        "about": f"Table Schema: schemas/{table.name}.json",
    }
    if label_column(table):
        entry["label_column"] = label_column(table)
    if table.descriptor.get("facets"):
        entry["facets"] = table.descriptor["facets"]
        entry["facet_size"] = 5  # the first rows stay on the first screen
    if TIME_ORDER in table.output_columns:
        entry["sort"] = TIME_ORDER  # Datasette breaks ties by the primary key
    elif table.descriptor.get("sort"):
        entry["sort"] = table.descriptor["sort"]
    return entry


def _source_links(sources: list[dict]) -> list[dict]:
    return [{"href": f"/{DB_NAME}/sources/{s['name']}", "title": s["title"]} for s in sources]


def _view_metadata(view: View, tables: dict[str, Table], sources: list[dict]) -> dict:
    return {
        "title": view.title,
        "description": view.description,
        "description_html": to_html(view.description),
        "columns": {name: f.description for name, f in view_fields(tables).items()},
        "source_links": _source_links(sources),
        "sort": TIME_ORDER,
    }


def home_html(package: dict, tables: dict[str, dict], queries: dict, dashboards: dict) -> str:
    """The home page: what the dataset is, in English and Chinese, how to cite it, and where to go."""
    def link(href, text):
        return f'<a href="{href}">{html.escape(text)}</a>'

    table_items = "".join(
        f'<li>{link(f"/{DB_NAME}/{name}", t["title"])} <code>{name}</code>: {to_html(t["description"])}</li>'
        for name, t in tables.items() if not t.get("hidden")
    )
    query_items = "".join(f"<li>{link(f'/{DB_NAME}/{name}', q['title'])}</li>" for name, q in queries.items())
    dashboard_items = "".join(f"<li>{link(f'/-/dashboards/{slug}', d['title'])}</li>" for slug, d in dashboards.items())
    return (
        f"<p>{to_html(package.get('description', ''))}</p>"
        f"<p lang=\"zh\">{html.escape(package.get('description_zh', ''))}</p>"
        f"<p><strong>Cite / 引用:</strong> {html.escape(package.get('citation', ''))}</p>"
        f"<p>{link(f'/{DB_NAME}/data_dictionary', 'Data dictionary 数据字典')}: every column, its type, unit and meaning. "
        f"Search any table with its search box, in English or Chinese, any length (营业收入, revenue, 量产); "
        f"every table at once with {link(f'/{DB_NAME}/search', 'the search query 全文检索')}. "
        f"Facts are in time order (<code>order by period_end</code>).</p>"
        f"<h3>Dashboard 图表</h3><ul>{dashboard_items}</ul>"
        f"<h3>Ready queries 常用查询</h3><ul>{query_items}</ul>"
        f"<h3>Tables 数据表</h3><ul>{table_items}</ul>"
    )


def datasette_metadata(validated: Validated) -> str:
    """``metadata.yml`` for Datasette: the schemas and the package descriptor, plus queries and dashboards."""
    import yaml

    package = validated.descriptor
    resources = {r["name"]: r for r in package.get("resources", [])}
    licence = (package.get("licenses") or [{}])[0]
    tables = {name: _table_metadata(t, resources.get(name, package)) for name, t in validated.tables.items()}
    for name, view in VIEWS.items():
        tables[name] = _view_metadata(view, validated.tables, package.get("sources", []))
    tables[DICTIONARY] = {"title": "Data dictionary 数据字典", "description": DICTIONARY_DESCRIPTION,
                          "description_html": to_html(DICTIONARY_DESCRIPTION), "facets": ["table_name"], "facet_size": 5}
    tables.update({name: {"hidden": True} for name in SEARCH_TABLES})
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
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's emitter, where PyYAML has it: the same text, faster
    return yaml.dump(metadata, Dumper=dumper, allow_unicode=True, sort_keys=False, width=100)


DICTIONARY_DESCRIPTION = (
    "Every column of every table: its type, whether it is required, its constraints and its "
    "meaning, with the unit where the column has one. Generated from schemas/*.json; "
    "`period_start` and `period_end` are derived by the build from `periods`."
)
