"""Benchmarks of the package, each a ratio against a baseline measured in the same run.

1. `sensetime-data build` wall time against `frictionless validate datapackage.json` on the
   same package (target ≤ 2.0×): the build validates with frictionless *and* pandera, checks
   every quote and the ledger, and writes SQLite, Parquet and the site metadata.
2. A fresh `python -c "import sensetime_data as sd; sd.load('financials')"` against a fresh
   `python -c "import pandas as pd; pd.read_parquet(<the same file>)"` (target ≤ 1.1×).
3. The wheel's size (target < 2 MB).

Run from the repository root with the project installed:  python benchmarks/package.py [--runs 5]
Each timing is the median of --runs runs, taken alternately so that both see the same machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def wall(cmd: list[str], cwd: Path = ROOT) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def medians(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    times = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():
            times[name].append(wall(cmd))
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print("$ python benchmarks/package.py --runs", args.runs)

    out = Path(tempfile.mkdtemp())
    build = medians({
        "sensetime-data build": [str(BIN / "sensetime-data"), "build", "--out", str(out / "build")],
        "frictionless validate": [str(BIN / "frictionless"), "validate", "datapackage.json"],
    }, args.runs)
    parquet = ROOT / "build" / "parquet" / "financials.parquet"
    if not parquet.exists():
        subprocess.run([str(BIN / "sensetime-data"), "build"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    load = medians({
        "sd.load": [sys.executable, "-c", "import sensetime_data as sd; sd.load('financials')"],
        "pd.read_parquet": [sys.executable, "-c", f"import pandas as pd; pd.read_parquet({str(parquet)!r})"],
    }, args.runs)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out / "dist"), str(ROOT)],
                   check=True, stdout=subprocess.DEVNULL)
    (wheel,) = (out / "dist").glob("*.whl")
    size = wheel.stat().st_size
    shutil.rmtree(out)

    rows = [
        ("build vs frictionless validate", build["sensetime-data build"], build["frictionless validate"], 2.0, "s"),
        ("import + load vs pandas read_parquet", load["sd.load"], load["pd.read_parquet"], 1.1, "s"),
    ]
    print(f"\n{'benchmark':<40}{'measured':>10}{'baseline':>10}{'ratio':>8}{'target':>8}")
    for name, measured, baseline, target, unit in rows:
        ratio = measured / baseline
        print(f"{name:<40}{measured:>9.2f}{unit}{baseline:>9.2f}{unit}{ratio:>7.2f}×{'≤ ' + str(target):>8}"
              f"{'' if ratio <= target else '  missed'}")
    print(f"{'wheel size':<40}{size / 1e6:>9.2f}MB{'':>10}{'':>8}{'< 2 MB':>8}{'' if size < 2e6 else '  missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
