"""Fixtures: the repo's package, a good build of it in a temporary copy, and copies to break."""

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import installed, wait_for

from sensetime_data.build import build
from sensetime_data.schema import read_tables
from sensetime_data.serve import free_port
from sensetime_data.sources import SEEDS_ENV, seeds_dir

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ("tables", "schemas", "datapackage.json")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def seeds() -> Path:
    """The raw source texts. In CI they must be there; elsewhere their absence skips quote tests."""
    found = seeds_dir(ROOT)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"source texts not found: set {SEEDS_ENV} or put them in ../shared/seeds")
        pytest.skip(f"source texts not found (set {SEEDS_ENV}); quote checks cannot run here")
    return found


@pytest.fixture(scope="session")
def tables():
    return read_tables(ROOT)


@pytest.fixture(scope="session")
def good_copy(tmp_path_factory):
    """A copy of the package with a good build in its build/ directory (quotes checked when the texts are found).

    The copies live elsewhere, so for the session SENSETIME_DATA_SEEDS points at the texts beside
    the repository; it is restored when the session ends.
    """
    root = tmp_path_factory.mktemp("good") / "pkg"
    copy_inputs(ROOT, root)
    env = pytest.MonkeyPatch()
    found = seeds_dir(ROOT)
    if found:
        env.setenv(SEEDS_ENV, str(found))
    report = build(root)
    assert report.ok, "\n".join(map(str, report.problems))
    yield root
    env.undo()


@pytest.fixture(scope="session")
def built(good_copy) -> Path:
    """The build/ directory of the good copy."""
    return good_copy / "build"


@pytest.fixture(scope="session")
def metadata(built) -> dict:
    """The good build's Datasette metadata."""
    return yaml.safe_load((built / "metadata.yml").read_text("utf-8"))


@pytest.fixture(scope="session")
def db(built):
    """A read-only connection to the good build's database."""
    con = sqlite3.connect(f"file:{built / 'sensetime.db'}?mode=ro", uri=True)
    yield con
    con.close()


@pytest.fixture
def broken_copy(good_copy, tmp_path) -> Path:
    """A fresh copy of the good package and its build, for one test to break."""
    root = tmp_path / "pkg"
    copy_inputs(good_copy, root)
    shutil.copytree(good_copy / "build", root / "build", symlinks=True)  # the links through build/current, not three copies
    return root


def copy_inputs(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in INPUTS:
        if (src / name).is_dir():
            shutil.copytree(src / name, dst / name)
        else:
            shutil.copy2(src / name, dst / name)


def tree_digest(directory: Path) -> dict[str, str]:
    """SHA-256 of every file under a directory, by relative path."""
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def served(good_copy, tmp_path_factory):
    """(the URL it printed, its base URL) of `sensetime-data serve --port N` over a good build."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("w") as out:  # a file, not a pipe nobody reads, for the access log
        proc = subprocess.Popen([str(installed("sensetime-data")), "--root", str(good_copy), "serve", "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/-/versions.json", proc)
        yield log.read_text().splitlines()[0], base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
