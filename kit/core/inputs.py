"""What data the warehouse holds, so a stage computes only what its inputs allow.

A company with orders only has no events, surveys or assignments; an order log may have
no discounts, categories or times of day. Every stage asks ``Inputs`` before computing
something whose inputs may be absent, and a page shows one plain line for what it
cannot show (``Inputs.unavailable`` + the ``input.*`` strings), never an all-null
feature, an empty table or a crash.

Needs are named ``<table>`` (the table has rows), ``<table>.<column>`` (at least one row
has a value) or ``orders.time`` / ``events.time`` (at least one row's timestamp carries a
time of day: ingest writes ``has_time`` false for rows of a source whose timestamps are
dates only). ``Inputs`` is computed from the tables themselves (row and non-null counts in one query
per table: the Parquet files through DuckDB, which answers from their footers'
statistics, or the engine's catalog tables), so it is always in step with the warehouse
it describes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import ibis

# Tables a need can name; identities and customers always exist after ingest.
TABLES = ("customers", "orders", "events", "surveys", "subscriptions", "assignments")
TIMED = {"orders": "order_ts", "events": "event_ts"}


@dataclass(frozen=True)
class Inputs:
    """Rows per table, the columns holding values, timed tables and event types."""

    rows: dict[str, int] = field(default_factory=dict)
    filled: dict[str, frozenset[str]] = field(default_factory=dict)
    timed: frozenset[str] = frozenset()
    event_types: tuple[str, ...] = ()

    def has(self, need: str) -> bool:
        """Whether need ``table``, ``table.column`` or ``table.time`` is met."""
        table, _, column = need.partition(".")
        if table not in TABLES:
            raise ValueError(f"unknown input {need!r}: name one of {', '.join(TABLES)}, optionally with .column or .time")
        if self.rows.get(table, 0) == 0:
            return False
        if not column:
            return True
        if column == "time" and table in TIMED:
            return table in self.timed
        return column in self.filled.get(table, frozenset())

    def missing(self, needs: Iterable[str]) -> list[str]:
        """The needs of ``needs`` that are not met, in the order given."""
        return [need for need in needs if not self.has(need)]

    @classmethod
    def read(cls, root: Path | str) -> "Inputs":
        """The inputs of the warehouse generation in folder ``root`` (absent tables have no rows)."""
        con = ibis.duckdb.connect()
        files = {table: Path(root) / f"{table}.parquet" for table in TABLES}
        try:
            return cls.of_tables({table: con.read_parquet(path) for table, path in files.items() if path.exists()})
        finally:
            con.disconnect()

    @classmethod
    def of_tables(cls, tables: Mapping[str, ibis.Table]) -> "Inputs":
        """The inputs of the canonical ``tables`` (by name, on any Ibis backend)."""
        rows: dict[str, int] = {}
        filled: dict[str, frozenset[str]] = {}
        timed: set[str] = set()
        event_types: tuple[str, ...] = ()
        for table, t in tables.items():
            counts = t.aggregate(_rows=t.count(), **{f"_n_{i}": t[name].count() for i, name in enumerate(t.columns)})
            found = counts.to_pyarrow().to_pylist()[0]
            n = int(found["_rows"])
            rows[table] = n
            filled[table] = frozenset(name for i, name in enumerate(t.columns) if found[f"_n_{i}"])
            if table in TIMED and n and ("has_time" not in t.columns or t.has_time.any().to_pyarrow().as_py()):
                timed.add(table)
            if table == "events" and n:
                types = t.filter(t.event_type.notnull()).select("event_type").distinct().order_by("event_type")
                event_types = tuple(str(v) for v in types.to_pyarrow()["event_type"].to_pylist())
        return cls(rows, filled, frozenset(timed), event_types)
