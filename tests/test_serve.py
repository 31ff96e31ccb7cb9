"""`sensetime-data serve` as a user starts it: a real served on a loopback port, read-only and
safe under a runaway query and spreadsheet exports."""

import csv
import io
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


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
    assert rows and {r["comparator"] for r in rows} <= {"'=", "'≈", "≈", ">", "<", "missing"}
    for row in rows:
        for column, cell in row.items():
            if cell[:1] in ("=", "+", "-", "@"):
                float(cell)  # only plain numbers (-19, -14.3) keep a leading sign
    assert any(r["as_reported"] == "'+1.3%" for r in rows) and any(r["value"] == "-19.0" for r in rows)
    assert "营业收入" in body.decode("utf-8")
