"""The project's Datasette plugin: a read-only site that holds under hostile queries.

- Every SQLite connection gets limits, so one expression cannot build a gigabyte string
  (``printf('%.*c', 1e9, 'x')``, ``randomblob(9e8)``) for half a minute.
- At most ``MOST_SQL_AT_ONCE`` arbitrary queries (``?sql=``, ``?_where=``) run at once; the
  rest are answered 503 at once. Datasette runs every query of every page on a few threads:
  without this, fifty slow queries queue the home page for a minute. The dashboard's own
  chart queries, canned queries and table pages are not arbitrary and are never refused.
- Methods other than GET and HEAD get 405: nothing on this site can be written.
- An error is one line in the log and a 4xx when the request is at fault; Datasette 0.65
  would print ~70 KB of traceback with locals, and answer 500 (or crash) on a bad
  ``_sort``, a one-key row URL or ``//etc/passwd``. No page shows a filesystem path.
- CSV exports open in a spreadsheet as text, never as formulas (see ``csv_guard``).
- What cannot change while an immutable database is served (its schema, each table's
  ``allow`` rules) is worked out once: a home page rendered anew runs 3 SQL statements, not
  132, and no longer deep-copies the metadata 52 times (see ``startup``).
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import os
import re
import sqlite3
import traceback
import weakref
from pathlib import Path
from urllib.parse import parse_qsl

from datasette import Response, hookimpl
from datasette.database import Results
from datasette.utils.asgi import Base400, NotFound
from datasette.views.base import DatasetteError
from markupsafe import Markup

from .csv_guard import guard_csv
from .site import DB_NAME

log = logging.getLogger("sensetime_data.serve")

# The longest value in the database is an FTS5 block of about 4 KB and the widest view has
# 13 columns; these limits leave room for growth and still stop an expression at 100 KB.
LIMITS = {
    sqlite3.SQLITE_LIMIT_LENGTH: 100_000,  # bytes in one string or blob
    sqlite3.SQLITE_LIMIT_SQL_LENGTH: 100_000,  # bytes of SQL text
    sqlite3.SQLITE_LIMIT_COLUMN: 100,  # columns of a result, an index or an ORDER BY
}
# The rows of one query; the largest table (the search index's blocks) holds about 0.5 MB.
MOST_RESULT_BYTES = 10_000_000
# Arbitrary queries at once: they may keep every CPU but one busy, and at least two of
# Datasette's SQL threads (serve.SETTINGS) stay free for pages.
MOST_SQL_AT_ONCE = max(1, min(3, (os.cpu_count() or 2) - 1))
RETRY_AFTER_S = 2  # about sql_time_limit_ms: by then a slot is free
ARBITRARY = {"sql", "_where"}  # parameters that carry SQL written by the visitor
READ_METHODS = {"GET", "HEAD"}


# A printf conversion: flags, width, precision, length, type (as SQLite's printf reads it).
CONVERSION = re.compile(r"%[-+ #0!,]*(\*|\d*)(?:\.(\*|\d*))?l{0,2}(.)", re.S)


def repeats_too_often(fmt, args) -> bool:
    """True when a ``%c`` of ``fmt`` repeats its character past the length limit.

    SQLite (3.40) gives NULL for such a printf, but only after appending the character one
    by one, up to 2**31 times, beyond the reach of the time limit: half a minute for 1e9."""
    if not isinstance(fmt, str):
        return False
    args = iter(args)
    for width, precision, kind in CONVERSION.findall(fmt):
        if width == "*":
            next(args, None)
        if precision == "*":
            precision = next(args, 0)
        if kind != "%":
            next(args, None)
        try:
            count = abs(int(precision or 0))
        except (TypeError, ValueError):
            count = 0
        if kind == "c" and count > LIMITS[sqlite3.SQLITE_LIMIT_LENGTH]:
            return True
    return False


def guard_printf(conn) -> None:
    """Replace printf() and format() by SQLite's own, made on a second connection with the same
    limits, after giving NULL at once where SQLite would give NULL after seconds."""
    helper = sqlite3.connect(":memory:", check_same_thread=False)
    for limit, value in LIMITS.items():
        helper.setlimit(limit, value)

    def printf(fmt, *args):
        if repeats_too_often(fmt, args):
            return None
        marks = ", ".join("?" * (len(args) + 1))
        return helper.execute(f"select printf({marks})", (fmt, *args)).fetchone()[0]

    for name in ("printf", "format"):
        conn.create_function(name, -1, printf, deterministic=True)


def budget_rows(conn, most: int) -> None:
    """Make rows as Datasette does (``sqlite3.Row``), failing a query once its rows hold more
    than ``most`` bytes. Without it 2,000 rows of ``zeroblob(99999)`` become a 1.2 GB JSON
    answer and 6 GB of memory."""
    last = {"cursor": None, "used": 0}

    def row(cursor, values):
        if last["cursor"] is None or last["cursor"]() is not cursor:  # a new query
            last["cursor"], last["used"] = weakref.ref(cursor), 0
        # A number costs about as much memory as a short string.
        last["used"] += sum(len(v) if isinstance(v, (str, bytes)) else 16 for v in values)
        if last["used"] > most:
            raise sqlite3.DataError(f"query result over {most:,} bytes: ask for fewer rows or shorter values")
        return sqlite3.Row(cursor, values)

    conn.row_factory = row


@hookimpl
def prepare_connection(conn):
    for limit, value in LIMITS.items():
        conn.setlimit(limit, value)
    guard_printf(conn)
    budget_rows(conn, MOST_RESULT_BYTES)


# --- what cannot change while serving, worked out once --------------------------------------

MOST_REMEMBERED = 4096  # tables asked about: names come from URLs, so the memory is bounded


def remember_table_rules(datasette) -> None:
    """Work out each table's ``allow`` rules once. Datasette 0.65.5 deep-copies the whole metadata
    (88 KB here, about 2 ms) for every view-table check: twice a table, 52 times for one home page,
    two thirds of its time. The metadata cannot change while Datasette serves it."""
    rules = getattr(datasette, "_table_permission_allows", None)
    if rules is not None:  # Datasette releases before 0.65.5 check differently
        datasette._table_permission_allows = functools.lru_cache(MOST_REMEMBERED)(rules)


# Questions about an immutable database's schema (Database methods of Datasette 0.65): their
# answers cannot change while it is served. The home page asks four of them per table.
SCHEMA_QUESTIONS = ("table_exists", "table_names", "view_names", "hidden_table_names", "table_columns",
                    "table_column_details", "primary_keys", "fts_table", "label_column_for_table",
                    "foreign_keys_for_table", "get_all_foreign_keys", "get_table_definition", "get_view_definition")


def remembered(ask, copied=copy.deepcopy):
    """``ask`` (an async function) answering each question once, with a copy each time: callers may change it."""
    answers: dict = {}

    @functools.wraps(ask)
    async def answer(*args, **kwargs):
        key = (args, tuple(sorted(kwargs.items())))
        if key not in answers:
            found = await ask(*args, **kwargs)
            if len(answers) >= MOST_REMEMBERED:
                return found
            answers[key] = found
        return copied(answers[key])

    return answer


# Datasette 0.65.5 looks up a table's own spelling before each view-table check (two per table on
# the home page), outside any method that could be remembered: this exact statement is.
NAME_LOOKUP = "select name from sqlite_master where type in ('table', 'view') and name = ? collate nocase"


def remember_schema(db) -> None:
    for name in SCHEMA_QUESTIONS:
        ask = getattr(db, name, None)
        if ask is not None:
            setattr(db, name, remembered(ask))
    execute = db.execute
    lookup = remembered(execute, lambda found: Results(list(found.rows), found.truncated, found.description))

    async def executing(sql, *args, **kwargs):
        if sql == NAME_LOOKUP and len(args) == 1 and isinstance(args[0], tuple) and not kwargs:
            return await lookup(sql, *args)
        return await execute(sql, *args, **kwargs)

    db.execute = executing


@hookimpl
def startup(datasette):
    remember_table_rules(datasette)
    for db in datasette.databases.values():
        if not db.is_mutable and not db.is_memory:
            remember_schema(db)


# --- requests ------------------------------------------------------------------------------

def _params(scope) -> list[tuple[str, str]]:
    return parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)


def _chart_queries(datasette) -> set[str]:
    """The SQL of the dashboard's charts, which the browser sends as ``?sql=``."""
    dashboards = datasette.plugin_config("datasette-dashboards") or {}
    return {chart.get("query") for d in dashboards.values() for chart in d.get("charts", {}).values()}


def is_arbitrary(scope, trusted: set[str]) -> bool:
    """True for a request that runs SQL its sender wrote, other than the dashboard's."""
    return any(key in ARBITRARY and not (key == "sql" and value in trusted) for key, value in _params(scope))


async def refuse(scope, send, status: int, message: str, headers: list[tuple[bytes, bytes]]) -> None:
    """A short answer in Datasette's error shape (JSON for .json URLs, else plain text)."""
    if scope["path"].endswith(".json"):
        body, kind = json.dumps({"ok": False, "error": message, "status": status}).encode(), b"application/json"
    else:
        body, kind = message.encode(), b"text/plain"
    headers = [(b"content-type", kind + b"; charset=utf-8"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def remember(app, paths: set[str], most: int = 16):
    """ASGI middleware: the pages in ``paths``, asked for without parameters or cookies, are
    answered from memory after their first answer: pages that cannot change while the immutable
    database is served, and so need no SQL thread while arbitrary queries keep them busy. A
    request with a cookie is rendered; ``startup`` keeps that cheap too."""
    saved: dict[tuple, list[dict]] = {}

    async def remembered(scope, receive, send):
        headers = dict(scope["headers"])
        if (scope["method"] != "GET" or scope["path"] not in paths or scope["query_string"]
                or b"cookie" in headers or b"authorization" in headers):
            return await app(scope, receive, send)
        key = (scope["path"], headers.get(b"host"))  # its Link header names the host
        if key in saved:
            for message in saved[key]:
                await send(message)
            return
        messages: list[dict] = []

        async def keep(message):
            messages.append(message)
            await send(message)

        await app(scope, receive, keep)
        start = messages[0] if messages else {}
        if (start.get("status") == 200 and len(saved) < most
                and not any(k.lower() == b"set-cookie" for k, _ in start.get("headers", []))):
            saved[key] = messages

    return remembered


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        inner = guard_csv(app)
        pages = remember(inner, {"/", f"/{DB_NAME}"})
        running = 0
        trusted: set[str] | None = None

        async def guarded(scope, receive, send):
            nonlocal running, trusted
            if scope["type"] != "http":
                return await inner(scope, receive, send)
            if scope["method"] not in READ_METHODS:
                return await refuse(scope, send, 405, "Method not allowed: this site is read-only.",
                                    [(b"allow", b"GET, HEAD")])
            if trusted is None:
                trusted = _chart_queries(datasette)
            if not is_arbitrary(scope, trusted):
                return await pages(scope, receive, send)
            if running >= MOST_SQL_AT_ONCE:
                return await refuse(scope, send, 503,
                                    f"Too many SQL queries at once; try again in {RETRY_AFTER_S} seconds.",
                                    [(b"retry-after", str(RETRY_AFTER_S).encode())])
            running += 1  # one event loop: no await between the test and this line
            try:
                return await inner(scope, receive, send)
            finally:
                running -= 1

        return guarded

    return wrap


# --- errors --------------------------------------------------------------------------------

def describe(exception: Exception) -> tuple[int, str | None, str]:
    """(status, title, message) of the answer to a request that raised ``exception``."""
    if isinstance(exception, Base400):
        return exception.status, None, str(exception.args[0] if exception.args else "")
    if isinstance(exception, DatasetteError):
        # Datasette 0.65 raises it without a status only for parameters it cannot honour
        # (an unknown _sort column, a bad _through): the request is at fault.
        status = 400 if exception.status == 500 else exception.status
        message = Markup(exception.message) if exception.message_is_html else exception.message
        return status, exception.title, message
    if isinstance(exception, json.JSONDecodeError):  # a parameter that must be JSON (_through)
        return 400, "Invalid JSON", str(exception)
    if isinstance(exception, sqlite3.DatabaseError):
        # Raised outside Datasette's own SQL error handling: a blob over the length limit
        # (DataError), a row URL with too few primary key values (ProgrammingError).
        return 400, "Invalid SQL", str(exception)
    return 500, None, "Internal error: the server log says where."


def log_line(request, status: int, title: str | None, message: str, exception: Exception) -> str:
    target = request.path + ("?" + request.query_string if request.query_string else "")
    text = re.sub(r"<(textarea|script).*?</\1>|<[^>]+>", " ", str(message), flags=re.S)  # Datasette's HTML
    line = f"{status} {request.method} {target[:200]}: {title or type(exception).__name__}: {text}"
    if status == 500:
        frames = traceback.extract_tb(exception.__traceback__)
        if frames:
            line += f" ({type(exception).__name__} at {Path(frames[-1].filename).name}:{frames[-1].lineno})"
    return " ".join(line.split())[:400]  # one line, whatever the message holds


@hookimpl(hookwrapper=True)
def handle_exception(datasette, request, exception):
    """Answer every error here, instead of Datasette's handler (which prints tracebacks)."""
    outcome = yield
    status, title, message = describe(exception)
    (log.error if status == 500 else log.warning)(log_line(request, status, title, message, exception))

    async def answer():
        info = {"ok": False, "error": message, "status": status, "title": title}
        if request.path.endswith(".json"):
            return Response.json(info, status=status)
        page = await datasette.render_template([f"{status}.html", "error.html"], info, request=request)
        return Response.html(page, status=status)

    outcome.force_result([answer])


# --- introspection pages without paths -----------------------------------------------------

async def databases(datasette, request):
    """Datasette's /-/databases, with each file's name where it shows its absolute path."""
    data = [{"name": db.name, "route": db.route, "path": db.path and Path(db.path).name, "size": db.size,
             "is_mutable": db.is_mutable, "is_memory": db.is_memory, "hash": db.hash}
            for db in datasette.databases.values() if db.name != "_internal"]
    if request.url_vars.get("format"):
        return Response.json(data)
    context = {"filename": "databases.json", "data_json": json.dumps(data, indent=4)}
    return Response.html(await datasette.render_template("show_json.html", context, request=request))


async def not_served():
    raise NotFound("Not served here")


@hookimpl
def register_routes():
    # Plugin routes come before Datasette's own, so these replace them.
    return [
        (r"^/-/databases(\.(?P<format>json))?$", databases),
        (r"^/-/threads(\.(?P<format>json))?$", not_served),  # stack frames with file paths
    ]
