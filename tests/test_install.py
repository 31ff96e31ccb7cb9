"""A new user's install, in one fresh virtual environment outside the repository.

`python -m build` makes an sdist of a fresh clone and the wheel from that sdist; the wheel goes
into a fresh venv with its runtime dependencies only, where every runtime function and `info`
work and nothing of the curation or site stack can be imported; then the `site` extra is added
and the site is served, the installed build stays read-only, and frictionless reads the
installed package. The tests run in this file's order, on one xdist worker (conftest.TOGETHER):
the later ones add the extra.

uv makes the venvs and installs into them (and into the isolated build environments), with the
versions CI pins: what pip would install, from uv's cache, in seconds.
"""

import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, tree_digest
from helpers import installed, read_rows, wait_for
from test_wheel import CONSTRAINTS, clean_env, fresh_clone, python_build

from sensetime_data.serve import free_port

pytestmark = [pytest.mark.slow, pytest.mark.wheel]
NOT_RUNTIME = ("frictionless", "pandera", "datasette", "datasette_dashboards", "sqlite_utils", "yaml")
VIEWS = ("observations", "fact_agreement")

USE = """
import json, sys
import pandas as pd
import sensetime_data as sd

assert "site-packages" in sd.__file__, sd.__file__
out = {"version": sd.__version__, "rows": {}, "described": {}}
for name, rows in sd.tables()[["name", "rows"]].itertuples(index=False):
    frame = sd.load(name)
    out["rows"][name] = [len(frame), int(rows)]
    out["described"][name] = bool(frame.attrs["description"]) and all(
        c["description"] for c in frame.attrs["columns"].values())
out["start"] = str(sd.load("periods")["start"].dtype)
out["ambiguous"] = str(sd.load("observations")["ambiguous"].dtype)
out["units"] = sorted(sd.load("financials").attrs["units"])
out["sql"] = sd.sql("select count(*) as n from observations")["n"][0].item()
out["connect"] = sd.connect().execute(
    "select as_reported from financials where metric = 'revenue' and period = 'FY2021'").fetchone()[0]
out["gpus"] = sorted(sd.observations(topic="compute", metric="gpus")["as_reported"])
print(json.dumps(out))
"""


class Venv:
    def __init__(self, path: Path):
        self.path = path
        self.python = path / "bin" / "python"
        self.cli = path / "bin" / "sensetime-data"

    def run(self, *args, **kw) -> subprocess.CompletedProcess:
        return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=clean_env(),
                              cwd=self.path.parent, **kw)

    def create(self) -> None:
        done = self.run(installed("uv"), "venv", "--quiet", "--python", sys.executable, self.path)
        assert done.returncode == 0, done.stderr[-3000:]

    def install(self, *args) -> None:
        done = self.run(installed("uv"), "pip", "install", "--quiet", "--python", self.python, "-c", CONSTRAINTS, *args)
        assert done.returncode == 0, done.stderr[-3000:]

    def importable(self, modules) -> list[str]:
        code = f"import importlib.util as u; print([m for m in {tuple(modules)!r} if u.find_spec(m)])"
        return json.loads(self.run(self.python, "-c", code, check=True).stdout.replace("'", '"'))

    @property
    def data(self) -> Path:
        code = "import sensetime_data, pathlib; print(pathlib.Path(sensetime_data.__file__).parent / 'data')"
        return Path(self.run(self.python, "-c", code, check=True).stdout.strip())


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> tuple[Path, Path]:
    """(sdist, wheel) of a fresh clone, the wheel built from the sdist; no source texts in reach."""
    clone = fresh_clone(tmp_path_factory.mktemp("clone") / "sensetime-data")
    out = tmp_path_factory.mktemp("dist")
    done = python_build("--outdir", out, clone, env=clean_env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return sdist, wheel


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory) -> Venv:
    """A fresh venv, outside the repository, with the wheel and its runtime dependencies."""
    env = Venv(tmp_path_factory.mktemp("user") / "venv")
    env.create()
    env.install(dist[1])
    env.runtime_only = True
    return env


@pytest.fixture(scope="module")
def site(venv, dist) -> Venv:
    """The same venv after `pip install 'sensetime-data[site]'` (by uv)."""
    venv.install(f"{dist[1]}[site]")
    venv.runtime_only = False
    return venv


def test_the_sdist_carries_what_the_wheel_hook_needs(dist):
    sdist, wheel = dist
    names = {n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n}
    assert {"hatch_build.py", "pyproject.toml", "datapackage.json", "tables/financials.csv",
            "schemas/financials.json", "src/sensetime_data/build.py"} <= names
    assert not {n for n in names if n.startswith("build/") and n != "build/README.md"}
    info = json.loads(zipfile.ZipFile(wheel).read("sensetime_data/data/build/build.json"))
    assert info["quotes_checked"] is False  # the texts are not beside an unpacked sdist: the wheel says so


def test_the_runtime_install_brings_only_pandas_and_pyarrow(venv):
    assert venv.runtime_only, "the site extra was installed before this test"
    assert venv.importable(NOT_RUNTIME) == []
    code = """
import json, re
from importlib import metadata
def closure(names, seen):
    for name in names:
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        try:
            reqs = [r for r in metadata.requires(name) or [] if "extra ==" not in r]
        except metadata.PackageNotFoundError:  # required only where a marker holds
            continue
        closure([re.match(r"[A-Za-z0-9_.-]+", r).group() for r in reqs], seen)
    return seen
installed = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() for d in metadata.distributions()}
print(json.dumps({"installed": sorted(installed), "promised": sorted(closure(["pandas", "pyarrow"], set()))}))
"""
    found = json.loads(venv.run(venv.python, "-c", code, check=True).stdout)
    extra = set(found["installed"]) - set(found["promised"]) - {"sensetime-data", "pip", "setuptools"}
    assert not extra, f"installed beyond pandas, pyarrow and what they need: {sorted(extra)}"


def test_every_runtime_function_works_from_the_wheel(venv):
    assert venv.runtime_only, "the site extra was installed before this test"
    done = venv.run(venv.python, "-c", USE)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    for csv_file in (ROOT / "tables").glob("*.csv"):
        assert out["rows"][csv_file.stem] == [len(read_rows(csv_file))] * 2, csv_file.stem
    assert all(out["rows"][v][0] == out["rows"][v][1] > 0 for v in VIEWS)
    assert all(out["described"].values()), out["described"]
    assert out["start"].startswith("datetime64") and out["ambiguous"] == "bool"
    assert "CNY_million" in out["units"]
    assert out["sql"] == out["rows"]["observations"][0]
    assert out["connect"] == "47亿元" and out["gpus"] == ["2.7万+", "~30,000"]


def test_runtime_commands_and_the_ones_that_need_an_extra(venv):
    assert venv.runtime_only, "the site extra was installed before this test"
    info = venv.run(venv.cli, "info")
    assert info.returncode == 0, info.stderr
    assert "quotes not checked" in info.stdout and "financials" in info.stdout
    piped = subprocess.run(f"'{venv.cli}' info | head -1", shell=True, capture_output=True, text=True,
                           env={**clean_env(), "PYTHONUNBUFFERED": "1"})
    assert piped.stderr == "" and len(piped.stdout.splitlines()) == 1
    for command, extra in [("validate", "curate"), ("build", "curate"), ("ledger", "curate"), ("serve", "site")]:
        done = venv.run(venv.cli, command)
        assert done.returncode != 0, command
        assert done.stderr.strip() == (f"sensetime-data {command} needs the {extra} extra: "
                                       f"pip install 'sensetime-data[{extra}]'"), command
        assert done.stdout == "", command


def test_the_site_extra_serves_the_site(site):
    assert site.importable(("datasette", "frictionless")) == ["datasette", "frictionless"]
    port = free_port()
    server = subprocess.Popen([str(site.cli), "serve", "--port", str(port)], cwd=site.path.parent, env=clean_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        segments = json.loads(wait_for(f"http://127.0.0.1:{port}/sensetime/segments.json?_shape=array", server))
        assert {s["name_zh"] for s in segments} >= {"智慧城市"}
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert server.stdout.readline() == f"Serving sensetime-data at http://127.0.0.1:{port}/\n"  # no build first


def test_the_installed_build_is_read_only(site, tmp_path):
    before = tree_digest(site.data)
    refused = site.run(site.cli, "build")
    assert refused.returncode == 1
    assert len(refused.stdout.splitlines()) == 1 and "--out DIR" in refused.stdout and "read-only" in refused.stdout
    out = tmp_path / "mybuild"
    done = site.run(site.cli, "build", "--out", out)
    assert done.returncode == 0, done.stdout[-2000:]
    assert (out / "sensetime.db").exists() and (out / "parquet" / "financials.parquet").exists()
    assert tree_digest(site.data) == before


def test_frictionless_reads_the_installed_package(site):
    done = site.run(site.path / "bin" / "frictionless", "validate", "--json", site.data / "datapackage.json")
    report = json.loads(done.stdout)
    assert report["valid"], [e for task in report["tasks"] for e in task["errors"]][:5]
    assert {t["name"] for t in report["tasks"]} == {p.stem for p in (ROOT / "tables").glob("*.csv")}
