"""`sensetime-data serve` as a user starts it: a real server on a loopback port, read-only and
safe under a runaway query, hostile queries at once, bad requests and spreadsheet exports."""

import csv
import io
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import yaml

from sensetime_data.plugin import MOST_SQL_AT_ONCE, RETRY_AFTER_S

RUNAWAY = "with recursive r(i) as (select 1 union all select i + 1 from r) select count(*) from r"


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_serve_prints_its_url_and_answers(served):
    printed, base = served
    assert printed == f"Serving sensetime-data at {base}/"
    status, body = fetch(f"{base}/sensetime/financials.json?_shape=array&metric=revenue&period=FY2021")
    assert status == 200 and {r["as_reported"] for r in json.loads(body)} == {"47亿元"}


def test_writes_through_the_sql_api_are_refused(served):
    _, base = served
    status, _ = fetch(f"{base}/sensetime.json?" + urllib.parse.urlencode({"sql": "delete from segments"}))
    assert status == 400
    status, body = fetch(f"{base}/sensetime/segments.json?_shape=array")
    assert status == 200 and len(json.loads(body)) == 4


def test_a_runaway_query_is_stopped_while_others_are_answered(served):
    _, base = served
    done = []

    def runaway():
        done.append(("runaway", *fetch(f"{base}/sensetime.json?" + urllib.parse.urlencode({"sql": RUNAWAY}))))

    thread = threading.Thread(target=runaway)
    thread.start()
    time.sleep(0.3)  # let the runaway start first
    for _ in range(3):
        done.append(("page", *fetch(f"{base}/sensetime/financials.json?_shape=array&_size=5")))
    thread.join(timeout=60)
    pages = [d for d in done if d[0] == "page"]
    assert [d[0] for d in done][:3] == ["page"] * 3, "pages waited for the runaway query"
    assert all(status == 200 and len(json.loads(body)) == 5 for _, status, body in pages)
    (_, status, body), = [d for d in done if d[0] == "runaway"]
    assert status == 400 and b"too long" in body.lower().replace(b"\\n", b" ")


def test_csv_exports_cannot_run_as_formulas(served):
    _, base = served
    status, body = fetch(f"{base}/sensetime/financials.csv?_size=max")
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert rows and {r["comparator"] for r in rows} <= {"'=", "'≈", "≈", ">", "<", "range", "missing"}
    for row in rows:
        for cell in row.values():
            if cell[:1] in ("=", "+", "-", "@"):
                float(cell)  # only plain numbers (-19, -14.3) keep a leading sign
    assert any(r["as_reported"] == "'+1.3%" for r in rows) and any(r["value"] == "-19.0" for r in rows)
    assert "营业收入" in body.decode("utf-8")


# --- under attack: the guard of src/sensetime_data/plugin.py on the real server ------------

@pytest.fixture
def logged(served, served_log):
    """(base URL, log file) of the server, to read what it logs."""
    return served[1], served_log


def sql_url(base: str, query: str) -> str:
    return f"{base}/sensetime.json?" + urllib.parse.urlencode({"sql": query})


def test_hostile_queries_beyond_a_few_are_refused_and_pages_answer_first(logged, built):
    base, _ = logged
    done, lock = [], threading.Lock()

    def request(kind, url):
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                answer = (r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            answer = (e.code, e.headers, e.read())
        with lock:
            done.append((kind, *answer))

    dashboards = yaml.safe_load((built / "metadata.yml").read_text("utf-8"))["plugins"]["datasette-dashboards"]
    chart_sql = next(iter(dashboards["sensetime"]["charts"].values()))["query"]
    pages = ["/", "/sensetime", "/sensetime/segments.json?_size=5", "/sensetime/financial_results.json",
             "/-/dashboards/sensetime", sql_url("", chart_sql) + "&_shape=objects"]  # the last: a chart's data
    for page in pages:  # first visits, as a visitor's would have been before the attack
        fetch(base + page)
    hostile = [threading.Thread(target=request, args=("hostile", sql_url(base, RUNAWAY)))
               for _ in range(MOST_SQL_AT_ONCE + 8)]
    for thread in hostile:
        thread.start()
    time.sleep(0.5)  # the hostile queries are in flight
    for page in pages:
        request("page", base + page)
    for thread in hostile:
        thread.join(timeout=60)

    assert [status for kind, status, _, _ in done if kind == "page"] == [200] * len(pages)
    run = [i for i, (kind, status, _, _) in enumerate(done) if kind == "hostile" and status != 503]
    refused = [d for d in done if d[0] == "hostile" and d[1] == 503]
    assert 1 <= len(run) <= MOST_SQL_AT_ONCE and len(run) + len(refused) == len(hostile)
    assert all(h.get("Retry-After") == str(RETRY_AFTER_S) and b"Too many SQL queries" in body for _, _, h, body in refused)
    assert all(done[i][1] == 400 and b"too long" in done[i][3] for i in run)  # stopped by the time limit
    last_page = max(i for i, d in enumerate(done) if d[0] == "page")
    assert min(run) > last_page, "pages waited for the hostile queries"


def test_each_rejected_request_is_one_line_in_the_log_and_gets_its_status(logged):
    base, log = logged
    before = log.read_text("utf-8").splitlines()
    cases = [
        (sql_url(base, "select randomblob(900000000)"), "GET", 400),
        (sql_url(base, "with recursive r(i) as (select 1 union all select i + 1 from r limit 2000) "
                       "select zeroblob(99999) from r"), "GET", 400),
        (sql_url(base, "select printf('%.*c', 1000000000, 'x') as s"), "GET", 200),  # NULL, at once
        (sql_url(base, RUNAWAY), "GET", 400),
        (f"{base}/sensetime/financials?_sort=nope", "GET", 400),
        (f"{base}//etc/passwd", "GET", 404),
        (f"{base}/sensetime/financials/999999", "GET", 400),
        (f"{base}/sensetime/segment_shares", "POST", 405),
    ]
    for url, method, status in cases:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method=method, data=b"" if method == "POST" else None),
                                        timeout=60) as r:
                assert r.status == status, url
        except urllib.error.HTTPError as e:
            assert e.code == status, url
    wait_for_line(log, '"POST /sensetime/segment_shares HTTP/1.1" 405')
    added = log.read_text("utf-8").splitlines()[len(before):]
    assert not [line for line in added if "Traceback" in line or "╭" in line]
    assert len(added) <= 3 * len(cases), "\n".join(added)  # an access line, a reason, Datasette's SQL error
    assert all(len(line) < 1000 for line in added)  # a traceback with locals was ~70 KB


def wait_for_line(log, text: str) -> None:
    for _ in range(50):
        if text in log.read_text("utf-8"):
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never logged")
