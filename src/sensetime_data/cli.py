"""The ``sensetime-data`` command: argument parsing only; the work is in validate, build, serve."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from . import __version__
from .schema import default_root

# The extra each command needs beyond the runtime install (pyproject.toml, [project.optional-dependencies]).
NEEDS = {"validate": "curate", "build": "curate", "ledger": "curate", "docs": "curate", "serve": "site"}


def _report(report) -> int:
    for problem in report.problems:
        print(problem)
    for notice in report.notices:
        print(f"note: {notice}")
    for source in report.ledger:
        print(source)
    print(report.summary())
    return 0 if report.ok else 1


def cmd_validate(args) -> int:
    from .validate import validate

    report = validate(args.root)
    if args.json:
        import json

        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
        return 0 if report.ok else 1
    return _report(report)


def cmd_build(args) -> int:
    from .build import OutputError, build

    try:
        report = build(args.root, args.out)
    except OutputError as e:
        print(f"build: {e}")
        return 1
    code = _report(report)
    print(f"wrote {args.out or Path(args.root) / 'build'}" if code == 0 else "build failed; build/ left as it was")
    return code


def cmd_serve(args) -> int:
    from .serve import is_stale, serve

    out = Path(args.out or Path(args.root) / "build")
    if is_stale(Path(args.root), out):
        print("building first: the build is missing or older than the tables")
        if cmd_build(args):
            return 1
        from .structure import stop

        stop()  # the server validates nothing: its frictionless process would only sit in memory
    return serve(out, args.port)


def cmd_ledger(args) -> int:
    from .ledger import context
    from .validate import check

    validated = check(args.root)
    report = validated.report
    if not validated.texts:
        print("ledger: the source texts were not found (set SENSETIME_DATA_SEEDS to their directory)")
        return 1
    known = [c.source_id for c in report.ledger]
    if args.source and args.source not in known:
        print(f"ledger: unknown source {args.source!r}; sources are: {', '.join(known)}")
        return 1
    for problem in report.problems:
        print(problem)
    open_mentions = 0
    for cov in report.ledger:
        if args.source in (None, cov.source_id):
            print(cov)
            for m in cov.missing:
                print(f"  {cov.source_id} @{m.start}: {m.text}  …{context(validated.texts[cov.source_id], m)}…")
            open_mentions += len(cov.missing)
    print(f"{open_mentions} numeric mention(s) not accounted for: add a fact row whose quote states each, or an exclusion")
    if args.html:
        from .ledger_html import write_pages
        from .sources import seeds_dir

        seeds = seeds_dir(Path(args.root))
        assert seeds is not None  # the texts were read from it
        counts = write_pages(validated, Path(args.html), seeds, args.datasette)
        print(f"wrote {Path(args.html) / 'index.html'} and a page for each of {len(counts)} sources (the source texts: keep them private)")
    return 1 if open_mentions or report.problems else 0


def cmd_info(args) -> int:
    import json

    from . import api

    root = Path(args.root)
    info = root / "build" / "build.json"
    if not info.exists():
        print(f"no build in {root / 'build'}: run `sensetime-data build`")
        return 1
    built = json.loads(info.read_text("utf-8"))
    print(f"sensetime-data {__version__}, data in {root}")
    print(f"built {built['built_at']} from inputs sha256 {built['inputs_sha256'][:16]}…")
    if "quotes_checked" in built:  # recorded by the wheel's build hook
        print("quotes checked against the source texts" if built["quotes_checked"] else
              "quotes not checked against the source texts (they were not found when the wheel was built)")
    print("\ntables and views:")
    for row in api.tables(root=root).itertuples():
        print(f"  {row.name:<22}{row.rows:>6}  {row.title}")
    print("\nsources:")
    query = "select source_id, published, sha256, title_en from sources order by published"
    for row in api.sql(query, root=root).itertuples():
        print(f"  {row.source_id:<18}{row.published:<12}{row.sha256}  {row.title_en}")
    return 0


def cmd_docs(args) -> int:
    from .build import write_descriptor
    from .docs import DICTIONARY, write_dictionary, write_readme

    validated, changed = write_descriptor(Path(args.root))
    if not validated.report.ok:
        return _report(validated.report)
    print("datapackage.json updated" if changed else "datapackage.json already up to date")
    print("README.md updated" if write_readme(Path(args.root), validated) else "README.md already up to date")
    changed = write_dictionary(Path(args.root), validated)
    print(f"{DICTIONARY} updated" if changed else f"{DICTIONARY} already up to date")
    return 0


def missing_extra(extra: str) -> bool:
    """True when a distribution the extra lists is not installed (read from the package's own metadata)."""
    from importlib import metadata

    try:
        requires = metadata.requires("sensetime-data") or []
    except metadata.PackageNotFoundError:
        return False  # run from a source tree that is not installed: nothing to go by
    for requirement in requires:
        spec, _, marker = requirement.partition(";")
        if not re.search(rf"""extra\s*==\s*['"]{extra}['"]""", marker):
            continue
        found = re.match(r"\s*([A-Za-z0-9._-]+)\s*(?:\[([^]]*)\])?", spec)
        if found is None:
            continue
        name, extras = found.groups()
        if name == "sensetime-data":  # an extra that brings another (site brings curate)
            if any(missing_extra(e.strip()) for e in (extras or "").split(",") if e.strip()):
                return True
            continue
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    """The command line; a reader that stops early (`| head`) ends it quietly."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # inside the try: a closed pipe found at exit would print a traceback
        return code
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to write, and no error at exit
        return 1


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="sensetime-data", description="SenseTime disclosures as a validated dataset.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--root", default=str(default_root()), help="the package directory (datapackage.json, tables/, schemas/)")
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check every table; one line per problem; exit 1 on any")
    v.add_argument("--json", action="store_true", help="print the results as JSON: problems, notices, counts, coverage")
    v.set_defaults(fn=cmd_validate)
    b = sub.add_parser("build", help="validate, then write build/ (SQLite, Parquet, Datasette metadata)")
    b.add_argument("--out", help="output directory (default: build/ in the package directory)")
    b.set_defaults(fn=cmd_build)
    s = sub.add_parser("serve", help="build when needed, then serve with Datasette on 127.0.0.1")
    s.add_argument("--port", type=int, default=8001, help="port (0 picks a free one)")
    s.add_argument("--out", help="build directory to serve")
    s.set_defaults(fn=cmd_serve)
    ledger = sub.add_parser("ledger", help="list the numeric mentions of the sources that no row or exclusion accounts for")
    ledger.add_argument("--source", help="only this source_id")
    ledger.add_argument("--html", metavar="DIR", help="also write one page per source with every numeric mention marked")
    ledger.add_argument("--datasette", default="http://127.0.0.1:8001", help="where the pages link fact rows (default: %(default)s)")
    ledger.set_defaults(fn=cmd_ledger)
    sub.add_parser("info", help="version, build time, tables with row counts, sources with their sha256").set_defaults(
        fn=cmd_info)
    sub.add_parser("docs", help="regenerate datapackage.json, the table list in README.md and docs/data-dictionary.md"
                   ).set_defaults(fn=cmd_docs)
    args = parser.parse_args(argv)
    extra = NEEDS.get(args.command)
    if extra and missing_extra(extra):
        print(f"sensetime-data {args.command} needs the {extra} extra: pip install 'sensetime-data[{extra}]'",
              file=sys.stderr)
        return 1
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
