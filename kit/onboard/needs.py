"""What each notebook can show with the sources a config declares, before any run.

``SECTIONS`` lists, per notebook, the main things its page shows and the inputs each needs,
named as in ``kit.core.inputs`` (``orders``, ``orders.discount``, ``orders.time``, ...).
``planned_inputs`` builds the ``Inputs`` a warehouse would have from the sources' kinds and
the canonical columns they fill, so ``kit init`` and ``kit check`` answer with the same
rule the pages use after ingest (``Inputs.has``). The missing input is named with the
report's own phrase (``input.*`` strings: "No survey data").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kit.core.inputs import TIMED, Inputs
from kit.ingest.kinds import DEFAULT_KEYS
from kit.text.i18n import has_key, t

# canonical source column -> the warehouse column it fills, per table (others keep their name)
WAREHOUSE_COLUMNS = {"customers": {"birth_date": "birth_year", "registered_at": "member_since"}}
# source kind -> warehouse table (app users only link events to customers)
TABLE_OF_KIND = {"customers": "customers", "orders": "orders", "events": "events", "surveys": "surveys",
                 "assignments": "assignments"}
IDENTITY_KINDS = tuple(DEFAULT_KEYS)  # kinds whose records become customers


@dataclass(frozen=True)
class Section:
    """A thing a page shows and the inputs it needs (all of them)."""

    what: str
    needs: tuple[str, ...]
    catalogue: bool = False  # also needs the experiments catalogue file


SECTIONS: dict[str, tuple[Section, ...]] = {
    "01_ingest": (
        Section("rows per source, quarantine, identity matching and the data fitness gate", ()),
        Section("member records and how they link to orders", ("customers.member_since",)),
    ),
    "02_tags": (
        Section("purchase tags (recency, frequency, spend, repeat buyers)", ("orders",)),
        Section("discount-sensitivity tags", ("orders.discount",)),
        Section("category preferences", ("orders.category",)),
        Section("payment habits", ("orders.payment_method",)),
        Section("time-of-day habits (night shoppers, preferred hour)", ("orders.time",)),
        Section("age bands", ("customers.birth_year",)),
        Section("gender", ("customers.gender",)),
        Section("city tiers", ("customers.city",)),
        Section("browsing behaviour (visits, views, carts, other event types)", ("events",)),
        Section("satisfaction (NPS, CSAT)", ("surveys",)),
    ),
    "03_segmentation": (
        Section("RFM segments, value tiers and lifecycle stages", ("orders",)),
        Section("personas from purchase habits", ("orders",)),
        Section("personas of customers who browse but have not bought yet", ("events",)),
    ),
    "04_clv": (
        Section("customer lifetime value, P(alive) and the holdout check", ("orders",)),
    ),
    "05_churn": (
        Section("churn risk, drivers and who to contact first", ("orders",)),
        Section("engagement signals (falling activity)", ("events",)),
        Section("satisfaction signals", ("surveys",)),
    ),
    "06_experiment_readout": (
        Section("experiment readouts (effects, sample ratio check, segments)", ("assignments",), catalogue=True),
    ),
    "07_overview": (
        Section("revenue, buyers, active and new customers, value at risk", ("orders",)),
        Section("app activity", ("events",)),
        Section("satisfaction (NPS)", ("surveys",)),
        Section("experiment highlights", ("assignments",), catalogue=True),
    ),
}


@dataclass(frozen=True)
class PlannedSource:
    """What a declared source will bring: its kind, rows, filled canonical columns, times of day."""

    kind: str
    rows: int
    filled: frozenset[str]
    timed: bool


def planned_inputs(sources: Iterable[PlannedSource], event_types: Iterable[str] = ()) -> Inputs:
    """The ``Inputs`` the warehouse would have after ingesting ``sources``."""
    rows: dict[str, int] = {}
    filled: dict[str, set[str]] = {}
    timed: set[str] = set()
    for source in sources:
        tables = [TABLE_OF_KIND[source.kind]] if source.kind in TABLE_OF_KIND else []
        if source.kind in IDENTITY_KINDS and source.rows:
            tables.append("customers")  # every identity record becomes (part of) a customer
        for table in dict.fromkeys(tables):
            rows[table] = rows.get(table, 0) + source.rows
            if table == TABLE_OF_KIND.get(source.kind):
                rename = WAREHOUSE_COLUMNS.get(table, {})
                filled.setdefault(table, set()).update(rename.get(c, c) for c in source.filled)
                if table in TIMED and source.timed:
                    timed.add(table)
    return Inputs(rows, {k: frozenset(v) for k, v in filled.items()}, frozenset(timed), tuple(event_types))


def missing_phrase(need: str) -> str:
    """The report's phrase for an absent input ("No survey data"), in English."""
    key = f"input.{need}"
    if has_key(key):
        return t(key)
    table, _, column = need.partition(".")
    return t("input.column", table=t(f"input.table.{table}"), column=column)


def page_lines(inputs: Inputs, catalogue: bool, notebooks: Iterable[str]) -> list[str]:
    """Per notebook: what it will show, and what it will not with the reason."""
    out = []
    for notebook in notebooks:
        shown, hidden = [], []
        for section in SECTIONS.get(notebook, ()):
            missing = inputs.missing(section.needs)
            reasons = [missing_phrase(need) for need in missing]
            if section.catalogue and not catalogue:
                reasons.append("No experiments catalogue")
            (hidden if reasons else shown).append(section.what + (f" ({'; '.join(reasons)})" if reasons else ""))
        out.append(f"  {notebook}")
        out += [f"    shows:     {what}" for what in shown]
        out += [f"    not shown: {what}" for what in hidden]
    return out
