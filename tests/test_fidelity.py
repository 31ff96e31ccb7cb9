"""Every printed figure kept and every doubt recorded as data: ranges, period basis, context, the ledger's pages."""

import re
from collections import Counter

import pandas as pd
import pytest
from helpers import edit, run

from sensetime_data import rules
from sensetime_data.ledger import mentions

SUBSTATION = {"segment_id": "smart_business", "metric": "inspection_efficiency_gain_multiple", "source_id": "deck_fy2022"}


@pytest.fixture(scope="module")
def ctx(checked):
    f = checked.frames
    return rules.Context(metrics=f["metrics"], periods=f["periods"], units=f["units"], sources=f["sources"])


def messages(rule, frame, ctx) -> list[str]:
    return [m for m in rule(frame, ctx) if m]


# --- ranges -------------------------------------------------------------------------------


@pytest.mark.parametrize("printed, unit, ends", [
    ("5-6倍", "times", (5, 6)),
    ("2-3倍", "times", (2, 3)),
    ("三位数", "percent", (100, 999)),
    ("千亿", "parameters", (1e11, 9999e8)),
    ("万亿级", "parameters", (1e12, 99999e8)),
])
def test_a_printed_range_reads_to_both_ends(printed, unit, ends):
    assert rules.printed_range(printed, unit) == pytest.approx(ends)


def test_the_real_ranges_pass_and_every_other_row_has_no_value_high(checked, ctx):
    for name, table in checked.tables.items():
        if table.is_fact:
            frame = checked.frames[name]
            assert not messages(rules.value_high_only_for_ranges, frame, ctx), name
            assert frame["value_high"].notna().sum() == (frame["comparator"] == "range").sum(), name


@pytest.mark.parametrize("changes, message", [
    ({"value_high": float("nan")}, "comparator is `range` but value_high is empty"),
    ({"value_high": 4.0}, "value_high 4 is below value 5"),
    ({"comparator": "="}, "value_high is 6 but comparator is `=`"),
])
def test_value_high_belongs_to_a_range_and_only_to_one(checked, ctx, changes, message):
    frame = checked.frames["segment_results"]
    row = frame[(frame["metric"] == SUBSTATION["metric"])].copy()
    for column, value in changes.items():
        row[column] = value
    found = messages(rules.value_high_only_for_ranges, row, ctx)
    assert len(found) == 1 and message in found[0], found


def test_as_reported_must_agree_with_both_ends_of_a_range(checked, ctx):
    frame = checked.frames["segment_results"]
    row = frame[frame["metric"] == SUBSTATION["metric"]].copy()
    assert not messages(rules.as_reported_matches_value, row, ctx)
    row["value_high"] = 7.0
    assert messages(rules.as_reported_matches_value, row, ctx) == [
        "'5-6倍' reads as 5 to 6 times, but value and value_high are 5 and 7"]
    row["as_reported"] = "5倍"
    assert "no range can be read in '5倍'" in messages(rules.as_reported_matches_value, row, ctx)[0]


def test_a_broken_range_is_one_line_and_names_file_line_and_column(broken_copy, capsys):
    line = edit(broken_copy, "segment_results", SUBSTATION, value_high="")
    code, out = run(capsys, "--root", str(broken_copy), "validate")
    assert code == 1
    assert f"tables/segment_results.csv:{line}: value_high: value_high_only_for_ranges: comparator is `range`" in out


# --- period basis -------------------------------------------------------------------------


def test_an_inferred_period_must_be_ambiguous(checked, ctx):
    frame = checked.frames["automotive_kpis"]
    row = frame[frame["metric"] == "per_vehicle_gross_profit_growth"].copy()
    assert row["period_basis"].tolist() == ["inferred"] and not messages(rules.inferred_period_is_ambiguous, row, ctx)
    row["ambiguous"] = False
    assert "period_basis is `inferred`, so ambiguous must be 1" in messages(rules.inferred_period_is_ambiguous, row, ctx)[0]


def test_a_publication_period_is_the_source_publication_month_or_day(checked, ctx):
    frame = checked.frames["compute_capacity"]
    row = frame[(frame["metric"] == "cards_in_one_job")].copy()
    assert row["period"].tolist() == ["2023-03"] and not messages(rules.publication_period_is_published, row, ctx)
    row["period"] = "2022-12-31"
    assert messages(rules.publication_period_is_published, row, ctx) == [
        "period_basis is `publication` but period 2022-12-31 is not the publication date 2023-03 of deck_fy2022"]


def test_no_row_calls_its_period_inferred_unless_its_basis_says_so(checked):
    """The note no longer carries the doubt alone: a note that says its period or date was inferred has basis `inferred`."""
    for name, table in checked.tables.items():
        if table.is_fact:
            frame = checked.frames[name]
            said = frame["note"].fillna("").str.contains(r"(?:period|date|base|as-of)[^.]*inferred|inferred from the deck", case=False)
            assert (frame.loc[said, "period_basis"] == "inferred").all(), frame.loc[said & (frame["period_basis"] != "inferred")]


# --- the observations view ------------------------------------------------------------------


def test_observations_key_is_unique_and_agreement_uses_it(db):
    key = "topic, subject, metric, context, period, source_id"
    dupes = db.execute(f"select {key}, count(*) from observations group by {key} having count(*) > 1").fetchall()
    assert dupes == []
    chatgpt = db.execute("select context, value from observations where subject = 'ChatGPT' and metric = 'MMLU' order by value").fetchall()
    assert chatgpt == [("base_model_beyond_gpt35", 67.3), ("internlm_123b_51_benchmarks", 69.1)]
    merged = db.execute("select count(*) from fact_agreement where subject = 'ChatGPT' and metric = 'MMLU'").fetchone()[0]
    assert merged == 0  # two tables of one deck: one source each, never compared as one fact


def test_ranges_list_both_ends_and_inferred_periods_are_all_ambiguous(db):
    ranges = db.execute("select as_reported, value, value_high from observations where comparator = 'range' order by as_reported").fetchall()
    assert ("5-6倍", 5.0, 6.0) in ranges and ("2-3倍", 2.0, 3.0) in ranges and ("三位数", 100.0, 999.0) in ranges
    assert all(low is not None and high is not None and low <= high for _, low, high in ranges)
    assert db.execute("select count(*) from observations where value_high is not null and comparator != 'range'").fetchone()[0] == 0
    inferred = db.execute("select ambiguous, count(*) from observations where period_basis = 'inferred' group by ambiguous").fetchall()
    assert inferred and all(a == 1 for a, _ in inferred)


def test_every_model_with_a_size_in_its_name_has_a_parameters_fact(checked):
    models = checked.frames["models"]
    sized = models[models["name"].str.contains(r"-\d+(?:\.\d+)?B$", regex=True)]
    facts = checked.frames["model_facts"]
    with_size = set(facts.loc[facts["metric"] == "parameters", "model_id"])
    assert len(sized) >= 9
    assert set(sized["model_id"]) <= with_size, set(sized["model_id"]) - with_size
    for model_id, name in sized[["model_id", "name"]].itertuples(index=False):
        printed = re.search(r"(\d+(?:\.\d+)?)B$", name).group(1)
        value = facts.loc[(facts["model_id"] == model_id) & (facts["metric"] == "parameters"), "value"].iloc[0]
        assert value == pytest.approx(float(printed) * 1e9), name


def test_a_champion_is_rank_one_like_first(checked):
    assert rules.expected_value("冠军", "rank")[0] == rules.expected_value("第一", "rank")[0] == 1
    facts = checked.frames["model_facts"]
    wins = facts[facts["as_reported"] == "冠军"]
    assert sorted(wins["source_id"]) == ["deck_1h2023", "deck_fy2022"] and (wins["value"] == 1).all()


def test_no_exclusion_calls_the_announcement_items_generated(checked):
    """The chat demo's items 1-7 are the announcement being summarised: company statements, not generated text."""
    ex = checked.frames["exclusions"]
    demo = ex[ex["reason"] == "chat_demo"]
    assert not demo["excerpt"].str.contains("320亿|千亿参数量|Waymo|exaFLOPS|6K|2023年中|^\\d\\. ", regex=True).any(), demo
    assert not (ex["reason"] == "vague").sum() > 1, ex[ex["reason"] == "vague"]


# --- the ledger ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text, found", [
    ("与国产GPU厂商共同攻关千卡国产训练集群", ["千"]),
    ("生成式AI产品与能力赋能上百个客户", ["上百"]),
    ("5年以上千卡训练经验", ["5", "千"]),
    ("万卡集群与百亿参数", ["万", "百亿"]),
    ("赢得2022年Waymo挑战赛主赛道冠军", ["2022", "冠军"]),
])
def test_the_ledger_counts_chinese_quantities_wherever_they_stand(text, found):
    assert [m.text for m in mentions(text)] == found


def test_ledger_pages_mark_every_mention_once_and_agree_with_the_ledger(ledger_pages):
    code, out, tmp_path = ledger_pages
    assert code == 0, out
    totals = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+): coverage 100\.0% \(\d+ of (\d+) numeric", out, re.M)}
    assert len(totals) == 5
    index = (tmp_path / "index.html").read_text("utf-8")
    for source_id, total in totals.items():
        page = (tmp_path / f"{source_id}.html").read_text("utf-8")
        kinds = Counter(re.findall(r'<mark class="(\w+)"', page))
        assert sum(kinds.values()) == total, source_id
        assert kinds["unaccounted"] == 0 and kinds["recorded"] > 0 and kinds["excluded"] > 0
        assert f"recorded: <b>{kinds['recorded']}</b>" in page and f'href="{source_id}.html"' in index
        assert not re.search(r"<mark[^>]*>[^<]*<mark", page)  # marks never nest
    fy2022 = (tmp_path / "deck_fy2022.html").read_text("utf-8")
    card = re.search(r'<mark class="recorded" title="([^"]*)"><a href="([^"]*)">千</a></mark>卡国产训练集群', fy2022)
    assert card, "the 千卡 of the domestic training cluster is recorded"
    assert "domestic_training_cluster_cards 2023-03" in card.group(1) and "period publication" in card.group(1)
    assert card.group(2) == "http://127.0.0.1:8001/sensetime/compute_capacity/domestic_chips,domestic_training_cluster_cards,2023-03,deck_fy2022"


def test_an_unaccounted_mention_is_red_on_its_page(broken_copy, seeds, tmp_path, capsys):
    from helpers import delete

    delete(broken_copy, "exclusions", {"source_id": "shzqb_aidc", "excerpt": "1月21日晚间"})
    code, out = run(capsys, "--root", str(broken_copy), "ledger", "--source", "shzqb_aidc", "--html", str(tmp_path))
    assert code == 1
    page = (tmp_path / "shzqb_aidc.html").read_text("utf-8")
    assert re.findall(r'<mark class="unaccounted"[^>]*>([^<]*)</mark>', page) == ["1", "21"]


def test_row_links_use_datasettes_own_key_encoding():
    from datasette.utils import tilde_encode

    from sensetime_data.ledger_html import tilde_encode as ours

    for key in ["2023-03-28/2023-08-28", "smart_city", "C-Eval", "RACE(Middle)", "A B", "智慧城市", "~x"]:
        assert ours(key) == tilde_encode(key), key


def test_frames_have_one_period_basis_per_fact(checked):
    bases = pd.concat([checked.frames[n]["period_basis"].astype(str) for n, t in checked.tables.items() if t.is_fact])
    assert set(bases) == {"printed", "publication", "inferred"}


def test_the_readme_convention_queries_answer(root, db):
    """Each query of the README's conventions runs on the build and returns rows."""
    readme = (root / "README.md").read_text("utf-8")
    conventions = readme.split("## Conventions", 1)[1].split("\n## ", 1)[0]
    queries = re.findall(r"```sql\n(.*?)```", conventions, re.S) + re.findall(r"`(select [^`]+)`", conventions)
    assert len(queries) == 4
    for query in queries:
        assert db.execute(query).fetchall(), query


def test_a_translation_that_changes_a_figure_is_rejected(broken_copy, capsys):
    line = edit(broken_copy, "financials", {"metric": "revenue", "period": "FY2021", "source_id": "zxjw_fy2021"},
                quote_en="Up 36.4% year on year to 48亿元 (RMB 4.8 billion)")
    code, out = run(capsys, "--root", str(broken_copy), "validate")
    assert code == 1
    problem = next(ln for ln in out.splitlines() if "quote_en_keeps_numbers" in ln)
    assert problem.startswith(f"tables/financials.csv:{line}: quote_en: quote_en_keeps_numbers: ") and "47亿" in problem, problem
