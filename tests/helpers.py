"""Test helpers: editing a table the way a curator would, running the CLI, waiting for a server."""

import csv
import sys
import time
import urllib.request
from pathlib import Path

from sensetime_data.cli import main

# Rows the tests break, by key.
REVENUE_FY2022 = {"metric": "revenue", "period": "FY2022", "source_id": "deck_fy2022"}
CITY_SHARE_1H2023 = {"segment_id": "smart_city", "metric": "revenue_share", "period": "1H2023", "source_id": "deck_1h2023"}


def run(capsys, *args) -> tuple[int, str]:
    """`sensetime-data ARGS` in-process: its exit status and what it printed, never a traceback."""
    code = main(list(args))
    out = capsys.readouterr().out
    assert "Traceback" not in out
    return code, out


def wait_for(url: str, proc, seconds: float = 60) -> bytes:
    """The body at ``url`` once the server started as ``proc`` answers it; fails if it dies or never does."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, f"the server never answered {url}"
            time.sleep(0.05)


def installed(script: str) -> Path:
    """A console script of the environment running the tests, which need not be activated."""
    path = Path(sys.executable).with_name(script)
    assert path.exists(), f"{script} should be installed with the package"
    return path


def read_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def write_rows(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def find(rows: list[dict], **match) -> int:
    """Index of the one row whose columns equal ``match``."""
    hits = [i for i, r in enumerate(rows) if all(r[k] == v for k, v in match.items())]
    assert len(hits) == 1, f"{len(hits)} rows match {match}"
    return hits[0]


def edit(root: Path, table: str, match: dict, **changes) -> int:
    """Change cells of the row matching ``match``; returns its line in the file (header is line 1)."""
    path = root / "tables" / f"{table}.csv"
    rows = read_rows(path)
    i = find(rows, **match)
    rows[i].update(changes)
    write_rows(path, rows)
    return i + 2


def duplicate(root: Path, table: str, match: dict) -> int:
    """Append a copy of the row matching ``match``; returns the copy's line."""
    path = root / "tables" / f"{table}.csv"
    rows = read_rows(path)
    rows.append(dict(rows[find(rows, **match)]))
    write_rows(path, rows)
    return len(rows) + 1


def delete(root: Path, table: str, match: dict) -> None:
    """Remove the row matching ``match``."""
    path = root / "tables" / f"{table}.csv"
    rows = read_rows(path)
    del rows[find(rows, **match)]
    write_rows(path, rows)
