"""The Datasette site, in-process: pages, labels, time order, search, canned queries, exports, dashboard."""

import asyncio
import html
import re
import string
from urllib.parse import parse_qsl, urlencode

import pyarrow.parquet as pq
import pytest
from datasette.app import Datasette
from datasette.utils import tilde_encode
from datasette.utils.asgi import Request

from sensetime_data.database import SEARCH_INDEX, SEARCH_TABLES, VIEW_KEY, observation_key
from sensetime_data.schema import DERIVED_FIELDS, OBSERVATION_COLUMNS
from sensetime_data.serve import SETTINGS
from sensetime_data.site_plugin import filters_from_request

# A figure each canned query must return when opened with its example (printed in the sources).
QUERY_SAMPLES = {
    "financial_results": "47亿元",
    "segment_shares": "智慧城市",
    "compute_over_time": "1.17 exaflops",
    "model_scores": "72.9",
    "models_side_by_side": "83.0",
    "sources_agree": "3740 Petaflops",
    "ambiguous_facts": "(181.2%)",
    "facts_of_source": "1.28",
    "search": "算力",
}
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{2}")
BOM = b"\xef\xbb\xbf"


@pytest.fixture(scope="module")
def datasette(built, metadata):
    return Datasette(immutables=[str(built / "sensetime.db")], metadata=metadata, settings=SETTINGS)


@pytest.fixture(scope="module")
def db_counts(db):
    names = [n for (n,) in db.execute("select name from sqlite_master where type in ('table', 'view')")]
    return {n: db.execute(f'select count(*) from "{n}"').fetchone()[0] for n in names}


@pytest.fixture(scope="module")
def facts(tables):
    return [name for name, table in tables.items() if table.is_fact]


@pytest.fixture(scope="module")
def charts(metadata):
    return metadata["plugins"]["datasette-dashboards"]["sensetime"]["charts"]


def get(ds, path, **params):
    path, _, query = path.partition("?")
    params = {**dict(parse_qsl(query)), **params}
    return asyncio.run(ds.client.get(path, params=params or None))


def rows(ds, path, **params):
    response = get(ds, path, _shape="array", _size="max", **params)
    assert response.status_code == 200, response.text[:500]
    return response.json()


def page_rows(page: str) -> list[str]:
    """The data rows of a table on an HTML page."""
    body = page.split('<tbody>', 1)[1].split('</tbody>', 1)[0] if "<tbody>" in page else ""
    return re.findall(r"<tr>.*?</tr>", body, re.S)


def search(ds, table, term) -> list[dict]:
    return rows(ds, f"/sensetime/{table}.json", _search=term)


def row_keys(found, *columns):
    return {tuple(r[c] for c in columns) for r in found}


# --- pages -----------------------------------------------------------------------------------

def test_home_page_says_what_and_where_from_in_english_and_chinese(datasette, tables):
    page = get(datasette, "/").text
    assert "SenseTime Group disclosures" in page and "商汤集团" in page
    assert "每个数值都对应五份来源文件之一中的一句原文" in page  # the Chinese introduction
    assert "Cite / 引用" in page
    for link in ("/-/dashboards/sensetime", "/sensetime/data_dictionary", "/sensetime/search", "/sensetime/model_scores"):
        assert f'href="{link}"' in page, link
    for table in tables.values():
        assert f"/sensetime/{table.name}" in page
        assert html.escape(table.description.split("`")[0].split("(")[0].strip()[:40], quote=False) in page


def test_every_table_and_view_page_answers_with_all_rows(datasette, tables, db_counts):
    for name in list(tables) + ["observations", "fact_agreement", "data_dictionary"]:
        assert get(datasette, f"/sensetime/{name}").status_code == 200, name
        assert len(rows(datasette, f"/sensetime/{name}.json")) == db_counts[name], name



def test_the_database_without_the_metadata_still_answers(built):
    """As `datasette serve -i build/sensetime.db` serves it, the plugins installed: its table pages were a 500."""
    bare = Datasette(immutables=[str(built / "sensetime.db")])
    for path in ("/", "/sensetime/financials", "/sensetime/financials.json", "/sensetime/observations.json"):
        assert get(bare, path).status_code == 200, path
    assert rows(bare, "/sensetime/observations.json", _search="MMLU")  # the view's search needs no metadata

def test_data_dictionary_lists_every_column_of_every_table_and_the_derived_dates(datasette, tables, facts):
    listed = {(r["table_name"], r["column_name"]): r for r in rows(datasette, "/sensetime/data_dictionary.json")}
    assert set(listed) == {(n, f.name) for n, t in tables.items() for f in t.output_fields}
    for name in facts:
        for derived in DERIVED_FIELDS:
            assert listed[(name, derived["name"])]["description"] == derived["description"]
            assert "derived by the build" in derived["description"]


def test_foreign_keys_show_english_and_chinese_labels(datasette):
    row = rows(datasette, "/sensetime/segment_results.json", _labels="on", segment_id="smart_city", metric="revenue",
               period="FY2021")[0]
    assert row["segment_id"]["label"] == "Smart City · 智慧城市"
    assert row["value"] == 2140  # 21.4亿元
    page = get(datasette, "/sensetime/segment_results").text
    assert "Smart City · 智慧城市" in page


def test_a_number_reaches_its_quote_and_source_in_two_clicks(datasette):
    # click 1: from the table page to the fact's row page
    page = get(datasette, "/sensetime/financials", metric="revenue", period="FY2021", source_id="zxjw_fy2021").text
    assert "按年同比增长36.4%至47亿元" in page  # the quote is on the row itself
    row_link = re.search(r'<a href="(/sensetime/financials/revenue,FY2021,zxjw_fy2021)">', page).group(1)
    # click 2: from the row page, beside the quote, to the source
    row_page = get(datasette, row_link).text
    panel = row_page.split('<section class="fact-source">', 1)[1].split("</section>", 1)[0]
    assert "按年同比增长36.4%至47亿元" in panel
    assert re.search(r'<a class="source-link" href="/sensetime/sources/zxjw_fy2021">[^<]*商汤集团公布2021年全年业绩</a>',
                     panel)
    source = get(datasette, "/sensetime/sources/zxjw_fy2021").text
    assert "商汤集团公布2021年全年业绩" in source
    assert 'href="/sensetime/financials?source_id=zxjw_fy2021"' in source


def test_row_page_shows_the_words_of_every_fact_and_links_its_source(datasette, db, tables, facts):
    sources = dict(db.execute("select source_id, title from sources"))
    for name in facts + ["automotive_partners", "models", "evaluations"]:
        table = tables[name]
        key = ",".join(tilde_encode(str(v)) for v in db.execute(
            f'select {", ".join(table.primary_key)} from "{name}" order by rowid limit 1').fetchone())
        row = rows(datasette, f"/sensetime/{name}/{key}.json")[0]
        panel = get(datasette, f"/sensetime/{name}/{key}").text.split('<section class="fact-source">', 1)[1]
        panel = html.unescape(panel.split("</section>", 1)[0])
        assert re.sub(r"\*\*", "", row["quote"]) in re.sub(r"<[^>]+>", "", panel), name
        assert f'href="/sensetime/sources/{row["source_id"]}"' in panel and sources[row["source_id"]] in panel, name
        for column in ("quote_en", "relationship_en", "caption_en", "claim_en"):
            if row.get(column):
                assert "English translation by the curators" in panel and row[column] in panel, (name, column)


def test_markdown_renders_and_notes_live_behind_the_description(datasette, tables, metadata):
    for name in list(tables) + ["observations", "fact_agreement", "data_dictionary"]:
        page = get(datasette, f"/sensetime/{name}", _size="max").text
        top = page.split('<form class="filters"', 1)[0]
        # the column notes are folded away (and in the data dictionary), not a list above the rows
        described = "columns" in metadata["databases"]["sensetime"]["tables"][name]
        assert ('<details class="column-notes">' in top) == described, name
        assert top.count('<dl class="column-descriptions">') == top.count('<details class="column-notes">'), name
        visible = re.sub(r"<(script|style)\b.*?</\1>|<pre\b.*?</pre>|<textarea\b.*?</textarea>|<[^>]+>", " ", page, flags=re.S)
        assert "`" not in visible, (name, visible[visible.index("`") - 60:visible.index("`") + 60])
        cells = " ".join(re.findall(r"<td [^>]*>(.*?)</td>", page, re.S))
        assert not re.search(r"\*\*[^*\s][^*]*\*\*", re.sub(r'title="[^"]*"', "", cells)), name


@pytest.mark.parametrize("name", ["financials", "observations"])
def test_the_sources_are_listed_once(datasette, db, name):
    page = get(datasette, f"/sensetime/{name}").text
    cited = [s for (s,) in db.execute(f"select distinct source_id from {name}")]
    for source_id in cited:
        assert page.count(f'class="source-link" href="/sensetime/sources/{source_id}"') == 1, source_id
    assert "Data source:" not in page  # the footer no longer repeats the list


def test_bold_markers_of_the_deck_show_as_bold_and_the_value_keeps_them(datasette):
    key = dict(metric="smart_life_auto_revenue_growth", period="FY2022")
    assert rows(datasette, "/sensetime/financials.json", **key)[0]["quote"] == "智慧生活 + 智能汽车收入同比增长**108%**"
    page = get(datasette, "/sensetime/financials", **key).text
    assert re.search(r'智慧生活 \+ 智能汽车收入同比增长<strong [^>]*>108%</strong>', page)


# --- time order --------------------------------------------------------------------------------

def test_fact_tables_and_views_carry_their_period_dates(db, built, facts):
    periods = {p: (s, e) for p, s, e in db.execute('select period, start, "end" from periods')}
    for name in facts + ["observations", "fact_agreement"]:
        dated = db.execute(f"select period, period_start, period_end from {name}").fetchall()
        assert dated and all(periods[p] == (s, e) for p, s, e in dated), name
    for name in facts:
        schema = pq.read_schema(built / "parquet" / f"{name}.parquet")
        assert str(schema.field("period_end").type) == "date32[day]", name
        assert schema.names.index("period_end") == schema.names.index("period") + 2
    columns = [r[1] for r in db.execute("pragma table_info(observations)")]
    assert columns == list(OBSERVATION_COLUMNS)


def test_fact_pages_open_in_time_order_and_sort_by_time(datasette, facts):
    for name in facts + ["observations"]:
        ends = [r["period_end"] for r in rows(datasette, f"/sensetime/{name}.json")]
        assert ends == sorted(ends), name
        ends = [r["period_end"] for r in rows(datasette, f"/sensetime/{name}.json", _sort_desc="period_end")]
        assert ends == sorted(ends, reverse=True), name
    # by the period code the order was text: 1H2022, 1H2023, 2021-12-31, ..., FY2019
    codes = [r["period"] for r in rows(datasette, "/sensetime/financials.json", metric="revenue_growth")]
    assert codes.index("FY2021") < codes.index("1H2022") < codes.index("FY2022") < codes.index("1H2023")
    # the `period` header sorts by time too
    header = get(datasette, "/sensetime/financials", _sort="metric").text.split('scope="col" data-column="period"', 1)[1]
    assert re.match(r'[^>]*>\s*<a href="/sensetime/financials\?_sort=period_end"', header)


def test_python_observations_are_in_time_order(good_copy, monkeypatch):
    import sensetime_data as sd

    monkeypatch.setenv("SENSETIME_DATA_ROOT", str(good_copy))
    frame = sd.observations(topic="financials", metric="revenue")
    assert list(frame["period"].drop_duplicates()) == ["FY2021", "FY2022", "1H2023"]
    assert frame["period_end"].is_monotonic_increasing


# --- search ------------------------------------------------------------------------------------

@pytest.mark.parametrize("term", ["revenue", "营业收入", "收入"])
def test_search_finds_facts_by_the_labels_of_their_metric(datasette, db, term):
    found = row_keys(search(datasette, "financials", term), "metric", "period", "source_id")
    revenue = set(db.execute("select metric, period, source_id from financials where metric = 'revenue'"))
    assert len(revenue) >= 4 and revenue <= found  # before: 19 rows for `revenue`, none of them revenue


def test_search_finds_every_score_of_a_benchmark(datasette, db):
    found = row_keys(search(datasette, "model_benchmarks", "MMLU"), "evaluation_id", "model_id", "benchmark_id")
    mmlu = set(db.execute("select evaluation_id, model_id, benchmark_id from model_benchmarks where benchmark_id = 'mmlu'"))
    assert len(mmlu) >= 15 and mmlu <= found  # before: 9 of 15


@pytest.mark.parametrize("table, term", [("automotive_kpis", "量产"), ("financials", "收入"), ("compute_capacity", "算力"),
                                         ("segment_results", "城市")])
def test_two_character_chinese_terms_find_their_rows(datasette, db, tables, table, term):
    key = tables[table].primary_key
    found = row_keys(search(datasette, table, term), *key)
    holding = set(db.execute(
        f"select {', '.join('t.' + k for k in key)} from {table} t join metrics m using (metric) "
        "where instr(t.quote, :term) or instr(m.label_zh, :term)", {"term": term}))
    assert holding and holding <= found  # before: "0 records"


def test_observations_can_be_searched(datasette, db):
    found = search(datasette, "observations", "量产")
    assert found and {r["fact_table"] for r in found} >= {"automotive_kpis"}
    holding = db.execute("select count(*) from observations where instr(quote, '量产')").fetchone()[0]
    assert len(found) >= holding
    both = search(datasette, "observations", "revenue 1H2023")
    assert both and all(r["period"] == "1H2023" or "1h2023" in r["source_id"] for r in both)


def test_search_terms_are_literal(datasette, db):
    total = db.execute("select count(*) from financials").fetchone()[0]
    with_percent = search(datasette, "financials", "%")
    assert 0 < len(with_percent) < total
    assert all("%" in f"{r['as_reported']}{r['quote']}{r['note']}" for r in with_percent)
    for term in ['"', "a OR b", "NEAR(x y)", "revenue*", "(", "'"]:
        assert get(datasette, "/sensetime/financials.json", _search=term).status_code == 200, term
    assert len(rows(datasette, "/sensetime/search.json", q="%")) < db.execute(
        "select count(*) from observations").fetchone()[0]  # before: every row
    # as a LIKE pattern `%至` would find every row holding 至; as a literal only those holding `%至`
    found = [r for r in rows(datasette, "/sensetime/search.json", q="%至") if r["kind"] == "fact"]
    assert found and all("%至" in r["quote"] for r in found)
    assert len(found) < db.execute("select count(*) from observations where instr(quote, '至')").fetchone()[0]


def test_a_search_that_finds_nothing_says_so_and_what_to_try(datasette):
    assert search(datasette, "financials", "没有这个词") == []
    page = get(datasette, "/sensetime/financials", _search="没有这个词").text
    assert "No row of Company financials holds “没有这个词”" in page
    assert 'href="/sensetime/search?q=%E6%B2%A1%E6%9C%89%E8%BF%99%E4%B8%AA%E8%AF%8D"' in page
    assert "0 records" not in page


def test_the_search_query_finds_terms_of_any_length(datasette):
    kinds = {r["kind"] for r in rows(datasette, "/sensetime/search.json", q="比亚")}
    assert kinds >= {"partner"}
    for term in ("量产", "算力", "营业收入"):  # the same facts as the search box of `observations`
        found = [r for r in rows(datasette, "/sensetime/search.json", q=term) if r["kind"] == "fact"]
        boxed = search(datasette, "observations", term)
        key = ("subject", "metric", "period", "source_id")
        assert found and row_keys(found, *key) == row_keys(boxed, *key), term


# Terms of every kind: Latin and Chinese, of three characters and fewer, found nowhere, FTS5
# syntax and LIKE wildcards (plain characters), several words at once.
SEARCHES = ["revenue", "REVENUE", "营业收入", "收入", "MMLU", "mmlu", "算力", "量产", "汽车", "城市", "比亚", "InternLM", "2023",
            "1H2023", "%", "%至", "_", '"', "'", "(", "revenue*", "NEAR(x", "a OR b", "re", "B", "没有这个词", "zzz",
            "revenue 1H2023", "MMLU 2023 score", "量产 汽车"]
ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)  # SQLite's lower() folds ASCII only


def row_pieces(db, tables) -> dict[tuple[str, int], list[str]]:
    """Each searched row's pieces of text by (table, rowid), read from the tables as ``database``
    says: its string cells and the ``search_labels`` cells of the rows it points to."""
    def texts(values):
        return [str(v) for v in values if v not in (None, "")]

    def select(name, columns):
        return db.execute(f'select {", ".join(columns)} from "{name}"')

    naming = {name: {key: texts(values) for key, *values in select(name, [*table.primary_key, *table.search_labels])}
              for name, table in tables.items() if len(table.primary_key) == 1 and table.search_labels}
    pieces = {}
    for name, table in tables.items():
        own = [f.name for f in table.output_fields if f.type == "string"]
        for rowid, *values in select(name, ["rowid", *own]):
            cells = dict(zip(own, values, strict=True))
            labels = [label for column, other, _ in table.foreign_keys if other in naming
                      for label in naming[other].get(cells.get(column), [])]
            pieces[name, rowid] = texts(values) + labels
    for rowid, *values in select("data_dictionary", ["rowid", "table_name", "column_name", "description"]):
        pieces["data_dictionary", rowid] = texts(values)
    return pieces


def test_search_finds_the_rows_with_every_word_in_one_of_their_pieces(datasette, db, tables):
    """The search box's SQL against a plain scan of each row's pieces, for every table and ``observations``."""
    pieces = row_pieces(db, tables)
    keys = {}  # a fact's key in `observations`, by (table, rowid)
    for name, table in tables.items():
        if table.is_fact:
            obs = table.observations
            key = observation_key(f"'{name}'", obs["subject"], obs["metric"], obs.get("context", "null"))
            keys.update(((name, rowid), k) for rowid, k in db.execute(f"select rowid, {key} from {name}"))
    searched = sorted({name for name, _ in pieces})
    compared = 0
    for term in SEARCHES:
        words = [w.translate(ASCII_LOWER) for w in term.split()]
        holding = {row for row, texts in pieces.items()
                   if all(any(w in t.translate(ASCII_LOWER) for t in texts) for w in words)}
        for table in [*searched, "observations"]:
            found = filters_from_request(Request.fake(f"/sensetime/{table}?{urlencode({'_search': term})}"),
                                         "sensetime", table, datasette)
            target = VIEW_KEY if table == "observations" else "rowid"
            got = {r for (r,) in db.execute(f"select {target} from {table} where {' and '.join(found.where_clauses)}",
                                            found.params)}
            wanted = {keys[r] for r in holding if r in keys} if table == "observations" else \
                {rowid for name, rowid in holding if name == table}
            assert got == wanted, (table, term)
            compared += bool(wanted)
    assert len(searched) >= 18 and compared >= 200  # the words find rows in many tables


def test_each_piece_of_text_is_indexed_once_and_hidden(db, metadata):
    texts, distinct = db.execute(f"select count(*), count(distinct text) from {SEARCH_INDEX}").fetchone()
    pairs = db.execute("select count(*) from search_map, json_each(rows)").fetchone()[0]
    assert texts == distinct < pairs / 3  # most pieces are shared: a source's title, a metric's labels
    unordered = db.execute("select count(*) from search_map, json_each(rows) j where j.key > 0 "
                           "and j.value <= json_extract(rows, '$[' || (j.key - 1) || ']')").fetchone()[0]
    assert unordered == 0  # each piece's rows listed once, in order
    hidden = metadata["databases"]["sensetime"]["tables"]
    assert all(hidden[name] == {"hidden": True} for name in SEARCH_TABLES)


# --- canned queries ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(QUERY_SAMPLES))
def test_every_canned_query_opens_with_its_example_and_shows_rows(datasette, metadata, name):
    queries = metadata["databases"]["sensetime"]["queries"]
    assert set(queries) == set(QUERY_SAMPLES)
    opened = get(datasette, f"/sensetime/{name}")
    if opened.status_code == 302:  # a query with parameters goes to its example
        example = queries[name]["example_params"]
        assert all(f"{key}=" in opened.headers["location"] for key in example)
        opened = get(datasette, opened.headers["location"])
    assert opened.status_code == 200 and page_rows(opened.text), name
    found = rows(datasette, f"/sensetime/{name}.json", **queries[name].get("example_params", {}))
    assert any(QUERY_SAMPLES[name] in str(list(r.values())) for r in found), found[:3]


def test_models_side_by_side_names_its_example_models(datasette):
    location = get(datasette, "/sensetime/models_side_by_side").headers["location"]
    page = get(datasette, location).text
    assert "InternLM-123B" in page.split("<table", 1)[0] and "GPT-4" in page.split("<table", 1)[0]
    found = rows(datasette, location.replace("models_side_by_side?", "models_side_by_side.json?"))
    assert len(found) == 20 and {(r["model_a"], r["model_b"]) for r in found} == {("InternLM-123B", "GPT-4")}


def test_model_scores_lists_the_twenty_benchmarks_of_the_table(datasette):
    found = rows(datasette, "/sensetime/model_scores.json", model="internlm_123b", evaluation="internlm_123b_51_benchmarks")
    assert len(found) == 20
    assert {r["benchmark"]: r["as_reported"] for r in found}["GSM8K"] == "76.4"


# --- exports -------------------------------------------------------------------------------------

def test_csv_for_spreadsheets_has_a_byte_order_mark_on_request(datasette, root, good_copy):
    plain = get(datasette, "/sensetime/financials.csv", _size="max").content
    marked = get(datasette, "/sensetime/financials.csv", _size="max", _bom="1").content
    assert not plain.startswith(BOM) and marked == BOM + plain
    text = marked.decode("utf-8-sig")
    assert "按年同比增长36.4%至47亿元" in text and ",'=," in text  # with the formula guard's apostrophes
    query = get(datasette, "/sensetime/segment_shares.csv", _bom="1").content
    assert query.startswith(BOM) and "智慧城市" in query.decode("utf-8-sig")
    page = get(datasette, "/sensetime/financials").text
    assert re.search(r'<a class="csv-bom" href="/sensetime/financials\.csv\?[^"]*_bom=1', page)
    for csv_file in (root / "tables").glob("*.csv"):  # the package's own CSVs: bytes as they are
        assert (good_copy / "tables" / csv_file.name).read_bytes() == csv_file.read_bytes()
        assert not csv_file.read_bytes().startswith(BOM)


def test_exports_keep_chinese_intact(datasette):
    csv_text = get(datasette, "/sensetime/segments.csv").content.decode("utf-8")
    assert "智慧城市" in csv_text
    assert {r["name_zh"] for r in rows(datasette, "/sensetime/segments.json")} == {"智慧商业", "智慧城市", "智慧生活", "智能汽车"}


# --- dashboard -----------------------------------------------------------------------------------

def encodings(display: dict) -> dict:
    """Every encoding channel of a Vega-Lite spec, its layers' included."""
    out = dict(display.get("encoding", {}))
    for layer in display.get("layer", []):
        out.update(layer.get("encoding", {}))
    return out


def test_dashboard_page_and_every_chart_query(datasette, charts):
    page = get(datasette, "/-/dashboards/sensetime")
    assert page.status_code == 200
    assert {"revenue-loss", "gross-margin", "segment-shares", "segment-revenue", "compute-pflops", "compute-gpus",
            "internlm-vs-gpt", "internlm-123b", "carmakers"} <= set(charts)
    for slug, chart in charts.items():
        assert chart["title"] in html.unescape(page.text), slug
        assert CJK.search(chart["title"]) and LATIN.search(chart["title"]), f"{slug}: title needs both languages"
        assert rows(datasette, "/sensetime.json", sql=chart["query"]), slug


def test_every_mark_links_to_the_rows_behind_it(datasette, charts):
    for slug, chart in charts.items():
        data = rows(datasette, "/sensetime.json", sql=chart["query"])
        if chart["library"] == "table":
            links = [re.search(r'href="([^"]+)"', str(r)).group(1) for r in data]
        else:
            assert encodings(chart["display"])["href"] == {"field": "href", "type": "nominal"}, slug
            links = [r["href"] for r in data]
        for link, datum in zip(links, data, strict=False):
            path, _, query = link.partition("?")
            behind = rows(datasette, f"{path}.json?{query}")
            assert behind, f"{slug}: {link} shows no rows"
            if chart["library"] == "vega-lite":  # a bar or a point: its value is one of the rows behind it
                plotted = {v for k, v in datum.items() if isinstance(v, float)}
                assert plotted & {r.get("value") for r in behind}, f"{slug}: {link} lacks {plotted}"


def test_axes_and_legends_read_in_both_languages(datasette, charts):
    for slug, chart in charts.items():
        if chart["library"] != "vega-lite":
            continue
        data = rows(datasette, "/sensetime.json", sql=chart["query"])
        for channel, encoding in encodings(chart["display"]).items():
            if channel in ("x", "y", "color") and "title" in encoding:
                title = encoding["title"]
                assert CJK.search(title) and LATIN.search(title), f"{slug}.{channel}: {title}"
            if channel in ("color", "xOffset") and encoding.get("type", "nominal") == "nominal" and "field" in encoding:
                for value in {r[encoding["field"]] for r in data}:  # legend labels: names, never ids
                    assert LATIN.search(value) and "_" not in value, f"{slug}.{channel}: {value}"
                    if not slug.startswith("internlm"):  # model names, which have no Chinese
                        assert CJK.search(value), f"{slug}.{channel}: {value}"
            if encoding.get("type") == "temporal":
                assert "%Y" in encoding["axis"]["format"], f"{slug}.{channel}: a time axis without years"


def test_periods_of_different_kinds_say_so_and_shares_are_on_a_0_100_axis(datasette, charts):
    for slug, chart in charts.items():
        encoding = encodings(chart.get("display", {}))
        if "%" in chart["title"]:
            assert encoding["y"]["scale"]["domain"] == [0, 100], slug
        x = encoding.get("x", {})
        if x.get("field") == "period":
            labels = {r["period"] for r in rows(datasette, "/sensetime.json", sql=chart["query"])}
            assert all(re.search(r"\((full|half) year", label) for label in labels), f"{slug}: {labels}"


def test_revenue_chart_shows_what_is_printed_and_explains_a_missing_bar(datasette, db, charts):
    chart = charts["revenue-loss"]
    data = rows(datasette, "/sensetime.json", sql=chart["query"])
    printed = {(p, m) for p, m in db.execute(
        "select distinct period, metric from financials where metric in ('revenue', 'adjusted_net_loss') and ambiguous = 0")}
    assert {(r["period"].split()[0], r["href"].split("metric=")[1].split("&")[0]) for r in data} == printed
    periods = {p for p, _ in printed}
    subtitle = " ".join(chart["display"]["title"]["subtitle"])
    for period in periods:
        if {(period, "revenue"), (period, "adjusted_net_loss")} - printed:
            assert period in subtitle, f"the subtitle should say why {period} has one bar"
    assert "1H2023" in subtitle and "half year" in subtitle


# --- read-only -------------------------------------------------------------------------------------

def test_no_units_metadata_and_every_lookup_has_a_label(metadata, tables):
    described = metadata["databases"]["sensetime"]["tables"]
    assert not [name for name, entry in described.items() if "units" in entry]  # Pint cannot read PFLOPS
    for name, table in tables.items():
        if not table.is_fact and name != "exclusions":
            assert described[name].get("label_column"), name


def test_database_is_immutable_and_writes_are_refused(datasette):
    response = get(datasette, "/sensetime.json", sql="delete from segments")
    assert response.status_code == 400
    assert len(rows(datasette, "/sensetime/segments.json")) == 4
