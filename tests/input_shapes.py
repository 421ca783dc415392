"""Warehouses of the company shapes the profile and churn tests run on, derived from
``worlds.make_warehouse`` by dropping or rewriting its tables as a company's exports would
leave them (ingest writes a missing optional column as a column of typeless nulls).

- ``orders_only``: customers and orders only (no events, surveys or assignments files);
  orders without discount (typeless nulls), category, items and payment method; every
  order time a date only (``has_time`` false, stamped 00:00); customers without gender,
  birth year, membership or city.
- ``other_vocabulary``: events named ``login``, ``search``, ``share``, ``complaint`` (no
  ``visit``, ``view`` or ``add_to_cart``) and a surveys table with no rows.
- the demo shape is ``make_warehouse`` itself.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from worlds import make_warehouse

VOCABULARY = {"visit": "login", "view": "search", "search": "search", "add_to_cart": "share", "coupon_claim": "complaint"}


def _nulls(table: pa.Table, columns: tuple[str, ...]) -> pa.Table:
    """``table`` with ``columns`` replaced by typeless nulls, as ingest writes absent optional columns."""
    for name in columns:
        table = table.set_column(table.schema.get_field_index(name), name, pa.nulls(len(table)))
    return table


def orders_only(root: Path, n_customers: int = 1500, seed: int = 3, **world: object) -> Path:
    """A customers + orders warehouse of date-only orders without optional columns."""
    make_warehouse(root, n_customers=n_customers, seed=seed, **world)
    for table in ("events", "surveys", "assignments"):
        (root / f"{table}.parquet").unlink()
    orders = pq.read_table(root / "orders.parquet")
    orders = _nulls(orders, ("discount",)).drop_columns(["category", "items", "payment_method"])
    midnight = pc.floor_temporal(orders["order_ts"], unit="day")
    orders = orders.set_column(orders.schema.get_field_index("order_ts"), "order_ts", midnight)
    orders = orders.append_column("has_time", pa.array([False] * len(orders)))
    pq.write_table(orders, root / "orders.parquet")
    customers = _nulls(pq.read_table(root / "customers.parquet"), ("member_since", "gender", "birth_year", "city", "city_tier"))
    pq.write_table(customers, root / "customers.parquet")
    return root


def other_vocabulary(root: Path, n_customers: int = 1500, seed: int = 3, **world: object) -> Path:
    """The demo warehouse with another event vocabulary and an empty surveys table."""
    make_warehouse(root, n_customers=n_customers, seed=seed, **world)
    events = pq.read_table(root / "events.parquet")
    renamed = [VOCABULARY[value] for value in events["event_type"].to_pylist()]
    events = events.set_column(events.schema.get_field_index("event_type"), "event_type", pa.array(renamed, pa.string()))
    pq.write_table(events, root / "events.parquet")
    surveys = pq.read_table(root / "surveys.parquet")
    pq.write_table(surveys.slice(0, 0), root / "surveys.parquet")
    return root
