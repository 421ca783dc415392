"""Contractual churn (``churn.mode: contractual``): who holds a subscription at a date, who
lapses after it, how long subscribers stay and what their leaving costs.

The definitions, in one place (kit.core.vocabulary's "churned" for subscriptions):

- A subscription (canonical table ``subscriptions``) is paid from ``started_at`` up to
  ``paid_through``, the day its last paid period ends *as of the export*. Paid periods are
  contiguous (a renewal paid a few days late still starts on its due day), so the export's
  ``paid_through`` is after a date T exactly when the subscription was still paid at T.
- Its end, as known at the data end D (the end of the run month): ``paid_through`` when
  ``paid_through + churn.grace_days <= D`` (a renewal would have been paid by now) or when
  a cancellation was recorded before D (the subscription runs to ``paid_through``, which
  may lie after D, then ends). Otherwise it is *open*: still paid, or inside the grace
  period where a late renewal may still come.
- A customer is *active* at T when one of their subscriptions started before T and has not
  ended by T (its end is after T, or it is open).
- Population at snapshot S: the customers active at S. Customers who already left are
  never scored: they are not active.
- Label: churned after S when not active at ``S + window_days``. A renewal due inside the
  window and paid within the grace period keeps the subscription's end open or later, so
  it is not churn; the label is known only when ``S + window_days + grace_days <= D``, the
  lag ``kit.churn.dataset.plan_snapshots`` leaves before the validation month.
- Tenure (the retention curves): from the customer's first start (its calendar day) to the
  end of their last subscription when every one has ended (lost), else censored at
  ``min(D, paid_through)`` of their open subscriptions: we know they paid up to there.
- Value: MRR (the ``mrr`` of the subscriptions active at S) x the expected paid months in
  the next ``clv.horizon_months``, from the Kaplan-Meier tenure curve conditioned on the
  customer's tenure (restricted mean residual life): a subscriber who stays as the others
  of their tenure stayed pays that many more months. Value at risk = p(churn) x value;
  "MRR at risk" = p(churn) x MRR, a monthly figure.

Everything here is pandas over one row per subscription (1,000,000 rows is tens of MB):
the per-row work of the subscriptions table is small next to orders and events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kit.churn.dataset import ChurnDataError, Definition, OrderChurn, ids_in
from kit.churn.retention import kaplan_meier
from kit.core.config import KitConfig
from kit.core.dates import snapshot_end
from kit.core.warehouse import Warehouse

DAYS_PER_MONTH = 365.25 / 12
PERIOD_COLUMNS = ["customer_id", "started_at", "paid_through", "ends_at", "mrr", "plan"]


@dataclass(frozen=True)
class SubscriptionChurn:
    """Contractual churn over the subscriptions of a warehouse as known at ``data_end``
    (a ``kit.churn.dataset.Definition``): ``periods`` has one row per subscription started
    before it (``PERIOD_COLUMNS``; ``ends_at`` NaT when open), sorted by customer."""

    periods: pd.DataFrame
    data_end: pd.Timestamp
    grace_days: int
    window_days: int

    @property
    def lag_days(self) -> int:
        """A label is known ``grace_days`` after its window ends."""
        return self.grace_days

    @classmethod
    def read(cls, wh: Warehouse, month: str, grace_days: int, window_days: int) -> "SubscriptionChurn":
        """The subscriptions table of ``wh`` as known at the end of ``month``; ChurnDataError
        when it has no subscription started by then (nothing to model)."""
        data_end = snapshot_end(month)
        table = wh.table("subscriptions")
        rows = table.filter(table.started_at < data_end).select(
            "customer_id", "started_at", "paid_through", "cancelled_at", "mrr", "plan"
        ).to_pandas()
        if rows.empty:
            raise ChurnDataError(
                f"churn.mode = contractual: the subscriptions table of {wh.root} has no subscription started before "
                f"{data_end:%Y-%m-%d}; load the subscriptions export, or set churn.mode: non_contractual."
            )
        return cls(periods(rows, data_end, grace_days), data_end, grace_days, window_days)

    def _held(self, when: pd.Timestamp) -> pd.Series:
        """Mask of the subscriptions held at ``when``: started before it, not ended by it."""
        p = self.periods
        return (p["started_at"] < when) & (p["ends_at"].isna() | (p["ends_at"] > when))

    def active_at(self, when: pd.Timestamp) -> pd.Series:
        """Ids of the customers holding a subscription at ``when`` (module docstring)."""
        held = self.periods.loc[self._held(when), "customer_id"]
        return pd.Series(held.unique(), dtype="str", name="customer_id")

    def population(self, features: pd.DataFrame, month: str) -> pd.DataFrame:
        """The rows of ``features`` of customers active at the end of ``month``, sorted by id."""
        active = self.active_at(snapshot_end(month))
        keep = ids_in(features["customer_id"], active)
        return features.loc[keep].sort_values("customer_id", ignore_index=True, kind="stable")

    def retained(self, month: str) -> pd.Series:
        """Ids still active ``window_days`` after the end of ``month`` (everyone else in the
        population churned); ChurnDataError when the data end cannot tell yet."""
        horizon = snapshot_end(month) + pd.Timedelta(days=self.window_days)
        if horizon + pd.Timedelta(days=self.grace_days) > self.data_end:
            raise ChurnDataError(
                f"contractual churn label after {month}: the window ends {horizon:%Y-%m-%d}, and with "
                f"{self.grace_days} grace days it is known only after {self.data_end:%Y-%m-%d}, the data end."
            )
        return self.active_at(horizon)

    def mrr_at(self, customer_ids: pd.Series, when: pd.Timestamp) -> np.ndarray:
        """Each customer's MRR at ``when``: the sum over their subscriptions held then (0 for none)."""
        mrr = self.periods.loc[self._held(when)].groupby("customer_id")["mrr"].sum()
        return pd.Series(np.asarray(customer_ids, dtype=object)).map(mrr).fillna(0.0).to_numpy(dtype=float)

    def tenure(self) -> pd.DataFrame:
        """Per customer: ``customer_id``, ``duration_days`` (first start's day to the end of
        the last subscription, or to the censoring day) and ``lapsed`` (every subscription ended
        by the data end), with the latest-started subscription's ``plan``."""
        p = self.periods
        censor = p["paid_through"].where(p["paid_through"] < self.data_end, self.data_end)
        known_end = p["ends_at"].where(p["ends_at"] <= self.data_end)
        # an open subscription, or one paid beyond the data end (cancelled, ends later): censored
        stop = known_end.fillna(censor)
        per = pd.DataFrame(
            {"customer_id": p["customer_id"], "start": p["started_at"].dt.normalize(), "stop": stop,
             "open": known_end.isna(), "plan": p["plan"], "started_at": p["started_at"]}
        ).sort_values(["customer_id", "started_at"], kind="stable")
        grouped = per.groupby("customer_id", sort=True)
        out = pd.DataFrame(
            {
                "start": grouped["start"].min(),
                "stop": grouped["stop"].max(),
                "lapsed": ~grouped["open"].any(),
                "plan": grouped["plan"].last(),
            }
        )
        return pd.DataFrame(
            {
                "customer_id": out.index.to_numpy(),
                "duration_days": ((out["stop"] - out["start"]).dt.total_seconds() / 86400).clip(lower=0).to_numpy(),
                "lapsed": out["lapsed"].to_numpy(dtype=bool),
                "plan": out["plan"].astype("str").to_numpy(),
            }
        )


def periods(rows: pd.DataFrame, data_end: pd.Timestamp, grace_days: int) -> pd.DataFrame:
    """``PERIOD_COLUMNS`` from subscription rows (started before ``data_end``): the end as
    known at ``data_end`` (module docstring); cancellations at or after it are not known yet."""
    started = pd.to_datetime(rows["started_at"])
    through = pd.to_datetime(rows["paid_through"])
    cancelled = pd.to_datetime(rows["cancelled_at"])
    grace = pd.Timedelta(days=grace_days)
    ended = ((through + grace) <= data_end) | (cancelled < data_end)
    return (
        pd.DataFrame(
            {
                "customer_id": rows["customer_id"].astype("str"),
                "started_at": started,
                "paid_through": through,
                "ends_at": through.where(ended),
                "mrr": pd.to_numeric(rows["mrr"], errors="coerce").fillna(0.0).astype(float),
                "plan": rows["plan"].astype("str"),
            }
        )
        .sort_values(["customer_id", "started_at"], ignore_index=True, kind="stable")
    )


def expected_months(tenure_days: np.ndarray, grid_days: np.ndarray, survival: np.ndarray, horizon_months: int) -> np.ndarray:
    """Expected paid months in the next ``horizon_months`` for subscribers at ``tenure_days``:
    the integral of S(u) / S(t) over u in [t, t + horizon], S the survival curve given at
    every day of ``grid_days`` (0, 1, 2, ...; held at its last value beyond the grid: the
    curve cannot see past the longest tenure, so long tenures are assumed to stay as the
    oldest subscribers did). Where S(t) = 0 nobody of that tenure stays: 0 months."""
    horizon = int(round(horizon_months * DAYS_PER_MONTH))
    t = np.clip(np.floor(np.asarray(tenure_days, dtype=float)).astype(np.int64), 0, None)
    last = int(grid_days[-1])
    needed = int(t.max(initial=0)) + horizon + 1
    curve = np.concatenate([survival, np.full(max(0, needed - last - 1), survival[-1])])
    cum = np.concatenate([[0.0], np.cumsum(curve)])  # cum[k] = sum of S(0..k-1)
    at = curve[t]
    total = cum[t + horizon] - cum[t]
    with np.errstate(divide="ignore", invalid="ignore"):
        days = np.where(at > 0, total / at, 0.0)
    return days / DAYS_PER_MONTH


def definition(wh: Warehouse, config: KitConfig, month: str) -> Definition:
    """Churn as ``config.churn.mode`` defines it, for a run of ``month`` on ``wh``."""
    cfg = config.churn
    if cfg.mode == "contractual":
        return SubscriptionChurn.read(wh, month, cfg.grace_days, cfg.window_days)
    return OrderChurn.of(wh, config)


def subscription_value(
    churn: SubscriptionChurn, customer_ids: pd.Series, tenure: pd.DataFrame, horizon_months: int
) -> pd.DataFrame:
    """``customer_id``, ``mrr`` (at the data end), ``expected_months`` and ``clv`` (MRR x
    expected months) of ``customer_ids``; ``tenure`` is ``churn.tenure()`` (its Kaplan-Meier
    curve and each customer's tenure at the data end)."""
    grid = np.arange(0, int(np.ceil(np.max(tenure["duration_days"].to_numpy(), initial=0.0))) + 1, dtype=float)
    curve = kaplan_meier(tenure["duration_days"].to_numpy(), tenure["lapsed"].to_numpy(), grid)
    ids = pd.Series(np.asarray(customer_ids, dtype=object))
    days = ids.map(tenure.set_index("customer_id")["duration_days"]).fillna(0.0).to_numpy(dtype=float)
    months = expected_months(days, grid, curve["survival"].to_numpy(), horizon_months)
    mrr = churn.mrr_at(ids, churn.data_end)
    return pd.DataFrame({"customer_id": ids.to_numpy(), "mrr": mrr, "expected_months": months, "clv": mrr * months})
