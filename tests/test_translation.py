"""English beside Chinese: the number check, the curators' translations and the merge script."""

import csv
import doctest
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import copy_inputs, tree_digest
from helpers import edit, read_rows

from sensetime_data import translation
from sensetime_data.ledger import coverage
from sensetime_data.read import read_table
from sensetime_data.schema import read_tables
from sensetime_data.sources import read_texts
from sensetime_data.translation import added_numbers, missing_numbers, quote_en_keeps_numbers

ROOT = Path(__file__).resolve().parents[1]
MERGE = ROOT / "translations" / "merge.py"
ENGLISH = json.loads((ROOT / "translations" / "en.json").read_text("utf-8"))
ADDED = {"quote": "quote_en", "relationship": "relationship_en", "caption": "caption_en", "claim": "claim_en"}
REVENUE = "按年同比增长36.4%至47亿元"


def test_doctests():
    assert doctest.testmod(translation).failed == 0


@pytest.mark.parametrize("zh, en", [
    (REVENUE, "Up 36.4% year on year to 47亿元"),
    (REVENUE, "Up 36.4% year on year to RMB 4.7 billion"),
    (REVENUE, "Up 36.4% year on year to RMB 4,700,000,000"),
    (REVENUE, "Up 36.4% year on year to RMB 4700 million"),
    ("5.0+ exaFlops 自有算力² 2.7万+ GPU²", "5.0+ exaFlops of own computing power; 27,000+ GPUs"),
    ("5.0+ exaFlops 自有算力² 2.7万+ GPU²", "5.0+ exaFlops of own computing power; 2.7万+ GPUs"),
    ("公司成功研发了千亿参数量预训练大模型", "The company developed a pre-trained model with 100 billion parameters"),
    ("公司成功研发了千亿参数量预训练大模型", "The company developed a pre-trained model with 100,000,000,000 parameters"),
    ("截至2021年底，累计拥有11494件全球专利资产", "held 11,494 patent assets at the end of 2021"),
    ("截至2021年底，公司通过SenseCore生产出的商用模型数量达34,000多个", "more than 34000 models by the end of 2021"),
    ("2021年底交付四款AI传感器", "Delivered 4 AI sensor models by the end of 2021"),
    ("集团在中国智慧城市计算机视觉软件市场份额排名第一", "The group ranks No. 1 by market share"),
    ("半年内秒画完成两次大版本升级", "秒画 completed 2 major version upgrades within half a year"),
    ("NO.1 座舱AI软件 市场份额¹", "NO.1: cockpit AI software market share"),
    ("数亿 终端、企业与 个人用户触达", "Several hundred million devices, businesses and users reached"),
    ("百亿 参数模型 × 100+ 训练次数", "10 billion-parameter models × 100+ training runs"),
])
def test_kept(zh, en):
    assert missing_numbers(zh, en) == []
    assert added_numbers(zh, en) == []


@pytest.mark.parametrize("zh, en, missing", [
    (REVENUE, "Up 36.4% year on year to RMB 4.8 billion", ["47亿"]),
    (REVENUE, "Up 36.4% year on year to RMB 47 billion", ["47亿"]),  # the scale word must agree too
    (REVENUE, "Up 36.4% year on year to 4700 (RMB million)", ["47亿"]),  # the dataset's unit is not a way to write it
    ("连续三年蝉联中国计算机视觉应用市场份额第一", "Ranked first for three years running", ["三年", "第一"]),
    ("半年内秒画完成两次大版本升级", "秒画 was upgraded twice within half a year", ["两次"]),
    ("公司成功研发了千亿参数量预训练大模型", "The company developed a hundred-billion-parameter model", ["千亿"]),
    ("- API选择错误 0% 22% 22% 30%", "- Wrong API chosen 0% 22% 30%", ["22"]),  # printed twice, kept twice
    ("MMLU 64.3 72.9 69.1 83.0 69.8", "MMLU 64.3 72.9 69.1 83.0 68.9", ["69.8"]),
    ("已完成58款国产芯片的适配与应用", "Has adapted 85 Chinese-made chip models", ["58"]),
])
def test_missing(zh, en, missing):
    assert missing_numbers(zh, en) == missing


@pytest.mark.parametrize("zh, en, added", [
    (REVENUE, "Up 36.4% year on year to 47亿元 (RMB 4.8 billion)", ["4.8 billion"]),
    ("MMLU 64.3 72.9 69.1 83.0 69.8", "MMLU 64.3 72.9 69.1 83.0 69.8 (5 models, 2023)", ["5", "2023"]),
])
def test_added(zh, en, added):
    assert missing_numbers(zh, en) == []
    assert added_numbers(zh, en) == added


@pytest.mark.parametrize("column", list(ENGLISH))
def test_every_translation_keeps_its_numbers(column):
    problems = [(zh, en, missing_numbers(zh, en), added_numbers(zh, en)) for zh, en in ENGLISH[column].items()]
    assert [p for p in problems if p[2] or p[3]] == []


def run_merge(root: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(MERGE), "--root", str(root), *args],
                          capture_output=True, text=True, timeout=300)


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def without_translations(root: Path) -> None:
    """Take the English columns out of a package, as it was before the first merge."""
    for path in (root / "tables").glob("*.csv"):
        rows = list(csv.reader(io.StringIO(path.read_text("utf-8"), newline="")))
        keep = [i for i, c in enumerate(rows[0]) if c not in ADDED.values()]
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([[r[i] for i in keep] for r in rows])
        path.write_text(out.getvalue(), "utf-8")
    for path in (root / "schemas").glob("*.json"):
        schema = json.loads(path.read_text("utf-8"))
        schema["fields"] = [f for f in schema["fields"] if f["name"] not in ADDED.values()]
        path.write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n", "utf-8")


@pytest.fixture(scope="module")
def unmerged(tmp_path_factory) -> Path:
    """A copy of the package without its English columns."""
    root = tmp_path_factory.mktemp("before") / "pkg"
    copy_inputs(ROOT, root)
    without_translations(root)
    return root


@pytest.fixture(scope="module")
def merged(unmerged, tmp_path_factory) -> Path:
    """That copy with the translations merged in: the package as it is."""
    root = tmp_path_factory.mktemp("merged") / "pkg"
    copy_inputs(unmerged, root)
    done = run_merge(root)
    assert done.returncode == 0, done.stderr
    return root


def test_merge_adds_the_columns_and_keeps_every_other_byte(merged, unmerged):
    for table in read_tables(merged).values():
        rows = list(csv.reader(io.StringIO(table.csv.read_text("utf-8"), newline="")))
        header = rows[0]
        for zh, en in ADDED.items():
            if zh in header:
                assert header[header.index(zh) + 1] == en
                assert all(r[header.index(en)] for r in rows[1:] if r[header.index(zh)])
        keep = [i for i, c in enumerate(header) if c not in ADDED.values()]
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([[r[i] for i in keep] for r in rows])
        assert out.getvalue().encode() == (unmerged / "tables" / table.csv.name).read_bytes(), table.name

        before = json.loads((unmerged / "schemas" / table.schema_file.name).read_text("utf-8"))
        after = json.loads(table.schema_file.read_text("utf-8"))
        assert [f for f in after["fields"] if f["name"] not in ADDED.values()] == before["fields"]
        assert {k: v for k, v in after.items() if k != "fields"} == {k: v for k, v in before.items() if k != "fields"}
        for zh, en in ADDED.items():
            if zh in header:
                field = table.field(en)
                assert field.type == "string" and "translation" in field.description
                assert table.required(en) == table.required(zh)
    assert snapshot(merged)["datapackage.json"] == (ROOT / "datapackage.json").read_bytes()
    assert {k: v for k, v in snapshot(merged).items() if k.startswith(("tables/", "schemas/"))} == {
        p.relative_to(ROOT).as_posix(): p.read_bytes() for d in ("tables", "schemas") for p in sorted((ROOT / d).iterdir())
    }, "the repository's tables are the merged ones"


def test_merge_twice_changes_nothing(merged):
    before = snapshot(merged)
    done = run_merge(merged)
    assert done.returncode == 0, done.stderr
    assert snapshot(merged) == before


def test_quote_en_rule_on_the_merged_tables(merged, tmp_path):
    tables = read_tables(merged)
    with_quote = [t for t in tables.values() if "quote_en" in t.columns]
    assert len(with_quote) >= 10
    for table in with_quote:
        messages = quote_en_keeps_numbers(read_table(table), None)
        assert messages.eq("").all(), messages[messages.ne("")].tolist()

    root = tmp_path / "pkg"
    copy_inputs(merged, root)
    match = {"metric": "revenue", "period": "FY2021", "source_id": "zxjw_fy2021"}
    edit(root, "financials", match, quote_en="Up 36.4% year on year to RMB 4.8 billion")
    frame = read_table(read_tables(root)["financials"])
    messages = quote_en_keeps_numbers(frame, None)
    assert messages[frame["metric"].eq("revenue") & frame["source_id"].eq("zxjw_fy2021")].tolist() == [
        "quote_en does not keep 47亿 of the quote; quote_en has 4.8 billion, which the quote does not print"
    ]
    assert messages.ne("").sum() == 1


def test_merged_copy_validates_without_problems_in_the_new_columns(merged, good_copy, checked, seeds):
    """The merged copy holds the very files of the package validated once for the run: that validation is its own."""
    for name in ("tables", "schemas"):
        assert tree_digest(merged / name) == tree_digest(good_copy / name), name
    assert (merged / "datapackage.json").read_bytes() == (good_copy / "datapackage.json").read_bytes()
    assert checked.texts, "the quotes were checked against the source texts"
    assert [str(p) for p in checked.report.problems if p.column in ADDED.values() or "_en" in p.message] == []
    assert all(name in checked.frames for name in ("financials", "models", "evaluations", "automotive_partners"))


def test_translations_do_not_account_for_numbers_in_the_ledger(merged, seeds):
    """An English cell equal to its quote (a benchmark row) must not count as printing the quote's numbers."""
    frames = {name: read_table(t) for name, t in read_tables(merged).items()}
    mb = frames["model_benchmarks"]
    frames["model_benchmarks"] = mb[~(mb["quote"].str.startswith("MMLU 64.3") & mb["as_reported"].eq("72.9"))]
    texts, _ = read_texts(frames["sources"].to_dict("records"), seeds)
    (deck,) = coverage(frames, {"deck_1h2023": texts["deck_1h2023"]})
    assert [m.text for m in deck.missing] == ["72.9"]


def test_a_text_without_english_is_listed_and_nothing_is_written(tmp_path):
    root = tmp_path / "pkg"
    copy_inputs(ROOT, root)
    rows = read_rows(root / "tables" / "financials.csv")
    line = edit(root, "financials", {k: rows[0][k] for k in ("metric", "period", "source_id")}, quote="一个新的引文", quote_en="")
    before = snapshot(root)
    done = run_merge(root)
    assert done.returncode == 1
    assert f"tables/financials.csv:{line}: quote: no English in the JSON: '一个新的引文'" in done.stderr
    assert snapshot(root) == before


def test_a_translation_that_changes_a_figure_is_refused(tmp_path):
    root = tmp_path / "pkg"
    copy_inputs(ROOT, root)
    english = json.loads(json.dumps(ENGLISH))
    english["quote"][REVENUE] = "Up 36.4% year on year to RMB 4.8 billion"
    path = tmp_path / "en.json"
    path.write_text(json.dumps(english, ensure_ascii=False), "utf-8")
    before = snapshot(root)
    done = run_merge(root, "--json", str(path))
    assert done.returncode == 1
    assert "quote_en: drops 47亿" in done.stderr and "quote_en: adds 4.8 billion" in done.stderr
    assert snapshot(root) == before
