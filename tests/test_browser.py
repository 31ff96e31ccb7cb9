"""The Datasette site in a real browser, tried as a new user would.

`sensetime-data serve` runs on a free loopback port (one server for the session) and one headless
Chromium, driven over the DevTools protocol on a pipe, opens its pages at 1400×1000: it searches
from the table search boxes, sorts by time, reads a fact's quote in English and follows its source,
opens every canned query and reads the dashboard's charts. Every check reads the DOM the browser
rendered; screenshots go to pytest's tmp_path for a person to look at.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from urllib.parse import quote

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{2}")
# Without these the browser tries to reach Google's servers and waits for them.
OFFLINE = ["--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"]
WIDTH, HEIGHT = 1400, 1000
ROWS = "document.querySelectorAll('table.rows-and-columns tbody tr')"


def need(found, what: str):
    """What the browser test needs: in CI it must be there, elsewhere its absence skips."""
    if not found:
        message = f"{what}: .ci/run installs it with apt-get (chromium, fonts-noto-cjk); this browser test cannot run here"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


class DevToolsError(AssertionError):
    NAVIGATING = ("Inspected target navigated or closed", "Execution context was destroyed", "Cannot find context")

    def __init__(self, error: dict):
        super().__init__(error)
        self.navigating = any(m in str(error.get("message")) for m in self.NAVIGATING)


class Browser:
    """Headless Chromium over the DevTools protocol on file descriptors 3 and 4 (``--remote-debugging-pipe``):
    JSON messages ended by a NUL byte, so no WebSocket library is needed."""

    def __init__(self, exe: str):
        self.profile = tempfile.mkdtemp(prefix="chromium-")
        to_browser, self._out = os.pipe()
        self._in, from_browser = os.pipe()

        def pipes():  # in the child, before exec: the browser reads fd 3 and writes fd 4
            os.dup2(os.dup(to_browser), 3)
            os.dup2(os.dup(from_browser), 4)

        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", *OFFLINE, f"--user-data-dir={self.profile}",
             "--remote-debugging-pipe", f"--window-size={WIDTH},{HEIGHT}", "about:blank"],
            close_fds=False, preexec_fn=pipes, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer, self._id, self.session = b"", 0, None
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT, deviceScaleFactor=1, mobile=False)

    def call(self, method: str, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:  # events have no id: skip them
            while b"\0" not in self._buffer:
                chunk = os.read(self._in, 1 << 16)
                assert chunk, "Chromium closed the DevTools pipe"
                self._buffer += chunk
            line, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(line)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise DevToolsError(reply["error"])
                return reply["result"]

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait(self, expression: str, seconds: float = 30):
        deadline = time.monotonic() + seconds
        while True:
            try:
                if value := self.js(expression):
                    return value
            except DevToolsError as e:  # asked while the page was being replaced: ask the next one
                if not e.navigating:
                    raise
            assert time.monotonic() < deadline, f"never true: {expression}"
            time.sleep(0.02)

    def loaded(self, action) -> None:
        """Run ``action`` (which leaves the page) and wait until the next page has loaded."""
        self.js("window.__left = true")
        try:
            action()
        except DevToolsError as e:  # the page it ran in went away before answering: it did leave
            if not e.navigating:
                raise
        self.wait("!window.__left && document.readyState === 'complete'")

    def goto(self, url: str) -> None:
        self.loaded(lambda: self.call("Page.navigate", url=url))

    def click(self, selector: str) -> None:
        """A real mouse click at the middle of the first element ``selector`` finds."""
        box = self.wait(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
                        "e.scrollIntoView({block: 'center'}); const r = e.getClientRects()[0];"  # a link's first line
                        "return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"], button="left", clickCount=1)

    def shot(self, path) -> None:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
        assert path.stat().st_size > 10_000, f"{path} is blank"

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)
        os.close(self._in)
        os.close(self._out)
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    exe = need(shutil.which("chromium") or shutil.which("chromium-browser"), "Chromium is not installed")
    # Without a CJK font the DOM is right but the screenshots show empty boxes for the Chinese.
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout
    need(fonts.strip(), "No Chinese font is installed")
    chromium = Browser(exe)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def site(served):
    return served[1]


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    return tmp_path_factory.mktemp("screenshots")


def cells(browser: Browser, column: str) -> list[str]:
    return browser.js(f"[...document.querySelectorAll('td.col-{column}')].map(td => td.innerText.trim())")


def links(browser: Browser, column: str) -> list[str]:
    return browser.js(f"[...document.querySelectorAll('td.col-{column} a')].map(a => a.getAttribute('href'))")


def test_home_page(browser, site, tables, shots):
    browser.goto(f"{site}/")
    assert browser.js("document.querySelector('h1').innerText") == "SenseTime Group disclosures (商汤集团披露数据)"
    hrefs = set(browser.js("[...document.querySelectorAll('a')].map(a => a.getAttribute('href'))"))
    assert {f"/sensetime/{name}" for name in tables} <= hrefs
    browser.shot(shots / "home.png")


@pytest.mark.parametrize("table", ["financials", "model_benchmarks", "observations"])
def test_a_table_page_shows_its_first_rows_on_the_first_screen(browser, site, shots, table):
    browser.goto(f"{site}/sensetime/{table}")
    assert browser.js("[innerWidth, innerHeight]") == [WIDTH, HEIGHT]
    top = browser.js(f"{ROWS}[0].getBoundingClientRect().top")
    assert top < HEIGHT - 100, f"the first row of {table} starts at {top}px"  # before: about 1,450 px down
    assert browser.js("document.querySelector('details.column-notes').open") is False
    browser.shot(shots / f"{table}.png")


@pytest.mark.parametrize("table, term, column, target", [
    ("financials", "revenue", "metric", "/sensetime/metrics/revenue"),
    ("financials", "营业收入", "metric", "/sensetime/metrics/revenue"),
    ("model_benchmarks", "MMLU", "benchmark_id", "/sensetime/benchmarks/mmlu"),
])
def test_the_search_box_finds_every_row_of_a_label(browser, site, db, shots, table, term, column, target):
    browser.goto(f"{site}/sensetime/{table}")
    browser.loaded(lambda: browser.js(f"const box = document.getElementById('_search'); box.value = {json.dumps(term)};"
                                      "box.form.submit()"))
    assert browser.js("location.search").startswith(f"?_search={quote(term)}")
    wanted = db.execute(f"select count(*) from {table} where {column} = ?", [target.rsplit("/", 1)[1]]).fetchone()[0]
    assert wanted >= 4 and links(browser, column).count(target) == wanted  # every one of them, on the page
    browser.shot(shots / f"search-{table}-{term}.png")


@pytest.mark.parametrize("table, term", [("automotive_kpis", "量产"), ("compute_capacity", "算力")])
def test_the_search_box_finds_two_character_chinese(browser, site, db, table, term):
    browser.goto(f"{site}/sensetime/{table}?_search={quote(term)}")
    assert browser.js("document.getElementById('_search').value") == term
    quoted = db.execute(f"select count(*) from {table} where instr(quote, ?)", [term]).fetchone()[0]
    assert quoted and browser.js(f"{ROWS}.length") >= quoted  # before: "0 records"
    assert sum(term in q for q in cells(browser, "quote")) == quoted


def test_a_search_that_finds_nothing_says_what_to_try(browser, site):
    browser.goto(f"{site}/sensetime/financials?_search={quote('没有这个词')}")
    hint = browser.js("document.querySelector('.search-hint').innerText")
    assert "No row of Company financials holds “没有这个词”" in hint and "search query" in hint


def test_a_fact_table_sorts_by_time(browser, site):
    browser.goto(f"{site}/sensetime/financials?metric=revenue_growth&_sort=period")  # by the code: text order
    browser.loaded(lambda: browser.click("th.col-period_end a"))
    ends = cells(browser, "period_end")
    assert ends == sorted(ends) and len(ends) >= 5
    periods = [href.rsplit("/", 1)[1] for href in links(browser, "period")]
    assert periods.index("FY2021") < periods.index("1H2022") < periods.index("FY2022") < periods.index("1H2023")


@pytest.mark.parametrize("table", ["financials", "model_benchmarks", "automotive_partners"])
def test_a_fact_reads_in_english_and_its_source_is_one_click_away(browser, site, db, shots, table):
    browser.goto(f"{site}/sensetime/{table}")
    browser.loaded(lambda: browser.click("table.rows-and-columns tbody tr td a"))  # the row's own page
    panel = browser.js("document.querySelector('section.fact-source').innerText")
    source_id = browser.js("document.querySelector('td.col-source_id').innerText.trim()")
    quote_en = browser.js("[...document.querySelectorAll('blockquote.translation')].map(b => b.innerText.trim())")
    english = {q for (q,) in db.execute(f"select quote_en from {table} where source_id = ?", [source_id])}
    assert "English translation by the curators" in panel and quote_en and set(quote_en) & english
    assert "verbatim" in panel
    browser.shot(shots / f"row-{table}.png")
    title = db.execute("select title from sources where source_id = ?", [source_id]).fetchone()[0]
    assert title in browser.js("document.querySelector('a.source-link').innerText")
    browser.loaded(lambda: browser.click("a.source-link"))
    assert browser.js("location.pathname") == f"/sensetime/sources/{source_id}"
    assert title in browser.js("document.body.innerText")


def test_every_canned_query_opens_with_rows(browser, site, metadata):
    for name, query in metadata["databases"]["sensetime"]["queries"].items():
        browser.goto(f"{site}/sensetime/{name}")
        assert browser.js(f"{ROWS}.length") > 0, name
        for key, value in query.get("example_params", {}).items():  # the form shows the example it ran
            assert browser.js(f"document.querySelector('input[name={key}]').value") == value, (name, key)


def test_the_dashboard_reads_in_both_languages_and_every_mark_links_to_its_rows(browser, site, metadata, shots):
    charts = metadata["plugins"]["datasette-dashboards"]["sensetime"]["charts"]
    vega = [slug for slug, chart in charts.items() if chart["library"] == "vega-lite"]
    browser.goto(f"{site}/-/dashboards/sensetime")
    browser.wait(f"document.querySelectorAll('svg.marks').length >= {len(vega)}")
    browser.shot(shots / "dashboard.png")
    for slug in vega:
        card = f"document.querySelector('#card-{slug}')"
        texts = browser.js(f"""(() => {{ const card = {card}, all = s => [...card.querySelectorAll(s)].map(e => e.textContent);
            return {{axes: all('.role-axis-title text'), legend: all('.role-legend-title text'),
                     labels: all('.role-legend-label text'), ticks: all('.role-axis-label text'),
                     marks: [...card.querySelectorAll('.role-mark path, .role-mark text')]
                            .map(e => e.getAttribute('aria-label') || '')}}; }})()""")
        for title in texts["axes"] + texts["legend"]:
            assert CJK.search(title) and LATIN.search(title), f"{slug}: {title}"
        for label in [t for t in texts["labels"] if not re.fullmatch(r"[\d.,]+", t)]:  # names, never raw ids
            assert LATIN.search(label) and "_" not in label, f"{slug}: {label}"
            if slug != "internlm-vs-gpt":  # model names, which have no Chinese
                assert CJK.search(label), f"{slug}: {label}"
        if charts[slug]["display"]["encoding"].get("x", {}).get("type") == "temporal":
            dates = [t for t in texts["ticks"] if not re.fullmatch(r"[\d.,]+", t)]
            assert dates and all(re.search(r"\b20\d\d\b", t) for t in dates), f"{slug}: {dates}"  # before: Apr 02
        drawn = [m for m in texts["marks"] if m]
        assert drawn and all("href: /sensetime/" in m for m in drawn), f"{slug}: a mark without a link"
    assert browser.js("document.querySelectorAll('#card-carmakers tbody tr a').length") >= 20
    browser.loaded(lambda: browser.click("#card-revenue-loss path[aria-roledescription=bar]"))  # click a bar
    assert browser.js("location.pathname") == "/sensetime/financials"
    assert browser.js(f"{ROWS}.length") > 0 and "metric=" in browser.js("location.search")
