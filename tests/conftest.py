"""Fixtures: the repo's package, one good build of it for the whole run, and copies to break.

Under pytest-xdist every worker is a pytest session of its own. What the run needs once (the
good build of the package and its validation) is made by the first worker that asks for it,
under a file lock, in the directory the workers share, and read from there by the others.
"""

import contextlib
import fcntl
import hashlib
import io
import os
import pickle
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from helpers import installed, wait_for
from hypothesis import settings

from sensetime_data.build import output_dir, write_outputs
from sensetime_data.cli import main
from sensetime_data.schema import inputs_digest, read_tables
from sensetime_data.serve import free_port
from sensetime_data.sources import SEEDS_ENV, seeds_dir
from sensetime_data.validate import check

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ("tables", "schemas", "datapackage.json")
EPOCH = "1700000000"  # SOURCE_DATE_EPOCH of the good build: a build of the same tables at this moment is the same bytes

# Hypothesis: the full number of examples in CI (HYPOTHESIS_PROFILE=ci, or any CI=1), a few on a
# developer's machine. The examples that failed once are replayed first either way.
settings.register_profile("ci", max_examples=30, deadline=None)
settings.register_profile("dev", max_examples=3, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


# Modules whose tests share a costly module or session fixture (a wheel, a venv, a set of builds,
# a server and a browser, a merge) run on one xdist worker, so it is made once. pytest-xdist's
# `--dist loadgroup` would read this from xdist_group marks, but with pytest 9.2 it loses them
# and spreads the tests (pytest-xdist#1386): the scheduler below groups by module instead.
TOGETHER = {"test_wheel.py": "wheel", "test_install.py": "install", "test_build_process.py": "process",
            "test_serve.py": "server", "test_browser.py": "server", "test_translation.py": "translation"}


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadgroup` (addopts): the modules of TOGETHER as one unit each, every other test on its own."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ModuleGroups(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            group = TOGETHER.get(nodeid.split("::", 1)[0].rsplit("/", 1)[-1])
            return group or super()._split_scope(nodeid)

    return ModuleGroups(config, log)


def shared_dir(tmp_path_factory) -> Path:
    """The temporary directory of the whole run: every xdist worker's basetemp lies in it."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def locked(path: Path) -> Iterator[None]:
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def once(tmp_path_factory, name: str, make: Callable[[Path], None]) -> Path:
    """``make(directory)`` once for the whole run, by the first worker that asks; the directory."""
    base = shared_dir(tmp_path_factory)
    directory, done = base / name, base / f"{name}.done"
    with locked(base / f"{name}.lock"):
        if not done.exists():
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir()
            make(directory)
            done.touch()
    return directory


@pytest.fixture(autouse=True)
def _seeds_for_copies(monkeypatch):
    """The packages the tests break are copies elsewhere, where ../shared/seeds is not beside them:
    each test finds the source texts through SENSETIME_DATA_SEEDS, set for the test alone."""
    found = seeds_dir(ROOT)
    if found:
        monkeypatch.setenv(SEEDS_ENV, str(found))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def seeds() -> Path:
    """The raw source texts. In CI they must be there; elsewhere their absence skips quote tests."""
    found = seeds_dir(ROOT)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"source texts not found: set {SEEDS_ENV} or put them in ../shared/seeds")
        pytest.skip(f"source texts not found (set {SEEDS_ENV}); quote checks cannot run here")
    return found


@pytest.fixture(scope="session")
def tables():
    return read_tables(ROOT)


@pytest.fixture(scope="session")
def good(tmp_path_factory):
    """(a copy of the package with a good build in its build/, the validation of that build):
    the one validation and build of the real package in the run (quotes checked when the texts are
    found), made at the moment EPOCH."""
    def make(directory: Path) -> None:
        root = directory / "pkg"
        copy_inputs(ROOT, root)
        with pytest.MonkeyPatch.context() as env:
            found = seeds_dir(ROOT)
            if found:
                env.setenv(SEEDS_ENV, str(found))
            env.setenv("SOURCE_DATE_EPOCH", EPOCH)
            digest = inputs_digest(root)
            checked = check(root)  # as `build` does, keeping the frames for the tests
            if checked.report.ok:
                write_outputs(checked, output_dir(root), digest)
        assert checked.report.ok, "\n".join(map(str, checked.report.problems))
        (directory / "checked.pickle").write_bytes(pickle.dumps(checked))

    directory = once(tmp_path_factory, "good", make)
    return directory / "pkg", pickle.loads((directory / "checked.pickle").read_bytes())


@pytest.fixture(scope="session")
def good_copy(good) -> Path:
    """A copy of the package with a good build in its build/ directory. Tests read it, never change it."""
    return good[0]


@pytest.fixture(scope="session")
def checked(good):
    """The validation of the real package's tables (in the good copy): its report, and the frames,
    tables and source texts it read."""
    return good[1]


@pytest.fixture(scope="session")
def cli_validate(tmp_path_factory) -> tuple[int, str]:
    """(exit status, output) of the installed console script `sensetime-data --root REPO validate`, run once."""
    def make(directory: Path) -> None:
        done = subprocess.run([str(installed("sensetime-data")), "--root", str(ROOT), "validate"],
                              capture_output=True, text=True)
        assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
        (directory / "status").write_text(str(done.returncode))
        (directory / "stdout").write_text(done.stdout, "utf-8")

    directory = once(tmp_path_factory, "validated", make)
    return int((directory / "status").read_text()), (directory / "stdout").read_text("utf-8")


@pytest.fixture(scope="session")
def ledger_pages(tmp_path_factory, seeds) -> tuple[int, str, Path]:
    """(exit status, output, the pages' directory) of `sensetime-data --root REPO ledger --html DIR`, run once."""
    def make(directory: Path) -> None:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["--root", str(ROOT), "ledger", "--html", str(directory / "pages")])
        assert "Traceback" not in out.getvalue()
        (directory / "status").write_text(str(code))
        (directory / "stdout").write_text(out.getvalue(), "utf-8")

    directory = once(tmp_path_factory, "ledger", make)
    return int((directory / "status").read_text()), (directory / "stdout").read_text("utf-8"), directory / "pages"


@pytest.fixture(scope="session")
def built(good_copy) -> Path:
    """The build/ directory of the good copy."""
    return good_copy / "build"


@pytest.fixture(scope="session")
def metadata(built) -> dict:
    """The good build's Datasette metadata."""
    return yaml.safe_load((built / "metadata.yml").read_text("utf-8"))


@pytest.fixture(scope="session")
def db(built):
    """A read-only connection to the good build's database."""
    con = sqlite3.connect(f"file:{built / 'sensetime.db'}?mode=ro", uri=True)
    yield con
    con.close()


@pytest.fixture
def broken_copy(good_copy, tmp_path) -> Path:
    """A fresh copy of the good package and its build, for one test to break."""
    root = tmp_path / "pkg"
    copy_inputs(good_copy, root)
    shutil.copytree(good_copy / "build", root / "build", symlinks=True)  # the links through build/current, not three copies
    return root


def copy_inputs(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in INPUTS:
        if (src / name).is_dir():
            shutil.copytree(src / name, dst / name)
        else:
            shutil.copy2(src / name, dst / name)


def tree_digest(directory: Path) -> dict[str, str]:
    """SHA-256 of every file under a directory, by relative path."""
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def served(server):
    """(the URL it printed, its base URL) of `sensetime-data serve --port N` over a good build."""
    return server[:2]


@pytest.fixture(scope="session")
def served_log(server) -> Path:
    """The file that server writes its output and access log to."""
    return server[2]


@pytest.fixture(scope="session")
def server(good_copy, tmp_path_factory):
    """(the URL it printed, its base URL, its log) of `sensetime-data serve --port N` over a good build.
    One server per worker: the modules that use it run on one worker (TOGETHER)."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("w") as out:  # a file, not a pipe nobody reads, for the access log
        proc = subprocess.Popen([str(installed("sensetime-data")), "--root", str(good_copy), "serve", "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/-/versions.json", proc)
        yield log.read_text().splitlines()[0], base, log
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
