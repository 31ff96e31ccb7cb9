"""The Datasette site in a real browser.

`sensetime-data serve` runs on a free loopback port; headless Chromium loads the home page, a fact
table and the dashboard, and the DOM it rendered (after the dashboard's JavaScript has drawn the
vega-lite charts) must show the bilingual text and charts with drawn marks. Screenshots of the three
pages are left in build/screenshots/ for a person to look at.
"""

import os
import re
import shutil
import subprocess
import tempfile

import pytest
import yaml

from conftest import ROOT

SHOTS = ROOT / "build" / "screenshots"
CJK = re.compile(r"[\u4e00-\u9fff]")
# A drawn chart mark as vega 5 writes it in SVG: a data-mark group (class "mark-rect role-mark ...",
# "mark-line role-mark ...", ...) whose first child is a path with a shape; axes and legends are
# "role-axis" and "role-legend" groups, so they do not count.
DRAWN_MARK = re.compile(r'<g class="mark-\w+ role-mark[^"]*"[^>]*>\s*<path [^>]*role="graphics-symbol"[^>]*\sd="M')
# Without these the browser tries to reach Google's servers and waits for them.
OFFLINE = ["--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"]


def need(found, what: str):
    """What the browser test needs: in CI it must be there, elsewhere its absence skips."""
    if not found:
        message = f"{what}: .ci/run installs it with apt-get (chromium, fonts-noto-cjk); this browser test cannot run here"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def browser() -> str:
    exe = need(shutil.which("chromium") or shutil.which("chromium-browser"), "Chromium is not installed")
    # Without a CJK font the DOM is right but the screenshots show empty boxes for the Chinese.
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout
    need(fonts.strip(), "No Chinese font is installed")
    return exe


@pytest.fixture(scope="module")
def site(served):
    return served[1]


def render(browser: str, url: str, name: str) -> str:
    """The DOM Chromium renders at ``url`` once its scripts have run; saves build/screenshots/<name>.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"{name}.png"
    shot.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", *OFFLINE, f"--user-data-dir={profile}",
             "--virtual-time-budget=10000", "--window-size=1400,1000", f"--screenshot={shot}", "--dump-dom", url],
            capture_output=True, text=True, timeout=60,
        )
    assert done.returncode == 0, done.stderr
    assert shot.exists() and shot.stat().st_size > 10_000, f"{shot} is missing or blank"
    return done.stdout


def test_home_page(browser, site, tables):
    dom = render(browser, f"{site}/", "home")
    assert "<h1>SenseTime Group disclosures (商汤集团披露数据)</h1>" in dom
    for name in tables:
        assert f'href="/sensetime/{name}"' in dom, name


def test_fact_table_page(browser, site, tables):
    dom = render(browser, f"{site}/sensetime/segment_results", "segment_results")
    assert '<table class="rows-and-columns">' in dom
    for column in tables["segment_results"].columns:
        assert f'data-column="{column}"' in dom, column
    assert re.search(r'<td class="col-segment_id[^"]*"><a [^>]*>[^<]*智慧城市</a>', dom)
    quotes = re.findall(r'<td class="col-quote[^"]*">([^<]*)</td>', dom)
    assert quotes and all(CJK.search(q) for q in quotes)


def test_dashboard_draws_its_charts(browser, site, good_copy):
    metadata = yaml.safe_load((good_copy / "build" / "metadata.yml").read_text("utf-8"))
    dashboard = metadata.get("plugins", {}).get("datasette-dashboards", {}).get("sensetime")
    assert dashboard, "build/metadata.yml has no datasette-dashboards dashboard 'sensetime'"
    dom = render(browser, f"{site}/-/dashboards/sensetime", "dashboard")
    cards = {card.split('"')[0]: card for card in dom.split('<div id="card-')[1:]}
    drawn = []
    for slug, chart in dashboard["charts"].items():
        assert CJK.search(chart["title"]), f"{slug}: chart title should be bilingual"
        assert chart["title"] in cards.get(slug, ""), f"{slug}: title not on the page"
        if chart["library"] == "vega-lite":
            assert re.search(r'<svg [^>]*class="marks"', cards[slug]), f"{slug}: no chart SVG"
            assert DRAWN_MARK.search(cards[slug]), f"{slug}: the chart SVG has no drawn marks"
            drawn.append(slug)
    assert len(drawn) >= 4, drawn
    assert "各业务收入占比" in dom
