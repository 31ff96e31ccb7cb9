"""The build process: nothing written outside build/, one atomic switch from one build to the
next whatever fails or is killed on the way, leftovers of killed builds removed by the next
build, and an output directory that cannot take a build reported in one line.

Most tests build a changed copy of the package (``new``) over a good build of the original
(``old``) and check which of the two each path a reader uses shows. Where a test runs many
builds, the new package's validation is reused and the database, Parquet files and Datasette
metadata are copied from a real build of it made once: the file operations of writing and
switching are the real ones, and the files are real outputs. The old package is the good copy
of the session, validated once for the run.
"""

import dataclasses
import errno
import gc
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from contextlib import closing, contextmanager
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import ROOT, copy_inputs, tree_digest
from helpers import REVENUE_FY2022, edit, find, read_rows, run

import sensetime_data.build as build_module
from sensetime_data.build import CURRENT, OUTPUTS, build
from sensetime_data.schema import dump_json, inputs_digest, package_descriptor
from sensetime_data.serve import is_stale
from sensetime_data.validate import Validated, check, cited_sources

pytestmark = pytest.mark.slow

MARK = "[build process test]"


@dataclasses.dataclass
class Builds:
    old: Path  # a package with a good build in old/build
    new: Path  # the same package with a note and a table description changed, not built
    checked: Validated  # the validation of new
    reference: Path  # a real build of new
    digests: dict  # inputs_sha256 of each: {"old": ..., "new": ...}


@pytest.fixture(scope="module")
def builds(tmp_path_factory, good_copy, checked) -> Builds:
    base = tmp_path_factory.mktemp("process")
    old, new = base / "old", base / "new"
    copy_inputs(good_copy, old)  # validated for the session: `checked`
    (old / "build").mkdir()
    shutil.copy2(ROOT / "build" / "README.md", old / "build" / "README.md")  # tracked in git
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(build_module, "check", lambda root: checked)
        assert build(old).ok

    copy_inputs(old, new)
    rows = read_rows(new / "tables" / "financials.csv")
    edit(new, "financials", REVENUE_FY2022, note=f"{rows[find(rows, **REVENUE_FY2022)]['note']} {MARK}".strip())
    schema_path = new / "schemas" / "financials.json"
    schema = json.loads(schema_path.read_text("utf-8"))
    schema["description"] += f" {MARK}"
    schema_path.write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n", "utf-8")
    (new / "datapackage.json").write_text(dump_json(package_descriptor(new, cited_sources(checked.frames))), "utf-8")
    new_checked = check(new)
    assert new_checked.report.ok, "\n".join(map(str, new_checked.report.problems))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(build_module, "check", lambda root: new_checked)
        assert build(new, base / "reference").ok
    return Builds(old, new, new_checked, base / "reference", {"old": inputs_digest(old), "new": inputs_digest(new)})


@pytest.fixture
def validated(builds, monkeypatch):
    """`build` takes the new package's validation as done: these tests are about writing."""
    monkeypatch.setattr(build_module, "check", lambda root: dataclasses.replace(
        builds.checked, root=Path(root), report=dataclasses.replace(builds.checked.report, problems=[])))


@pytest.fixture
def copied(builds, validated, monkeypatch):
    """`build` also copies the database, the Parquet files and the metadata of the reference build
    instead of making them (writing the metadata's YAML took most of a build's second)."""
    made = builds.reference / CURRENT
    metadata = (made / "metadata.yml").read_text("utf-8")

    def write_sqlite(path, tables, frames):
        shutil.copy2(made / "sensetime.db", path)
        return []  # what `pragma foreign_key_check` found: nothing

    monkeypatch.setattr(build_module, "write_sqlite", write_sqlite)
    monkeypatch.setattr(build_module, "write_parquet", lambda path, tables, frames: shutil.copytree(made / "parquet", path))
    monkeypatch.setattr(build_module, "datasette_metadata", lambda validated: metadata)


def old_build(builds: Builds, out: Path) -> Path:
    """``out``: a copy of the old build, links and all."""
    shutil.copytree(builds.old / "build", out, symlinks=True)
    return out


def package(builds: Builds, tmp_path: Path) -> Path:
    """The new package with the old build in its build/, as after editing a table."""
    root = tmp_path / "pkg"
    copy_inputs(builds.new, root)
    old_build(builds, root / "build")
    return root


def shown(builds: Builds, out: Path) -> dict[str, str | None]:
    """Which build each path a reader uses shows: "old", "new", or None where it is missing."""
    def which(marked: bool) -> str:
        return "new" if marked else "old"

    seen: dict[str, str | None] = dict.fromkeys(OUTPUTS)
    try:
        with closing(sqlite3.connect(f"file:{out / 'sensetime.db'}?mode=ro", uri=True)) as con:
            seen["sensetime.db"] = which(con.execute("select count(*) from financials where instr(note, ?)",
                                                     (MARK,)).fetchone()[0] > 0)
    except sqlite3.Error:
        pass
    try:
        notes = pq.read_table(out / "parquet" / "financials.parquet", columns=["note"]).column("note").to_pylist()
        seen["parquet"] = which(any(MARK in (n or "") for n in notes))
    except OSError:
        pass
    try:
        seen["metadata.yml"] = which(MARK in (out / "metadata.yml").read_text("utf-8"))
        digest = json.loads((out / "build.json").read_text("utf-8"))["inputs_sha256"]
        seen["build.json"] = {v: k for k, v in builds.digests.items()}.get(digest, "unknown")
    except OSError:
        pass
    return seen


def whole(builds: Builds, out: Path) -> str:
    """The one build every path shows; fails on a missing path or a mix of two builds."""
    seen = shown(builds, out)
    assert len(set(seen.values())) == 1 and None not in seen.values(), seen
    return seen["sensetime.db"]


def leftovers(out: Path) -> list[str]:
    """What builds made besides the current generation."""
    current = os.readlink(out / CURRENT)
    return sorted(p.name for p in out.iterdir() if p.name.startswith((".gen-", ".staging-")) and p.name != current)


OPERATIONS = [(os, name) for name in ("mkdir", "symlink", "replace", "rename", "unlink", "rmdir")] + [
    (build_module, name) for name in ("write_sqlite", "write_parquet")]


@contextmanager
def operations(at: int | None = None, fault=None):
    """Count the file operations of what runs inside; the one numbered ``at`` calls ``fault`` first."""
    done: list[str] = []
    saved = [(owner, name, getattr(owner, name)) for owner, name in OPERATIONS]
    for owner, name, real in saved:
        def operation(*args, _real=real, _name=name, **kwargs):
            done.append(_name)
            if len(done) == at:
                fault(_name)
            return _real(*args, **kwargs)
        setattr(owner, name, operation)
    try:
        yield done
    finally:
        for owner, name, real in saved:
            setattr(owner, name, real)


def disk_full(*_):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def killed_at(step: int, action) -> int:
    """Run ``action`` in a forked child that SIGKILLs itself at file operation ``step``; its exit code."""
    pid = os.fork()
    if pid == 0:
        try:
            with operations(step, lambda name: os.kill(os.getpid(), signal.SIGKILL)):
                action()
            os._exit(0)
        except BaseException:
            os._exit(1)
    deadline = time.monotonic() + 120
    while not (done := os.waitpid(pid, os.WNOHANG))[0]:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"the build killed at step {step} hung")
        time.sleep(0.002)
    return os.waitstatus_to_exitcode(done[1])


@contextmanager
def read_only(path: Path):
    """No one, root included, may add, rename or remove entries of the directory ``path``."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("root on a file system without chattr +i: no way to make a directory read-only here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def problem_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("build/:")]


# --- nothing outside build/ --------------------------------------------------------------


def test_a_stale_datapackage_json_fails_the_build_and_docs_rewrites_it(tmp_path, capsys):
    """Today the build rewrote datapackage.json after recording its inputs: it looked stale at once."""
    root = tmp_path / "pkg"
    copy_inputs(ROOT, root)
    shutil.copy2(ROOT / "README.md", root / "README.md")  # `docs` rewrites its table list
    descriptor = json.loads((root / "datapackage.json").read_text("utf-8"))
    descriptor["resources"][0]["title"] += " (edited by hand)"
    (root / "datapackage.json").write_text(dump_json(descriptor), "utf-8")
    before = tree_digest(root)

    code, out = run(capsys, "--root", str(root), "build")
    assert code == 1, out
    stale = [line for line in out.splitlines() if line.startswith("datapackage.json:")]
    assert len(stale) == 1 and ": -: stale: " in stale[0] and "`sensetime-data docs`" in stale[0], out
    assert tree_digest(root) == before and not (root / "build").exists()

    code, out = run(capsys, "--root", str(root), "docs")
    assert code == 0 and "datapackage.json updated" in out, out
    first = json.loads((root / "datapackage.json").read_text("utf-8"))["resources"][0]
    assert first["title"] == json.loads((root / first["schema"]).read_text("utf-8"))["title"]
    before = tree_digest(root)

    code, out = run(capsys, "--root", str(root), "build")
    assert code == 0, out
    assert not is_stale(root, root / "build")  # so `serve` does not rebuild and the wheel hook accepts it
    assert {k: v for k, v in tree_digest(root).items() if not k.startswith("build/")} == before


def test_a_read_only_package_root_still_builds(builds, copied, tmp_path):
    root = package(builds, tmp_path)
    before = {k: v for k, v in tree_digest(root).items() if not k.startswith("build/")}
    with read_only(root):
        report = build(root)
    assert report.ok, "\n".join(map(str, report.problems))
    assert whole(builds, root / "build") == "new"
    assert {k: v for k, v in tree_digest(root).items() if not k.startswith("build/")} == before


# --- one atomic switch -------------------------------------------------------------------


def test_readers_paths_are_links_through_one_current_generation(builds):
    out = builds.old / "build"
    generation = out / os.readlink(out / CURRENT)
    assert generation.parent == out and generation.name.startswith(".gen-") and generation.is_dir()
    for name in OUTPUTS:
        assert os.readlink(out / name) == f"{CURRENT}/{name}"
        assert (out / name).resolve() == (generation / name).resolve()
    assert (out / "README.md").read_bytes() == (ROOT / "build" / "README.md").read_bytes()
    assert leftovers(out) == []


def test_a_fault_at_any_file_operation_leaves_the_old_build_or_the_new_one(builds, copied, tmp_path):
    out = old_build(builds, tmp_path / "count")
    with operations() as done:
        assert build(builds.new, out).ok
    assert {"write_sqlite", "write_parquet", "symlink", "replace", "unlink"} <= set(done), done
    for step in range(1, len(done) + 1):
        out = old_build(builds, tmp_path / f"step{step}")
        before, names = tree_digest(out), sorted(os.listdir(out))
        with operations(step, disk_full) as reached:
            report = build(builds.new, out)
        assert len(reached) >= step
        if report.ok:  # a fault while removing the old generation, after the switch
            assert whole(builds, out) == "new", step
            continue
        assert [p.rule for p in report.problems] == ["output"], (step, report.problems)
        assert "No space left on device" in str(report.problems[0])
        assert tree_digest(out) == before and sorted(os.listdir(out)) == names, step


def test_a_build_killed_at_any_file_operation_leaves_one_whole_build_and_the_next_cleans_up(builds, copied, tmp_path):
    out = old_build(builds, tmp_path / "count")
    with operations() as done:
        assert build(builds.new, out).ok
    seen = set()
    for step in range(1, len(done) + 1):
        out = old_build(builds, tmp_path / f"step{step}")
        assert killed_at(step, lambda out=out: build(builds.new, out)) == -signal.SIGKILL, step
        seen.add(whole(builds, out))  # never a new database beside old Parquet files
        assert build(builds.new, out).ok
        assert whole(builds, out) == "new" and leftovers(out) == [], (step, leftovers(out))
    assert seen == {"old", "new"}  # kills before the switch and after it


def test_a_build_from_before_generations_is_taken_over_without_mixing_builds(builds, copied, tmp_path):
    """A build/ of plain files, as earlier releases wrote it: every path shows one build throughout."""
    def plain_build(out: Path) -> Path:
        out.mkdir()
        for name in OUTPUTS:
            (shutil.copytree if (builds.old / "build" / name).is_dir() else shutil.copy2)(
                builds.old / "build" / name, out / name)
        (out / ".staging-x1y2z3").mkdir()  # what a killed build of those releases left
        return out

    out = plain_build(tmp_path / "count")
    with operations() as done:
        assert build(builds.new, out).ok
    for step in range(1, len(done) + 1):
        out = plain_build(tmp_path / f"step{step}")
        assert killed_at(step, lambda out=out: build(builds.new, out)) == -signal.SIGKILL, step
        seen = shown(builds, out)
        # the one moment a directory cannot be renamed over: parquet/ is set aside, then linked
        assert len(set(seen.values()) - {None}) == 1 and [k for k, v in seen.items() if v is None] in ([], ["parquet"])
        assert build(builds.new, out).ok
        assert whole(builds, out) == "new" and leftovers(out) == []


def test_builds_killed_midway_leave_one_whole_build_and_the_next_removes_what_they_left(builds, validated, tmp_path):
    out = old_build(builds, tmp_path / "build")
    (out / ".staging-abc123").mkdir()  # left by a build of an earlier release
    (out / ".staging-abc123" / "sensetime.db").write_bytes(b"\0" * 100_000)
    for written in ("", "sensetime.db"):  # as it starts writing, and once the database is begun
        started = set(os.listdir(out))
        pid = os.fork()
        if pid == 0:
            try:
                build(builds.new, out)
            finally:
                os._exit(0)
        while not (ended := os.waitpid(pid, os.WNOHANG)[0]) and not any(
                (out / n / written).exists() for n in set(os.listdir(out)) - started if n.startswith(".gen-")):
            time.sleep(0.002)
        if not ended:
            os.kill(pid, signal.SIGKILL)  # a process that has ended meanwhile is not reaped yet: still ours
            os.waitpid(pid, 0)
        whole(builds, out)
    assert leftovers(out)  # the kills left something behind
    assert build(builds.new, out).ok
    assert whole(builds, out) == "new" and leftovers(out) == []
    one = sum(f.stat().st_size for f in (out / CURRENT).resolve().rglob("*") if f.is_file())
    assert sum(f.stat().st_size for f in out.rglob("*") if f.is_file() and not f.is_symlink()) < one * 1.05


def test_concurrent_builds_take_turns(builds, copied, tmp_path):
    out = old_build(builds, tmp_path / "build")
    start = threading.Barrier(4)
    reports = []

    def one():
        start.wait()
        reports.append(build(builds.new, out))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.ok for r in reports] == [True] * 4, [r.problems for r in reports]
    assert whole(builds, out) == "new" and leftovers(out) == []


# --- an output directory that cannot take the build ----------------------------------------


def test_a_read_only_build_directory_is_one_line_and_the_build_is_kept(builds, validated, tmp_path, capsys):
    root = package(builds, tmp_path)
    before = tree_digest(root / "build")
    with read_only(root / "build"):
        code, out = run(capsys, "--root", str(root), "build")
    assert code == 1, out
    assert len(problem_lines(out)) == 1 and problem_lines(out)[0].startswith("build/:0: -: output: cannot write"), out
    assert tree_digest(root / "build") == before and whole(builds, root / "build") == "old"


def test_a_build_path_that_is_a_file_is_one_line(builds, validated, tmp_path, capsys):
    root = tmp_path / "pkg"
    copy_inputs(builds.new, root)
    (root / "build").write_text("not a directory\n")
    code, out = run(capsys, "--root", str(root), "build")
    assert code == 1, out
    assert problem_lines(out) == ["build/:0: -: output: not a directory; the last good build is kept"], out
    assert (root / "build").read_text() == "not a directory\n"


def _fill_disk_in_sqlite(monkeypatch):
    def write_sqlite(path, tables, frames):
        path.write_bytes(b"SQLite format 3\0")
        raise sqlite3.OperationalError("database or disk is full")
    monkeypatch.setattr(build_module, "write_sqlite", write_sqlite)


def _fill_disk_in_parquet(monkeypatch):
    import pyarrow.parquet

    real, calls = pyarrow.parquet.write_table, []

    def write_table(table, where, **kwargs):
        calls.append(where)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(table, where, **kwargs)
    monkeypatch.setattr(pyarrow.parquet, "write_table", write_table)


def _fill_disk_in_metadata(monkeypatch):
    monkeypatch.setattr(build_module, "datasette_metadata", disk_full)


@pytest.mark.parametrize("where, reason", [(_fill_disk_in_sqlite, "database or disk is full"),
                                           (_fill_disk_in_parquet, "No space left on device"),
                                           (_fill_disk_in_metadata, "No space left on device")],
                         ids=["database", "parquet", "metadata"])
def test_a_full_disk_is_one_line_and_the_build_is_kept(where, reason, builds, validated, tmp_path, capsys, monkeypatch):
    root = package(builds, tmp_path)
    before, names = tree_digest(root / "build"), sorted(os.listdir(root / "build"))
    where(monkeypatch)
    code, out = run(capsys, "--root", str(root), "build")
    assert code == 1, out
    (line,) = problem_lines(out)
    assert line.startswith("build/:0: -: output: cannot write the build here: ")
    assert line.endswith(f"{reason}; the last good build is kept"), line
    assert tree_digest(root / "build") == before and sorted(os.listdir(root / "build")) == names
    assert whole(builds, root / "build") == "old"


def test_a_really_full_disk_is_one_line_and_the_build_is_kept(builds, validated, tmp_path, capsys):
    """The same on a small tmpfs that the new build does not fit on (needs root to mount it)."""
    root = tmp_path / "pkg"
    copy_inputs(builds.new, root)
    out = root / "build"
    out.mkdir()
    size = sum(f.stat().st_size for f in (builds.old / "build" / CURRENT).resolve().rglob("*") if f.is_file())
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size // 1024 + 256}k", "tmpfs", str(out)],
                           capture_output=True)
    if mount.returncode:
        pytest.skip("cannot mount a tmpfs here (needs root); the full disk is simulated in the test above")
    try:
        shutil.copytree(builds.old / "build", out, symlinks=True, dirs_exist_ok=True)
        before = tree_digest(out)
        code, text = run(capsys, "--root", str(root), "build")
        assert code == 1, text
        (line,) = problem_lines(text)
        assert line.startswith("build/:0: -: output: cannot write the build here: "), line
        assert tree_digest(out) == before and whole(builds, out) == "old"
    finally:
        gc.collect()  # the failed build's database connection, held by its traceback's frames
        subprocess.run(["umount", str(out)], check=True)
