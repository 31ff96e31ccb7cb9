"""The meta-schema: the real schemas keep to it, and it covers every column the rules rely on."""

from pathlib import Path

import pytest

import sensetime_data
from sensetime_data import metaschema, schema, validate
from sensetime_data.schema import Table


def test_the_schemas_keep_to_the_meta_schema(root, tables):
    assert [str(p) for p in metaschema.check(tables, root)] == []


def with_rules(tables, name, rules):
    t = tables[name]
    return {**tables, name: Table(name, {**t.descriptor, "rules": rules}, t.csv, t.schema_file)}


@pytest.mark.parametrize("name, change, message", [
    ("financials", lambda rules: [r for r in rules if r != "growth_matches_levels"],
     "the meta-schema requires the rules growth_matches_levels"),
    ("model_benchmarks", lambda rules: rules[1:], "the meta-schema requires the rules quote_in_source"),
    ("sources", lambda rules: [], "the meta-schema requires the rules published_is_a_date"),
    ("financials", lambda rules: [*rules, "values_look_fine"], "'values_look_fine' is not a rule of sensetime_data.rules"),
    ("units", lambda rules: ["quote_in_source"], "rule 'quote_in_source' checks column 'quote', which the table lacks"),
    ("periods", lambda rules: "period_matches_dates", "rules must be a list of rule names"),
])
def test_a_schema_cannot_drop_or_invent_a_rule(root, tables, name, change, message):
    changed = with_rules(tables, name, change(tables[name].rules))
    problems = [p for p in metaschema.check(changed, root) if p.file == f"schemas/{name}.json"]
    assert [p.message for p in problems if message in p.message], [str(p) for p in problems]
    assert all(p.rule == "meta-schema" for p in problems)


def test_a_fact_table_declares_every_fact_rule_and_its_rules_run(tables):
    fact = metaschema.meta()["fact_table"]
    for name, table in tables.items():
        if table.is_fact:
            assert set(fact["rules"]) <= set(table.rules), name
            assert ("metric" in table.columns) == (set(fact["metric_rules"]) <= set(table.rules)), name
    assert set(validate.table_rules(tables["financials"])) == set(tables["financials"].rules)


def test_every_fact_table_is_named_in_the_meta_schema(tables):
    facts = {name for name, table in tables.items() if table.is_fact}
    assert facts == set(metaschema.meta()["fact_tables"])


def test_the_meta_schema_ships_inside_the_package():
    assert schema.META.parent == Path(sensetime_data.__file__).parent
    assert schema.META.is_file()


def test_every_rule_says_what_it_checks_in_the_data_dictionary(root):
    from sensetime_data.rules import RULES

    dictionary = (root / "docs" / "data-dictionary.md").read_text("utf-8")
    for name, (_, rule) in RULES.items():
        assert rule.__doc__ and rule.__doc__.strip(), name
        assert f"| `{name}` |" in dictionary, name
