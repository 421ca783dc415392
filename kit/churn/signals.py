"""Churn-specific signals added to the customer features: is the customer still alive?

``churn_features(wh, month, config)`` is ``kit.profile.features.build_features`` plus the columns
below (the default features of ``run_churn``), all from rows strictly before
``snapshot_end(month)``; the leakage test in tests/integration/test_churn.py plants orders in the
label window and checks that they change no feature. Everything is built on purchase
days (``kit.clv.summary.purchase_days``: paid, non-refunded orders, one row per customer
and calendar day with the day's total), as the CLV models count purchases:

- ``btyd_p_alive`` and ``btyd_expected_orders``: a BG/NBD model (``kit.clv``) fitted on
  the purchase histories before the snapshot (anonymous receipts left out: one-order
  "customers" who by construction never return would teach it that everyone leaves),
  then the probability that each buyer is still active and their expected purchase days
  in the next ``churn.window_days``. Fitted on at most ``BTYD_SAMPLE`` buyers, those with
  the smallest ``kit.core.sampling.stable_key`` (seeded by ``churn.seed``): the fit does not
  depend on the order rows come back from DuckDB, and a ``SampledWarehouse`` holding that
  many buyers fits the same model. The predictions are closed-form and vectorised over
  distinct (x, t_x, T) rows.
- ``last_order_value_ratio``: the value of the last purchase day over the mean of the
  earlier ones (NaN with one purchase day). A customer drifting away buys less.
- ``visits_since_last_order`` (visits on the days after the last purchase day),
  ``visit_rate_before_order`` (visits a day in the up to 180 days up to and including
  it, over at least 14 days) and ``visit_shortfall``: the Poisson probability of at most
  that many visits since the last order if the customer still visited at their earlier
  rate. Customers who decide to leave stop visiting right after their last order, long
  before their recency looks unusual; NaN for customers without app visits. Only visits
  that matter for the modelled population are read (the last ``window_days`` + 180
  days), so values are exact for every customer the churn model sees.
  Built only when the events hold ``visit`` events; other vocabularies reach the model
  through the per-type event features of kit.profile.events (``ev_login_trend_28d``,
  ``days_since_ev_login``...), and a warehouse without events gets no visit signals
  (absent columns, never columns of nulls).

Measurements (the effect of each signal on the demo world, cost at 1,000,000 customers)
and the options tried: docs/decisions/0011-churn-signals.md; the BG/NBD sample:
docs/decisions/0012-samples-by-stable-key.md.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from kit.churn.dataset import anonymous_receipts, ids_in
from kit.clv import UNIT_DAYS, BetaGeoModel, ClvFitError, per_customer, purchase_days
from kit.core.config import KitConfig
from kit.core.dates import snapshot_end
from kit.core.sampling import stable_key
from kit.core.warehouse import Warehouse

BTYD_SAMPLE = 200_000
VISIT_LOOKBACK_DAYS = 180
MIN_VISIT_SPAN_DAYS = 14
SIGNAL_COLUMNS = (
    "btyd_p_alive",
    "btyd_expected_orders",
    "last_order_value_ratio",
    "visits_since_last_order",
    "visit_rate_before_order",
    "visit_shortfall",
)


# Profile columns relative to the whole customer base (the value tier is a share of everyone's spend).
POPULATION_RELATIVE = ("value_tier",)


def churn_features(wh: Warehouse, month: str, config: KitConfig) -> pd.DataFrame:
    """``build_features`` plus ``SIGNAL_COLUMNS`` (the default features of ``run_churn``),
    without the profile columns that rank a customer against the whole population
    (``POPULATION_RELATIVE``): on a sampled warehouse (kit.churn.sample) they would be
    ranked within the sample and mean something else than in the run month."""
    from kit.profile import (
        build_features,  # imported on use, as run_churn did: the rest of kit.churn runs without it
    )

    features = build_features(wh, month, config).drop(columns=list(POPULATION_RELATIVE), errors="ignore")
    history = purchase_history(wh, month)
    parts = [btyd_signals(history, wh, month, config), history[["last_order_value_ratio"]]]
    if "visit" in wh.inputs().event_types:
        parts.append(visit_signals(history, wh, month, config.churn.window_days))
    signals = pd.concat(parts, axis=1).reindex(features["customer_id"])
    return features.assign(**{c: signals[c].to_numpy() for c in SIGNAL_COLUMNS if c in signals})


def _epoch_day(midnight: pd.Timestamp) -> int:
    """Days since 1970-01-01 of a midnight timestamp."""
    return int((midnight - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1))


def purchase_history(wh: Warehouse, month: str) -> pd.DataFrame:
    """Per buyer (index ``customer_id``): ``first_day``, ``last_day`` (epoch days),
    ``purchase_days`` and ``last_order_value_ratio``, from purchase days before the snapshot."""
    days = purchase_days(wh, snapshot_end(month))
    per = days.group_by("customer_id").aggregate(
        first_day=days.day.min(),
        last_day=days.day.max(),
        purchase_days=days.count(),
        total=days.amount.sum(),
        last_value=days.amount.argmax(days.day),
    )
    frame = per.to_pandas().set_index("customer_id")
    earlier = (frame["total"] - frame["last_value"]) / (frame["purchase_days"] - 1).where(lambda n: n > 0)
    frame["last_order_value_ratio"] = frame["last_value"] / earlier.where(earlier > 0)
    return frame[["first_day", "last_day", "purchase_days", "last_order_value_ratio"]]


def btyd_signals(history: pd.DataFrame, wh: Warehouse, month: str, config: KitConfig) -> pd.DataFrame:
    """``btyd_p_alive`` and ``btyd_expected_orders`` per buyer of ``history``.

    Both are NaN when the BG/NBD model cannot be fitted (for instance nobody has bought
    twice yet); the gradient-boosted model treats them as missing.
    """
    unit = UNIT_DAYS[config.clv.time_unit]
    as_of = _epoch_day(snapshot_end(month)) - 1  # the month's last day, as in kit.clv.summary
    x = (history["purchase_days"] - 1).to_numpy(dtype=float)
    t_x = ((history["last_day"] - history["first_day"]) / unit).to_numpy(dtype=float)
    age = ((as_of - history["first_day"]) / unit).to_numpy(dtype=float)
    out = pd.DataFrame(index=history.index)
    fit = np.flatnonzero(~ids_in(history.index.to_series(), anonymous_receipts(wh)))
    if len(fit) > BTYD_SAMPLE:
        keys = stable_key(history.index.to_numpy()[fit], config.churn.seed)
        fit = fit[np.argsort(keys, kind="stable")[:BTYD_SAMPLE]]
    try:
        model = BetaGeoModel().fit(x[fit], t_x[fit], age[fit])
    except (ClvFitError, ValueError):
        return out.assign(btyd_p_alive=np.nan, btyd_expected_orders=np.nan)
    horizon = config.churn.window_days / unit
    out["btyd_p_alive"] = per_customer(model.p_alive, x, t_x, age)
    out["btyd_expected_orders"] = per_customer(
        lambda f, r, t: model.conditional_expected_purchases(horizon, f, r, t), x, t_x, age
    )
    return out


def visit_signals(history: pd.DataFrame, wh: Warehouse, month: str, window_days: int) -> pd.DataFrame:
    """Visits since the last purchase day against the visit rate before it (module docstring)."""
    end = snapshot_end(month)
    end_day = _epoch_day(end)
    events = wh.table("events")
    since = end - pd.Timedelta(days=window_days + VISIT_LOOKBACK_DAYS + 1)
    e = events.filter((events.event_type == "visit") & (events.event_ts >= since) & (events.event_ts < end))
    e = e.select("customer_id", day=e.event_ts.date().epoch_days())
    last = ibis.memtable(history["last_day"].reset_index())
    e = e.join(last, "customer_id")
    per = e.group_by("customer_id").aggregate(
        visits_since_last_order=e.count(where=e.day > e.last_day),
        visits_before=e.count(where=(e.day <= e.last_day) & (e.day > e.last_day - VISIT_LOOKBACK_DAYS)),
        first_visit_day=e.day.min(),
    )
    frame = per.to_pandas().set_index("customer_id").reindex(history.index)
    after_last = history["last_day"] + 1
    start = np.maximum(frame["first_visit_day"], after_last - VISIT_LOOKBACK_DAYS)
    rate = frame["visits_before"] / (after_last - start).clip(lower=MIN_VISIT_SPAN_DAYS)
    count = frame["visits_since_last_order"].astype("float64")
    expected = rate * (end_day - after_last)
    shortfall = pd.Series(stats.poisson.cdf(count, expected), index=frame.index).where(count.notna())
    return pd.DataFrame(
        {"visits_since_last_order": count, "visit_rate_before_order": rate.astype("float64"), "visit_shortfall": shortfall}
    )
