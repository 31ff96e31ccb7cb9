"""Build the outputs from validated tables: SQLite, Parquet, Datasette metadata.

``build`` writes nothing outside its output directory (``build/``; ``datapackage.json`` is
rewritten by ``sensetime-data docs`` only) and changes what readers see in one atomic step.
The output directory holds:

    current -> .gen-1a2b3c       the one entry a build changes
    sensetime.db -> current/sensetime.db
    metadata.yml -> current/metadata.yml
    build.json -> current/build.json
    parquet -> current/parquet
    .gen-1a2b3c/                 one complete build
    README.md                    (tracked in git; never touched)

A build validates, writes a new generation directory ``.gen-*`` and then renames a new
``current`` link over the old one: rename(2) is atomic, so a kill before it leaves the old
build and after it the new one. The four paths readers use (``build/sensetime.db``, ...)
are links through ``current`` that stay as they are, so at every instant they all resolve
into one generation. Links made straight into a generation would take four renames, and a
kill between two of them would leave a new database beside old Parquet files.

Builds of one directory take turns (``flock`` on it). The one holding the lock removes every
generation but the current one when it ends, so what a killed or failed build left behind
goes with the next build. Outputs that are not links yet (a ``build/`` from before this
layout, or a copy that followed the links) are first copied into a generation of their own
and linked, so readers see the old build until the new one replaces it.

A directory that cannot be written (read-only, full, not a directory) is one problem line,
and the last good build stays as it was.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

import pandas as pd

from .database import write_sqlite
from .schema import PERIOD_DATES, Table, default_root, dump_json, inputs_digest, package_descriptor
from .site import datasette_metadata
from .validate import Problem, Report, Validated, check, cited_sources, rare_collections

OUTPUTS = ("sensetime.db", "metadata.yml", "parquet", "build.json")
CURRENT = "current"
GENERATION = ".gen-"  # every directory or link a build makes besides the outputs starts so
LEFTOVERS = (GENERATION, ".staging-")  # .staging-: what builds before generations left

class BuildError(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


class OutputError(ValueError):
    """An output directory a build must not write to; the message is one line saying what to do."""


def output_dir(root: Path, out: Path | None = None) -> Path:
    """``out``, else ``build/`` beside the tables; never inside the installed package (site-packages).

    An installed wheel carries its build: a new one goes to a directory the user names.
    """
    out = Path(out or root / "build")
    if out.resolve().is_relative_to(Path(__file__).resolve().parent):
        raise OutputError(f"{out} is inside the installed package, which stays read-only: "
                          "name a directory for the build with `sensetime-data build --out DIR`")
    return out


def build(root: Path | None = None, out: Path | None = None) -> Report:
    """Validate, then write every output; returns the validation report.

    >>> report = build()            # doctest: +SKIP
    >>> report.ok                   # doctest: +SKIP
    True
    """
    root = Path(root or default_root())
    out = output_dir(root, out)
    digest = inputs_digest(root)  # before validating: an edit made meanwhile leaves the build stale, not falsely fresh
    validated = check(root)
    if validated.report.ok:
        write_outputs(validated, out, digest)
    return validated.report


def write_outputs(validated: Validated, out: Path, digest: str) -> None:
    """Write the outputs of a valid package into a new generation of ``out`` and make it current;
    what prevents it is added to the report's problems, and the last good build stays."""
    report, tables = validated.report, validated.tables
    frames = {name: output_frame(table, validated.frames) for name, table in tables.items()}

    def fill(generation: Path) -> None:
        broken = write_sqlite(generation / "sensetime.db", tables, frames)
        if broken:
            raise BuildError([Problem("build/sensetime.db", 0, t, "foreign_key_check", f"row {r} breaks a foreign key to {o}")
                              for t, r, o, _ in broken])
        write_parquet(generation / "parquet", tables, frames)
        (generation / "metadata.yml").write_text(datasette_metadata(validated), "utf-8")
        (generation / "build.json").write_text(json.dumps(build_info(validated.root, digest), indent=2) + "\n", "utf-8")

    try:
        with rare_collections():
            publish(out, fill)
    except BuildError as e:
        report.problems += e.problems
    except (OSError, sqlite3.Error) as e:
        report.problems.append(_write_problem(validated.root, out, e))


def publish(out: Path, write: Callable[[Path], None]) -> None:
    """Have ``write`` fill a new generation directory, then make it current in one rename."""
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        try:
            generation = _new_generation(out)
            write(generation)
            _adopt(out)
            _swap(out, generation)
        finally:
            _clean(out)


def _swap(out: Path, generation: Path) -> None:
    """The atomic step: ``current`` points to ``generation``."""
    current = out / CURRENT
    if current.is_dir() and not current.is_symlink():  # a copy that followed the links; no reader goes through it
        _set_aside(current)
    _link(current, generation.name)


def _adopt(out: Path) -> None:
    """Make every output a link through ``current``, readers seeing the same build meanwhile."""
    strays = [n for n in OUTPUTS if not _links_through_current(out, n)]
    if not strays:
        return
    if any((out / n).exists() for n in strays):  # an earlier build: keep it visible through current
        legacy = _new_generation(out)
        for name in OUTPUTS:
            if (out / name).is_dir():
                shutil.copytree(out / name, legacy / name)
            elif (out / name).exists():
                shutil.copy2(out / name, legacy / name)
        _swap(out, legacy)
    for name in strays:
        if (out / name).is_dir() and not (out / name).is_symlink():
            _set_aside(out / name)  # a directory cannot be renamed over: the one moment it is missing
        _link(out / name, f"{CURRENT}/{name}")


def _new_generation(out: Path) -> Path:
    path = out / f"{GENERATION}{secrets.token_hex(6)}"
    path.mkdir()  # not mkdtemp: its mode 0700 would hide the build from other users
    return path


def _links_through_current(out: Path, name: str) -> bool:
    return (out / name).is_symlink() and os.readlink(out / name) == f"{CURRENT}/{name}"


def _link(path: Path, target: str) -> None:
    """Make ``path`` a symbolic link to ``target`` in one rename, whatever file it was."""
    tmp = path.parent / f"{GENERATION}{secrets.token_hex(6)}"
    os.symlink(target, tmp)
    os.replace(tmp, path)


def _set_aside(path: Path) -> None:
    os.rename(path, path.parent / f"{GENERATION}{secrets.token_hex(6)}")


def _clean(out: Path) -> None:
    """Remove every generation but the current one: what killed or failed builds left."""
    try:
        keep = os.readlink(out / CURRENT)
    except OSError:
        keep = None
    try:
        entries = list(out.iterdir())
    except OSError:
        return
    for path in entries:
        if path.name.startswith(LEFTOVERS) and path.name != keep:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    path.unlink()
                except OSError:
                    pass  # the next build tries again


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """One build at a time in ``out``: a lock on the directory itself, released however the process ends."""
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_problem(root: Path, out: Path, error: OSError | sqlite3.Error) -> Problem:
    """One line for an output directory that cannot take the build."""
    try:
        where = f"{out.resolve().relative_to(root.resolve()).as_posix()}/"
    except ValueError:
        where = f"{out}/"
    if out.exists() and not out.is_dir():
        reason = "not a directory"
    else:
        reason = f"cannot write the build here: {getattr(error, 'strerror', None) or error}"
    return Problem(where, 0, "-", "output", f"{reason}; the last good build is kept")


def write_descriptor(root: Path) -> tuple[Validated, bool]:
    """Rewrite ``datapackage.json`` from ``schemas/`` and the sources the rows cite, when that is
    the only problem ``validate`` finds; returns the validation after it and whether the file changed."""
    validated = check(root)
    problems = validated.report.problems
    if not problems or any(p.rule != "stale" for p in problems):
        return validated, False
    _write_if_changed(root / "datapackage.json", dump_json(package_descriptor(root, cited_sources(validated.frames))))
    return check(root), True


def _write_if_changed(path: Path, text: str) -> None:
    if path.exists() and path.read_text("utf-8") == text:
        return
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


def _build_time() -> str:
    """Now, or $SOURCE_DATE_EPOCH when set, so that a rebuild can be byte-identical in every file."""
    from datetime import datetime

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return moment.replace(microsecond=0).isoformat()


def build_info(root: Path, digest: str | None = None) -> dict:
    from . import __version__

    return {
        "version": __version__,
        "built_at": _build_time(),
        "inputs_sha256": digest or inputs_digest(root),
    }


# --- the rows of the outputs ---------------------------------------------------------------


def output_frame(table: Table, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """A table's rows with the columns the build derives (``schema.PERIOD_DATES``), in ``output_fields`` order."""
    frame = frames[table.name]
    if table.output_fields == table.fields:
        return frame
    dates = frames["periods"].set_index("period")[list(PERIOD_DATES.values())]
    frame = frame.join(dates.set_axis(list(PERIOD_DATES), axis=1), on="period")
    return frame[table.output_columns]


# --- Parquet -----------------------------------------------------------------------------


def arrow_schema(table: Table):
    """The Parquet schema of a table: each field's Arrow type, nullability and description."""
    import pyarrow as pa

    return pa.schema([f.arrow_field() for f in table.output_fields],
                     metadata={"title": table.title, "description": table.description})


def write_parquet(directory: Path, tables: dict[str, Table], frames: dict[str, pd.DataFrame]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory.mkdir()
    for name, table in tables.items():
        schema = arrow_schema(table)
        frame = frames[name].copy()
        for f in table.output_fields:
            if f.type == "date":
                frame[f.name] = frame[f.name].dt.date
        arrow = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        pq.write_table(arrow.replace_schema_metadata(schema.metadata), directory / f"{name}.parquet")
