"""What data the warehouse holds, so a stage computes only what its inputs allow.

A company with orders only has no events, surveys or assignments; an order log may have
no discounts, categories or times of day. Every stage asks ``Inputs`` before computing
something whose inputs may be absent, and a page shows one plain line for what it
cannot show (``Inputs.unavailable`` + the ``input.*`` strings), never an all-null
feature, an empty table or a crash.

Needs are named ``<table>`` (the table has rows), ``<table>.<column>`` (at least one row
has a value) or ``orders.time`` / ``events.time`` (at least one row's timestamp carries a
time of day: ingest writes ``has_time`` false for rows of a source whose timestamps are
dates only). ``Inputs`` is computed from the Parquet files themselves (row and non-null
counts from their footers' statistics in one DuckDB query per table), so it is always in
step with the warehouse it describes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

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
        root = Path(root)
        con = duckdb.connect()
        rows: dict[str, int] = {}
        filled: dict[str, frozenset[str]] = {}
        timed: set[str] = set()
        event_types: tuple[str, ...] = ()
        for table in TABLES:
            path = root / f"{table}.parquet"
            if not path.exists():
                continue
            source = f"read_parquet('{str(path).replace(chr(39), chr(39) * 2)}')"
            names = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
            counts = ", ".join(f'count("{name}")' for name in names)
            n, *non_null = con.execute(f"SELECT count(*), {counts} FROM {source}").fetchone()
            rows[table] = int(n)
            filled[table] = frozenset(name for name, k in zip(names, non_null) if k)
            if table in TIMED and n:
                if "has_time" not in names or con.execute(f"SELECT bool_or(has_time) FROM {source}").fetchone()[0]:
                    timed.add(table)
            if table == "events" and n:
                found = con.execute(
                    f"SELECT DISTINCT event_type FROM {source} WHERE event_type IS NOT NULL ORDER BY 1"
                ).fetchall()
                event_types = tuple(str(row[0]) for row in found)
        con.close()
        return cls(rows, filled, frozenset(timed), event_types)
