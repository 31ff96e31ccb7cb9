"""Load test of the served Datasette site: `sensetime-data serve` against bare Datasette.

What is measured
----------------
Throughput (requests per second) and latency (p50, p99 in milliseconds) of the site that
`sensetime-data serve` starts -- Datasette with the project's metadata (canned queries,
facets, the dashboards plugin), an immutable database and the project's settings -- while a
fixed number of keep-alive connections each send one request after another for a fixed
time (a closed loop: a connection sends its next request when the last one has answered,
so latency includes the time a request waits behind others in the server).

Three passes, each preceded by one unrecorded request per URL (warm-up, and a first check
that every URL answers):

1. ``shared`` mix on `sensetime-data serve`: table HTML pages, table JSON, ``?_search=``
   full-text search (the FTS5 indexes are in the database file, so bare Datasette has them
   too) and an arbitrary ``/sensetime.json?sql=`` query.
2. ``canned`` mix on `sensetime-data serve` only: four canned queries from queries.yml,
   which bare Datasette does not have.
3. ``shared`` mix on bare ``python -m datasette serve -i build/sensetime.db``: no metadata and
   default settings, the baseline. It still loads the plugins installed in the environment
   (datasette-dashboards and this project's CSV guard): Datasette 0.65 cannot turn them off.

The printed ratios (sensetime-data / bare Datasette, shared mix) tell what the project's
metadata costs. An error is a response other than 200 or a failed request; any error makes
the exit status 1.

The load generator runs on the same machine as the server and competes with it for CPU:
compare figures taken on one machine, not across machines.

Reproduce
---------
From the repository root, with the project installed (``pip install -e .``)::

    python benchmarks/load.py                  # 16 connections, 20 s per pass
    python benchmarks/load.py --seconds 3      # quick check

It runs ``sensetime-data build`` first, serves on free loopback ports, prints a table and
writes build/benchmarks/load.json (the server logs go next to it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlencode

import httpx

from sensetime_data.serve import SETTINGS, free_port

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
OUT = BUILD / "benchmarks"
DB = BUILD / "sensetime.db"
# The console script of the environment running this file, which need not be activated.
CLI = Path(sys.executable).with_name("sensetime-data")


def url(path: str, **params: str) -> str:
    """A path with its query string percent-encoded (the Chinese terms included)."""
    return f"{path}?{urlencode(params)}" if params else path


# URLs that answer the same way on both servers: same database file, same page size (100).
SHARED = [
    url("/sensetime/financials"),  # HTML table page; facets are configured on the project site
    url("/sensetime/model_benchmarks"),  # HTML, foreign keys expanded to labels
    url("/sensetime/financials.json", _shape="array"),
    url("/sensetime/observations.json", _shape="array"),  # a view over every fact table
    url("/sensetime/financials.json", _search="营业收入", _shape="array"),  # FTS5 trigram
    url("/sensetime/model_benchmarks.json", _search="MMLU", _shape="array"),
    url("/sensetime.json", sql="select metric, count(*) as n, sum(value) as total from financials "
        "group by metric order by n desc"),
]

# Canned queries of the project site (src/sensetime_data/queries.yml); bare Datasette 404s them.
CANNED = [
    url("/sensetime/model_scores.json", model="internlm_123b", evaluation="internlm_123b_51_benchmarks"),
    url("/sensetime/search.json", q="算力"),
    url("/sensetime/segment_shares.json"),
    url("/sensetime/financial_results.json"),
]


# --- the servers ---------------------------------------------------------------------------

def build() -> None:
    """Rebuild so the served database matches the tables; it takes a few seconds."""
    done = subprocess.run([str(CLI), "build"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"sensetime-data build failed:\n{done.stdout}{done.stderr}")


def sensetime_command(port: int) -> list[str]:
    return [str(CLI), "serve", "--port", str(port)]


def bare_command(port: int) -> list[str]:
    return [sys.executable, "-m", "datasette", "serve", "-i", str(DB), "--host", "127.0.0.1", "--port", str(port)]


def wait_until_up(base: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with status {proc.returncode}; log {log}:\n{log.read_text('utf-8')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/-/versions.json", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    sys.exit(f"server did not answer {base}/-/versions.json within {timeout:.0f} s; log {log}")


def stop(proc: subprocess.Popen) -> None:
    """Stop the server's whole process group, so that nothing it started is left running to
    take CPU from the next server's pass."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


@contextmanager
def served(name: str, command: list[str], port: int):
    """Run one server in its own session, logging to a file: a pipe nobody reads would fill
    up and block the server mid-benchmark."""
    log = OUT / f"serve-{name}.log"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, proc, log)
        yield base
    finally:
        stop(proc)


# --- the load ------------------------------------------------------------------------------

async def warm_up(client: httpx.AsyncClient, urls: list[str]) -> list[str]:
    """One request per URL before timing: first-hit costs (templates, SQLite pages) are not
    what a busy site pays. Returns the URLs that did not answer 200."""
    failed = []
    for u in urls:
        try:
            r = await client.get(u)
            if r.status_code != 200:
                failed.append(f"{r.status_code} {u}")
        except httpx.HTTPError as e:
            failed.append(f"{type(e).__name__} {u}")
    return failed


async def worker(client: httpx.AsyncClient, urls: list[str], start: int, deadline: float, records: list) -> None:
    """Send requests back to back until the deadline, cycling through the mix; each worker
    starts at another URL so the mix is spread evenly across connections at every moment."""
    i = start
    while time.perf_counter() < deadline:
        u = urls[i % len(urls)]
        i += 1
        t0 = time.perf_counter()
        try:
            r = await client.get(u)
            await r.aread()
            status = r.status_code
        except httpx.HTTPError as e:
            status = type(e).__name__
        records.append((u, status, time.perf_counter() - t0))


async def drive(base: str, urls: list[str], seconds: float, connections: int) -> tuple[list, float, float, list[str]]:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    # The timeout is well above sql_time_limit_ms, so a slow answer is measured, not cut short.
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        failed = await warm_up(client, urls)
        records: list = []
        t0, cpu0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(client, urls, k, t0 + seconds, records) for k in range(connections)))
        elapsed = time.perf_counter() - t0  # includes the requests still in flight at the deadline
        # The generator shares the machine with the server: its CPU share tells whether it,
        # rather than the server, could be what limits the figures.
        client_cpu = (time.process_time() - cpu0) / elapsed
    return records, elapsed, client_cpu, failed


# --- the figures ---------------------------------------------------------------------------

def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile: a latency some request really had."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))  # ceil without floats drifting
    return sorted_values[int(rank) - 1]


def summarise(records: list, elapsed: float) -> dict:
    latencies = sorted(r[2] * 1000 for r in records)
    errors = [r for r in records if r[1] != 200]
    return {
        "requests": len(records),
        "duration_s": round(elapsed, 3),
        "req_per_s": round(len(records) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "errors": len(errors),
        "error_samples": sorted({f"{status} {u}" for u, status, _ in errors})[:10],
    }


def per_url(records: list) -> dict:
    """Latency of each URL of the mix, to see which one a slow pass owes its figure to."""
    out = {}
    for u in dict.fromkeys(r[0] for r in records):
        lat = sorted(r[2] * 1000 for r in records if r[0] == u)
        out[u] = {"requests": len(lat), "p50_ms": round(percentile(lat, 50), 1),
                  "p99_ms": round(percentile(lat, 99), 1),
                  "errors": sum(1 for r in records if r[0] == u and r[1] != 200)}
    return out


def run_pass(name: str, server: str, mix: str, base: str, urls: list[str], args) -> dict:
    print(f"  {name}: {len(urls)} URLs, {args.connections} connections, {args.seconds:g} s ...", flush=True)
    records, elapsed, client_cpu, failed = asyncio.run(drive(base, urls, args.seconds, args.connections))
    for f in failed:
        print(f"    warm-up: {f}")
    return {"pass": name, "server": server, "mix": mix, "urls": urls, **summarise(records, elapsed),
            "client_cpu_cores": round(client_cpu, 2), "warm_up_failures": failed, "per_url": per_url(records)}


def ratios(ours: dict, bare: dict) -> dict:
    return {k: round(ours[k] / bare[k], 2) if bare[k] else None for k in ("req_per_s", "p50_ms", "p99_ms")}


def print_table(passes: list[dict], ratio: dict) -> None:
    print()
    print(f"{'pass':<28}{'requests':>10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for p in passes:
        print(f"{p['pass']:<28}{p['requests']:>10}{p['req_per_s']:>10.1f}{p['p50_ms']:>10.1f}"
              f"{p['p99_ms']:>10.1f}{p['errors']:>8}")
    print()
    print("shared mix, sensetime-data / bare datasette: "
          f"req/s x{ratio['req_per_s']}, p50 x{ratio['p50_ms']}, p99 x{ratio['p99_ms']}")
    for p in passes:
        for sample in p["error_samples"]:
            print(f"error in {p['pass']}: {sample}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="duration of each pass (default 20)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections (default 16)")
    args = parser.parse_args(argv)

    command = shlex.join([sys.executable, *sys.argv])
    print(f"$ {command}", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    build()

    passes = []
    port = free_port()
    print(f"$ {shlex.join(sensetime_command(port))}", flush=True)
    with served("sensetime-data", sensetime_command(port), port) as base:
        passes.append(run_pass("sensetime-data shared", "sensetime-data serve", "shared", base, SHARED, args))
        passes.append(run_pass("sensetime-data canned", "sensetime-data serve", "canned", base, CANNED, args))
    port = free_port()
    print(f"$ {shlex.join(bare_command(port))}", flush=True)
    with served("datasette", bare_command(port), port) as base:
        passes.append(run_pass("bare datasette shared", "datasette serve -i", "shared", base, SHARED, args))

    ratio = ratios(passes[0], passes[2])
    print_table(passes, ratio)
    result = {
        "command": command,
        "seconds": args.seconds,
        "connections": args.connections,
        "sensetime_data_settings": SETTINGS,
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count(), "datasette": version("datasette"),
                    "httpx": httpx.__version__},
        "passes": passes,
        "ratio_shared_sensetime_data_over_bare": ratio,
    }
    (OUT / "load.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"wrote {OUT / 'load.json'}")
    return 1 if any(p["errors"] for p in passes) else 0


if __name__ == "__main__":
    sys.exit(main())
