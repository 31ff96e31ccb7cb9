"""Merge the curators' English (``translations/en.json``) into the tables and their schemas.

Every table with a Chinese ``quote``, ``relationship``, ``caption`` or ``claim`` column gets
``quote_en`` (right after ``quote``), ``relationship_en``, ``caption_en`` or ``claim_en``,
filled from the JSON, and its Table Schema the matching field. Every other byte of the files
stays as it was. A text the JSON does not hold (a row added since), or an English text that
drops or adds a number (``sensetime_data.translation``), is listed with its file and line, and
then nothing is written and the exit status is 1.

    python translations/merge.py [--root DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

from sensetime_data.translation import added_numbers, missing_numbers

HERE = Path(__file__).resolve().parent
COLUMNS = ("quote", "relationship", "caption", "claim")
DESCRIPTION = (
    "The curators' English translation of `{name}`, for readers without Chinese: a translation, not the "
    "source (cite `{name}`). Figures are kept as printed, with the English scale in parentheses "
    "(47亿元 (RMB 4.7 billion)); every number of `{name}` is in it and it adds none."
)


def english_field(chinese: dict) -> dict:
    """The Table Schema field of the translation of a Chinese field: required where it is."""
    name = chinese["name"]
    field = {"name": f"{name}_en", "type": "string", "description": DESCRIPTION.format(name=name)}
    constraints = {k: v for k, v in chinese.get("constraints", {}).items() if k in ("required", "pattern")}
    if constraints:
        field["constraints"] = constraints
    return field


def merge_schema(schema: dict, columns: list[str]) -> dict:
    fields = []
    names = {f["name"] for f in schema["fields"]}
    for f in schema["fields"]:
        fields.append(f)
        if f["name"] in columns and f"{f['name']}_en" not in names:
            fields.append(english_field(f))
    return {**schema, "fields": fields}


def merge_csv(text: str, columns: list[str], english: dict, where: str) -> tuple[str, list[str], set]:
    """The CSV with the translation columns added or filled, its problems, and the (column, text) pairs used."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows, lines = [], []
    line = 1
    for row in reader:
        rows.append(row)
        lines.append(line)
        line = reader.line_num + 1
    header, problems, used = rows[0], [], set()
    for column in columns:
        zh = header.index(column)
        if f"{column}_en" not in header:
            for row in rows:
                row[zh + 1:zh + 1] = [f"{column}_en" if row is header else ""]
        en = header.index(f"{column}_en")
        for row, line in zip(rows[1:], lines[1:], strict=False):
            text_zh = row[zh] if zh < len(row) else ""
            if not text_zh:
                continue
            if text_zh not in english.get(column, {}):
                if not row[en]:
                    problems.append(f"{where}:{line}: {column}: no English in the JSON: {text_zh!r}")
                continue
            row[en] = english[column][text_zh]
            used.add((column, text_zh))
            for kind, numbers in (("drops", missing_numbers(text_zh, row[en])), ("adds", added_numbers(text_zh, row[en]))):
                if numbers:
                    problems.append(f"{where}:{line}: {column}_en: {kind} {', '.join(numbers)}: {row[en]!r}")
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)  # what csv.DictWriter(..., lineterminator="\n") writes
    return out.getvalue(), problems, used


def merge(root: Path, english: dict) -> tuple[dict[Path, str], list[str], set]:
    """The new text of each file to change, the problems found, and the (column, text) pairs used."""
    package = json.loads((root / "datapackage.json").read_text("utf-8"))
    outputs, problems, used = {}, [], set()
    for resource in package["resources"]:
        schema_path, csv_path = root / resource["schema"], root / resource["path"]
        schema = json.loads(schema_path.read_text("utf-8"))
        columns = [f["name"] for f in schema["fields"] if f["name"] in COLUMNS]
        if not columns:
            continue
        new_schema = merge_schema(schema, columns)
        outputs[schema_path] = json.dumps(new_schema, ensure_ascii=False, indent=2) + "\n"
        text, found, pairs = merge_csv(csv_path.read_text("utf-8"), columns, english, resource["path"])
        outputs[csv_path] = text
        problems += found
        used |= pairs
    return outputs, problems, used


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=HERE.parent, help="the project: datapackage.json, tables/, schemas/")
    parser.add_argument("--json", type=Path, default=HERE / "en.json", help="the translations")
    args = parser.parse_args(argv)
    english = json.loads(args.json.read_text("utf-8"))
    outputs, problems, used = merge(args.root, english)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(f"{len(problems)} problems: nothing written; add or fix the English in {args.json}", file=sys.stderr)
        return 1
    changed = 0
    for path, text in outputs.items():
        if path.read_text("utf-8") != text:
            path.write_text(text, "utf-8", newline="")
            changed += 1
            print(f"updated {path.relative_to(args.root)}")
    unused = sum(len(texts) for texts in english.values()) - len(used)
    print(f"{changed} files updated; {len(used)} texts translated" + (f"; {unused} entries of the JSON unused" if unused else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
