"""Customer lifetime value from a fitted purchase model and a spend model (Gamma-Gamma,
or each customer's average spend when Gamma-Gamma cannot be fitted: ``fit_spend``).

CLV over ``clv.horizon_months`` months (a month = 365.25 / 12 days):

    CLV = gross_margin * expected_spend * sum_{m=1..H} (E[purchases by end of month m]
          - E[purchases by end of month m-1]) / (1 + monthly_discount_rate) ** m

i.e. each month's expected purchases are valued at the customer's expected spend per
order, turned into margin and discounted as if paid at the end of that month.

Tiers (``clv_tier``) by rank of CLV: ``high`` = the top 10% of customers, ``medium`` = the
next 30%, ``low`` = the remaining 60% (ties broken by position, so the shares are exact).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kit.clv.base import CountModel, per_customer
from kit.clv.gammagamma import SpendModel, fit_spend
from kit.clv.models import make_model
from kit.clv.summary import UNIT_DAYS
from kit.core.config import CLVConfig

MONTH_DAYS = 365.25 / 12
TIERS = (("high", 0.10), ("medium", 0.40), ("low", 1.0))  # tier and cumulative share of customers
VALUE_COLUMNS = [
    "customer_id",
    "frequency",
    "recency",
    "T",
    "monetary",
    "expected_purchases",
    "p_alive",
    "expected_spend",
    "clv",
    "clv_tier",
    "model",
]


def discounted_purchases(model: CountModel, config: CLVConfig, frequency, recency, T) -> np.ndarray:
    """Discounted expected purchases over the horizon, per customer (sum over months)."""
    month = MONTH_DAYS / UNIT_DAYS[config.time_unit]
    months = np.arange(config.horizon_months + 1)
    discount = (1 + config.monthly_discount_rate) ** -months[1:]

    def per_row(x, t_x, age):
        cumulative = np.stack([model.conditional_expected_purchases(m * month, x, t_x, age) for m in months[1:]])
        monthly = np.diff(np.vstack([np.zeros_like(x), cumulative]), axis=0)
        return discount @ monthly

    return per_customer(per_row, frequency, recency, T)


def clv_tiers(clv: np.ndarray) -> np.ndarray:
    """high / medium / low by rank of CLV (top 10%, next 30%, rest)."""
    n = len(clv)
    order = np.argsort(-np.asarray(clv, dtype=float), kind="stable")
    position = np.empty(n)
    position[order] = (np.arange(n) + 1) / max(n, 1)
    tiers = np.full(n, TIERS[-1][0], dtype=object)
    for name, share in reversed(TIERS[:-1]):
        tiers[position <= share] = name
    return tiers


def customer_value(
    model: CountModel, spend: SpendModel, summary: pd.DataFrame, config: CLVConfig
) -> pd.DataFrame:
    """Per customer: expected purchases over the horizon, P(alive), expected spend per
    order, CLV and tier (the columns of snapshots/<month>/clv.parquet)."""
    f, r, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    horizon = config.horizon_months * MONTH_DAYS / UNIT_DAYS[config.time_unit]
    expected = per_customer(lambda x, t_x, age: model.conditional_expected_purchases(horizon, x, t_x, age), f, r, T)
    p_alive = per_customer(model.p_alive, f, r, T)
    spend_per_order = spend.conditional_expected_spend(f, summary["monetary"].to_numpy(float))
    clv = config.gross_margin * spend_per_order * discounted_purchases(model, config, f, r, T)
    frame = summary[["customer_id", "frequency", "recency", "T", "monetary"]].assign(
        expected_purchases=expected,
        p_alive=p_alive,
        expected_spend=spend_per_order,
        clv=clv,
        clv_tier=pd.array(clv_tiers(clv), dtype="str"),
        model=model.name,
    )
    frame["model"] = frame["model"].astype("str")
    return frame[VALUE_COLUMNS]


@dataclass(frozen=True)
class FittedValue:
    """A purchase model and the spend model (Gamma-Gamma, or plain averages when it cannot
    be fitted: ``fit_spend``) fitted on one summary, and the per-customer value they give
    (``customer_value``)."""

    model: CountModel
    spend: SpendModel
    scores: pd.DataFrame


def fit_value(summary: pd.DataFrame, config: CLVConfig, model: str) -> FittedValue:
    """Fit purchase model ``model`` (a ``clv.models`` name) and the spend model on ``summary``
    (``kit.clv.summary``: frequency, recency, T, monetary) and value every customer in it."""
    count = make_model(model).fit(summary["frequency"], summary["recency"], summary["T"])
    spend = fit_spend(summary["frequency"], summary["monetary"])
    return FittedValue(count, spend, customer_value(count, spend, summary, config))


def top_share(clv, share: float = 0.10) -> float:
    """Share of total CLV held by the top ``share`` of customers."""
    values = np.sort(np.asarray(clv, dtype=float))[::-1]
    total = values.sum()
    k = max(int(np.ceil(share * len(values))), 1)
    return float(values[:k].sum() / total) if total > 0 else 0.0


def frequency_recency_matrix(
    model: CountModel, T: float, what: str, t: float = 0.0, max_frequency: int = 20, recency_bins: int = 20
) -> pd.DataFrame:
    """A grid for a customer of age T: rows = repeat purchases (0..max_frequency), columns =
    recency (0..T); values = expected purchases in the next ``t`` ("expected") or P(alive)
    ("p_alive"). Cells where frequency 0 has recency > 0 are empty (impossible)."""
    freq = np.arange(max_frequency + 1, dtype=float)
    rec = np.linspace(0, T, recency_bins + 1)
    x, t_x = np.meshgrid(freq, rec, indexing="ij")
    age = np.full_like(x, T)
    if what == "expected":
        values = model.conditional_expected_purchases(t, x.ravel(), t_x.ravel(), age.ravel())
    elif what == "p_alive":
        values = model.p_alive(x.ravel(), t_x.ravel(), age.ravel())
    else:
        raise ValueError(f"what must be 'expected' or 'p_alive', got {what!r}")
    grid = values.reshape(x.shape)
    grid[(x == 0) & (t_x > 0)] = np.nan
    return pd.DataFrame(grid, index=pd.Index(freq.astype(int), name="frequency"), columns=pd.Index(rec, name="recency"))


def value_by_group(scores: pd.DataFrame, groups: pd.DataFrame, column: str) -> pd.DataFrame:
    """Customers, total and average CLV, share of total CLV and average P(alive) per value of
    ``column`` in ``groups`` (e.g. segments.parquet's persona), largest total first.
    Customers without a group are counted under "(none)"."""
    joined = scores.drop(columns=[column], errors="ignore").merge(groups[["customer_id", column]], on="customer_id", how="left")
    joined[column] = joined[column].astype("str").fillna("(none)")
    out = joined.groupby(column).agg(
        customers=("clv", "size"), total_clv=("clv", "sum"), average_clv=("clv", "mean"), p_alive=("p_alive", "mean")
    )
    out["clv_share"] = out["total_clv"] / out["total_clv"].sum()
    return out.sort_values("total_clv", ascending=False).reset_index()
