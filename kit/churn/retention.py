"""Retention views: Kaplan-Meier curves by group and the cohort retention matrix.

Kaplan-Meier (``scipy.stats.ecdf`` on ``scipy.stats.CensoredData``; lifelines is not used
because it pins pandas < 3). A customer's lifetime runs from their first order until they
become churned in the business vocabulary (kit.core.vocabulary: no order for more than
``segmentation.silent_days``), which happens ``silent_days`` after their last order; it
is *observed* for customers churned by the month end and *censored* at the month end (the
customer's age) for the others: we only know they had not churned by then. The curve
S(t) reads "share of customers not yet churned t days after their first order"; as no
customer can be churned before ``silent_days`` have passed, every curve starts at 100%.
Its 95% band is scipy's log-log interval.

The cohort matrix (Ibis on DuckDB, row-level orders): customers grouped by the month of
their first paid order; each cell is the share of the cohort that placed a paid order
in the k-th month after the first (k = 0 is 100% by construction).
"""

from __future__ import annotations

import warnings

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from kit.core.dates import check_month, shift_month, snapshot_end
from kit.core.warehouse import Warehouse

MIN_GROUP_SIZE = 30


def lifetimes(features: pd.DataFrame, silent_days: int) -> pd.DataFrame:
    """``customer_id``, ``duration_days`` and ``lapsed`` for buyers, from the first order.

    ``lapsed`` is the vocabulary's churned, recency > ``silent_days``
    (``config.segmentation.silent_days``): such a lifetime ends on the day the customer
    became churned, ``silent_days`` after the last order. The others are censored at the
    month end, at their age (first order to last order plus the recency). Ending a
    lifetime at the last order instead would count every one-time buyer as lost on the
    day of their first order, so the curves would not start at 100%.
    """
    missing = [c for c in ("customer_id", "first_order_date", "last_order_date", "recency_days") if c not in features]
    if missing:
        raise ValueError(f"features frame lacks column(s) {', '.join(missing)} needed for retention curves.")
    buyers = features.loc[features["first_order_date"].notna() & features["last_order_date"].notna()]
    first = pd.to_datetime(buyers["first_order_date"])
    last = pd.to_datetime(buyers["last_order_date"])
    active_days = ((last - first).dt.total_seconds() / 86400).clip(lower=0).to_numpy()
    recency = pd.to_numeric(buyers["recency_days"]).to_numpy(dtype=float)
    lapsed = recency > silent_days
    return pd.DataFrame(
        {
            "customer_id": buyers["customer_id"].to_numpy(),
            "duration_days": active_days + np.where(lapsed, silent_days, recency),
            "lapsed": lapsed,
        }
    )


def kaplan_meier(duration: np.ndarray, lapsed: np.ndarray, grid: np.ndarray, level: float = 0.95) -> pd.DataFrame:
    """Survival (not yet churned) at each ``grid`` day with its confidence band."""
    duration = np.asarray(duration, dtype=float)
    lapsed = np.asarray(lapsed, dtype=bool)
    data = stats.CensoredData(uncensored=duration[lapsed], right=duration[~lapsed])
    result = stats.ecdf(data)
    with warnings.catch_warnings():
        # the log-log band is undefined where S(t) is 0 or 1; scipy warns and returns NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        band = result.sf.confidence_interval(level)
        low, high = band.low.evaluate(grid), band.high.evaluate(grid)
    survival = result.sf.evaluate(grid)
    return pd.DataFrame(
        {
            "day": grid,
            "survival": survival,
            "low": np.where(np.isnan(low), survival, low),
            "high": np.where(np.isnan(high), survival, high),
        }
    )


def km_by_group(
    spans: pd.DataFrame, groups: pd.Series, grid: np.ndarray | None = None, min_size: int = MIN_GROUP_SIZE
) -> pd.DataFrame:
    """Kaplan-Meier curves per group (long: group, n, day, survival, low, high).

    ``groups`` is aligned with ``spans`` rows; groups smaller than ``min_size`` customers
    are left out (their curves are noise) and missing group labels are skipped. A group
    nobody in has churned yet keeps its flat 100% curve: those are often the largest and
    best segments.
    """
    if grid is None:
        grid = np.arange(0, 721, 15, dtype=float)
    labels = pd.Series(np.asarray(groups, dtype=object), index=spans.index)
    frames = []
    for name, rows in spans.groupby(labels, sort=True).groups.items():
        part = spans.loc[rows]
        if len(part) < min_size:
            continue
        curve = kaplan_meier(part["duration_days"].to_numpy(), part["lapsed"].to_numpy(), grid)
        frames.append(curve.assign(group=str(name), n=len(part)))
    columns = ["group", "n", "day", "survival", "low", "high"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def cohort_matrix(
    wh: Warehouse, month: str, n_cohorts: int = 12, exclude: pd.Series | None = None
) -> pd.DataFrame:
    """Share of each first-order-month cohort ordering k months later (rows: cohort month).

    Uses paid orders before the snapshot end of ``month``; the last ``n_cohorts`` cohorts;
    customers in ``exclude`` (anonymous receipts) are left out. Columns are
    ``0..n_cohorts-1``; cells not yet observable are NaN.
    """
    check_month(month)
    end = snapshot_end(month)
    first_cohort = pd.Period(shift_month(month, -(n_cohorts - 1)), freq="M")
    first_index = first_cohort.year * 12 + first_cohort.month - 1
    orders = wh.table("orders")
    paid = orders.filter((orders.status == "paid") & ~orders.is_refund & (orders.order_ts < end))
    if exclude is not None and len(exclude):
        paid = paid.filter(~paid.customer_id.isin(ibis.memtable({"customer_id": list(exclude)}).customer_id))
    paid = paid.mutate(month_index=paid.order_ts.year() * 12 + paid.order_ts.month() - 1)
    cohorts = paid.group_by("customer_id").aggregate(cohort=paid.month_index.min())
    joined = paid.join(cohorts, "customer_id")
    joined = joined.filter(joined.cohort >= first_index)
    cells = (
        joined.mutate(since=joined.month_index - joined.cohort)
        .group_by(["cohort", "since"])
        .aggregate(customers=joined.customer_id.nunique())
        .to_pandas()
    )
    cols = list(range(n_cohorts))
    if cells.empty:
        return pd.DataFrame(columns=cols, dtype=float)
    counts = cells.pivot(index="cohort", columns="since", values="customers").reindex(columns=cols)
    share = counts.div(counts[0], axis=0)
    last_index = first_index + n_cohorts - 1
    observable = (share.index.to_numpy()[:, None] + np.array(cols)[None, :]) <= last_index
    share = share.fillna(0.0).where(observable)
    share.index = [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in share.index]
    share.index.name = "cohort"
    return share.astype(float)
