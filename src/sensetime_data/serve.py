"""Serve the built database with Datasette: loopback only, immutable, read-only, time-limited."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

from .schema import inputs_digest
from .site import DB_NAME

SETTINGS = {
    "sql_time_limit_ms": 2000,  # a runaway query is stopped, the server keeps answering
    "max_returned_rows": 2000,
    "default_page_size": 100,
    "allow_download": 1,
    "num_sql_threads": 5,  # at most 3 run arbitrary ?sql= queries (plugin.MOST_SQL_AT_ONCE): 2 stay for pages
}


def is_stale(root: Path, out: Path) -> bool:
    """True when the build is missing or was made from other inputs than those in ``root``."""
    info = out / "build.json"
    if not (out / f"{DB_NAME}.db").exists() or not info.exists():
        return True
    return json.loads(info.read_text("utf-8")).get("inputs_sha256") != inputs_digest(root)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def datasette_args(out: Path, port: int) -> list[str]:
    args = [sys.executable, "-m", "datasette", "serve", "-i", str(out / f"{DB_NAME}.db"),
            "--metadata", str(out / "metadata.yml"), "--host", "127.0.0.1", "--port", str(port)]
    for key, value in SETTINGS.items():
        args += ["--setting", key, str(value)]
    return args


def port_taken(port: int) -> bool:
    """True when 127.0.0.1:port cannot be bound (Datasette would fail only after starting), as uvicorn binds it."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def serve(out: Path, port: int) -> int:
    """Start Datasette on 127.0.0.1:port in place of this process, so stopping it stops the server."""
    port = port or free_port()
    if port_taken(port):
        print(f"serve: port {port} on 127.0.0.1 is taken: choose another with --port N (0 picks a free one)",
              file=sys.stderr)
        return 1
    print(f"Serving sensetime-data at http://127.0.0.1:{port}/", flush=True)
    args = datasette_args(out, port)
    os.execv(args[0], args)
    return 1  # not reached: execv replaces the process
