"""The Datasette site, in-process: pages, labels, search, canned queries, dashboard, read-only."""

import asyncio
import html
import sqlite3

import pytest
import yaml
from datasette.app import Datasette

from sensetime_data.serve import SETTINGS

# Sample parameters for the canned queries, and a figure each must return (printed in the sources).
QUERY_SAMPLES = {
    "financial_results": ({}, "47亿元"),
    "segment_shares": ({}, "智慧城市"),
    "compute_over_time": ({}, "1.17 exaflops"),
    "model_scores": ({"model": "internlm_123b", "evaluation": "internlm_123b_51_benchmarks"}, "72.9"),
    "models_side_by_side": (
        {"model_a": "internlm_123b", "model_b": "gpt_4", "evaluation": "internlm_123b_51_benchmarks"}, "83.0"),
    "sources_agree": ({}, "3740 Petaflops"),
    "ambiguous_facts": ({}, "(181.2%)"),
    "facts_of_source": ({"source": "shzqb_aidc"}, "1.28"),
    "search": ({"q": "汽车"}, "智能汽车"),
}


@pytest.fixture(scope="module")
def metadata(built):
    return yaml.safe_load((built / "metadata.yml").read_text("utf-8"))


@pytest.fixture(scope="module")
def datasette(built, metadata):
    return Datasette(immutables=[str(built / "sensetime.db")], metadata=metadata, settings=SETTINGS)


@pytest.fixture(scope="module")
def db_counts(built):
    con = sqlite3.connect(f"file:{built / 'sensetime.db'}?mode=ro", uri=True)
    names = [n for (n,) in con.execute("select name from sqlite_master where type in ('table', 'view')")]
    counts = {n: con.execute(f'select count(*) from "{n}"').fetchone()[0] for n in names}
    con.close()
    return counts


def get(ds, path, **params):
    return asyncio.run(ds.client.get(path, params=params or None))


def rows(ds, path, **params):
    response = get(ds, path, _shape="array", _size="max", **params)
    assert response.status_code == 200, response.text[:500]
    return response.json()


def test_home_page_says_what_and_where_from_in_english_and_chinese(datasette, tables):
    page = get(datasette, "/").text
    assert "SenseTime Group disclosures" in page and "商汤集团" in page
    assert "每个数值都对应五份来源文件之一中的一句原文" in page  # the Chinese introduction
    assert "Cite / 引用" in page
    for link in ("/-/dashboards/sensetime", "/sensetime/data_dictionary", "/sensetime/search", "/sensetime/model_scores"):
        assert f'href="{link}"' in page, link
    for table in tables.values():
        assert f"/sensetime/{table.name}" in page
        assert html.escape(table.description.split("`")[0].split("(")[0].strip()[:40]) in page


def test_every_table_and_view_page_answers_with_all_rows(datasette, tables, db_counts):
    for name in list(tables) + ["observations", "fact_agreement", "data_dictionary"]:
        assert get(datasette, f"/sensetime/{name}").status_code == 200, name
        assert len(rows(datasette, f"/sensetime/{name}.json")) == db_counts[name], name


def test_data_dictionary_lists_every_column_of_every_table(datasette, tables):
    listed = {(r["table_name"], r["column_name"]) for r in rows(datasette, "/sensetime/data_dictionary.json")}
    assert listed == {(n, f["name"]) for n, t in tables.items() for f in t.fields}


def test_foreign_keys_show_english_and_chinese_labels(datasette):
    row = rows(datasette, "/sensetime/segment_results.json", _labels="on", segment_id="smart_city", metric="revenue",
               period="FY2021")[0]
    assert row["segment_id"]["label"] == "Smart City · 智慧城市"
    assert row["value"] == 2140  # 21.4亿元
    page = get(datasette, "/sensetime/segment_results").text
    assert "Smart City · 智慧城市" in page


def test_a_number_reaches_its_quote_and_source_in_two_clicks(datasette):
    # click 1: from the fact table to the source row, linked by its foreign key
    page = get(datasette, "/sensetime/financials", metric="revenue", period="FY2021").text
    assert "按年同比增长36.4%至47亿元" in page  # the quote is on the row itself
    assert 'href="/sensetime/sources/zxjw_fy2021"' in page
    # the source's page links to its facts in every table
    source = get(datasette, "/sensetime/sources/zxjw_fy2021").text
    assert "商汤集团公布2021年全年业绩" in source
    assert 'href="/sensetime/financials?source_id=zxjw_fy2021"' in source


@pytest.mark.parametrize("table, term, expected", [
    ("segment_results", "智慧城市", "smart_city"),
    ("automotive_kpis", "量产交付", "mass_production_deliveries"),
    ("model_benchmarks", "MMLU", "mmlu"),
    ("metrics", "Revenue", "revenue"),
    ("automotive_partners", "比亚迪", "byd"),
])
def test_full_text_search_finds_chinese_and_english_terms(datasette, table, term, expected):
    found = rows(datasette, f"/sensetime/{table}.json", _search=term)
    assert found and all(expected in str(r.values()) for r in found), found[:3]


def test_two_character_terms_are_found_with_contains_and_the_search_query(datasette):
    assert rows(datasette, "/sensetime/financials.json", quote__contains="毛利")
    kinds = {r["kind"] for r in rows(datasette, "/sensetime/search.json", q="比亚")}
    assert kinds == {"partner"}


@pytest.mark.parametrize("name", list(QUERY_SAMPLES))
def test_every_canned_query_answers_with_its_sample(datasette, metadata, name):
    params, expected = QUERY_SAMPLES[name]
    assert set(metadata["databases"]["sensetime"]["queries"]) == set(QUERY_SAMPLES)
    found = rows(datasette, f"/sensetime/{name}.json", **params)
    assert found and any(expected in str(list(r.values())) for r in found), found[:3]


def test_model_scores_lists_the_twenty_benchmarks_of_the_table(datasette):
    found = rows(datasette, "/sensetime/model_scores.json", model="internlm_123b", evaluation="internlm_123b_51_benchmarks")
    assert len(found) == 20
    assert {r["benchmark"]: r["as_reported"] for r in found}["GSM8K"] == "76.4"


def test_dashboard_page_and_every_chart_query(datasette, metadata):
    dashboard = metadata["plugins"]["datasette-dashboards"]["sensetime"]
    page = get(datasette, "/-/dashboards/sensetime")
    assert page.status_code == 200
    assert len(dashboard["charts"]) >= 5
    for slug, chart in dashboard["charts"].items():
        assert chart["title"] in html.unescape(page.text) or slug in page.text
        assert any("\u4e00" <= ch <= "\u9fff" for ch in chart["title"]), f"{slug}: title needs Chinese"
        assert rows(datasette, "/sensetime.json", sql=chart["query"]), slug


def test_no_units_metadata_and_every_lookup_has_a_label(metadata, tables):
    described = metadata["databases"]["sensetime"]["tables"]
    assert not [name for name, entry in described.items() if "units" in entry]  # Pint cannot read PFLOPS
    for name, table in tables.items():
        if not table.is_fact and name != "exclusions":
            assert described[name].get("label_column"), name


def test_exports_keep_chinese_intact(datasette):
    csv_text = get(datasette, "/sensetime/segments.csv").content.decode("utf-8")
    assert "智慧城市" in csv_text
    assert {r["name_zh"] for r in rows(datasette, "/sensetime/segments.json")} == {"智慧商业", "智慧城市", "智慧生活", "智能汽车"}


def test_database_is_immutable_and_writes_are_refused(datasette):
    response = get(datasette, "/sensetime.json", sql="delete from segments")
    assert response.status_code == 400
    assert len(rows(datasette, "/sensetime/segments.json")) == 4
