"""The curator's view of a source: its visible text with every numeric mention marked.

``sensetime-data ledger --html DIR`` writes ``DIR/index.html`` and one ``DIR/<source_id>.html``
per source. Each numeric mention of the ledger is marked once: *recorded* (a link to the fact
row that states it in the local Datasette, with value, period and period basis on hover),
*excluded* (the exclusion's reason and note on hover) or *unaccounted* (red). It is how a
curator checks a period or a base in its context, and how a reviewer checks a change.

The pages hold the source texts, which are not ours to publish: they are written only on
request, to a directory the user names, and are never part of the database or the wheel.
"""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from .ledger import Mark, marks, rows_by_source
from .read import records
from .sources import fold

if TYPE_CHECKING:
    from .validate import Validated

DATASETTE = "http://127.0.0.1:8001"
KINDS = ("recorded", "excluded", "unaccounted")
STYLE = """
body { font: 16px/1.9 "Noto Sans CJK SC", sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; }
mark { padding: 0 2px; border-radius: 3px; }
mark.recorded { background: #cdeccd; } mark.recorded a { color: inherit; }
mark.excluded { background: #e4e4e4; color: #444; }
mark.unaccounted { background: #d33; color: #fff; font-weight: bold; }
p.counts span { margin-right: 1.5em; }
"""


def tilde_encode(value: str) -> str:
    """A key component as Datasette 0.65 writes it in a row URL (``datasette.utils.tilde_encode``)."""
    safe = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    return "".join(chr(b) if b in safe else f"~{b:02X}" for b in value.encode("utf-8")).replace("~20", "+")


def row_url(table: str, primary_key: list[str], row: dict, base: str = DATASETTE) -> str:
    return f"{base}/sensetime/{table}/" + ",".join(tilde_encode(str(row[c])) for c in primary_key)


def _title(mark: Mark) -> str:
    r = mark.row or {}
    if mark.kind == "excluded":
        return f"excluded ({r['reason']}): {r.get('note') or ''}"
    if mark.kind == "unaccounted":
        return "unaccounted: no fact row states this number and no exclusion covers it"
    value = r.get("value")
    figure = "" if value is None or value != value else f"{value:g}"
    if r.get("value_high") is not None and r.get("value_high") == r.get("value_high"):
        figure += f" to {r['value_high']:g}"
    what = r.get("metric") or r.get("benchmark_id") or r.get("name_en") or ""
    return (f"{r['_table']}: {what} {r.get('period', '')} {r.get('comparator', '')} {figure} {r.get('unit', '') or ''}; "
            f"period {r.get('period_basis', '')}{'; ambiguous' if r.get('ambiguous') else ''}").replace("  ", " ")


def _lines(raw: str, folded: str) -> list[int]:
    """Offsets in the folded text where the raw text started a new line, so the page keeps the layout."""
    parts = [fold(line) for line in raw.splitlines()]
    breaks, offset = [], 0
    for part in filter(None, parts):
        if folded.startswith(part, offset):
            breaks.append(offset)
            offset += len(part) + 1
        else:
            return []  # markup spanning lines: show one paragraph
    return breaks


def page(source: dict, raw: str, text: str, found: list[Mark], primary_keys: dict[str, list[str]], base: str) -> str:
    """One source's page: the folded text with every mention marked."""
    counts = Counter(m.kind for m in found)
    breaks = set(_lines(raw, text))
    out, at = [], 0
    for m in found:
        out.append(_plain(text, at, m.mention.start, breaks))
        inner = html.escape(m.mention.text)
        if m.kind == "recorded":
            row = m.row or {}
            table = row["_table"]
            inner = f'<a href="{html.escape(row_url(table, primary_keys[table], row, base))}">{inner}</a>'
        out.append(f'<mark class="{m.kind}" title="{html.escape(_title(m))}">{inner}</mark>')
        at = m.mention.end
    out.append(_plain(text, at, len(text), breaks))
    summary = "".join(f'<span class="{k}">{k}: <b>{counts[k]}</b></span>' for k in KINDS)
    return (
        f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{html.escape(source["source_id"])}: ledger</title>'
        f"<style>{STYLE}</style></head><body><p><a href=\"index.html\">all sources</a></p>"
        f"<h1>{html.escape(source['title'])}</h1><p>{html.escape(source['source_id'])} · {html.escape(str(source['published']))}"
        f" · {len(found)} numeric mentions</p><p class=\"counts\">{summary}</p><div class=\"text\"><p>{''.join(out)}</p></div></body></html>\n"
    )


def _plain(text: str, start: int, end: int, breaks: set[int]) -> str:
    pieces, at = [], start
    for b in sorted(x for x in breaks if start < x < end):
        pieces.append(html.escape(text[at:b]) + "<br>")
        at = b
    return "".join(pieces) + html.escape(text[at:end])


def write_pages(validated: Validated, directory: Path, seeds: Path, base: str = DATASETTE) -> dict[str, Counter]:
    """Write the index and one page per source; returns the counts of each kind of mark by source."""
    directory.mkdir(parents=True, exist_ok=True)
    primary_keys = {n: t.primary_key for n, t in validated.tables.items()}
    sources = records(validated.frames["sources"])
    counts = {}
    by_source = rows_by_source(validated.frames)
    for source in sources:
        text = validated.texts.get(source["source_id"])
        if text is None:
            continue
        found = marks(text, *by_source.get(source["source_id"], ([], [])))
        raw = (seeds / source["file"]).read_text("utf-8")
        (directory / f"{source['source_id']}.html").write_text(page(source, raw, text, found, primary_keys, base), "utf-8")
        counts[source["source_id"]] = Counter(m.kind for m in found)
    items = "".join(
        f'<li><a href="{html.escape(s)}.html">{html.escape(s)}</a>: '
        + ", ".join(f"{c[k]} {k}" for k in KINDS) + "</li>"
        for s, c in counts.items()
    )
    (directory / "index.html").write_text(
        f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>Ledger of the sources</title><style>{STYLE}</style></head>'
        f"<body><h1>Ledger of the sources</h1><p>Every numeric mention of each source text, marked as recorded in a fact row, "
        f"excluded with a reason, or unaccounted. Links open the rows in the local Datasette ({html.escape(base)}).</p>"
        f"<ul>{items}</ul></body></html>\n", "utf-8")
    return counts
