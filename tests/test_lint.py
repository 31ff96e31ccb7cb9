"""ruff and mypy pass on the code, with the settings in pyproject.toml (the package ships py.typed)."""

import subprocess

import pytest
from helpers import installed

pytestmark = pytest.mark.slow


def test_ruff_finds_nothing(root):
    done = subprocess.run([str(installed("ruff")), "check", "src", "tests", "benchmarks", "translations", "hatch_build.py"],
                          cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_nothing(root):
    done = subprocess.run([str(installed("mypy"))], cwd=root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
