"""The source texts: where they are, the one normalisation quotes are checked with, and hashes.

The texts are inputs to curation, not part of the package. They are read from the
directory named by ``SENSETIME_DATA_SEEDS``, else from ``../shared/seeds`` beside the
project. Only when nothing is named and that directory is absent are the quote checks
skipped (and say so); a directory that is named is used, and must hold every text.
"""

from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

SEEDS_ENV = "SENSETIME_DATA_SEEDS"

# Elements that start a new line of text when rendered: their tags separate words.
BLOCK_TAGS = frozenset(
    "address article aside blockquote br center dd details dialog div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table tbody td tfoot th thead tr ul".split()
)
HIDDEN_TAGS = frozenset({"script", "style", "template", "title", "head"})  # text a reader never sees
_SPACE = re.compile(r"\s+")
_MARKUP = re.compile(r"<[A-Za-z/!][^>]*>?|&(?:#\d+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);?")


class _Visible(HTMLParser):
    """The text a browser shows: block tags become a space, inline tags vanish, entities decoded."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in HIDDEN_TAGS:
            self.hidden += 1
        elif tag in BLOCK_TAGS:
            self.parts.append(" ")

    def handle_startendtag(self, tag, attrs):
        if tag in BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in HIDDEN_TAGS:
            self.hidden = max(0, self.hidden - 1)
        elif tag in BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


@lru_cache(maxsize=1 << 16)  # quotes and cells are folded by several rules and the ledger
def fold(text: str) -> str:
    """The visible text, whitespace folded: what quotes are compared as, everywhere.

    Block tags (``p``, ``div``, ``br``, ``li``, ``td``, ...) become a space, inline tags
    (``strong``, ``span``, ``a``, ...) and comments vanish, entities are decoded, and runs
    of whitespace become one space.

    >>> fold("<p>收入<strong>47</strong>亿元</p><p>(同比&nbsp;  -19%)</p>")
    '收入47亿元 (同比 -19%)'
    """
    if "<" in text or "&" in text:
        parser = _Visible()
        parser.feed(text)
        parser.close()
        text = "".join(parser.parts)
    return _SPACE.sub(" ", text).strip()


def markup(text: str) -> str | None:
    """The first tag or entity in a text that should be visible text only, or None.

    >>> markup('<img src=x onerror=alert(1)>47亿元'), markup("R&D 30.6亿元"), markup("<1%")
    ('<img src=x onerror=alert(1)>', None, None)
    """
    if fold(text) == _SPACE.sub(" ", text).strip():
        return None
    m = _MARKUP.search(text)
    return m.group() if m else text[:40]


def seeds_dir(root: Path) -> Path | None:
    """The directory of the source texts: the one ``SENSETIME_DATA_SEEDS`` names, whether or
    not it exists (a named directory is never skipped), else ``../shared/seeds`` when it exists."""
    env = os.environ.get(SEEDS_ENV)
    if env:
        return Path(env)
    default = Path(root).resolve().parent / "shared" / "seeds"
    return default if default.is_dir() else None


def read_texts(sources: list[dict], seeds: Path) -> tuple[dict[str, str], list[str]]:
    """Folded text of each source, by source_id, and a problem line per file missing or changed
    (each starts with the source_id and a colon)."""
    if not seeds.is_dir():
        return {}, [f"{seeds} is not a directory: it must hold the {len(sources)} source texts"]
    texts, problems = {}, []
    for s in sources:
        path = seeds / s["file"]
        if Path(s["file"]).name != s["file"] or s["file"] in (".", ".."):
            problems.append(f"{s['source_id']}: file {s['file']!r} must be a file name in the seeds directory")
        elif not path.is_file():
            problems.append(f"{s['source_id']}: {path} not found")
        else:
            try:
                raw = path.read_bytes()
            except OSError as e:
                problems.append(f"{s['source_id']}: {path} cannot be read: {e.strerror}")
                continue
            if hashlib.sha256(raw).hexdigest() != s["sha256"]:
                problems.append(f"{s['source_id']}: {path} does not match its sha256 {s['sha256'][:12]}…")
            else:
                texts[s["source_id"]] = fold(raw.decode("utf-8"))
    return texts, problems
