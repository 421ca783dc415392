"""The executive overview: monthly KPIs, their trend, month-over-month change and the
lifecycle at a glance (acquisition -> conversion -> retention -> value growth).

Order- and survey-based KPIs are computed for the last 12 months straight from the
warehouse with one Ibis aggregation per table (conditional aggregates, one scan each), so
the sparklines do not depend on earlier runs having been published. Model-based KPIs
(average CLV, value at risk) exist only for months that were run; their history and every
month-over-month change come from the published ``reports/<month>/metrics.json`` files.

Definitions (the same words appear in the report's glossary):
- customers are identified customers: anonymous store receipts (``Warehouse.anonymous_receipts``:
  no phone, member id or account) count in revenue and orders but in no customer count,
  since each would otherwise be a "new customer" who "churns" (on the demo data they were
  41% of a month's new customers and 9% of revenue); their orders and revenue per month
  are reported as ``anonymous_orders`` / ``anonymous_revenue``;
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
import matplotlib.pyplot as plt
import pandas as pd

from kit.config import KitConfig
from kit.dates import shift_month, snapshot_end
from kit.report.blocks import Highlight, Kpi
from kit.report.fmt import MISSING, Formatter
from kit.report.i18n import t
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
    orders, revenue, repeat_rate, aov, anonymous_orders and anonymous_revenue. Customer
    counts leave anonymous store receipts out (module docstring). Computed with
    conditional aggregates in Ibis.
    """
    window = month_window(month, months)
    churn_days = config.segmentation.silent_days
    orders = wh.table("orders")
    paid = orders.filter(~orders.is_refund & (orders.order_ts < snapshot_end(month).to_pydatetime()))
    anonymous = wh.anonymous_receipts()
    if anonymous is None:
        paid = paid.mutate(known=ibis.literal(True))
    else:
        marked = anonymous.mutate(anonymous=ibis.literal(True))
        paid = paid.left_join(marked, "customer_id").select(paid, known=marked.anonymous.isnull())
    ts = paid.order_ts
    known = paid.known

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
        month_aggs[f"anonymous_orders_{m}"] = paid.count(where=in_month & ~known)
        month_aggs[f"anonymous_revenue_{m}"] = paid.amount.sum(where=in_month & ~known)
        month_aggs[f"buyers_{m}"] = paid.customer_id.nunique(where=in_month & known)
        month_aggs[f"active_{m}"] = paid.customer_id.nunique(where=(ts >= active_from) & (ts < end) & known)
    totals = paid.aggregate(**month_aggs).to_pandas().iloc[0]

    customers = paid.filter(paid.known).group_by("customer_id").aggregate(**per_customer)
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
    Anonymous store receipts are left out of every step, as in the customer KPIs.
    """
    end = snapshot_end(month)
    start = snapshot_end(shift_month(month, -1))
    recent_from = end - pd.Timedelta(days=ACTIVE_DAYS)
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
        """Revenue of identified customers per active (identified) customer in month ``m``."""
        active = row.loc[m, "active_customers"] if m in row.index else 0
        revenue = float(row.loc[m, "revenue"] - row.loc[m, "anonymous_revenue"]) if active else 0.0
        return revenue / active if active else float("nan")

    return LifecycleGlance(
        signups=signups,
        new_buyers=int(row.loc[month, "new_customers"]),
        conversion_rate=converted / recent_n if recent_n else float("nan"),
        retention_rate=kept / before_n if before_n else float("nan"),
        revenue_per_active=per_active(month),
        revenue_per_active_prev=per_active(prev_month),
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


def snapshot_kpis(wh: Warehouse, month: str) -> dict[str, float | None]:
    """Average CLV and total value at risk from this month's CLV and churn snapshots (None when absent)."""
    avg_clv = float(wh.read_snapshot(month, "clv")["clv"].mean()) if wh.has_snapshot(month, "clv") else None
    var = float(wh.read_snapshot(month, "churn")["value_at_risk"].sum()) if wh.has_snapshot(month, "churn") else None
    return {"avg_clv": avg_clv, "value_at_risk": var}


def build_overview(wh: Warehouse, month: str, config: KitConfig, months: int = 12) -> Overview:
    """Compute the overview for ``month``: KPI series, this month, last month's published values."""
    series = order_kpis(wh, month, config, months).merge(nps_by_month(wh, month, months), on="month")
    last = series.iloc[-1]
    current: dict[str, float | None] = {key: float(last[key]) for key in KPI_KEYS if key in series.columns}
    current.update(snapshot_kpis(wh, month))
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
        glance=lifecycle_glance(wh, month, series),
        history=history,
    )


VALUE_FORMATS = {
    "active_customers": "int",
    "new_customers": "int",
    "churned_customers": "int",
    "revenue": "money_compact",
    "repeat_rate": "pct",
    "aov": "money",
    "avg_clv": "money",
    "value_at_risk": "money_compact",
    "nps": "num1",
}


def data_quality_banner(wh: Warehouse, lang: str) -> tuple[str, str] | None:
    """(text, level) of the banner opening the overview when the data gate was not ok.

    The gate's grade is the one ingest stored in ``ingest_report.json`` (``fitness``,
    kit.ingest.quality): warn publishes with this banner naming the sources and limits;
    fail only reaches the overview when the run was told ``--accept-data-warnings``.
    None when every source passed, or for a warehouse ingested before the gate existed.
    """
    path = wh.root / "ingest_report.json"
    gate = json.loads(path.read_text(encoding="utf-8")).get("fitness") if path.is_file() else None
    if not gate or gate["grade"] == "ok":
        return None
    flagged = [c for c in gate["checks"] if c["grade"] != "ok"]
    sources = ", ".join(dict.fromkeys(c["source"] for c in flagged))
    limits = ", ".join(dict.fromkeys(t(f"ingest.value.{c['limit']}", lang) for c in flagged))
    level = "danger" if gate["grade"] == "fail" else "warning"
    return t(f"overview.data_quality.{gate['grade']}", lang, sources=sources, limits=limits), level


def kpi_cards(ov: Overview, fmt: Formatter) -> list[Kpi]:
    """One KPI card per KPI: value, change against last month (coloured by direction), sparkline."""
    changes = {c.key: c for c in ov.changes}
    cards = []
    for key in KPI_KEYS:
        value = ov.current.get(key)
        label = t(f"overview.kpi.{key}", fmt.lang)
        if value is None:
            cards.append(Kpi(label, MISSING, note=t("overview.kpi.not_available", fmt.lang)))
            continue
        change = changes[key].change if key in changes else None
        if ov.previous is None:
            delta, good = t("overview.kpi.no_previous", fmt.lang), None
        elif change is None:
            delta, good = "", None
        else:
            if key == "repeat_rate":
                text = fmt.pp(change)
            elif key == "nps":
                text = t("overview.kpi.points", fmt.lang, value=f"{change:+.1f}")
            else:
                text = fmt.change(change)
            delta = t("overview.kpi.vs_last_month", fmt.lang, change=text)
            good = None if change == 0 else (change > 0) == HIGHER_IS_BETTER[key]
        spark = ov.history[key] if key in ov.history else ov.series[key].tolist()
        cards.append(
            Kpi(label, fmt.apply(value, VALUE_FORMATS[key]), delta, good, spark, t("overview.kpi.trend_note", fmt.lang))
        )
    return cards


def glance_cards(ov: Overview, fmt: Formatter) -> list[Kpi]:
    """The lifecycle at a glance as four cards: acquisition, conversion, retention, value growth."""
    g = ov.glance
    value_change = (
        g.revenue_per_active / g.revenue_per_active_prev - 1
        if g.revenue_per_active_prev and not pd.isna(g.revenue_per_active_prev)
        else None
    )
    lang = fmt.lang
    return [
        Kpi(t("overview.stage.acquisition", lang), fmt.int(g.signups), note=t("overview.glance.signups", lang)),
        Kpi(
            t("overview.stage.conversion", lang),
            fmt.pct(g.conversion_rate),
            t("overview.glance.new_buyers", lang, n=fmt.int(g.new_buyers)),
            note=t("overview.glance.conversion", lang),
        ),
        Kpi(t("overview.stage.retention", lang), fmt.pct(g.retention_rate), note=t("overview.glance.retention", lang)),
        Kpi(
            t("overview.stage.value", lang),
            fmt.money(g.revenue_per_active),
            t("overview.kpi.vs_last_month", lang, change=fmt.change(value_change)) if value_change is not None else "",
            None if value_change is None else value_change > 0,
            note=t("overview.glance.value", lang),
        ),
    ]


def anonymous_note(ov: Overview, fmt: Formatter) -> str | None:
    """The sentence saying how much of the month's revenue came from anonymous store
    receipts, which no customer count includes (None when there were none)."""
    row = ov.series.set_index("month").loc[ov.month]
    if not row["anonymous_orders"]:
        return None
    share = row["anonymous_revenue"] / row["revenue"] if row["revenue"] else 0.0
    return t(
        "overview.anonymous_note", fmt.lang, orders=fmt.int(row["anonymous_orders"]),
        revenue=fmt.money(row["anonymous_revenue"], compact=True), share=fmt.pct(share),
    )


def glossary(config: KitConfig, lang: str) -> pd.DataFrame:
    """Metric name and definition for every KPI on the page, in ``lang``."""
    return pd.DataFrame(
        {
            t("overview.col.metric", lang): [t(f"overview.kpi.{k}", lang) for k in KPI_KEYS],
            t("overview.col.definition", lang): [
                t(f"overview.glossary.{k}", lang, days=config.segmentation.silent_days) for k in KPI_KEYS
            ],
        }
    )


def movement_highlight(wh: Warehouse, month: str, fmt: Formatter) -> list[Highlight]:
    """The largest RFM segment movement since last month, by 12-month value (none without last month)."""
    from kit.movement import narratives, transitions
    from kit.segments import segment_label

    prev = shift_month(month, -1)
    if not (wh.has_snapshot(month, "segments") and wh.has_snapshot(prev, "segments") and wh.has_snapshot(month, "profile")):
        return []
    current = wh.read_snapshot(month, "segments")
    profile = wh.read_snapshot(month, "profile")[["customer_id", "monetary_365d"]]
    value = current[["customer_id"]].merge(profile, on="customer_id", how="left")["monetary_365d"]
    moves = transitions(wh.read_snapshot(prev, "segments"), current, "rfm_segment", value)
    sentences = narratives(moves, lambda name: segment_label(name, fmt.lang), fmt, n=1)
    return [Highlight(s, "03_segmentation.html") for s in sentences]


def value_at_risk_highlight(wh: Warehouse, month: str, fmt: Formatter) -> list[Highlight]:
    """Which persona holds the largest share of the month's value at risk."""
    if not wh.has_snapshot(month, "churn"):
        return []
    churn = wh.read_snapshot(month, "churn")
    total = float(churn["value_at_risk"].sum())
    if total <= 0 or churn["persona"].isna().all():
        return []
    by_persona = churn.groupby("persona")["value_at_risk"].sum().sort_values(ascending=False)
    name = str(by_persona.index[0])
    from kit.segments import layer_labeller

    label = layer_labeller(wh, month, "persona", fmt.lang)(name)
    text = t(
        "overview.hl.var_persona",
        fmt.lang,
        total=fmt.money(total, compact=True),
        persona=label,
        share=fmt.pct(by_persona.iloc[0] / total),
    )
    return [Highlight(text, "05_churn.html")]


def metric_highlights(metrics: dict[str, dict], fmt: Formatter) -> list[Highlight]:
    """Highlights from the headline figures the other notebooks saved this month."""
    lang = fmt.lang
    out: list[Highlight] = []
    churn = metrics.get("05_churn", {})
    if churn.get("top_driver"):
        out.append(
            Highlight(
                t(
                    "overview.hl.churn",
                    lang,
                    churners=fmt.int(churn["expected_churners"]),
                    rate=fmt.pct(churn["predicted_churn_rate"]),
                    driver=churn[f"top_driver_{lang}"],
                ),
                "05_churn.html",
            )
        )
    clv = metrics.get("04_clv", {})
    if "top10_share" in clv:
        out.append(
            Highlight(
                t(
                    "overview.hl.clv",
                    lang,
                    share=fmt.pct(clv["top10_share"]),
                    average=fmt.money(clv["average_clv"]),
                    months=clv["horizon_months"],
                ),
                "04_clv.html",
            )
        )
    experiments = metrics.get("06_experiment_readout", {})
    for key, verdict in experiments.items():
        if not key.endswith(".decision"):
            continue
        exp_id = key.removesuffix(".decision")
        lift = experiments.get(f"{exp_id}.primary_lift")
        out.append(
            Highlight(
                t(
                    "overview.hl.experiment",
                    lang,
                    experiment=exp_id,
                    decision=t(f"overview.decision.{verdict}", lang),
                    lift=fmt.change(lift) if lift is not None else "—",
                ),
                "06_experiment_readout.html",
            )
        )
    return out


def highlights(wh: Warehouse, month: str, config: KitConfig, fmt: Formatter) -> list[Highlight]:
    """Five to eight highlights of the month, each pointing at the report that details it."""
    from kit.runner import merge_metrics

    metrics = merge_metrics(config, month)
    items = movement_highlight(wh, month, fmt) + value_at_risk_highlight(wh, month, fmt)
    return (items + metric_highlights(metrics, fmt))[:8]


def findings(ov: Overview, fmt: Formatter) -> list[str]:
    """Three or four plain sentences on the month's KPIs for the top of the page."""
    lang = fmt.lang
    cur = ov.current
    changes = {c.key: c.change for c in ov.changes}

    def vs(key: str) -> str:
        change = changes.get(key)
        if ov.previous is None or change is None:
            return t("overview.kpi.no_previous", lang)
        return t("overview.kpi.vs_last_month", lang, change=fmt.change(change))

    items = [
        t("overview.finding.revenue", lang, revenue=fmt.money(cur["revenue"], compact=True), change=vs("revenue"),
          aov=fmt.money(cur["aov"])),
        t("overview.finding.customers", lang, active=fmt.int(cur["active_customers"]), change=vs("active_customers"),
          new=fmt.int(cur["new_customers"]), churned=fmt.int(cur["churned_customers"])),
        t("overview.finding.repeat", lang, rate=fmt.pct(cur["repeat_rate"]),
          retention=fmt.pct(ov.glance.retention_rate)),
    ]
    if cur.get("value_at_risk") is not None and cur.get("avg_clv") is not None:
        items.append(t("overview.finding.value", lang, clv=fmt.money(cur["avg_clv"]),
                       var=fmt.money(cur["value_at_risk"], compact=True)))
    return items


def plot_trend(ax: plt.Axes, series: pd.DataFrame, fmt: Formatter, currency: str) -> None:
    """Revenue per month as bars with active customers as a line on a second axis."""
    labels = [m[2:] for m in series["month"]]
    ax.bar(labels, series["revenue"], color="#0072B2", alpha=0.85, label=t("overview.kpi.revenue", fmt.lang))
    ax.set_ylabel(t("overview.axis.revenue", fmt.lang, currency=currency))
    ax.yaxis.set_major_formatter(lambda v, _: fmt.money(v, compact=True))
    line = ax.twinx()
    line.plot(labels, series["active_customers"], color="#E69F00", marker="o", label=t("overview.kpi.active_customers", fmt.lang))
    line.set_ylabel(t("overview.axis.active", fmt.lang))
    line.yaxis.set_major_formatter(lambda v, _: fmt.int(v))
    line.grid(False)
    ax.set_xlabel(t("overview.axis.month", fmt.lang))
    ax.tick_params(axis="x", rotation=45)
    handles = ax.get_legend_handles_labels()[0] + line.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], loc="upper left")
