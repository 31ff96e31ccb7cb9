"""The frictionless pass of ``validate``, run in a process of its own beside the rest.

frictionless reads every CSV again, cell by cell, which on a large package takes about as
long as the other checks together: started first in a second process, it costs little time
of its own on a machine with two cores. The process is started once and kept (importing
frictionless takes most of a second), so a program that validates often pays for that once.
It is a plain subprocess speaking JSON lines, not ``multiprocessing``, whose spawned children
would run again a caller's script that has no ``if __name__ == "__main__"`` guard.

An answer is plain data, one list per error:
``[resource name or None, row number or None, column or None, error type, message]``.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import select
import subprocess
import sys
import warnings
from pathlib import Path

_WORKER: subprocess.Popen | None = None
_SENT = _READ = 0  # requests sent to the worker, answers read from it: it answers in order


class Pending:
    """The answer to one request, read when asked for."""

    def __init__(self, root: str, descriptor: dict, number: int = 0):
        self.root, self.descriptor, self.number = root, descriptor, number
        self.worker = _WORKER if number else None  # the process that owes the answer
        self.answer: list[list] | None = None

    def done(self) -> bool:
        """Whether ``result`` would answer without waiting."""
        if self.answer is not None or self.worker is not _WORKER or self.worker is None:
            return True  # an answer made here is made when asked for, without waiting on another process
        return bool(self.worker.stdout and select.select([self.worker.stdout], [], [], 0)[0])

    def result(self) -> list[list]:
        global _READ
        if self.answer is None:
            line = ""
            if self.worker is not None and self.worker is _WORKER and _READ == self.number - 1:
                line = _receive(self.worker)
                _READ += 1
            # no answer (the worker died, or a later request read past it): do the work here
            self.answer = json.loads(line) if line else errors(self.root, self.descriptor)
        return self.answer


def start(root: str, descriptor: dict) -> Pending:
    """Have the kept process check the package ``descriptor`` (its schemas inline) at ``root``
    with frictionless; on a machine with one core the check is made here, when asked for."""
    global _SENT, _READ
    if len(os.sched_getaffinity(0)) < 2:
        return Pending(root, descriptor)
    worker = _worker()
    try:
        while _READ < _SENT:  # a caller that stopped early left its answer in the pipe
            _receive(worker)
            _READ += 1
        _send(worker, json.dumps([root, descriptor]))  # ASCII: whatever the locale of either side
    except OSError:
        stop()
        return Pending(root, descriptor)
    _SENT += 1
    return Pending(root, descriptor, _SENT)


def _worker() -> subprocess.Popen:
    global _WORKER, _SENT, _READ
    if _WORKER is None or _WORKER.poll() is not None:
        package_parent = str(Path(__file__).resolve().parents[1])
        code = f"import sys; sys.path.insert(0, {package_parent!r}); from sensetime_data.structure import serve; serve()"
        _WORKER = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True)
        _SENT = _READ = 0
    return _WORKER


def _send(worker: subprocess.Popen, line: str) -> None:
    assert worker.stdin is not None  # made with a pipe
    worker.stdin.write(line + "\n")
    worker.stdin.flush()


def _receive(worker: subprocess.Popen) -> str:
    assert worker.stdout is not None  # made with a pipe
    return worker.stdout.readline()


def stop() -> None:
    """End the kept process (it ends with the program anyway): for a program that goes on without validating."""
    global _WORKER
    if _WORKER is not None:
        try:
            if _WORKER.stdin:
                _WORKER.stdin.close()  # the worker ends at the end of its input
            _WORKER.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            _WORKER.kill()
        _WORKER = None


atexit.register(stop)


def serve() -> None:
    """The worker: one request per line in, one answer per line out, until its input ends."""
    for line in sys.stdin:
        root, descriptor = json.loads(line)
        sys.stdout.write(json.dumps(errors(root, descriptor)) + "\n")
        sys.stdout.flush()


ANSWERS: dict[tuple[str, str], list[list]] = {}  # a resource's errors by (its descriptor, its file's digest)
MOST_ANSWERS = 256
VALID: dict[str, None] = {}  # package descriptors frictionless found valid, as JSON


def errors(root: str, descriptor: dict) -> list[list]:
    """frictionless's errors on the package, foreign keys left out (pandera checks them).

    Without foreign keys a resource's errors depend on its descriptor and its file alone, not
    on where the package lies: they are kept by both, so a program that validates often, or
    validates copies of one package, re-checks only the files that changed. An answer that
    names the package's directory is not kept. A descriptor found valid is not checked again,
    and then only the resources to check are made.
    """
    import frictionless

    checklist = frictionless.Checklist(skip_errors=["foreign-key"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole, package = json.dumps(descriptor, sort_keys=True), None
        if whole not in VALID:
            try:
                package = frictionless.Package(descriptor, basepath=root)
                package.to_descriptor(validate=True)
            except frictionless.FrictionlessException as e:
                reasons = dict.fromkeys(r.message for r in e.reasons) or [e.error.message]
                return [[None, None, None, e.error.type, m] for m in reasons]
            keep(VALID, whole, None)
        out = []
        for index, given in enumerate(descriptor["resources"]):
            key = (json.dumps(given, sort_keys=True), _digest(Path(root), given.get("path")))
            if key[1] and key in ANSWERS:
                out += ANSWERS[key]
                continue
            resource = package.resources[index] if package else frictionless.Resource(given, basepath=root)
            found = [_error(resource.name, e) for task in resource.validate(checklist=checklist).tasks for e in task.errors]
            if key[1] and root not in json.dumps(found):
                keep(ANSWERS, key, found)
            out += found
    return out


def keep(kept: dict, key, value, most: int = MOST_ANSWERS) -> None:
    """``kept[key] = value``, the oldest entries let go beyond ``most``."""
    while len(kept) >= most:
        del kept[next(iter(kept))]
    kept[key] = value


def _digest(root: Path, path) -> str:
    """The SHA-256 of a resource's file, or "" when it cannot be read (then frictionless says why)."""
    try:
        return hashlib.sha256((root / path).read_bytes()).hexdigest() if isinstance(path, str) else ""
    except OSError:
        return ""


def _error(name: str, error) -> list:
    column = getattr(error, "field_name", None) or getattr(error, "label", None)
    if not column and getattr(error, "field_number", None):
        column = f"column {error.field_number}"
    return [name, getattr(error, "row_number", None), column, error.type, error.note or error.message]
