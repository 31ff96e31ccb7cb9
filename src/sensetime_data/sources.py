"""The source texts: where they are, the one normalisation quotes are checked with, and hashes.

The texts are inputs to curation, not part of the package. They are read from the
directory named by ``SENSETIME_DATA_SEEDS``, else from ``../shared/seeds`` beside the
project. Without them, quote checks are skipped (and say so); everything else works.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
from pathlib import Path

SEEDS_ENV = "SENSETIME_DATA_SEEDS"

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """Normalise text for quote matching: drop HTML tags, unescape entities, fold whitespace.

    >>> fold("<p>收入47亿元</p>\\n\\n(同比   -19%)")
    '收入47亿元 (同比 -19%)'
    """
    text = html.unescape(_TAG.sub("", text))
    return _SPACE.sub(" ", text).strip()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def seeds_dir(root: Path) -> Path | None:
    """The directory holding the raw source files, or None when there is none."""
    env = os.environ.get(SEEDS_ENV)
    candidates = [Path(env)] if env else [root.parent / "shared" / "seeds"]
    return next((p for p in candidates if p.is_dir()), None)


def read_texts(sources: list[dict], seeds: Path) -> tuple[dict[str, str], list[str]]:
    """Folded text of each source, by source_id, and a problem line per file missing or changed."""
    texts, problems = {}, []
    for s in sources:
        path = seeds / s["file"]
        if not path.exists():
            problems.append(f"{s['source_id']}: {path} not found")
        elif sha256(path) != s["sha256"]:
            problems.append(f"{s['source_id']}: {path} does not match its sha256 {s['sha256'][:12]}…")
        else:
            texts[s["source_id"]] = fold(path.read_text("utf-8"))
    return texts, problems
