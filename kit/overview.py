"""The executive overview: monthly KPIs, their trend, month-over-month change and the
lifecycle at a glance (acquisition -> conversion -> retention -> value growth).

Order- and survey-based KPIs are computed for the last 12 months straight from the
warehouse with one Ibis aggregation per table (conditional aggregates, one scan each), so
the sparklines do not depend on earlier runs having been published. Model-based KPIs
(average CLV, value at risk) exist only for months that were run; their history and every
month-over-month change come from the published ``reports/<month>/metrics.json`` files.

Definitions (the same words appear in the report's glossary):
- active customers: placed a paid order in the 90 days up to the month end;
- new customers: first paid order in the month;
- churned customers: the month in which a customer's last order became more than
  ``segmentation.silent_days`` old (they crossed into the churned stage this month);
- revenue: paid, not refunded order amounts in the month;
- repeat-purchase rate: share of the month's buyers who had bought before the month;
- average order value: revenue / paid orders in the month;
- NPS: % promoters (9-10) minus % detractors (0-6) among the month's survey answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import ibis
import pandas as pd

from kit.config import KitConfig
from kit.dates import shift_month, snapshot_end
from kit.warehouse import Warehouse

ACTIVE_DAYS = 90
KPI_KEYS = (
    "active_customers",
    "new_customers",
    "churned_customers",
    "revenue",
    "repeat_rate",
    "aov",
    "avg_clv",
    "value_at_risk",
    "nps",
)


def month_window(month: str, months: int) -> list[str]:
    """The ``months`` run months ending with ``month``, oldest first."""
    return [shift_month(month, k) for k in range(-(months - 1), 1)]


def order_kpis(wh: Warehouse, month: str, config: KitConfig, months: int = 12) -> pd.DataFrame:
    """Order-based KPIs for each of the ``months`` months ending with ``month``.

    One row per month with active_customers, new_customers, churned_customers, buyers,
    orders, revenue, repeat_rate and aov. Computed with conditional aggregates in Ibis.
    """
    window = month_window(month, months)
    churn_days = config.segmentation.silent_days
    orders = wh.table("orders")
    paid = orders.filter(~orders.is_refund & (orders.order_ts < snapshot_end(month).to_pydatetime()))
    ts = paid.order_ts

    per_customer = {"first_order": ts.min()}
    month_aggs = {}
    for m in window:
        start = snapshot_end(shift_month(m, -1)).to_pydatetime()
        end = snapshot_end(m).to_pydatetime()
        active_from = (snapshot_end(m) - pd.Timedelta(days=ACTIVE_DAYS)).to_pydatetime()
        in_month = (ts >= start) & (ts < end)
        per_customer[f"last_{m}"] = ts.max(where=ts < end)
        month_aggs[f"revenue_{m}"] = paid.amount.sum(where=in_month)
        month_aggs[f"orders_{m}"] = paid.count(where=in_month)
        month_aggs[f"buyers_{m}"] = paid.customer_id.nunique(where=in_month)
        month_aggs[f"active_{m}"] = paid.customer_id.nunique(where=(ts >= active_from) & (ts < end))
    totals = paid.aggregate(**month_aggs).to_pandas().iloc[0]

    customers = paid.group_by("customer_id").aggregate(**per_customer)
    cust_aggs = {}
    for m in window:
        start = snapshot_end(shift_month(m, -1))
        end = snapshot_end(m)
        first = customers.first_order
        last = customers[f"last_{m}"]
        cust_aggs[f"new_{m}"] = customers.count(where=(first >= start.to_pydatetime()) & (first < end.to_pydatetime()))
        lo = (start - pd.Timedelta(days=churn_days)).to_pydatetime()
        hi = (end - pd.Timedelta(days=churn_days)).to_pydatetime()
        cust_aggs[f"churned_{m}"] = customers.count(where=(last >= lo) & (last < hi))
        cust_aggs[f"returning_{m}"] = customers.count(
            where=(first < start.to_pydatetime()) & (last >= start.to_pydatetime())
        )
    per_month = customers.aggregate(**cust_aggs).to_pandas().iloc[0]

    rows = []
    for m in window:
        orders_n = int(totals[f"orders_{m}"])
        revenue = float(totals[f"revenue_{m}"] or 0.0)
        buyers = int(totals[f"buyers_{m}"])
        rows.append(
            {
                "month": m,
                "active_customers": int(totals[f"active_{m}"]),
                "new_customers": int(per_month[f"new_{m}"]),
                "churned_customers": int(per_month[f"churned_{m}"]),
                "buyers": buyers,
                "orders": orders_n,
                "revenue": revenue,
                "repeat_rate": int(per_month[f"returning_{m}"]) / buyers if buyers else float("nan"),
                "aov": revenue / orders_n if orders_n else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def nps_by_month(wh: Warehouse, month: str, months: int = 12) -> pd.DataFrame:
    """NPS (-100..100) and the number of NPS answers per month, for the ``months`` months to ``month``."""
    window = month_window(month, months)
    surveys = wh.table("surveys")
    answered = surveys.filter(surveys.nps.notnull())
    aggs = {}
    for m in window:
        start = snapshot_end(shift_month(m, -1)).to_pydatetime()
        end = snapshot_end(m).to_pydatetime()
        in_month = (answered.survey_ts >= start) & (answered.survey_ts < end)
        aggs[f"n_{m}"] = answered.count(where=in_month)
        aggs[f"pro_{m}"] = answered.count(where=in_month & (answered.nps >= 9))
        aggs[f"det_{m}"] = answered.count(where=in_month & (answered.nps <= 6))
    row = answered.aggregate(**aggs).to_pandas().iloc[0]
    out = []
    for m in window:
        n = int(row[f"n_{m}"])
        nps = 100.0 * (int(row[f"pro_{m}"]) - int(row[f"det_{m}"])) / n if n else float("nan")
        out.append({"month": m, "nps": nps, "nps_responses": n})
    return pd.DataFrame(out)


def published_metrics(reports_dir: Path, month: str) -> dict | None:
    """The merged ``metrics.json`` published for ``month``, or None when that month was not published."""
    path = Path(reports_dir) / month / "metrics.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class KpiChange:
    """One KPI this month, last month's published value and the change between them."""

    key: str
    value: float
    previous: float | None
    change: float | None
    higher_is_better: bool


HIGHER_IS_BETTER = {
    "active_customers": True,
    "new_customers": True,
    "churned_customers": False,
    "revenue": True,
    "repeat_rate": True,
    "aov": True,
    "avg_clv": True,
    "value_at_risk": False,
    "nps": True,
}
# Rates and scores change in points (absolute difference); amounts and counts in percent.
ABSOLUTE_CHANGE = {"repeat_rate", "nps"}


def kpi_changes(current: dict[str, float], previous: dict[str, float] | None) -> list[KpiChange]:
    """Month-over-month change of every KPI in ``current`` against last month's published values.

    Rates and scores (``ABSOLUTE_CHANGE``) change by the difference; everything else by the
    relative change. A KPI missing last month (or zero then) has ``change`` None.
    """
    changes = []
    for key, value in current.items():
        prev = (previous or {}).get(key)
        change = None
        if prev is not None and value is not None and not pd.isna(prev) and not pd.isna(value):
            if key in ABSOLUTE_CHANGE:
                change = float(value) - float(prev)
            elif prev != 0:
                change = float(value) / float(prev) - 1.0
        changes.append(KpiChange(key, value, prev, change, HIGHER_IS_BETTER.get(key, True)))
    return changes


@dataclass(frozen=True)
class LifecycleGlance:
    """The month's figures for each lifecycle stage of the brief."""

    signups: int  # acquisition: customers first seen this month, in any source
    new_buyers: int  # conversion: first paid order this month
    conversion_rate: float  # share of customers first seen in the last 90 days who have ordered
    retention_rate: float  # share of last month's active customers still active this month
    revenue_per_active: float  # value: revenue this month / active customers
    revenue_per_active_prev: float


def lifecycle_glance(wh: Warehouse, month: str, kpis: pd.DataFrame) -> LifecycleGlance:
    """Acquisition -> conversion -> retention -> value growth for ``month``.

    ``kpis`` is the frame from ``order_kpis`` (it must hold this month and the one before).
    """
    end = snapshot_end(month)
    start = snapshot_end(shift_month(month, -1))
    recent_from = end - pd.Timedelta(days=ACTIVE_DAYS)
    customers = wh.table("customers")
    signups = int(
        customers.count(
            where=(customers.first_seen >= start.to_pydatetime()) & (customers.first_seen < end.to_pydatetime())
        ).to_pyarrow().as_py()
    )
    orders = wh.table("orders")
    paid = orders.filter(~orders.is_refund & (orders.order_ts < end.to_pydatetime()))
    recent = customers.filter(
        (customers.first_seen >= recent_from.to_pydatetime()) & (customers.first_seen < end.to_pydatetime())
    ).select("customer_id")
    buyers = paid.select("customer_id").distinct()
    recent_n = int(recent.count().to_pyarrow().as_py())
    converted = int(recent.semi_join(buyers, "customer_id").count().to_pyarrow().as_py())

    def active_at(window_end: pd.Timestamp) -> ibis.Table:
        ts = paid.order_ts
        lo = (window_end - pd.Timedelta(days=ACTIVE_DAYS)).to_pydatetime()
        return paid.filter((ts >= lo) & (ts < window_end.to_pydatetime())).select("customer_id").distinct()

    before = active_at(start)
    before_n = int(before.count().to_pyarrow().as_py())
    kept = int(before.semi_join(active_at(end), "customer_id").count().to_pyarrow().as_py())
    row = kpis.set_index("month")
    prev_month = shift_month(month, -1)

    def per_active(m: str) -> float:
        active = row.loc[m, "active_customers"] if m in row.index else 0
        return float(row.loc[m, "revenue"]) / active if active else float("nan")

    return LifecycleGlance(
        signups=signups,
        new_buyers=int(row.loc[month, "new_customers"]),
        conversion_rate=converted / recent_n if recent_n else float("nan"),
        retention_rate=kept / before_n if before_n else float("nan"),
        revenue_per_active=per_active(month),
        revenue_per_active_prev=per_active(prev_month),
    )
