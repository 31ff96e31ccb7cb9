"""How `build` and `validate` grow with the data, against `frictionless validate` on the same package.

For each scale N (default 1, 10, 100) it writes a synthetic package with N times today's models
and segments: every model and segment is copied N-1 times under new keys (`internlm_7b_r3`,
`smart_city_r3`) with all their fact rows, so the fact tables that hang on them grow N-fold while
quotes stay those of the real sources. Quote and ledger checks stay on. Then it times, in
fresh processes, `frictionless validate datapackage.json`, `sensetime-data validate` and
`sensetime-data build --out DIR`, three times each, interleaved (--repeat), records the CPU
time and peak memory of each (of all the processes a command starts: build runs frictionless
in a second one), and prints the medians' ratios against frictionless and the log-log slope
of build time between the two largest scales (1.0 is linear).

Run from the repository root with the project and the source texts present:

    python benchmarks/scale.py                      # 1x, 10x, 100x
    python benchmarks/scale.py --scales 1,10,100,1000 --keep /tmp/scale   # the full table (slow)

The synthetic packages are written to a temporary directory (or --keep DIR) and never committed.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REPLICATED = {"models": "model_id", "segments": "segment_id"}  # lookup table -> key its facts hang on


def _read(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, fields: list[str], rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def synthetic(root: Path, scale: int, out: Path) -> int:
    """Write the package at ``root`` scaled ``scale`` times to ``out``; returns its number of rows."""
    shutil.copytree(root / "tables", out / "tables")
    shutil.copytree(root / "schemas", out / "schemas")
    shutil.copytree(root / "docs", out / "docs")
    for name in ("datapackage.json", "README.md"):
        shutil.copy2(root / name, out / name)
    shares = {r["metric"] for r in _read(out / "tables" / "metrics.csv")[1] if r["share_of_total"] in ("1", "true")}
    for lookup, key in REPLICATED.items():
        for path in sorted((out / "tables").glob("*.csv")):
            fields, rows = _read(path)
            schema = json.loads((out / "schemas" / f"{path.stem}.json").read_text("utf-8"))
            field = next((f for f in schema["fields"] if f["name"] == key), {})
            if key not in fields or "enum" in field.get("constraints", {}):  # automotive_kpis: smart_auto only
                continue
            names = [c for c in ("name", "name_en", "name_zh") if c in fields] if path.stem == lookup else []
            copies = [{**r, key: f"{r[key]}_r{k}", **{c: f"{r[c]} r{k}" for c in names}} for k in range(1, scale) for r in rows
                      if r.get("metric") not in shares]  # a copy's shares would break the sum to 100 of the originals
            _write(path, fields, rows + copies)
    env = {**os.environ, "SENSETIME_DATA_ROOT": str(out)}
    subprocess.run([str(BIN / "sensetime-data"), "--root", str(out), "docs"], env=env, check=True, stdout=subprocess.DEVNULL)
    return sum(len(_read(p)[1]) for p in (out / "tables").glob("*.csv"))


def _tree_rss(pid: int) -> int:
    """Resident KiB of a process and all its descendants, read from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            total += next(int(line.split()[1]) for line in Path(f"/proc/{p}/status").read_text().splitlines()
                          if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total


def timed(cmd: list[str], cwd: Path) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds, peak resident MiB of a command run in a fresh process, and its exit
    status. The CPU and memory are of all its processes together (build checks with frictionless in
    a second one): memory sampled every 20 ms, summed over the process tree."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = [0]

    def sample() -> None:
        while proc.returncode is None:
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)  # its CPU includes the children it waited for
    proc.returncode = os.waitstatus_to_exitcode(status)
    sampler.join()
    peak_kib = max(peak[0], usage.ru_maxrss)  # a short run may end between two samples
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime, peak_kib / 1024, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10,100", help="comma-separated multiples of today's models and segments")
    parser.add_argument("--keep", help="write the synthetic packages here and keep them")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command at each scale; the table shows medians")
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    os.environ.setdefault("SENSETIME_DATA_SEEDS", str(ROOT.parent / "shared" / "seeds"))  # the copies live elsewhere
    print(f"$ python benchmarks/scale.py --scales {args.scales} --repeat {args.repeat}")
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="scale-"))
    results = []
    for scale in scales:
        pkg = base / f"x{scale}"
        shutil.rmtree(pkg, ignore_errors=True)
        rows = synthetic(ROOT, scale, pkg)
        runs = []
        for _ in range(args.repeat):  # interleaved, so that a slow moment of the machine falls on all three
            fl, fl_cpu, fl_mem, code = timed([str(BIN / "frictionless"), "validate", "datapackage.json"], pkg)
            assert code == 0, f"frictionless found the {scale}x package invalid"
            va, _, _, code = timed([str(BIN / "sensetime-data"), "--root", str(pkg), "validate"], pkg)
            assert code == 0, f"sensetime-data validate found the {scale}x package invalid"
            bu, bu_cpu, bu_mem, code = timed([str(BIN / "sensetime-data"), "--root", str(pkg), "build", "--out", str(pkg / "out")], pkg)
            assert code == 0, f"sensetime-data build failed on the {scale}x package"
            runs.append((fl, va, bu, fl_cpu, bu_cpu, fl_mem, bu_mem))
        fl, va, bu, fl_cpu, bu_cpu, fl_mem, bu_mem = (statistics.median(column) for column in zip(*runs, strict=True))
        results.append((scale, rows, fl, va, bu, fl_cpu, bu_cpu, fl_mem, bu_mem))
        print(f"  {scale}x: {rows} rows built", flush=True)
    print("\n| scale | rows | frictionless s | validate s | build s | validate / frictionless | build / frictionless "
          "| build CPU / frictionless CPU | peak MiB frictionless | peak MiB build |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for scale, rows, fl, va, bu, fl_cpu, bu_cpu, fl_mem, bu_mem in results:
        print(f"| {scale}× | {rows:,} | {fl:.2f} | {va:.2f} | {bu:.2f} | {va / fl:.2f}× | {bu / fl:.2f}× "
              f"| {bu_cpu / fl_cpu:.2f}× | {fl_mem:.0f} | {bu_mem:.0f} |")
    if len(results) >= 2:
        (s0, r0, _, _, b0, *_), (s1, r1, _, _, b1, *_) = results[-2], results[-1]
        slope = math.log(b1 / b0) / math.log(r1 / r0)
        print(f"\nbuild time slope from {s0}× to {s1}× (log-log, against rows): {slope:.2f}")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
