"""The wheel: built from a copy of the repo, installed in a fresh virtual environment outside it,
it gives the tables, the database and `sensetime-data serve` with no repo at all."""

import json
import shutil
import subprocess
import sys
import textwrap
import zipfile

import pytest

from conftest import ROOT, copy_inputs
from helpers import wait_for
from sensetime_data.build import build
from sensetime_data.serve import free_port

SOURCES = ("src", "pyproject.toml", "hatch_build.py", "README.md")
USE = textwrap.dedent("""
    import os, sensetime_data as sd
    assert "site-packages" in sd.__file__, sd.__file__
    for name in sd.tables()["name"]:
        frame = sd.load(name)
        assert len(frame), name
    print(sd.sql("select count(*) as n from observations")["n"][0])
    print(sd.connect().execute("select as_reported from financials where metric = 'revenue' and period = 'FY2021'").fetchone()[0])
""")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    src = tmp_path_factory.mktemp("repo")
    copy_inputs(ROOT, src)
    for name in SOURCES:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(ROOT / name, src / name)
    assert build(src).ok
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)], check=True)
    (path,) = out.glob("sensetime_data-*.whl")
    return path


def test_wheel_carries_the_data_and_the_build(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for member in ("datapackage.json", "tables/financials.csv", "schemas/financials.json",
                   "build/sensetime.db", "build/parquet/financials.parquet", "build/metadata.yml"):
        assert f"sensetime_data/data/{member}" in names, member
    assert "sensetime_data/py.typed" in names
    assert wheel.stat().st_size < 2_000_000


def test_wheel_works_in_a_fresh_venv_outside_the_repo(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python, cli = venv / "bin" / "python", venv / "bin" / "sensetime-data"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True)
    done = subprocess.run([str(python), "-c", USE], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["378", "47亿元"]
    port = free_port()
    server = subprocess.Popen([str(cli), "serve", "--port", str(port)], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        segments = json.loads(wait_for(f"http://127.0.0.1:{port}/sensetime/segments.json?_shape=array", server))
        assert {s["name_zh"] for s in segments} >= {"智慧城市"}
    finally:
        server.terminate()
        server.wait(timeout=10)
