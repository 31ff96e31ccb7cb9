"""The wheel from a fresh clone (no build/): `python -m build --wheel` in an isolated environment,
what the wheel carries, its metadata, and that tables which do not validate make no wheel
(`pip wheel --no-build-isolation`).

The isolated environments are made by uv (`--installer uv`) with the versions CI pins: the same
packages pip would install, in seconds instead of a minute. The module's tests share one wheel
and run on one xdist worker (conftest.TOGETHER)."""

import email.parser
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, copy_inputs, tree_digest
from helpers import REVENUE_FY2022, edit, installed, read_rows

import sensetime_data as sd
from sensetime_data.serve import is_stale
from sensetime_data.sources import SEEDS_ENV, seeds_dir

# What a clone holds besides the data; build/ is not committed.
SOURCES = ("src", "pyproject.toml", "hatch_build.py", "README.md", "LICENSE", "LICENSE-DATA.md", "CHANGELOG.md",
           "CITATION.cff", ".gitignore", "requirements")
RUNTIME = {"pandas", "pyarrow"}
CONSTRAINTS = ROOT / "requirements" / "ci.txt"  # the versions CI tests

pytestmark = [pytest.mark.slow, pytest.mark.wheel]


def fresh_clone(dst: Path) -> Path:
    copy_inputs(ROOT, dst)
    for name in SOURCES:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(ROOT / name, dst / name)
    shutil.rmtree(dst / "src" / "sensetime_data" / "__pycache__", ignore_errors=True)
    return dst


def python_build(*args, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`python -m build ARGS`, its isolated environments made by uv with the versions of requirements/ci.txt."""
    return subprocess.run([sys.executable, "-m", "build", "--installer", "uv", "--dependency-constraints-txt",
                           str(CONSTRAINTS), *map(str, args)], capture_output=True, text=True, env=env)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a new user: no data root or seeds of the test session, plus ``extra``.
    Python writes its bytecode caches, as it does by default: each process of a fresh venv would
    otherwise compile pandas again."""
    env = {k: v for k, v in os.environ.items() if k not in ("SENSETIME_DATA_ROOT", SEEDS_ENV, "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    return fresh_clone(tmp_path_factory.mktemp("clone") / "sensetime-data")


@pytest.fixture(scope="module")
def built(clone, tmp_path_factory):
    """(the wheel `python -m build --wheel` makes in the fresh clone, the clone's digest before)."""
    before = tree_digest(clone)
    out = tmp_path_factory.mktemp("dist")
    seeds = seeds_dir(ROOT)
    env = clean_env(**({SEEDS_ENV: str(seeds)} if seeds else {}))
    done = python_build("--wheel", "--outdir", out, clone, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (path,) = out.glob("sensetime_data-*.whl")
    return path, before


@pytest.fixture(scope="module")
def wheel(built) -> Path:
    return built[0]


@pytest.fixture(scope="module")
def unpacked(wheel, tmp_path_factory) -> Path:
    """The wheel's files as an install lays them out: sensetime_data/data is the package root."""
    out = tmp_path_factory.mktemp("unpacked")
    zipfile.ZipFile(wheel).extractall(out)
    return out / "sensetime_data" / "data"


def metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(z.read(name).decode("utf-8"))


def test_a_fresh_clone_makes_a_wheel_that_carries_the_data_and_its_build(wheel, unpacked):
    names = set(zipfile.ZipFile(wheel).namelist())
    for member in ("datapackage.json", "tables/financials.csv", "schemas/financials.json", "build/sensetime.db",
                   "build/parquet/financials.parquet", "build/metadata.yml", "build/build.json"):
        assert f"sensetime_data/data/{member}" in names, member
    assert "sensetime_data/py.typed" in names
    assert wheel.stat().st_size < 2_000_000
    with sqlite3.connect(unpacked / "build" / "sensetime.db") as con:
        for csv_file in (unpacked / "tables").glob("*.csv"):
            rows = con.execute(f'select count(*) from "{csv_file.stem}"').fetchone()[0]
            assert rows == len(read_rows(csv_file)), csv_file.name
    assert not is_stale(unpacked, unpacked / "build")  # an installed wheel never wants a rebuild


def test_the_wheel_records_whether_quotes_were_checked(unpacked):
    info = json.loads((unpacked / "build" / "build.json").read_text("utf-8"))
    assert info["quotes_checked"] is (seeds_dir(ROOT) is not None)
    assert info["version"] == sd.__version__


def test_making_a_wheel_writes_nothing_into_the_checkout(clone, built):
    # but Python's own bytecode caches, which git ignores
    assert {k: v for k, v in tree_digest(clone).items() if "__pycache__/" not in k} == built[1]
    assert not (clone / "build").exists()


def test_metadata_promises_a_light_runtime_and_says_where_things_are(wheel):
    meta = metadata(wheel)
    requires = meta.get_all("Requires-Dist")
    runtime = [r for r in requires if "extra ==" not in r]
    assert {re.match(r"[A-Za-z0-9_.-]+", r).group().lower() for r in runtime} == RUNTIME
    for requirement in requires:
        spec = requirement.split(";")[0]
        if not spec.startswith("sensetime-data"):  # that one is an extra bringing another
            assert "<" in spec and ">=" in spec and "==" not in spec, f"{requirement}: a compatible range, not a pin"
    assert {"curate", "site", "test"} <= set(meta.get_all("Provides-Extra"))
    curate = {re.match(r"[A-Za-z0-9_.-]+", r).group().lower() for r in requires if "extra == 'curate'" in r}
    assert curate >= {"frictionless", "pandera", "sqlite-utils", "pyyaml"}
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert set(urls) >= {"Homepage", "Documentation", "Changelog", "Issues"}
    assert all(u.startswith("https://") for u in urls.values())
    classifiers = meta.get_all("Classifier")
    assert "Programming Language :: Python :: 3.11" in classifiers and "Typing :: Typed" in classifiers


def test_versions_agree_with_the_changelog(wheel):
    changelog = re.search(r"^## (\d+\.\d+\.\d+)", (ROOT / "CHANGELOG.md").read_text("utf-8"), re.M).group(1)
    citation = re.search(r"^version: (\S+)", (ROOT / "CITATION.cff").read_text("utf-8"), re.M).group(1)
    cli = subprocess.run([str(installed("sensetime-data")), "--version"], capture_output=True, text=True, check=True)
    assert sd.__version__ == changelog == citation == metadata(wheel)["Version"]
    assert cli.stdout.strip() == f"sensetime-data {changelog}"


def test_tables_that_do_not_validate_make_no_wheel(tmp_path):
    """The hook validates before it builds: a contradicted figure stops the wheel with its problem line."""
    clone = fresh_clone(tmp_path / "clone")
    line = edit(clone, "financials", REVENUE_FY2022, value="999999")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                           str(tmp_path / "dist"), str(clone)], capture_output=True, text=True, env=clean_env())
    assert done.returncode != 0
    assert f"tables/financials.csv:{line}: " in done.stdout + done.stderr
    assert not list((tmp_path / "dist").glob("*.whl"))  # no dist/ at all, or one without a wheel
