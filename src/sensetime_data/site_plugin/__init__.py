"""The site's reading aids, as a Datasette plugin: search that finds, pages that read at a glance.

- ``_search`` on every table and on ``observations`` looks in the search tables (see
  ``database``): a row is found when each word is in one of its pieces of text, a word of
  three characters or more through the FTS5 trigram index, a shorter one (量产, 收入) as a
  literal substring of a piece. ``%``, ``_`` and ``"`` are plain characters. Datasette's own
  search finds no FTS table to use and stands aside.
- The templates beside this module: column notes behind a short description, the sources
  once, a search that finds nothing says what to try, a fact's row page shows its quote, the
  English translation and a link to its source.
- Cells keep their values: the HTML shows the Markdown of the curators' texts (descriptions,
  notes: `code`, **bold**) as such, and of the sources' words only the deck texts' bold
  markers around a figure (``**108%**`` in a quote) as bold, the rest as text.
- ``_bom=1`` on a CSV export starts it with a UTF-8 byte-order mark, so a spreadsheet reads the
  Chinese as UTF-8; the table pages link such a "CSV for Excel".
- A canned query opened without its parameters is sent to its example (``example_params`` in
  ``queries.yml``), so it opens with rows.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

from datasette import hookimpl
from datasette.filters import FilterArguments
from markupsafe import Markup, escape

from ..database import SEARCH_INDEX, SEARCH_MAP, SEARCH_ROWS, SEARCH_TABLES, VIEW_KEY
from ..site import DB_NAME, to_html

BOM = "\ufeff".encode()
MIN_TRIGRAM = 3  # FTS5's trigram tokenizer matches nothing shorter
MOST_WORDS = 10
BOLD = re.compile(r"\*\*([^*\s<>][^*<>]*)\*\*")  # the deck texts' bold markers, in quotes and the notes quoting them
CODE = re.compile(r"`[^`]+`")  # Markdown code in the curators' texts: descriptions, notes, how to find a source
# The sources' own words: only their bold markers are read, the rest is text.
VERBATIM = {"quote", "excerpt", "as_reported", "printed_form", "relationship", "caption", "claim", "title"}
TRANSLATED = ("quote", "relationship", "caption", "claim")  # columns that have an `_en` translation


# --- search ------------------------------------------------------------------------------------

def search_clause(words: list[str], scope: str) -> tuple[str, dict]:
    """SQL of the ``search_rows`` that hold every word, each in some piece of their text, and its parameters."""
    conditions, params = [], {}
    for i, word in enumerate(words):
        if len(word) >= MIN_TRIGRAM:
            pieces = f"select rowid from {SEARCH_INDEX} where {SEARCH_INDEX} match :_st{i}"
            params[f"_st{i}"] = '"' + word.replace('"', '""') + '"'  # one FTS5 string: every character literal
        else:
            pieces = f"select rowid from {SEARCH_INDEX} where instr(lower(text), lower(:_st{i})) > 0"  # literal, unlike LIKE
            params[f"_st{i}"] = word
        conditions.append(f"id in (select value from {SEARCH_MAP}, json_each(rows) where piece in ({pieces}))")
    return f"select {scope} from {SEARCH_ROWS} where " + " and ".join(conditions), params


@hookimpl(trylast=True)  # called after Datasette's own search, so this hook's `supports_search` stands
def filters_from_request(request, database, table, datasette):
    if database != DB_NAME:
        return None
    words = request.args.get("_search", "").split()[:MOST_WORDS]
    if table == "observations":
        target, scope = VIEW_KEY, "row_key"
    elif table in (datasette.metadata("tables", database=DB_NAME) or {}) and table not in ("fact_agreement", *SEARCH_TABLES):
        target, scope = "rowid", "row_id"
    else:
        return None
    context = {"supports_search": True, "search": " ".join(words)}
    if not words:
        return FilterArguments([], extra_context=context)
    subquery, params = search_clause(words, scope)
    if scope == "row_id":
        subquery += " and table_name = :_st_table"
        params["_st_table"] = table
    return FilterArguments([f"{target} in ({subquery})"], params, [f'search matches "{" ".join(words)}"'], context)


# --- cells and templates -----------------------------------------------------------------------

def verbatim_html(text: str) -> Markup:
    """A source's words as text, with the deck's bold markers shown as bold (the value keeps them)."""
    parts = BOLD.split(text)
    return Markup("".join(
        f'<strong title="printed bold: **{escape(p)}** in the text">{escape(p)}</strong>' if i % 2 else str(escape(p))
        for i, p in enumerate(parts)))


@hookimpl
def render_cell(value, column, database):
    if database != DB_NAME or not isinstance(value, str):
        return None
    if column in VERBATIM:
        return verbatim_html(value) if BOLD.search(value) else None
    if CODE.search(value) or BOLD.search(value):
        return Markup(to_html(value))
    return None


@hookimpl
def prepare_jinja2_environment(env):
    env.filters["markdown"] = lambda text: Markup(to_html(str(text or "")))
    env.filters["verbatim"] = lambda text: verbatim_html(str(text or ""))
    env.filters["with_param"] = with_param
    # a row link shows an excerpt key as text Datasette escaped (its href is tilde-encoded: no `*`)
    env.filters["bold_markers"] = lambda link: Markup(BOLD.sub(r"<strong>\1</strong>", str(link)))


def with_param(url: str, key: str, value: str) -> str:
    path, _, query = str(url).partition("?")
    params = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != key]
    return f"{path}?{urlencode([*params, (key, value)])}"


@hookimpl
def extra_template_vars(view_name, database, table, datasette):
    """A row page's sources by id, so the template can link a fact to its source with its title."""
    if view_name != "row" or database != DB_NAME:
        return {}

    async def sources():
        db = datasette.get_database(DB_NAME)
        columns = set(await db.table_columns("sources"))
        wanted = [c for c in ("source_id", "title", "title_en", "publisher", "published", "url", "how_to_find")
                  if c in columns]
        rows = await db.execute(f"select {', '.join(wanted)} from sources")
        return {"sources_by_id": {r["source_id"]: dict(r) for r in rows}, "translated": TRANSLATED}

    return sources


# --- requests: CSV for spreadsheets, canned queries with their examples ---------------------------

def _params(scope) -> list[tuple[str, str]]:
    return parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)


def wants_bom(scope) -> bool:
    csv = scope["path"].endswith(".csv") or ("_format", "csv") in _params(scope)
    return csv and ("_bom", "1") in _params(scope)


def example_url(scope, queries: dict) -> str | None:
    """Where a canned query page opened without any of its parameters should go: its example."""
    prefix = f"/{DB_NAME}/"
    if not scope["path"].startswith(prefix):
        return None
    example = (queries.get(scope["path"][len(prefix):]) or {}).get("example_params")
    given = {key for key, _ in _params(scope)}
    if not example or given & set(example):
        return None
    return f"{scope['path']}?{urlencode([*_params(scope), *example.items()])}"


async def redirect(send, location: str) -> None:
    await send({"type": "http.response.start", "status": 302,
                "headers": [(b"location", location.encode()), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


def with_bom(send):
    """``send`` with a UTF-8 byte-order mark before the body of a successful answer."""
    state = {"ok": False, "first": True}

    async def sending(message):
        if message["type"] == "http.response.start":
            state["ok"] = message["status"] == 200
            if state["ok"]:
                headers = []
                for key, value in message.get("headers", []):
                    if key.lower() == b"content-length":
                        value = str(int(value) + len(BOM)).encode()
                    headers.append((key, value))
                message = {**message, "headers": headers}
        elif message["type"] == "http.response.body" and state["ok"] and state["first"]:
            state["first"] = False
            message = {**message, "body": BOM + message.get("body", b"")}
        await send(message)

    return sending


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        queries = None  # read on the first request: the metadata does not change while serving

        async def reading(scope, receive, send):
            nonlocal queries
            if scope["type"] != "http":
                return await app(scope, receive, send)
            if queries is None:
                queries = datasette.metadata("queries", database=DB_NAME) or {}
            location = example_url(scope, queries)
            if location:
                return await redirect(send, location)
            return await app(scope, receive, with_bom(send) if wants_bom(scope) else send)

        return reading

    return wrap
