"""The server guard (src/sensetime_data/plugin.py), in-process: SQLite limits, the result
budget, the limit on arbitrary queries at once, statuses, one-line errors, no paths."""

import asyncio
import logging
import sqlite3
import sys
import types
from pathlib import Path

import datasette
import pytest
from datasette import hookimpl
from datasette.app import Datasette
from datasette.plugins import pm

from sensetime_data.plugin import (
    LIMITS,
    MOST_RESULT_BYTES,
    MOST_SQL_AT_ONCE,
    RETRY_AFTER_S,
    describe,
    prepare_connection,
    remembered,
    repeats_too_often,
)
from sensetime_data.serve import SETTINGS

RUNAWAY = "with recursive r(i) as (select 1 union all select i + 1 from r) select count(*) from r"
BLOB_ROWS = "with recursive r(i) as (select 1 union all select i + 1 from r limit 2000) select zeroblob(99999) from r"


@pytest.fixture(scope="module")
def ds(built, metadata):
    return Datasette(immutables=[str(built / "sensetime.db")], metadata=metadata, settings=SETTINGS)


def get(ds, path, **params):
    return asyncio.run(ds.client.get(path, params=params or None))


def sql(ds, query):
    return get(ds, "/sensetime.json", sql=query, _shape="array")


# --- SQLite limits -------------------------------------------------------------------------

def guarded_connection():
    con = sqlite3.connect(":memory:")
    prepare_connection(con)
    return con


def test_a_value_over_the_length_limit_is_refused_at_once(ds):
    response = sql(ds, "select randomblob(900000000)")  # was 900 MB
    assert response.status_code == 400 and "string or blob too big" in response.json()["error"]
    # Under SQLite's own limit (1e9), over the site's: a string, not a 200 KB answer.
    assert sql(ds, "select length(printf('%.*c', 200000, 'x')) as n").json() == [{"n": None}]
    assert sql(ds, "select length(printf('%.*c', 50000, 'x')) as n").json() == [{"n": 50000}]


@pytest.mark.parametrize("fmt, args", [("%.*c", (10**9, "x")), ("%.2000000000c", ("x",)), ("%*.*c", (3, -(10**9), "x")),
                                       ("%d %s %.*c", (1, "a", 10**6, "x"))])
def test_printf_that_would_repeat_a_character_past_the_limit_is_null_without_running(fmt, args):
    # SQLite 3.40 appends the character one at a time before giving NULL: 1e9 took 25 s.
    assert repeats_too_often(fmt, args)
    marks = ", ".join("?" * (len(args) + 1))
    con = guarded_connection()
    assert tuple(con.execute(f"select printf({marks}), format({marks})", (fmt, *args, fmt, *args)).fetchone()) == (None, None)


@pytest.mark.parametrize("fmt, args", [
    ("%5.2f|%-4d|%s|%.*c|%%|%!.3g", (3.14159, 7, "abc", 3, "z", 1.5)), ("%d items", (12,)), ("%.*c", (5, "x")),
    ("%q and %Q", ("it's", None)), ("%*d", (6, 42)), ("%,d", (1234567,)), ("%.*s", (2, "abcdef")), ("%s", ()),
    ("%c%c", ("a",)), ("no conversion", ()), ("%.99999c", ("x",)), ("%.100000c", ("x",)),
])
def test_printf_gives_what_sqlite_gives(fmt, args):
    assert not repeats_too_often(fmt, args)
    marks = ", ".join("?" * (len(args) + 1))
    plain = sqlite3.connect(":memory:")
    for limit, value in LIMITS.items():
        plain.setlimit(limit, value)
    expected = plain.execute(f"select printf({marks})", (fmt, *args)).fetchone()
    assert tuple(guarded_connection().execute(f"select printf({marks})", (fmt, *args)).fetchone()) == expected


def test_a_result_over_the_budget_is_refused(ds):
    response = sql(ds, BLOB_ROWS)  # was a 1.2 GB answer and 6 GB of server memory
    assert response.status_code == 400 and "query result over" in response.json()["error"]


def test_the_data_stays_far_below_the_limits(built):
    """When the data grows near a limit, raise the limit: pages would start failing."""
    con = sqlite3.connect(f"file:{built / 'sensetime.db'}?mode=ro", uri=True)
    names = [n for (n,) in con.execute("select name from sqlite_master where type in ('table', 'view')")]
    longest, widest, largest = 0, 0, 0
    for name in names:
        rows = con.execute(f'select * from "{name}"').fetchall()
        widest = max(widest, len(con.execute(f'pragma table_xinfo("{name}")').fetchall()))
        sizes = [sum(len(v) if isinstance(v, (str, bytes)) else 16 for v in row) for row in rows]
        longest = max([longest] + [len(v) for row in rows for v in row if isinstance(v, (str, bytes))])
        largest = max(largest, sum(sizes))
    assert longest * 10 < LIMITS[sqlite3.SQLITE_LIMIT_LENGTH]
    assert widest * 5 < LIMITS[sqlite3.SQLITE_LIMIT_COLUMN]
    assert largest * 5 < MOST_RESULT_BYTES


# --- arbitrary queries at once -------------------------------------------------------------

def test_arbitrary_queries_beyond_the_limit_are_refused_at_once_and_pages_still_answer(built, metadata):
    ds = Datasette(immutables=[str(built / "sensetime.db")], metadata=metadata,
                   settings={**SETTINGS, "sql_time_limit_ms": 1000})
    charts = [c["query"] for c in metadata["plugins"]["datasette-dashboards"]["sensetime"]["charts"].values()]
    hostile = MOST_SQL_AT_ONCE + 6
    where = "(select count(*) from observations a, observations b, observations c, observations d) > 0"

    async def together():
        await ds.invoke_startup()
        requests = [ds.client.get("/sensetime.json", params={"sql": RUNAWAY}) for _ in range(hostile - 1)]
        requests.append(ds.client.get("/sensetime/financials.json", params={"_where": where}))
        requests += [ds.client.get("/sensetime.json", params={"sql": q, "_shape": "objects"}) for q in charts]
        requests += [ds.client.get(p) for p in ("/", "/sensetime", "/sensetime/financials",
                                                "/sensetime/financial_results", "/-/dashboards/sensetime")]
        return await asyncio.gather(*requests)

    answers = asyncio.run(together())
    attack, rest = answers[:hostile], answers[hostile:]
    refused = [r for r in attack if r.status_code == 503]
    assert len(refused) == hostile - MOST_SQL_AT_ONCE
    assert all(r.headers["retry-after"] == str(RETRY_AFTER_S) and "Too many SQL queries" in r.text for r in refused)
    assert {r.status_code for r in attack if r not in refused} == {400}  # run, then stopped by the time limit
    assert [r.status_code for r in rest] == [200] * len(rest)  # chart data, pages, a canned query


def test_two_sql_threads_stay_for_pages_on_any_machine():
    assert MOST_SQL_AT_ONCE <= 3 and SETTINGS["num_sql_threads"] >= 3 + 2


def test_pages_answered_from_memory_are_the_pages(ds):
    for page in ("/", "/sensetime"):
        first, second = get(ds, page), get(ds, page)  # the second from memory
        assert first.status_code == second.status_code == 200 and "financials" in second.text
        assert (first.text, first.headers) == (second.text, second.headers)
    with_cookie = asyncio.run(ds.client.get("/", cookies={"ds_actor": "x"}))  # never from memory
    assert with_cookie.status_code == 200 and with_cookie.text == get(ds, "/").text


# --- what cannot change while serving ------------------------------------------------------

@pytest.fixture
def traced():
    """The SQL statements run on every SQLite connection opened during the test."""
    statements: list[str] = []
    tracer = types.ModuleType("sql_tracer")

    @hookimpl(trylast=True)
    def prepare_connection(conn):
        conn.set_trace_callback(statements.append)

    tracer.prepare_connection = prepare_connection
    pm.register(tracer)
    yield statements
    pm.unregister(tracer)


def test_a_rendered_home_page_does_not_read_the_schema_again(built, metadata, traced):
    # A new Datasette opens new connections, which the tracer sees.
    ds = Datasette(immutables=[str(built / "sensetime.db")], metadata=metadata, settings=SETTINGS)
    cookies = {"visited": "1"}  # with a cookie the page is rendered, not answered from memory

    async def twice():
        first = await ds.client.get("/", cookies=cookies)
        asked = len(traced)
        second = await ds.client.get("/", cookies=cookies)
        return first, second, traced[:asked], traced[asked:]

    first, second, at_first, again = asyncio.run(twice())
    assert any("sqlite_master" in s for s in at_first)  # the first request did read the schema
    # Before, 132 statements a request, 81 of them on sqlite_master; now Datasette's own check
    # that the schemas did not change, and nothing per table.
    assert not [s for s in again if "sqlite_master" in s] and len(again) <= 5
    assert second.status_code == 200 and second.text == first.text and "financials" in second.text


def test_remembered_answers_are_asked_for_once_and_given_as_copies():
    asked = []

    async def columns(table):
        asked.append(table)
        return ["a", "b"]

    columns_once = remembered(columns)

    async def thrice():
        (await columns_once("t")).append("changed by a caller")
        return await columns_once("t"), await columns_once("u")

    assert asyncio.run(thrice()) == (["a", "b"], ["a", "b"]) and asked == ["t", "u"]


def test_a_mutable_database_is_asked_anew(tmp_path):
    path = tmp_path / "changing.db"
    with sqlite3.connect(path) as con:
        con.execute("create table one (x)")
    ds = Datasette([str(path)])

    async def before_and_after():
        await ds.invoke_startup()
        db = ds.get_database("changing")
        before = await db.table_names()
        with sqlite3.connect(path) as con:
            con.execute("create table two (x)")
        return before, await db.table_names()

    assert asyncio.run(before_and_after()) == (["one"], ["one", "two"])


# --- statuses ------------------------------------------------------------------------------

def test_writes_get_405(ds):
    for method in ("post", "put", "delete", "patch"):
        response = asyncio.run(getattr(ds.client, method)("/sensetime/segment_shares"))  # was 500 for POST
        assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("path, params, status", [
    ("/sensetime/financials", {"_sort": "nope"}, 400),  # was 500
    ("/sensetime/financials.json", {"_sort_desc": "nope"}, 400),
    ("//etc/passwd", {}, 404),  # was 500: Datasette's handler crashed
    ("/sensetime/financials/999999", {}, 400),  # a row URL with one of three keys: was 500
    ("/sensetime/financials", {"_through": "nope"}, 400),  # was 500
    ("/-/threads.json", {}, 404),  # stack frames with file paths
    ("/nope", {}, 404),
])
def test_bad_requests_get_a_4xx_and_one_log_line(ds, caplog, path, params, status):
    with caplog.at_level(logging.WARNING, logger="sensetime_data.serve"):
        response = get(ds, path, **params)
    assert response.status_code == status
    lines = [r.getMessage() for r in caplog.records if r.name == "sensetime_data.serve"]
    assert len(lines) == 1 and lines[0].startswith(f"{status} GET {path}") and "\n" not in lines[0]


def test_an_unexpected_error_is_a_500_that_names_no_file():
    status, _, message = describe(FileNotFoundError(2, "No such file", "/srv/secret/sensetime.db"))
    assert status == 500 and "/" not in message


def test_a_stopped_query_is_logged_without_its_html(ds, caplog):
    with caplog.at_level(logging.WARNING, logger="sensetime_data.serve"):
        # four observations cross-joined: 2.5e10 rows, past the time limit on any machine
        get(ds, "/sensetime/financials.json", _where="(select count(*) from observations a, observations b, "
            "observations c, observations d) > 0")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "sensetime_data.serve"]
    assert line.startswith("400 GET /sensetime/financials.json") and "SQL query took too long" in line
    assert "<" not in line and "querySelector" not in line


# --- no filesystem paths -------------------------------------------------------------------

PAGES = ["/", "/.json", "/sensetime", "/sensetime.json", "/sensetime/financials", "/sensetime/financials.json",
         "/-/databases", "/-/databases.json", "/-/metadata.json", "/-/plugins.json", "/-/plugins.json?all=1",
         "/-/versions.json", "/-/settings.json", "/-/actor.json", "/-/threads", "/-/threads.json",
         "/-/dashboards", "/-/dashboards/sensetime", "/nope", "//etc/passwd", "/sensetime/financials?_sort=nope",
         "/sensetime.json?sql=select+randomblob(900000000)", "/sensetime/financials/1"]


def test_no_page_shows_a_filesystem_path(ds, built):
    paths = {str(built.parent), sys.prefix, sys.base_prefix, str(Path(datasette.__file__).parent.parent)}
    for page in PAGES:
        response = asyncio.run(ds.client.get(page))
        found = [p for p in paths if p in response.text]
        assert not found, f"{page} ({response.status_code}) shows {found}"
    databases = get(ds, "/-/databases.json").json()
    assert [d["path"] for d in databases if d["name"] == "sensetime"] == ["sensetime.db"]
