"""A corpus of bad inputs: each is rejected by `build` with one line naming the file, the
line, the column and the rule, never a traceback, and `build/` stays byte-identical.

Each case breaks a copy of the package one way, as a curator's slip, a tool's mangling or
an attempt to loosen the checks would: a schema that drops a field, a key or an enum, a
quote with markup in it, a seeds directory that is named but wrong, a value outside its
metric's sign domain, a period whose code and dates disagree. `build` runs `validate` first,
so one build per case covers both commands. Each case runs `build` once: in-process through the
CLI's `main`, or for the few in THROUGH_THE_SCRIPT through the installed console script, whose
exit status and output are then the user's own.
"""

import json
import shutil
import subprocess

import pytest
from conftest import ROOT, tree_digest
from helpers import CITY_SHARE_1H2023, REVENUE_FY2022, delete, duplicate, edit, installed, read_rows, run, write_rows

from sensetime_data.schema import line_of
from sensetime_data.sources import seeds_dir

pytestmark = pytest.mark.slow

CARDS = {"scope": "training", "metric": "cards_in_one_job"}
GROWTH_1H2022 = {"metric": "revenue_growth", "period": "1H2022", "source_id": "deck_1h2023"}
RD_EXPENSE_GLH = {"metric": "rd_expense", "period": "FY2021", "source_id": "gelonghui_fy2021"}
CV_RANK_GLH = {"metric": "cv_market_share_rank", "source_id": "gelonghui_fy2021"}
RANGE_ROW = {"metric": "supportable_model_parameters", "source_id": "deck_fy2022"}
COCKPIT_2025 = {"market": "china_smart_cockpit", "metric": "market_size"}
AIDC_EXCERPT = {"source_id": "shzqb_aidc", "excerpt": "1月21日晚间"}
FIN = "tables/financials.csv"


def fin(**changes):
    return lambda root: edit(root, "financials", REVENUE_FY2022, **changes)


def row(table, match, **changes):
    return lambda root: edit(root, table, match, **changes)


def text_edit(path, change):
    """Apply ``change`` to the bytes of a file; returns a function of the package root."""
    def breaker(root):
        file = root / path
        file.write_bytes(change(file.read_bytes()))
    return breaker


def schema_edit(name, change, needle=None):
    """Change ``schemas/NAME.json`` as JSON; returns the line of ``needle`` in the written file."""
    def breaker(root):
        path = root / "schemas" / f"{name}.json"
        schema = json.loads(path.read_text("utf-8"))
        change(schema)
        path.write_text(json.dumps(schema, ensure_ascii=False, indent=2), "utf-8")
        return line_of(path, needle) if needle else None
    return breaker


def field_of(schema, name):
    return next(f for f in schema["fields"] if f["name"] == name)


def set_type(field, kind):
    return lambda schema: field_of(schema, field).update(type=kind)


def set_field(name, field, needle=None, **options):
    return schema_edit(name, lambda s: field_of(s, field).update(options), needle or f'"name": "{field}"')


def drop_constraint(name, field, key):
    return schema_edit(name, lambda s: field_of(s, field)["constraints"].pop(key), f'"name": "{field}"')


def drop_field(name, field):
    """Remove a field from a schema and its column from the CSV, as a curator loosening the checks would."""
    def breaker(root):
        schema_edit(name, lambda s: s.update(fields=[f for f in s["fields"] if f["name"] != field]))(root)
        path = root / "tables" / f"{name}.csv"
        rows = read_rows(path)
        for r in rows:
            del r[field]
        write_rows(path, rows)
        return line_of(root / "schemas" / f"{name}.json", '"fields"')
    return breaker


def drop_foreign_key(name, resource):
    return schema_edit(name, lambda s: s.update(
        foreignKeys=[k for k in s["foreignKeys"] if k["reference"]["resource"] != resource]), '"foreignKeys"')


def then(*breakers):
    """Several edits in turn; the last one's line."""
    def breaker(root):
        return [b(root) for b in breakers][-1]
    return breaker


def package_edit(change):
    def breaker(root):
        path = root / "datapackage.json"
        package = json.loads(path.read_text("utf-8"))
        change(package)
        path.write_text(json.dumps(package, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return breaker


def outside_link(path):
    """Replace a package file by a symbolic link to a copy of it outside the package."""
    def breaker(root):
        target = root.parent / "outside" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(root / path, target)
        (root / path).symlink_to(target)
    return breaker


def add_row(table, **cells):
    def breaker(root):
        path = root / "tables" / f"{table}.csv"
        rows = read_rows(path)
        rows.append({k: cells.get(k, "") for k in rows[0]})
        write_rows(path, rows)
        return len(rows) + 1
    return breaker


def seeds(make):
    """Name a seeds directory built by ``make(directory)``: the breaker returns the environment to set."""
    def breaker(root):
        directory = root.parent / "seeds"
        directory.mkdir()
        make(directory)
        return {"SENSETIME_DATA_SEEDS": str(directory)}
    return breaker


def copy_seeds(skip=(), change=None):
    def make(directory):
        for path in sorted(seeds_dir(ROOT).glob("*.txt")):
            if path.name not in skip:
                shutil.copy(path, directory / path.name)
        if change:
            change(directory)
    return make


# name: (breaker(root) -> line, env dict or None, file, line (None: the breaker's), column, rule)
CASES = {
    # --- types, keys and vocabularies (frictionless, pandera) ---
    "wrong type": (fin(value="3800亿"), FIN, None, "value", "type-error"),
    "thousands separator in a number": (fin(value="3,800"), FIN, None, "value", "type-error"),
    "empty required field": (fin(quote=""), FIN, None, "quote", "constraint-error"),
    "duplicate primary key": (lambda r: duplicate(r, "financials", REVENUE_FY2022), FIN, None,
                              "metric+period+source_id", "primary-key"),
    "dangling foreign key": (fin(source_id="reuters_fy2022"), FIN, None, "source_id", "foreign_key"),
    "unknown unit": (fin(unit="USD_million"), FIN, None, "unit", "foreign_key"),
    "unknown period": (fin(period="FY2099"), FIN, None, "period", "foreign_key"),
    "unknown comparator": (fin(comparator="≥"), FIN, None, "comparator", "constraint-error"),
    "unknown period basis": (fin(period_basis="guessed"), FIN, None, "period_basis", "constraint-error"),
    "unknown segment": (row("segment_results", CITY_SHARE_1H2023, segment_id="smart_home"),
                        "tables/segment_results.csv", None, "segment_id", "foreign_key"),
    "unknown metric": (fin(metric="ebitda"), FIN, None, "metric", "foreign_key"),
    "bad boolean": (fin(ambiguous="yes"), FIN, None, "ambiguous", "type-error"),
    "bad date": (row("periods", {"period": "FY2022"}, end="2022/12/31"), "tables/periods.csv", None, "end", "type-error"),
    "exclusion reason not in the list": (row("exclusions", AIDC_EXCERPT, reason="boring"), "tables/exclusions.csv", None,
                                         "reason", "constraint-error"),
    "metric without a sign domain": (row("metrics", {"metric": "revenue"}, sign=""), "tables/metrics.csv", None, "sign",
                                     "constraint-error"),
    "unknown sign domain": (row("metrics", {"metric": "revenue"}, sign="positive"), "tables/metrics.csv", None, "sign",
                            "constraint-error"),
    "growth of an unknown metric": (row("metrics", {"metric": "revenue_growth"}, growth_of="turnover"),
                                    "tables/metrics.csv", None, "growth_of", "foreign_key"),
    "duplicate lookup id": (lambda r: duplicate(r, "segments", {"segment_id": "smart_city"}), "tables/segments.csv", None,
                            "segment_id", "primary-key"),
    # --- values against their printed figure and each other (rules) ---
    "value contradicts as_reported": (fin(value="3600"), FIN, None, "as_reported", "as_reported_matches_value"),
    "as_reported not in the quote": (fin(as_reported="39 亿元", value="3900"), FIN, None, "as_reported",
                                     "as_reported_in_quote"),
    "shares not summing to 100": (row("segment_results", CITY_SHARE_1H2023, value="33", as_reported="33%"),
                                  "tables/segment_results.csv", None, "value", "shares_sum_to_100"),
    "value empty but not missing": (fin(value=""), FIN, None, "value", "value_empty_when_missing"),
    "a missing figure with a value": (fin(comparator="missing"), FIN, None, "value", "value_empty_when_missing"),
    "a stock under a flow period": (fin(metric="total_cash_reserves"), FIN, None, "period", "period_fits_metric"),
    "a negative count": (row("compute_capacity", CARDS, value="-4000"), "tables/compute_capacity.csv", None, "value",
                         "value_in_unit_range"),
    "a percent of 10 000": (row("segment_results", CITY_SHARE_1H2023, value="10000", as_reported="10000%",
                                quote="10000% 智慧城市"), "tables/segment_results.csv", None, "value",
                            "value_in_unit_range"),
    "a range without its high end": (row("compute_capacity", RANGE_ROW, value_high=""), "tables/compute_capacity.csv",
                                     None, "value_high", "value_high_only_for_ranges"),
    "a high end on an exact figure": (fin(value_high="3900"), FIN, None, "value_high", "value_high_only_for_ranges"),
    "an inferred period not flagged ambiguous": (fin(period_basis="inferred"), FIN, None, "period_basis",
                                                 "inferred_period_is_ambiguous"),
    "NaN": (fin(value="NaN"), FIN, None, "value", "finite"),
    "inf": (fin(value="inf"), FIN, None, "value", "finite"),
    "a number too large for SQLite": (fin(value="1e400"), FIN, None, "value", "finite"),
    "a spreadsheet formula": (fin(note='=HYPERLINK("http://example.com","x")'), FIN, None, "note", "formula"),
    "a command for a spreadsheet": (fin(note="+cmd|' /C calc'!A0"), FIN, None, "note", "formula"),
    # --- values that make no sense ---
    "negative revenue": (fin(value="-3800"), FIN, None, "value", "value_fits_sign"),
    "a fall in parentheses stored as a rise": (row("financials", GROWTH_1H2022, value="14.3"), FIN, None, "value",
                                               "value_fits_sign"),
    "a negative high end": (row("compute_capacity", RANGE_ROW, value="-1", value_high="-1"),
                            "tables/compute_capacity.csv", None, "value", "value_fits_sign"),
    "a fact dated after its source": (fin(period="FY2023"), FIN, None, "period", "dated_after_source"),
    "a forecast whose note does not say so": (row("market_figures", COCKPIT_2025, note="ICVTank figure for 2025."),
                                              "tables/market_figures.csv", None, "period", "dated_after_source"),
    "a period that ends before it starts": (row("periods", {"period": "FY2022"}, start="2023-01-01"),
                                            "tables/periods.csv", None, "period", "period_matches_dates"),
    "a period code for a day that does not exist": (
        add_row("periods", period="2022-02-30", kind="date", start="2022-02-28", end="2022-02-28", label_en="x",
                label_zh="x"), "tables/periods.csv", None, "period", "period_matches_dates"),
    "a month that does not exist": (add_row("periods", period="2023-13", kind="month", start="2023-12-01",
                                            end="2023-12-31", label_en="x", label_zh="x"),
                                    "tables/periods.csv", None, "period", "period_matches_dates"),
    "a fiscal year with another year's dates": (row("periods", {"period": "FY2019"}, start="2018-01-01", end="2018-12-31"),
                                                "tables/periods.csv", None, "period", "period_matches_dates"),
    "a period of the wrong kind": (row("periods", {"period": "1H2022"}, kind="quarter"), "tables/periods.csv", None,
                                   "period", "period_matches_dates"),
    "a span that ends before it starts": (add_row("periods", period="FY2025/FY2020", kind="span", start="2025-01-01",
                                                  end="2020-12-31", label_en="x", label_zh="x"),
                                          "tables/periods.csv", None, "period", "period_matches_dates"),
    "a publication date that does not exist": (row("sources", {"source_id": "zxjw_fy2021"}, published="2022-02-30"),
                                               "tables/sources.csv", None, "published", "published_is_a_date"),
    "full-width digits in a missing figure": (fin(value="９９.９", comparator="missing"), FIN, None, "value", "fullwidth"),
    "full-width digits in a period code": (fin(period="FY２０２２"), FIN, None, "period", "fullwidth"),
    "a NUL byte": (fin(note="FY2022\x00 figure"), FIN, None, "note", "control"),
    "an escape character": (fin(quote="38 亿元 集团营业收入\x1b[31m"), FIN, None, "quote", "control"),
    "a key with a trailing space": (fin(unit="CNY_million "), FIN, None, "unit", "spaces"),
    "a number with spaces around it": (fin(value=" 3800"), FIN, None, "value", "spaces"),
    "a number with an underscore": (fin(value="3_800"), FIN, None, "value", "number"),
    "a name that differs only in case": (add_row("benchmarks", benchmark_id="mmlu_again", name="mmlu"),
                                         "tables/benchmarks.csv", None, "name", "case_duplicate"),
    "a unit that differs only in case": (add_row("units", unit="pflops", label_en="x", label_zh="x", description="x"),
                                         "tables/units.csv", None, "unit", "case_duplicate"),
    # --- provenance ---
    "quote not in its source": (fin(quote="38 亿元 集团营业收入翻倍"), FIN, None, "quote", "quote_in_source"),
    "quote from another source": (fin(quote="按年同比增长36.4%至47亿元", as_reported="47亿元", value="4700"), FIN, None,
                                  "quote", "quote_in_source"),
    "markup before a real quote": (fin(quote="<img src=x onerror=alert(1)>38 亿元 集团营业收入"), FIN, None, "quote",
                                   "quote_is_visible_text"),
    "an entity in a quote": (fin(quote="38&nbsp;亿元 集团营业收入"), FIN, None, "quote", "quote_is_visible_text"),
    "a comment in a quote": (fin(quote="38 亿元 <!-- x -->集团营业收入"), FIN, None, "quote", "quote_is_visible_text"),
    "markup in a model's quote": (row("models", {"model_id": "internlm_7b"}, quote="<b>开源InternLM-7B</b>"),
                                  "tables/models.csv", None, "quote", "quote_is_visible_text"),
    "markup in an exclusion excerpt": (row("exclusions", AIDC_EXCERPT, excerpt="<i>1月21日晚间</i>"),
                                       "tables/exclusions.csv", None, "excerpt", "excerpt_is_visible_text"),
    "a quote across a paragraph break written without the break": (
        row("financials", CV_RANK_GLH,
            quote="连续三年蝉联中国计算机视觉应用市场份额第一(根据IDC及沙利文报告)。如何走出象牙塔"),
        FIN, None, "quote", "quote_in_source"),
    "a quote that is only its figure": (fin(quote="38 亿元"), FIN, None, "quote", "quote_says_more"),
    "a quote that occurs twice, unexplained": (row("financials", RD_EXPENSE_GLH, note="Stated in the lede and the body."),
                                               FIN, None, "quote", "quote_is_unique"),
    "an exclusion not in its source": (row("exclusions", AIDC_EXCERPT, excerpt="1月22日晚间"), "tables/exclusions.csv",
                                       None, "excerpt", "excerpt_in_source"),
    "a partner's quote not in its source": (row("automotive_partners", {"partner_id": "byd", "source_id": "deck_1h2023"},
                                                quote="BYD 比亚迪集团"), "tables/automotive_partners.csv", None, "quote",
                                            "quote_in_source"),
    "a deleted fact row": (lambda r: delete(r, "financials", REVENUE_FY2022), "tables/exclusions.csv", 1, "-", "ledger"),
    "an emptied fact table": (text_edit(FIN, lambda b: b[: b.index(b"\n") + 1]), "tables/exclusions.csv", 1, "-",
                              "ledger"),
    "a deleted exclusion": (lambda r: delete(r, "exclusions", AIDC_EXCERPT), "tables/exclusions.csv", 1, "-", "ledger"),
    "a seeds directory named but missing": (lambda r: {"SENSETIME_DATA_SEEDS": str(r.parent / "no-such-dir")},
                                            "tables/sources.csv", 1, "file", "source_text"),
    "a seeds directory named that is a file": (lambda r: {"SENSETIME_DATA_SEEDS": str(r / "datapackage.json")},
                                               "tables/sources.csv", 1, "file", "source_text"),
    "a seeds directory without one text": (seeds(copy_seeds(skip=("004_61eefc76ae3f22a9.txt",))), "tables/sources.csv", 6,
                                           "file", "source_text"),
    "a seeds directory with a changed text": (
        seeds(copy_seeds(change=lambda d: (d / "000_b1fa125680e2c868.txt").write_text("38 亿元", "utf-8"))),
        "tables/sources.csv", 2, "file", "source_text"),
    "a source file outside the seeds directory": (
        row("sources", {"source_id": "zxjw_fy2021"}, file="../seeds/000_b1fa125680e2c868.txt"), "tables/sources.csv", 2,
        "file", "source_text"),
    "a source hash that does not match": (row("sources", {"source_id": "shzqb_aidc"}, sha256="0" * 64),
                                          "tables/sources.csv", None, "file", "source_text"),
    # --- the schemas cannot be loosened: the meta-schema ---
    "quote deleted from schema and table": (then(fin(value="999999"), drop_field("financials", "quote")),
                                            "schemas/financials.json", None, "quote", "meta-schema"),
    "period basis deleted from schema and table": (drop_field("compute_capacity", "period_basis"),
                                                   "schemas/compute_capacity.json", None, "period_basis", "meta-schema"),
    "a fact column deleted to switch the rules off": (then(fin(value="-999999"), drop_field("financials", "quote_en")),
                                                      "schemas/financials.json", None, "quote_en", "meta-schema"),
    "sources foreign key dropped": (then(fin(source_id="ghost_source", quote="invented 38 亿元 quote"),
                                         drop_foreign_key("financials", "sources")),
                                    "schemas/financials.json", None, "source_id", "meta-schema"),
    "models foreign key dropped": (drop_foreign_key("model_facts", "models"), "schemas/model_facts.json", None,
                                   "model_id", "meta-schema"),
    "metrics foreign key dropped": (drop_foreign_key("segment_results", "metrics"), "schemas/segment_results.json", None,
                                    "metric", "meta-schema"),
    "comparator enum removed": (drop_constraint("financials", "comparator", "enum"), "schemas/financials.json", None,
                                "comparator", "meta-schema"),
    "comparator enum widened": (set_field("model_benchmarks", "comparator", constraints={
        "required": True, "enum": ["=", ">", "≈", "<", "range", "missing", "≥"]}), "schemas/model_benchmarks.json", None,
        "comparator", "meta-schema"),
    "period pattern removed": (drop_constraint("segment_results", "period", "pattern"), "schemas/segment_results.json",
                               None, "period", "meta-schema"),
    "source id pattern removed": (drop_constraint("sources", "source_id", "pattern"), "schemas/sources.json", None,
                                  "source_id", "meta-schema"),
    "a model id pattern removed": (drop_constraint("model_facts", "model_id", "pattern"), "schemas/model_facts.json",
                                   None, "model_id", "meta-schema"),
    "quote no longer required": (set_field("market_figures", "quote", constraints={"minLength": 4}),
                                 "schemas/market_figures.json", None, "quote", "meta-schema"),
    "quote minimum length lowered": (set_field("model_facts", "quote", constraints={
        "required": True, "minLength": 1, "pattern": "^[^\\r\\n]*$"}), "schemas/model_facts.json", None, "quote",
        "meta-schema"),
    "ambiguous turned into text": (schema_edit("automotive_kpis", set_type("ambiguous", "string"), '"name": "ambiguous"'),
                                   "schemas/automotive_kpis.json", None, "ambiguous", "meta-schema"),
    "schema type disagrees with the data": (schema_edit("financials", set_type("value", "integer"), '"name": "value"'),
                                            "schemas/financials.json", None, "value", "meta-schema"),
    "observations removed from a fact table": (schema_edit("financials", lambda s: s.pop("observations"), '"fields"'),
                                               "schemas/financials.json", 1, "-", "meta-schema"),
    "a fact key without the source": (schema_edit("financials", lambda s: s.update(primaryKey=["metric", "period"]),
                                                  '"primaryKey"'), "schemas/financials.json", None, "metric+period",
                                      "meta-schema"),
    "sign column removed from metrics": (drop_field("metrics", "sign"), "schemas/metrics.json", None, "sign",
                                         "meta-schema"),
    "a lookup table's key changed": (schema_edit("units", lambda s: s.update(primaryKey=["label_en"]), '"primaryKey"'),
                                     "schemas/units.json", None, "label_en", "meta-schema"),
    "period dates turned into text": (schema_edit("periods", set_type("start", "string"), '"name": "start"'),
                                      "schemas/periods.json", None, "start", "meta-schema"),
    "exclusion reasons left open": (drop_constraint("exclusions", "reason", "enum"), "schemas/exclusions.json", None,
                                    "reason", "meta-schema"),
    "a fact table deleted": (then(lambda r: (r / "schemas" / "market_figures.json").unlink(),
                                  lambda r: (r / "tables" / "market_figures.csv").unlink()),
                             "schemas/market_figures.json", 0, "-", "meta-schema"),
    "trueValues": (set_field("financials", "ambiguous", trueValues=["yes"]), "schemas/financials.json", None, "ambiguous",
                   "meta-schema"),
    "a date format": (set_field("periods", "start", format="%d/%m/%Y"), "schemas/periods.json", None, "start",
                      "meta-schema"),
    "groupChar": (set_field("financials", "value", groupChar=","), "schemas/financials.json", None, "value",
                  "meta-schema"),
    "missingValues": (schema_edit("units", lambda s: s.update(missingValues=["", "-"]), '"missingValues"'),
                      "schemas/units.json", None, "-", "meta-schema"),
    "an unknown constraint": (set_field("segments", "name_en", constraints={" required": True}),
                              "schemas/segments.json", None, "name_en", "meta-schema"),
    "an invalid pattern": (set_field("segments", "name_en", constraints={"required": True, "pattern": "[a-z"}),
                           "schemas/segments.json", None, "name_en", "meta-schema"),
    "a field defined twice": (schema_edit("segments", lambda s: s["fields"].append(dict(s["fields"][1])),
                                          '"name": "name_en"'), "schemas/segments.json", None, "name_en", "meta-schema"),
    "a primary key naming a missing field": (schema_edit("units", lambda s: s.update(primaryKey=["nope"]), '"primaryKey"'),
                                             "schemas/units.json", None, "nope", "meta-schema"),
    "a label column naming a missing field": (schema_edit("units", lambda s: s.update(label_column=["nope", "label_zh"]),
                                                          '"label_column"'), "schemas/units.json", None, "nope",
                                              "meta-schema"),
    "a facet naming a missing field": (schema_edit("units", lambda s: s.update(facets=["nope"]), '"facets"'),
                                       "schemas/units.json", None, "nope", "meta-schema"),
    "a sort naming a missing field": (schema_edit("metrics", lambda s: s.update(sort="nope"), '"sort"'),
                                      "schemas/metrics.json", None, "nope", "meta-schema"),
    "a foreign key to a missing table": (schema_edit("models", lambda s: s["foreignKeys"][0]["reference"].update(
        resource="publishers"), '"resource": "publishers"'), "schemas/models.json", None, "source_id", "meta-schema"),
    "a foreign key without a reference": (schema_edit("models", lambda s: s["foreignKeys"][0].pop("reference"),
                                                      '"foreignKeys"'), "schemas/models.json", None, "-", "meta-schema"),
    "a broken view expression": (schema_edit("financials", lambda s: s["observations"].update(subject="no_such_col"),
                                             '"subject"'), "schemas/financials.json", None, "observations", "meta-schema"),
    "a second statement in a view expression": (
        schema_edit("financials", lambda s: s["observations"].update(topic="'x'; drop table units"), '"topic"'),
        "schemas/financials.json", None, "observations", "meta-schema"),
    "an unknown schema option": (schema_edit("segments", lambda s: s.update(x_hidden=True), '"x_hidden"'),
                                 "schemas/segments.json", None, "-", "meta-schema"),
    "a field name that is not an identifier": (schema_edit("segments", lambda s: field_of(s, "description").update(
        name='desc"ription')),
                                               "schemas/segments.json", None, 'desc"ription', "meta-schema"),
    "a schema that is a list": (text_edit("schemas/units.json", lambda b: b"[" + b + b"]"), "schemas/units.json", 1, "-",
                                "json"),
    # --- files and the package descriptor ---
    "header typo": (text_edit(FIN, lambda b: b.replace(b"as_reported", b"as_reportd", 1)), FIN, 1, "as_reported",
                    "incorrect-label"),
    "a header with a space": (text_edit("tables/segments.csv", lambda b: b.replace(b"segment_id", b" segment_id", 1)),
                              "tables/segments.csv", 1, "segment_id", "incorrect-label"),
    "a duplicate header column": (text_edit(FIN, lambda b: b.replace(b",note\n", b",value\n", 1)), FIN, 1, "value",
                                  "duplicate-label"),
    "missing column": (text_edit("tables/units.csv", lambda b: b"\n".join(
        line.rsplit(b",", 1)[0] if line else line for line in b.split(b"\n"))), "tables/units.csv", 1, "maximum",
        "missing-label"),
    "extra column": (text_edit("tables/segments.csv", lambda b: b"\n".join(
        line + b",x" if line else line for line in b.split(b"\n"))), "tables/segments.csv", 1, "x", "extra-label"),
    "a row with too few cells": (text_edit("tables/segments.csv", lambda b: b.rstrip(b"\n") + b"\nsmart_x,Smart X\n"),
                                 "tables/segments.csv", 6, "name_zh", "missing-cell"),
    "a blank row": (text_edit("tables/segments.csv", lambda b: b.replace(b"\n", b"\n\n", 1)), "tables/segments.csv", 2,
                    "-", "blank-row"),
    "a cell over the CSV field limit": (fin(note="x" * 200_000), FIN, None, "-", "csv"),
    "GB18030 encoding": (text_edit("tables/segments.csv", lambda b: b.decode("utf-8").encode("gb18030")),
                         "tables/segments.csv", 2, "-", "encoding"),
    "truncated file": (text_edit(FIN, lambda b: b[: b.index(b"\n", len(b) // 2) + 40]), FIN, None, None, None),
    "empty file": (text_edit("tables/segments.csv", lambda b: b""), "tables/segments.csv", 1, "-", "empty"),
    "schema is not valid JSON": (text_edit("schemas/units.json", lambda b: b.replace(b'"fields"', b'fields', 1)),
                                 "schemas/units.json", None, "-", "json"),
    "schema with an unknown type": (schema_edit("units", set_type("description", "text"), '"name": "description"'),
                                    "schemas/units.json", None, "description", "field-error"),
    "missing table file": (lambda r: (r / "tables" / "model_facts.csv").unlink(), "datapackage.json", None, "path",
                           "resource_file"),
    "resource pointing to a missing file": (
        text_edit("datapackage.json", lambda b: b.replace(b'"tables/units.csv"', b'"tables/unit.csv"', 1)),
        "datapackage.json", None, "path", "resource_file"),
    "resource with an absolute path": (
        text_edit("datapackage.json", lambda b: b.replace(b'"tables/units.csv"', b'"/etc/passwd"', 1)),
        "datapackage.json", None, "path", "resource_path"),
    "resource path climbing out": (
        text_edit("datapackage.json", lambda b: b.replace(b'"tables/units.csv"', b'"../../units.csv"', 1)),
        "datapackage.json", None, "path", "resource_path"),
    "resource path that is a URL": (
        text_edit("datapackage.json", lambda b: b.replace(b'"schemas/units.json"', b'"https://example.com/u.json"', 1)),
        "datapackage.json", None, "schema", "resource_path"),
    "a table that is a link leading outside": (outside_link("tables/units.csv"), "tables/units.csv", 0, "-",
                                               "resource_path"),
    "a schema that is a link leading outside": (outside_link("schemas/segments.json"), "schemas/segments.json", 0, "-",
                                                "resource_path"),
    "a licence link that runs script": (package_edit(lambda p: p["licenses"][0].update(path="javascript:alert(1)")),
                                        "datapackage.json", None, "path", "link"),
    "a source link to a local file": (package_edit(lambda p: p["sources"][1].update(path="file:///etc/passwd")),
                                      "datapackage.json", None, "path", "link"),
    "a homepage that is a data URL": (package_edit(lambda p: p.update(homepage="data:text/html,<script>x</script>")),
                                      "datapackage.json", None, "homepage", "link"),
    "a source url that runs script": (row("sources", {"source_id": "zxjw_fy2021"}, url="javascript:alert(1)"),
                                      "tables/sources.csv", None, "url", "link"),
    "package descriptor is not valid JSON": (text_edit("datapackage.json", lambda b: b[:-20]), "datapackage.json",
                                             None, "-", "json"),
}

NEEDS_TEXTS = {"quote_in_source", "quote_is_unique", "excerpt_in_source", "ledger", "source_text"}

# Built by the installed console script in a process of its own (a schema file, a cell frictionless
# rejects, a seeds directory named in the environment); the others in-process.
THROUGH_THE_SCRIPT = {"a schema that is a list", "wrong type", "a seeds directory named but missing"}


def build_command(root, capsys, script: bool) -> tuple[int, str]:
    """`sensetime-data --root ROOT build`: its exit status and what it printed, never a traceback."""
    if not script:
        return run(capsys, "--root", str(root), "build")
    done = subprocess.run([str(installed("sensetime-data")), "--root", str(root), "build"], capture_output=True, text=True)
    assert "Traceback" not in done.stdout + done.stderr and done.stderr == "", done.stderr
    return done.returncode, done.stdout


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_rejected_in_one_line_and_build_is_kept(case, broken_copy, capsys, monkeypatch, request):
    breaker, file, line, column, rule = CASES[case]
    if rule in NEEDS_TEXTS:
        request.getfixturevalue("seeds")  # needs the source texts
    got = breaker(broken_copy)
    if isinstance(got, dict):
        for name, value in got.items():
            monkeypatch.setenv(name, value)
        got = None
    line = line if line is not None else got
    before = tree_digest(broken_copy / "build")
    code, out = build_command(broken_copy, capsys, script=case in THROUGH_THE_SCRIPT)
    assert code == 1, f"build accepted it:\n{out}"
    problems = [ln for ln in out.splitlines() if ln.startswith(f"{file}:")]
    assert problems, f"no problem names {file}:\n{out}"
    if column and line is not None:
        expected = f"{file}:{line}: {column}: {rule}: "
        assert any(ln.startswith(expected) for ln in problems), f"no line starts {expected!r}:\n{out}"
    elif column:
        assert any(f": {column}: {rule}: " in ln for ln in problems), f"no {column}/{rule}:\n{out}"
    assert "build failed; build/ left as it was" in out
    assert tree_digest(broken_copy / "build") == before


def test_the_corpus_holds_at_least_120_cases():
    assert len(CASES) >= 120
    assert THROUGH_THE_SCRIPT <= set(CASES)


def test_a_utf8_bom_and_crlf_line_ends_are_read_as_plain_csv(broken_copy, capsys):
    path = broken_copy / "tables" / "segments.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    code, out = run(capsys, "--root", str(broken_copy), "build")
    assert code == 0, out
    import sqlite3
    con = sqlite3.connect(broken_copy / "build" / "sensetime.db")
    names = dict(con.execute("select segment_id, name_zh from segments"))
    assert names["smart_city"] == "智慧城市" and len(names) == 4
