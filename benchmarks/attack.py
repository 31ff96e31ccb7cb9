"""The served site under attack: hostile heavy queries in flight while a visitor reads pages.

What is measured
----------------
`sensetime-data serve` is started on a free loopback port. Two passes of the same length:

1. ``baseline``: one visitor requests pages one after another (the home page, the database
   page, a table page, a canned query, the dashboard and one of its charts' data), nothing else.
2. ``attack``: the same visitor while another process keeps ``--hostile`` (default 50)
   hostile queries in flight: each of its connections sends the next one as soon as the last
   is answered, without waiting (a 503's ``Retry-After`` is ignored). The hostile mix is
   ``HOSTILE`` below: a runaway recursive CTE, a cross join, a gigabyte ``printf`` and
   ``randomblob``, 2,000 rows of 100 KB blobs, a growing ``group_concat``, and a heavy
   ``_where`` on a table page.

Printed: hostile queries sent, answered (any status but 503) and refused (503); the visitor's
p50 and p99 latency per page in both passes and the ratio attack / baseline for the home
page; the server's peak resident memory (VmHWM) after each pass. Exit status 1 if a
visitor's request failed or answered other than 200.

The attacker, the visitor and the server share the machine: compare figures taken on one
machine only.

Reproduce
---------
From the repository root, with the project installed (``pip install -e .``)::

    python benchmarks/attack.py                 # 50 hostile queries in flight, 20 s per pass
    python benchmarks/attack.py --seconds 5     # quick check

It runs ``sensetime-data build`` first and writes build/benchmarks/attack.json and the server
log next to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import shlex
import subprocess
import sys
import time
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import httpx
import yaml
from load import CLI, ROOT, percentile, stop, url, wait_until_up

from sensetime_data.plugin import LIMITS, MOST_RESULT_BYTES, MOST_SQL_AT_ONCE
from sensetime_data.serve import SETTINGS, free_port

# What a visitor reads; the first is the home page. The dashboard's chart data is added from the build.
PAGES = [
    "/",
    "/sensetime",  # the database page: 73 s under attack before the guard
    "/sensetime/financials",
    "/sensetime/financial_results",  # a canned query
    "/-/dashboards/sensetime",
]


def chart_data(root: Path) -> str:
    """The URL the dashboard page's script fetches for its first chart."""
    metadata = yaml.safe_load((root / "build" / "metadata.yml").read_text("utf-8"))
    charts = metadata["plugins"]["datasette-dashboards"]["sensetime"]["charts"]
    return url("/sensetime.json", sql=next(iter(charts.values()))["query"], _shape="objects")


HOSTILE = [
    url("/sensetime.json", sql="with recursive r(i) as (select 1 union all select i + 1 from r) select count(*) from r"),
    url("/sensetime.json", sql="select count(*) from observations a, observations b, observations c"),
    url("/sensetime.json", sql="select printf('%.*c', 1000000000, 'x')"),  # was 25 s and 1 GB
    url("/sensetime.json", sql="select randomblob(900000000)"),
    url("/sensetime.json", sql="with recursive r(i) as (select 1 union all select i + 1 from r limit 2000) "
        "select zeroblob(99999) from r"),  # was a 1.2 GB answer and 6 GB of memory
    url("/sensetime.json", sql="select length(group_concat(a.quote)) from observations a, observations b"),
    url("/sensetime/financials.json",
        _where="(select count(*) from observations a, observations b, observations c) > 0"),
]


# --- the server ----------------------------------------------------------------------------

def build(root: Path) -> None:
    done = subprocess.run([str(CLI), "--root", str(root), "build"], cwd=root, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"sensetime-data build failed:\n{done.stdout}{done.stderr}")


@contextmanager
def served(root: Path, port: int, log: Path):
    """`sensetime-data serve` in its own session; yields its base URL and process."""
    command = [str(CLI), "--root", str(root), "serve", "--port", str(port)]
    print(f"$ {shlex.join(command)}", flush=True)
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(command, cwd=root, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, proc, log)
        yield base, proc
    finally:
        stop(proc)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (Linux's VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


# --- the attacker, in its own process so that its work does not delay the visitor's timing --

async def _hostile(base: str, n: int, seconds: float) -> dict:
    counts = {"sent": 0, "answered": 0, "refused": 0, "failed": 0}
    statuses: dict[str, int] = {}
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        async def worker(k: int) -> None:
            i = k
            while time.perf_counter() < deadline:
                counts["sent"] += 1
                try:
                    r = await client.get(HOSTILE[i % len(HOSTILE)])
                    await r.aread()
                    key = "refused" if r.status_code == 503 else "answered"
                    statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
                except httpx.HTTPError:
                    key = "failed"
                counts[key] += 1
                i += 1

        await asyncio.gather(*(worker(k) for k in range(n)))
    return {**counts, "statuses": statuses}


def attacker(base: str, n: int, seconds: float, pipe) -> None:
    pipe.send(asyncio.run(_hostile(base, n, seconds)))


# --- the visitor ---------------------------------------------------------------------------

def visit(base: str, seconds: float) -> list[tuple[str, object, float]]:
    """Request the pages in turn, one at a time, for ``seconds``: (page, status, seconds) each."""
    records = []
    deadline = time.perf_counter() + seconds
    with httpx.Client(base_url=base, timeout=120) as client:
        i = 0
        while time.perf_counter() < deadline:
            page = PAGES[i % len(PAGES)]
            i += 1
            t0 = time.perf_counter()
            try:
                status: object = client.get(page).status_code
            except httpx.HTTPError as e:
                status = type(e).__name__
            records.append((page, status, time.perf_counter() - t0))
    return records


def latency(records, page: str | None = None) -> dict:
    ms = sorted(r[2] * 1000 for r in records if page is None or r[0] == page)
    return {"requests": len(ms), "p50_ms": round(percentile(ms, 50), 1), "p99_ms": round(percentile(ms, 99), 1),
            "max_ms": round(ms[-1], 1) if ms else float("nan")}


def summarise(records) -> dict:
    return {"all_pages": latency(records), "pages": {p: latency(records, p) for p in PAGES},
            "errors": sorted({f"{s} {p}" for p, s, _ in records if s != 200})}


def short(page: str) -> str:
    return page if len(page) <= 40 else page[:37] + "..."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="duration of each pass (default 20)")
    parser.add_argument("--hostile", type=int, default=50, help="hostile queries kept in flight (default 50)")
    parser.add_argument("--root", type=Path, default=ROOT, help="package to build and serve (default: this repository)")
    parser.add_argument("--no-build", action="store_true", help="serve the existing build (serve still rebuilds a stale one)")
    args = parser.parse_args(argv)

    command = shlex.join([sys.executable, *sys.argv])
    print(f"$ {command}", flush=True)
    if not args.no_build:
        build(args.root)
    out = args.root / "build" / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)

    port = free_port()
    with served(args.root, port, out / "serve-attack.log") as (base, proc):
        PAGES.append(chart_data(args.root))  # serve has rebuilt a stale build by now
        for page in PAGES:  # warm-up: first-hit costs are not what a busy site pays
            httpx.get(base + page, timeout=60)
        print(f"  baseline: the visitor alone, {args.seconds:g} s ...", flush=True)
        baseline = summarise(visit(base, args.seconds))
        rss_baseline = peak_rss_mb(proc.pid)

        print(f"  attack: the visitor and {args.hostile} hostile queries in flight, {args.seconds:g} s ...", flush=True)
        receive, send = multiprocessing.Pipe(duplex=False)
        hostile = multiprocessing.Process(target=attacker, args=(base, args.hostile, args.seconds, send))
        hostile.start()
        time.sleep(min(1.0, args.seconds / 4))  # let the hostile queries fill the server first
        attack = summarise(visit(base, args.seconds - min(1.0, args.seconds / 4)))
        counts = receive.recv()
        hostile.join()
        rss_attack = peak_rss_mb(proc.pid)

    home = PAGES[0]
    ratio = {k: round(attack["pages"][home][k] / baseline["pages"][home][k], 1) for k in ("p50_ms", "p99_ms")}
    print()
    print(f"hostile queries: {counts['sent']} sent, {counts['answered']} answered, {counts['refused']} refused (503), "
          f"{counts['failed']} failed; statuses {counts['statuses']}")
    print(f"{'page':<42}{'base p50':>10}{'base p99':>10}{'atk p50':>10}{'atk p99':>10}{'atk max':>10}")
    for page in PAGES:
        b, a = baseline["pages"][page], attack["pages"][page]
        print(f"{short(page):<42}{b['p50_ms']:>10.1f}{b['p99_ms']:>10.1f}{a['p50_ms']:>10.1f}{a['p99_ms']:>10.1f}"
              f"{a['max_ms']:>10.1f}")
    print(f"home page under attack / alone: p50 x{ratio['p50_ms']}, p99 x{ratio['p99_ms']}")
    print(f"server peak memory (VmHWM): {rss_baseline} MB after the baseline, {rss_attack} MB after the attack")
    for error in baseline["errors"] + attack["errors"]:
        print(f"visitor error: {error}")

    result = {
        "command": command,
        "seconds": args.seconds,
        "hostile_in_flight": args.hostile,
        "hostile_urls": HOSTILE,
        "settings": SETTINGS,
        "guard": {"most_sql_at_once": MOST_SQL_AT_ONCE, "most_result_bytes": MOST_RESULT_BYTES,
                  "sqlite_limits": {str(k): v for k, v in LIMITS.items()}},
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count(), "datasette": version("datasette")},
        "hostile": counts,
        "baseline": baseline,
        "attack": attack,
        "home_ratio_attack_over_baseline": ratio,
        "peak_rss_mb": {"after_baseline": rss_baseline, "after_attack": rss_attack},
    }
    (out / "attack.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"wrote {out / 'attack.json'}")
    return 1 if baseline["errors"] or attack["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
