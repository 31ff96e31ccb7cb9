"""Benchmark of the runtime install: what `pip install sensetime-data` brings, and how fast.

In fresh virtual environments, all from the same pip cache and with the pins of
requirements/ci.txt (so every install resolves to the same versions):

1. distributions installed and their size on disk: the wheel with its runtime dependencies,
   beside `pip install pandas pyarrow` (the two it promises) and the wheel with the `site` extra;
2. wall time of `pip install <wheel>` against `pip install pandas pyarrow` (target ≤ 1.2×), the
   median of --runs runs taken alternately after one unrecorded run of each;
3. the wheel's size (target < 2 MB), built with `pip wheel .` as a user would.

Run from the repository root with the project installed:  python benchmarks/install.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "requirements" / "ci.txt"


def pip(venv: Path, *args: str) -> subprocess.CompletedProcess:
    """pip of this interpreter acting on ``venv`` (made without pip of its own, so nothing else is in it)."""
    return subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), *args],
                          check=True, capture_output=True, text=True)


def install(target: list[str], where: Path) -> tuple[float, Path]:
    """Seconds that `pip install TARGET` takes in a new venv, and the venv."""
    venv = Path(tempfile.mkdtemp(dir=where)) / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    start = time.perf_counter()
    pip(venv, "install", "-q", "-c", str(CONSTRAINTS), *target)
    return time.perf_counter() - start, venv


def footprint(venv: Path) -> tuple[int, int]:
    """(distributions, bytes) installed in the venv."""
    names = json.loads(pip(venv, "list", "--format", "json").stdout)
    site = next((venv / "lib").glob("python*/site-packages"))
    return len(names), sum(p.stat().st_size for p in site.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("$ python benchmarks/install.py --runs", args.runs)

    work = Path(tempfile.mkdtemp())
    try:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(ROOT)],
                       check=True, stdout=subprocess.DEVNULL)
        (wheel,) = (work / "dist").glob("*.whl")
        wheel_size = wheel.stat().st_size
        targets = {"sensetime-data": [str(wheel)], "pandas pyarrow": ["pandas", "pyarrow"]}
        sizes = {name: footprint(install(target, work)[1]) for name, target in targets.items()}  # also fills the cache
        sizes["sensetime-data[site]"] = footprint(install([f"{wheel}[site]"], work)[1])
        times: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(args.runs):
            for name, target in targets.items():
                seconds, venv = install(target, work)
                times[name].append(seconds)
                shutil.rmtree(venv.parent)
    finally:
        shutil.rmtree(work)

    print(f"\n{'pip install':<24}{'distributions':>14}{'size':>10}{'time':>9}  runs")
    for name, (count, size) in sizes.items():
        seconds = f"{statistics.median(times[name]):.1f} s" if name in times else ""
        runs = ", ".join(f"{s:.1f}" for s in times.get(name, []))
        print(f"{name:<24}{count:>14}{size / 1e6:>8.0f} MB{seconds:>9}  {runs}")
    ratio = statistics.median(times["sensetime-data"]) / statistics.median(times["pandas pyarrow"])
    print(f"\nruntime install / pandas pyarrow: {ratio:.2f}× (target ≤ 1.2×){'' if ratio <= 1.2 else ', missed'}")
    print(f"wheel size: {wheel_size / 1e6:.2f} MB (target < 2 MB){'' if wheel_size < 2e6 else ', missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
