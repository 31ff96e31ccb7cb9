"""`sensetime-data validate` and `build` on the real tables, and on copies broken one way each."""

import pytest
from conftest import copy_inputs
from helpers import REVENUE_FY2022, edit, run


def test_real_tables_are_valid_and_quotes_were_checked(cli_validate, seeds):
    code, out = cli_validate
    assert code == 0, out
    assert "problem" not in out.splitlines()[-1]
    assert "quotes checked against 5 source texts" in out


def test_cli_entry_point_runs_as_installed(cli_validate):
    code, out = cli_validate
    assert code == 0, out
    assert out.splitlines()[-1].startswith("valid:")


# Broken tables of every kind are in test_bad_inputs.py; here, the rules that relate rows.


def test_growth_that_disagrees_with_its_levels_is_caught(broken_copy, capsys):
    # FY2022 revenue 38亿 against FY2021's 47亿 is -19%; raising FY2022 to 45亿 makes -19% wrong
    edit(broken_copy, "financials", REVENUE_FY2022, value="4500", as_reported="45 亿元", quote="45 亿元")
    code, out = run(capsys, "--root", str(broken_copy), "validate")
    assert code == 1
    assert any(": value: growth_matches_levels: revenue_growth -19" in ln for ln in out.splitlines()), out


def test_margin_that_disagrees_with_profit_and_revenue_is_caught(broken_copy, capsys):
    # FY2022 gross profit 25亿 over revenue 38亿 is 66%, matching the printed 67%; 30亿 would be 79%
    edit(broken_copy, "financials", {"metric": "gross_profit", "period": "FY2022"}, value="3000", as_reported="30 亿元",
         quote="30 亿元")
    code, out = run(capsys, "--root", str(broken_copy), "validate")
    assert code == 1
    assert any(": value: ratio_matches_parts: gross_margin 67 disagrees with gross_profit / revenue in FY2022" in ln
               for ln in out.splitlines()), out


def test_change_of_a_stock_is_checked_against_year_end_levels(broken_copy, capsys):
    # 162 cities at 2022-12-31 less 140 at 2021-12-31 is the printed 当期增长22个; 150 would not be
    edit(broken_copy, "segment_results", {"metric": "cities_served", "period": "2022-12-31"}, value="150",
         as_reported="150个", quote="150个")
    code, out = run(capsys, "--root", str(broken_copy), "validate")
    assert code == 1
    assert any(": value: change_matches_levels: cities_served_change 22 disagrees with cities_served in 2022-12-31 and "
               "2021-12-31" in ln for ln in out.splitlines()), out


def test_validate_without_source_texts_skips_quotes_and_says_so(root, monkeypatch, tmp_path, capsys):
    # nothing named, and no ../shared/seeds beside the package: the only case where quotes are not checked
    copy = tmp_path / "clone" / "pkg"
    copy_inputs(root, copy)
    monkeypatch.delenv("SENSETIME_DATA_SEEDS", raising=False)
    code, out = run(capsys, "--root", str(copy), "validate")
    assert code == 0, out
    assert "quote check skipped" in out
    assert "coverage" not in out


def test_a_named_seeds_directory_is_never_skipped(root, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("SENSETIME_DATA_SEEDS", str(tmp_path / "typo"))
    code, out = run(capsys, "--root", str(root), "validate")
    assert code == 1
    assert "quote check skipped" not in out
    assert any(ln.startswith("tables/sources.csv:1: file: source_text: ") and "typo" in ln for ln in out.splitlines()), out


def test_a_target_dated_after_its_source_passes_when_its_note_says_so(broken_copy, capsys):
    # FY2023 ends after the FY2022 deck was published (2023-03): rejected, unless the note marks a target
    line = edit(broken_copy, "financials", REVENUE_FY2022, period="FY2023")
    code, out = run(capsys, "--root", str(broken_copy), "validate")
    assert code == 1 and f"tables/financials.csv:{line}: period: dated_after_source: " in out
    edit(broken_copy, "financials", {**REVENUE_FY2022, "period": "FY2023"}, note="A target for FY2023, not a result.")
    _, out = run(capsys, "--root", str(broken_copy), "validate")
    assert "dated_after_source" not in out, out


def test_a_quote_across_inline_tags_is_found_and_one_across_paragraphs_needs_the_break(broken_copy, seeds, capsys):
    # gelonghui_fy2021 prints <strong>如何走出象牙塔：让AI无所不及</strong></p><p>人工智能技术...: the inline tag
    # vanishes, the paragraph end is a space in the visible text
    edit(broken_copy, "financials", {"metric": "cv_market_share_rank", "source_id": "gelonghui_fy2021"},
         quote="连续三年蝉联中国计算机视觉应用市场份额第一(根据IDC及沙利文报告)。 如何走出象牙塔：让AI无所不及 人工智能技术")
    _, out = run(capsys, "--root", str(broken_copy), "validate")
    assert "quote_in_source" not in out and "quote_is_unique" not in out, out


def test_validate_json_gives_the_results_alone(broken_copy, capsys):
    import json

    line = edit(broken_copy, "financials", REVENUE_FY2022, unit="ghost_unit")
    code, out = run(capsys, "--root", str(broken_copy), "validate", "--json")
    result = json.loads(out)
    assert code == 1 and result["valid"] is False
    assert result["counts"]["problems"] == len(result["problems"]) >= 1
    assert {"file": "tables/financials.csv", "line": line, "column": "unit"}.items() <= next(
        p for p in result["problems"] if p["column"] == "unit").items()
    assert set(result) == {"valid", "counts", "problems", "notices", "coverage"}


def test_a_failing_rule_runs_once_and_its_message_is_the_problem(broken_copy, monkeypatch):
    # Before, pandera ran a rule and, when it failed, the rule ran again for its messages.
    from sensetime_data import rules
    from sensetime_data.validate import validate

    edit(broken_copy, "financials", REVENUE_FY2022, value="4500", as_reported="45 亿元", quote="45 亿元")
    column, growth = rules.RULES["growth_matches_levels"]
    calls = []

    def counted(frame, ctx):
        calls.append(ctx.table.name)
        return growth(frame, ctx)

    monkeypatch.setitem(rules.RULES, "growth_matches_levels", (column, counted))
    problems = [p for p in validate(broken_copy).problems if p.rule == "growth_matches_levels"]
    assert calls.count("financials") == 1, calls
    assert [(p.file, p.column) for p in problems] == [("tables/financials.csv", "value")]
    assert problems[0].message.startswith("revenue_growth -19")


def test_the_frictionless_worker_gives_what_frictionless_gives_here(broken_copy, monkeypatch):
    from sensetime_data import structure
    from sensetime_data.schema import package_descriptor, read_tables
    from sensetime_data.validate import _inline, validate

    edit(broken_copy, "financials", REVENUE_FY2022, value="lots")  # a cell frictionless finds wrong
    through_worker = [str(p) for p in validate(broken_copy).problems]
    assert any(": value: type-error:" in p for p in through_worker), through_worker
    root, descriptor = str(broken_copy), _inline(package_descriptor(broken_copy), read_tables(broken_copy))
    here = structure.errors(root, descriptor)
    pending = structure.start(root, descriptor)
    structure._WORKER.kill()  # dies before answering: the answer is made here
    assert pending.result() == here
    structure.start(root, {"resources": []})  # a caller that never reads its answer ([]) leaves the next in order
    assert [str(p) for p in validate(broken_copy).problems] == through_worker
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0})  # one core: no worker at all
    assert [str(p) for p in validate(broken_copy).problems] == through_worker


def test_what_validate_keeps_between_runs_changes_nothing_it_finds(good_copy, tmp_path, monkeypatch):
    """validate keeps each table's pandera problems, and its frictionless worker each file's errors,
    by all they depend on, not by where the package lies: on copies changed one way each, and in a
    table whose rules read the changed one, it finds what a validation with nothing kept finds."""
    from sensetime_data import structure
    from sensetime_data.validate import VALUES, validate

    changes = {
        "unchanged": lambda root: None,
        "a growth against its levels": lambda root: edit(root, "financials", REVENUE_FY2022, value="4500",
                                                         as_reported="45 亿元", quote="45 亿元"),
        "a source published earlier, which five fact tables' rules read":
            lambda root: edit(root, "sources", {"source_id": "deck_fy2022"}, published="2022-06-30"),
        "a cell frictionless refuses": lambda root: edit(root, "financials", REVENUE_FY2022, value="lots"),
        "unchanged again": lambda root: None,
    }
    roots = {}
    for name, change in changes.items():
        roots[name] = tmp_path / str(len(roots))
        copy_inputs(good_copy, roots[name])
        change(roots[name])
    kept = {name: [str(p) for p in validate(root).problems] for name, root in roots.items()}
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0})  # frictionless here, where nothing is kept
    for name, root in list(roots.items())[1:-1]:  # the unchanged ones are valid, as the session's build shows
        VALUES.clear(), structure.ANSWERS.clear(), structure.VALID.clear()
        assert [str(p) for p in validate(root).problems] == kept[name], name
    assert kept["unchanged"] == kept["unchanged again"] == []
    assert any(": growth_matches_levels: " in p for p in kept["a growth against its levels"])
    assert {p.split(":")[0] for p in kept["a source published earlier, which five fact tables' rules read"]} >= {
        "tables/financials.csv", "tables/compute_capacity.csv"}
    assert any(": value: type-error:" in p for p in kept["a cell frictionless refuses"])


def test_a_text_column_of_another_type_is_refused_by_pandera(tables):
    import pandas as pd
    import pandera.pandas as pa

    from sensetime_data.schema import text_dtype

    field = next(f for f in tables["financials"].fields if f.name == "quote")
    schema = pa.DataFrameSchema({"quote": field.pandera_column()})
    schema.validate(pd.DataFrame({"quote": pd.Series(["47亿元"], dtype=text_dtype())}))
    for other in (pd.Series([47]), pd.Series(["47亿元", 47], dtype=object), pd.Series(["47亿元"], dtype="str")):
        with pytest.raises(pa.errors.SchemaError, match="to have type string"):
            schema.validate(pd.DataFrame({"quote": other}))
