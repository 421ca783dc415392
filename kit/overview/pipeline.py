"""The executive overview: monthly KPIs, their trend, month-over-month change and the
lifecycle at a glance (acquisition -> conversion -> retention -> value growth).

Order- and survey-based KPIs are computed for the last 12 months straight from the
warehouse with one Ibis aggregation per table (conditional aggregates, one scan each), so
the sparklines do not depend on earlier runs having been published. Model-based KPIs
(average CLV, value at risk) exist only for months that were run; their history and every
month-over-month change come from the published ``reports/<month>/metrics.json`` files.

Every word is the business vocabulary's (kit.core.vocabulary): active customers, new this
month, churned this month, repeat rate, value at risk; customer counts leave anonymous store
receipts out, whose orders and revenue per month are reported as ``anonymous_orders`` /
``anonymous_revenue``. The page (kit.overview.page) names and defines each KPI from it.

Absent inputs: a KPI whose input the warehouse does not hold (NPS without surveys) is None
with the input named in ``Overview.unavailable``; a KPI of a stage that did not run this
month (average CLV, value at risk) is None; figures the other stages saved are read with
whatever keys they hold (a stage may save fewer).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import pandas as pd

from kit.clv import paid_orders
from kit.core.config import KitConfig
from kit.core.dates import shift_month, snapshot_end
from kit.core.inputs import Inputs
from kit.core.vocabulary import Vocabulary
from kit.core.warehouse import Warehouse
from kit.segments import load_personas, transitions

KPI_KEYS = (
    "active_customers",
    "new_this_month",
    "churned_this_month",
    "revenue",
    "repeat_rate",
    "aov",
    "avg_clv",
    "value_at_risk",
    "nps",
)
# KPI -> the input it needs (kit.core.inputs); KPIs not listed need only orders
KPI_NEEDS = {"nps": ("surveys", "surveys.nps")}
# most buyers having bought once is a story of its own (the findings say so) above this share
ONE_TIME_MAJORITY = 0.5


def month_window(month: str, months: int) -> list[str]:
    """The ``months`` run months ending with ``month``, oldest first."""
    return [shift_month(month, k) for k in range(-(months - 1), 1)]


def order_kpis(wh: Warehouse, month: str, config: KitConfig, months: int = 12) -> pd.DataFrame:
    """Order-based KPIs for each of the ``months`` months ending with ``month``.

    One row per month with active_customers, new_this_month, churned_this_month, buyers,
    orders, revenue, repeat_rate, aov, anonymous_orders and anonymous_revenue. Customer
    counts leave anonymous store receipts out (module docstring). Computed with
    conditional aggregates in Ibis.
    """
    window = month_window(month, months)
    vocab = Vocabulary.from_config(config)
    churn_days = vocab.silent_days
    orders = wh.table("orders")
    bought = paid_orders(orders.filter(orders.order_ts < snapshot_end(month).to_pydatetime()))
    anonymous = wh.anonymous_receipts()
    if anonymous is None:
        bought = bought.mutate(known=ibis.literal(True))
    else:
        marked = anonymous.mutate(anonymous=ibis.literal(True))
        bought = bought.left_join(marked, "customer_id").select(bought, known=marked.anonymous.isnull())
    ts = bought.order_ts
    known = bought.known

    per_customer = {"first_order": ts.min()}
    month_aggs = {}
    for m in window:
        start = snapshot_end(shift_month(m, -1)).to_pydatetime()
        end = snapshot_end(m).to_pydatetime()
        active_from = (snapshot_end(m) - pd.Timedelta(days=vocab.active_days)).to_pydatetime()
        in_month = (ts >= start) & (ts < end)
        per_customer[f"last_{m}"] = ts.max(where=ts < end)
        month_aggs[f"revenue_{m}"] = bought.amount.sum(where=in_month)
        month_aggs[f"orders_{m}"] = bought.count(where=in_month)
        month_aggs[f"anonymous_orders_{m}"] = bought.count(where=in_month & ~known)
        month_aggs[f"anonymous_revenue_{m}"] = bought.amount.sum(where=in_month & ~known)
        month_aggs[f"buyers_{m}"] = bought.customer_id.nunique(where=in_month & known)
        month_aggs[f"active_{m}"] = bought.customer_id.nunique(where=(ts >= active_from) & (ts < end) & known)
    totals = bought.aggregate(**month_aggs).to_pandas().iloc[0]

    customers = bought.filter(bought.known).group_by("customer_id").aggregate(**per_customer)
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
                "new_this_month": int(per_month[f"new_{m}"]),
                "churned_this_month": int(per_month[f"churned_{m}"]),
                "buyers": buyers,
                "orders": orders_n,
                "revenue": revenue,
                "repeat_rate": int(per_month[f"returning_{m}"]) / buyers if buyers else float("nan"),
                "aov": revenue / orders_n if orders_n else float("nan"),
                "anonymous_orders": int(totals[f"anonymous_orders_{m}"]),
                "anonymous_revenue": float(totals[f"anonymous_revenue_{m}"] or 0.0),
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
    "new_this_month": True,
    "churned_this_month": False,
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
    conversion_rate: float  # share of customers first seen in the last ``recent_days`` who have ordered
    retention_rate: float  # share of last month's active customers still active this month
    revenue_per_active: float  # value: revenue this month / active customers
    revenue_per_active_prev: float
    recent_days: int = 90  # "first seen recently" for the conversion rate: the vocabulary's new_days


def lifecycle_glance(wh: Warehouse, month: str, kpis: pd.DataFrame, vocab: Vocabulary) -> LifecycleGlance:
    """Acquisition -> conversion -> retention -> value growth for ``month``.

    ``kpis`` is the frame from ``order_kpis`` (it must hold this month and the one before).
    Anonymous store receipts are left out of every step, as in the customer KPIs.
    """
    end = snapshot_end(month)
    start = snapshot_end(shift_month(month, -1))
    recent_from = end - pd.Timedelta(days=vocab.new_days)
    customers = wh.table("customers")
    orders = wh.table("orders")
    anonymous = wh.anonymous_receipts()
    if anonymous is not None:
        customers = customers.anti_join(anonymous, "customer_id")
        orders = orders.anti_join(anonymous, "customer_id")
    signups = int(
        customers.count(
            where=(customers.first_seen >= start.to_pydatetime()) & (customers.first_seen < end.to_pydatetime())
        ).to_pyarrow().as_py()
    )
    bought = paid_orders(orders.filter(orders.order_ts < end.to_pydatetime()))
    recent = customers.filter(
        (customers.first_seen >= recent_from.to_pydatetime()) & (customers.first_seen < end.to_pydatetime())
    ).select("customer_id")
    buyers = bought.select("customer_id").distinct()
    recent_n = int(recent.count().to_pyarrow().as_py())
    converted = int(recent.semi_join(buyers, "customer_id").count().to_pyarrow().as_py())

    def active_at(window_end: pd.Timestamp) -> ibis.Table:
        ts = bought.order_ts
        lo = (window_end - pd.Timedelta(days=vocab.active_days)).to_pydatetime()
        return bought.filter((ts >= lo) & (ts < window_end.to_pydatetime())).select("customer_id").distinct()

    before = active_at(start)
    before_n = int(before.count().to_pyarrow().as_py())
    kept = int(before.semi_join(active_at(end), "customer_id").count().to_pyarrow().as_py())
    row = kpis.set_index("month")
    prev_month = shift_month(month, -1)

    def per_active(m: str) -> float:
        """Revenue of identified customers per active (identified) customer in month ``m``."""
        active = row.loc[m, "active_customers"] if m in row.index else 0
        revenue = float(row.loc[m, "revenue"] - row.loc[m, "anonymous_revenue"]) if active else 0.0
        return revenue / active if active else float("nan")

    return LifecycleGlance(
        signups=signups,
        new_buyers=int(row.loc[month, "new_this_month"]),
        conversion_rate=converted / recent_n if recent_n else float("nan"),
        retention_rate=kept / before_n if before_n else float("nan"),
        revenue_per_active=per_active(month),
        revenue_per_active_prev=per_active(prev_month),
        recent_days=vocab.new_days,
    )


@dataclass(frozen=True)
class Overview:
    """Everything the overview page shows for one month."""

    month: str
    series: pd.DataFrame  # one row per month (12): order KPIs and NPS
    current: dict[str, float | None]  # this month's KPI values (None: not computed this month)
    previous: dict[str, float] | None  # last month's published KPI values, None when not published
    changes: list[KpiChange]
    glance: LifecycleGlance
    history: dict[str, list[float | None]]  # model-based KPIs over the published months of the window
    gate: dict | None  # the ingest data gate (kit.ingest.quality.fitness) when it was not ok
    metrics: dict[str, dict]  # this month's saved headline figures of the other stages, by notebook
    segment_moves: pd.DataFrame | None  # RFM segment transitions since last month (kit.segments.movement)
    value_at_risk_by_persona: pd.Series  # persona (English name) -> value at risk, largest first
    persona_cards: dict | None  # this month's personas.json (persona names in every language)
    inputs: Inputs = Inputs()  # what data the warehouse holds
    unavailable: dict[str, str] = field(default_factory=dict)  # KPI -> the absent input it needs
    one_time_share: float = float("nan")  # share of buyers (ever, to the month end) with one paid order
    people: PeopleEstimate | None = None  # customer ids against the people behind them (ingest linkage)

    def headline(self) -> dict[str, object]:
        """The figures saved to metrics/07_overview.json (codes and numbers)."""
        return {"kpis": self.current}


def snapshot_kpis(wh: Warehouse, month: str, churn: pd.DataFrame | None) -> dict[str, float | None]:
    """Average CLV and total value at risk from this month's CLV snapshot and ``churn``
    (its churn snapshot; None when absent, as is a KPI whose snapshot is missing or empty).

    The CLV snapshot holds identified customers only (kit.core.vocabulary), so the average
    is over customers; value at risk is the vocabulary's sum of p(churn) x CLV.
    """
    clv = wh.read_snapshot(month, "clv") if wh.has_snapshot(month, "clv") else None
    avg_clv = float(clv["clv"].mean()) if clv is not None and "clv" in clv and len(clv) else None
    has_var = churn is not None and "value_at_risk" in churn and len(churn)
    return {"avg_clv": avg_clv, "value_at_risk": float(churn["value_at_risk"].sum()) if has_var else None}


def one_time_share(wh: Warehouse, month: str) -> float:
    """Share of the identified customers who bought before the end of ``month`` whose paid
    orders number exactly one (NaN without buyers)."""
    orders = wh.table("orders")
    bought = paid_orders(orders.filter(orders.order_ts < snapshot_end(month).to_pydatetime()))
    anonymous = wh.anonymous_receipts()
    if anonymous is not None:
        bought = bought.anti_join(anonymous, "customer_id")
    per = bought.group_by("customer_id").aggregate(n=bought.count())
    row = per.aggregate(buyers=per.count(), once=per.count(where=per.n == 1)).to_pandas().iloc[0]
    return int(row["once"]) / int(row["buyers"]) if int(row["buyers"]) else float("nan")


def unavailable_kpis(inputs: Inputs) -> dict[str, str]:
    """KPI -> the input it needs that the warehouse does not hold (``KPI_NEEDS``): the table
    when it has no rows, else the column."""
    out = {}
    for key, (table, column) in KPI_NEEDS.items():
        if not inputs.has(column):
            out[key] = table if not inputs.has(table) else column
    return out


def ingest_report(wh: Warehouse) -> dict:
    """The run's ``ingest_report.json`` ({} when the warehouse has none)."""
    path = wh.root / "ingest_report.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def data_gate(report: dict) -> dict | None:
    """The ingest data gate of ``report`` (``ingest_report``: ``fitness``) when its grade is
    not ok; None when every source passed or the warehouse predates the gate."""
    gate = report.get("fitness")
    return gate if gate and gate["grade"] != "ok" else None


@dataclass(frozen=True)
class PeopleEstimate:
    """Identified customer ids against the real people behind them.

    Every customer count counts customer ids, and one person whose records share no
    identifier is several ids. ``people`` is the identity linkage model's estimate
    (``kit.ingest.linkage.linkage_report``), an upper bound: it subtracts only the
    duplicates the model can see; NaN when the linkage did not run (``skipped`` says why).
    """

    customer_ids: int  # identified customer ids (anonymous store receipts left out)
    people: float  # at most about this many real people behind them
    skipped: str | None  # why the linkage did not run (kit.ingest.linkage), None when it ran


def people_estimate(wh: Warehouse, report: dict) -> PeopleEstimate | None:
    """The people behind this run's identified customer ids, from the run's ingest
    ``report`` (``ingest_report``) and the anonymous receipts of ``wh``; None when the
    warehouse predates the linkage report."""
    identity = report.get("identity") or {}
    linkage = identity.get("linkage")
    if not linkage:
        return None
    receipts = wh.anonymous_receipts()
    anonymous = int(receipts.count().execute()) if receipts is not None else 0
    ids = identity["customers"] - anonymous
    people = float("nan") if linkage["skipped"] else linkage["estimated_people"] - anonymous
    return PeopleEstimate(ids, people, linkage["skipped"] or None)


def segment_moves(wh: Warehouse, month: str) -> pd.DataFrame | None:
    """RFM segment transitions since last month weighted by 12-month spend (None without both months)."""
    prev = shift_month(month, -1)
    if not (wh.has_snapshot(month, "segments") and wh.has_snapshot(prev, "segments") and wh.has_snapshot(month, "profile")):
        return None
    current = wh.read_snapshot(month, "segments")
    profile = wh.read_snapshot(month, "profile")[["customer_id", "monetary_365d"]]
    value = current[["customer_id"]].merge(profile, on="customer_id", how="left")["monetary_365d"]
    return transitions(wh.read_snapshot(prev, "segments"), current, "rfm_segment", value)


def value_at_risk_by_persona(churn: pd.DataFrame | None) -> pd.Series:
    """Value at risk per persona (English name) of a churn snapshot, largest first; empty
    without one, without personas or without value at risk."""
    if churn is None or not {"persona", "value_at_risk"} <= set(churn.columns):
        return pd.Series(dtype=float)
    if float(churn["value_at_risk"].sum()) <= 0 or churn["persona"].isna().all():
        return pd.Series(dtype=float)
    return churn.groupby("persona")["value_at_risk"].sum().sort_values(ascending=False)


def build_overview(wh: Warehouse, month: str, config: KitConfig, months: int = 12) -> Overview:
    """Compute the overview for ``month``: KPI series, this month, last month's published values."""
    inputs = wh.inputs()
    report = ingest_report(wh)
    unavailable = unavailable_kpis(inputs)
    series = order_kpis(wh, month, config, months)
    if "nps" not in unavailable:
        series = series.merge(nps_by_month(wh, month, months), on="month")
    last = series.iloc[-1]
    current: dict[str, float | None] = {key: float(last[key]) for key in KPI_KEYS if key in series.columns}
    churn = wh.read_snapshot(month, "churn") if wh.has_snapshot(month, "churn") else None
    current.update(snapshot_kpis(wh, month, churn))
    current = {key: current.get(key) for key in KPI_KEYS}
    reports = config.resolve(config.paths.reports)
    published = published_metrics(reports, shift_month(month, -1))
    previous = (published or {}).get("07_overview", {}).get("kpis") if published else None
    history: dict[str, list[float | None]] = {"avg_clv": [], "value_at_risk": []}
    for m in series["month"]:
        values = current if m == month else ((published_metrics(reports, m) or {}).get("07_overview", {}).get("kpis") or {})
        for key in history:
            history[key].append(values.get(key))
    return Overview(
        month=month,
        series=series,
        current=current,
        previous=previous,
        changes=kpi_changes({k: v for k, v in current.items() if v is not None}, previous),
        glance=lifecycle_glance(wh, month, series, Vocabulary.from_config(config)),
        history=history,
        gate=data_gate(report),
        metrics=wh.month_metrics(month),
        segment_moves=segment_moves(wh, month),
        value_at_risk_by_persona=value_at_risk_by_persona(churn),
        persona_cards=load_personas(wh.snapshot_dir(month)),
        inputs=inputs,
        unavailable=unavailable,
        one_time_share=one_time_share(wh, month),
        people=people_estimate(wh, report),
    )


