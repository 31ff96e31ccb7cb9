"""The views of the database, each in one place: its SQL, its description and the columns it adds.

``observations`` is the contract's one shape for every fact (see ../shared/DESIGN.md): its
columns are ``schema.OBSERVATION_COLUMNS``, taken from each fact table as its schema's
``observations`` expressions say. ``fact_agreement`` groups it by fact across sources.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .schema import OBSERVATION_COLUMNS, Field, Table


@dataclass(frozen=True)
class View:
    name: str
    description: str
    fields: tuple[Field, ...]  # the columns the view adds; the others are the fact tables'
    sql: Callable[[dict[str, Table]], str]  # the view's SELECT, from the tables of the package

    @property
    def title(self) -> str:
        return self.name.replace("_", " ").capitalize()


def _fields(**described: tuple[str, str]) -> tuple[Field, ...]:
    return tuple(Field(name, kind, description, {}) for name, (kind, description) in described.items())


def observations_sql(tables: dict[str, Table]) -> str:
    """One select per fact table, in ``OBSERVATION_COLUMNS`` order, joined by ``union all``."""
    parts = []
    for name, table in tables.items():
        if not table.is_fact:
            continue
        given = {**{k: table.observations.get(k, "null") for k in ("topic", "subject", "metric", "context")},
                 "fact_table": f"'{name}'"}
        columns = ", ".join(f"{given[c]} as {c}" if c in given else c for c in OBSERVATION_COLUMNS)
        parts.append(f"select {columns} from {name}")
    return "\nunion all\n".join(parts)


AGREEMENT_SQL = """
select topic, subject, metric, context, period, period_start, period_end, unit,
       count(distinct source_id) as sources,
       group_concat(source_id || ': ' || as_reported, ' | ') as statements,
       min(value) as min_value, max(value) as max_value,
       case when min(value) = max(value) and min(coalesce(value_high, value)) = max(coalesce(value_high, value))
            then 1 else 0 end as values_agree
from observations
where comparator != 'missing'
group by topic, subject, metric, context, period, period_start, period_end, unit
having count(distinct source_id) > 1
"""

VIEWS = {
    "observations": View(
        "observations",
        "Every numeric fact of every fact table in one shape: topic, subject, metric, period, "
        "value in its canonical unit, comparator, the figure as printed, source and verbatim quote. "
        "`fact_table` names the table the row comes from.",
        _fields(
            topic=("string", "What the fact is about: `financials`, `segments`, `compute`, `auto`, `models`, "
                             "`benchmarks` or `market`."),
            subject=("string", "Whom the figure is of: `company`, a segment id, a compute scope, a model, a market."),
            metric=("string", "What the figure measures: a metric id, or for a benchmark score the benchmark."),
            context=("string", "What else tells the fact apart: a benchmark score's evaluation, a compute figure's "
                               "scope; empty where nothing does."),
            fact_table=("string", "The fact table the row comes from."),
        ),
        observations_sql,
    ),
    "fact_agreement": View(
        "fact_agreement",
        "Facts stated by more than one source (same topic, subject, metric, period and unit), "
        "with each source's printed figure and whether the normalised values agree.",
        _fields(
            sources=("integer", "How many sources state the fact."),
            statements=("string", "Each source's figure as printed: `source_id: as_reported`, joined by ` | `."),
            min_value=("number", "The smallest `value` the sources give, in `unit`."),
            max_value=("number", "The largest `value` the sources give, in `unit`."),
            values_agree=("boolean", "1 when every source gives the same value (and the same high end of a range), "
                                     "0 otherwise."),
        ),
        lambda tables: AGREEMENT_SQL,
    ),
}


def view_fields(tables: dict[str, Table]) -> dict[str, Field]:
    """Every column the views have, described: the fact tables' columns, then those the views add
    (``fact_agreement`` shows the columns ``observations`` adds as well as its own)."""
    out = {f.name: f for t in tables.values() if t.is_fact for f in t.output_fields}
    for view in VIEWS.values():
        out.update({f.name: f for f in view.fields})
    return out
