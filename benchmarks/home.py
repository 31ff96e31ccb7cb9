"""The home page of `sensetime-data serve` against bare Datasette on the same database file.

What is measured
----------------
Two servers run side by side on loopback ports over the same ``build/sensetime.db``:

- `sensetime-data serve`: the project's metadata, settings and plugins;
- bare Datasette, ``datasette serve -i build/sensetime.db`` with Datasette's default plugins
  only: the plugins installed in this environment (this project's, datasette-dashboards...)
  are unregistered before it starts, so the baseline is Datasette itself.

One keep-alive connection to each sends ``--rounds`` rounds of requests, one at a time, the
two servers taking turns (which goes first alternates), so both see the same machine load.
Each page is asked for in two ways:

- ``rendered``: with a cookie, as a browser that holds any cookie for the site asks. The
  project's server renders the page each time (it answers only cookieless requests from memory).
- ``plain``: no cookie. The project's server answers from memory after the first request.

Printed per page: median and p90 latency in ms on each server and the ratio of the medians
(sensetime-data / bare); and, counted in-process with a trace callback on every SQLite
connection, the SQL statements of one rendered request (after one unrecorded one) on each.
The target is a ratio of at most 1.5 for the rendered home page. Exit status 1 if a request
answered other than 200.

Reproduce
---------
From the repository root, with the project installed (``pip install -e .``)::

    python benchmarks/home.py               # 300 rounds (about two minutes)
    python benchmarks/home.py --rounds 50   # quick check

It runs ``sensetime-data build`` first and writes build/benchmarks/home.json (the server logs
go next to it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shlex
import statistics
import sys
import time
import types
from importlib.metadata import version

import httpx
import yaml
from datasette import hookimpl
from datasette.app import Datasette
from datasette.plugins import DEFAULT_PLUGINS, pm
from load import BUILD, DB, OUT, build, percentile, sensetime_command, served

from sensetime_data.serve import SETTINGS, free_port

PAGES = ["/", "/sensetime"]  # the home page, and the database page that lists the same tables
TARGET = 1.5  # rendered home page, sensetime-data / bare Datasette
COOKIE = {"cookie": "visited=1"}  # any cookie: the project's server then renders the page

# `datasette serve` with only Datasette's own plugins: the installed ones load at import.
BARE = ("import sys; from datasette.plugins import DEFAULT_PLUGINS, pm; "
        "[pm.unregister(p) for p in list(pm.get_plugins()) if p.__name__ not in DEFAULT_PLUGINS]; "
        "from datasette.cli import cli; cli(sys.argv[1:])")


def bare_command(port: int) -> list[str]:
    return [sys.executable, "-c", BARE, "serve", "-i", str(DB), "--host", "127.0.0.1", "--port", str(port)]


# --- latency -------------------------------------------------------------------------------

def timed(client: httpx.Client, path: str, headers: dict | None) -> tuple[int, float]:
    t0 = time.perf_counter()
    response = client.get(path, headers=headers)
    return response.status_code, (time.perf_counter() - t0) * 1000


def take_turns(ours: str, bare: str, rounds: int) -> tuple[dict, list[str]]:
    """Latencies in ms by (page, way, server), the two servers asked in turn; and the failures."""
    ways = {"rendered": COOKIE, "plain": None}
    times: dict[tuple[str, str, str], list[float]] = {}
    failures = []
    with httpx.Client(base_url=ours, timeout=30) as a, httpx.Client(base_url=bare, timeout=30) as b:
        clients = {"sensetime-data": a, "bare": b}
        for path in PAGES:  # one unrecorded request each: first-hit costs are not what a visitor pays
            for client in clients.values():
                for headers in ways.values():
                    client.get(path, headers=headers)
        for i in range(rounds):
            order = list(clients.items()) if i % 2 == 0 else list(clients.items())[::-1]
            for path in PAGES:
                for way, headers in ways.items():
                    for server, client in order:
                        status, ms = timed(client, path, headers)
                        if status != 200:
                            failures.append(f"{status} {server} {path} ({way})")
                        times.setdefault((path, way, server), []).append(ms)
    return times, failures


# --- SQL statements ------------------------------------------------------------------------

def statements_per_request(path: str, project: bool) -> list[str]:
    """The SQL statements of one rendered request for ``path``, after one unrecorded one."""
    traced: list[str] = []
    tracer = types.ModuleType("home_benchmark_tracer")

    @hookimpl(trylast=True)
    def prepare_connection(conn):
        conn.set_trace_callback(traced.append)

    tracer.prepare_connection = prepare_connection  # type: ignore[attr-defined]
    pm.register(tracer)
    try:
        if project:
            metadata = yaml.safe_load((BUILD / "metadata.yml").read_text("utf-8"))
            ds = Datasette(immutables=[str(DB)], metadata=metadata, settings=SETTINGS)
        else:
            ds = Datasette(immutables=[str(DB)])

        async def twice():
            await ds.client.get(path, headers=COOKIE)
            traced.clear()
            await ds.client.get(path, headers=COOKIE)

        asyncio.run(twice())
        return list(traced)
    finally:
        pm.unregister(tracer)


def count_statements() -> dict:
    """Statements per rendered page on each server. The project's first: bare Datasette's
    count needs the installed plugins unregistered, for the rest of this process."""
    counts = {}
    for server, project in (("sensetime-data", True), ("bare", False)):
        if not project:
            for plugin in list(pm.get_plugins()):
                if plugin.__name__ not in DEFAULT_PLUGINS:
                    pm.unregister(plugin)
        for path in PAGES:
            found = statements_per_request(path, project)
            counts[(path, server)] = {"statements": len(found),
                                      "sqlite_master": sum("sqlite_master" in s for s in found)}
    return counts


# --- the figures ---------------------------------------------------------------------------

def summary(ms: list[float]) -> dict:
    ordered = sorted(ms)
    return {"requests": len(ms), "median_ms": round(statistics.median(ms), 2), "p90_ms": round(percentile(ordered, 90), 2)}


def figures(times: dict, counts: dict) -> list[dict]:
    rows = []
    for path in PAGES:
        for way in ("rendered", "plain"):
            ours, bare = summary(times[(path, way, "sensetime-data")]), summary(times[(path, way, "bare")])
            row = {"page": path, "way": way, "sensetime_data": ours, "bare": bare,
                   "ratio_median": round(ours["median_ms"] / bare["median_ms"], 2)}
            if way == "rendered":
                row["sql"] = {"sensetime_data": counts[(path, "sensetime-data")], "bare": counts[(path, "bare")]}
            rows.append(row)
    return rows


def print_table(rows: list[dict]) -> None:
    print()
    print(f"{'page':<12}{'way':<10}{'ours p50':>10}{'ours p90':>10}{'bare p50':>10}{'bare p90':>10}{'ratio':>8}"
          f"{'SQL ours':>10}{'SQL bare':>10}")
    for r in rows:
        sql = r.get("sql")
        counted = (f"{sql['sensetime_data']['statements']:>10}{sql['bare']['statements']:>10}" if sql else "")
        print(f"{r['page']:<12}{r['way']:<10}{r['sensetime_data']['median_ms']:>10.1f}{r['sensetime_data']['p90_ms']:>10.1f}"
              f"{r['bare']['median_ms']:>10.1f}{r['bare']['p90_ms']:>10.1f}{r['ratio_median']:>7.2f}x{counted}")
    home = next(r for r in rows if r["page"] == "/" and r["way"] == "rendered")
    met = "met" if home["ratio_median"] <= TARGET else "missed"
    print(f"\nrendered home page, sensetime-data / bare Datasette: x{home['ratio_median']} "
          f"(target <= {TARGET}x: {met}); SQL statements {home['sql']['sensetime_data']['statements']} "
          f"against {home['sql']['bare']['statements']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300, help="requests per page, way and server (default 300)")
    args = parser.parse_args(argv)

    command = shlex.join([sys.executable, *sys.argv])
    print(f"$ {command}", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    build()

    ours_port, bare_port = free_port(), free_port()
    print(f"$ {shlex.join(sensetime_command(ours_port))}", flush=True)
    print(f"$ {shlex.join(bare_command(bare_port))}", flush=True)
    with served("sensetime-data", sensetime_command(ours_port), ours_port) as ours, \
            served("datasette-bare", bare_command(bare_port), bare_port) as bare:
        plugins = httpx.get(f"{bare}/-/plugins.json").json()
        if plugins:
            sys.exit(f"bare Datasette should run without plugins of its own, not {[p['name'] for p in plugins]}")
        times, failures = take_turns(ours, bare, args.rounds)
    rows = figures(times, count_statements())
    print_table(rows)
    for failure in sorted(set(failures))[:10]:
        print(f"error: {failure}")
    result = {
        "command": command,
        "rounds": args.rounds,
        "target_ratio": TARGET,
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "datasette": version("datasette")},
        "pages": rows,
        "errors": len(failures),
    }
    (OUT / "home.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"wrote {OUT / 'home.json'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
