"""Ground truth of the demo world (``_truth/``): persons, identities and churn.

Churn truth per snapshot month (the last 12 months up to ``end_month``; snapshot ``S`` =
midnight after the month's last day) for every person who joined before ``S``.
``p_churn`` is the exact probability of no order in ``[S, S + 90 days)`` given the
person's latent state at ``S`` (``state``):

- ``never``: will never order -> 1
- ``pre_purchase``: a delayed first order still to come, exponential with rate c ->
  ``exp(-90 c)``
- ``engaged``: orders at ``lam * f(t)`` -> ``exp(-lam * (C(S+90) - C(S)))``
- ``disengaging``: orders at ``0.3 * lam * f(t)`` until ``death_time`` ->
  ``exp(-0.3 lam (C(min(S+90, death)) - C(S)))``
- ``dead`` -> 1

times ``exp(-coupon orders' expected count in the window)`` for members who received the
retention coupon. ``churned`` is what happened (no order of any status in the window; the
simulation runs 92 days past the raw cut, and those later orders exist only here).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kit.core.dates import shift_month, snapshot_end
from kit.demo.experiments import EXPOSURE_DAYS, OrderIndex
from kit.demo.purchases import DISENGAGE_RATE
from kit.demo.timeline import Timeline

WINDOW_DAYS = 90
SNAPSHOTS = 12
STATES = ("never", "pre_purchase", "engaged", "disengaging", "dead")


def latent_state(persons: pd.DataFrame, at: float) -> np.ndarray:
    """State code (index into STATES) of every person at day ``at``."""
    first = persons["first_order"].to_numpy()
    dropout = persons["dropout_time"].to_numpy()
    death = persons["death_time"].to_numpy()
    return np.select(
        [~np.isfinite(first), at <= first, at <= dropout, at < death],
        [0, 1, 2, 3],
        4,
    ).astype(np.int8)


def churn_truth(
    persons: pd.DataFrame, person_ids: np.ndarray, orders: OrderIndex, coupon: pd.DataFrame,
    timeline: Timeline, end_month: str,
) -> pd.DataFrame:
    """One row per (snapshot month, person joined by then): state, p_churn, churned."""
    lam = persons["lam"].to_numpy()
    death = persons["death_time"].to_numpy()
    convert = persons["convert_rate"].to_numpy()
    coupon_rate = np.zeros(len(persons))
    coupon_start = np.zeros(len(persons))
    coupon_rate[coupon["person"].to_numpy()] = coupon["rate"].to_numpy()
    coupon_start[coupon["person"].to_numpy()] = coupon["assigned"].to_numpy()
    frames = []
    for k in range(SNAPSHOTS - 1, -1, -1):
        month = shift_month(end_month, -k)
        s = timeline.day(snapshot_end(month))
        who = np.flatnonzero(persons["join"].to_numpy() < s)
        state = latent_state(persons.iloc[who], s)
        stop = s + WINDOW_DAYS
        engaged = lam[who] * (timeline.integral(stop) - timeline.integral(s))
        fading = DISENGAGE_RATE * lam[who] * (timeline.integral(np.minimum(stop, death[who])) - timeline.integral(s))
        log_p = np.select([state == 1, state == 2, state == 3], [-WINDOW_DAYS * convert[who], -engaged, -fading], 0.0)
        overlap = np.clip(
            np.minimum(stop, coupon_start[who] + EXPOSURE_DAYS) - np.maximum(s, coupon_start[who]), 0.0, None
        )
        p_churn = np.where(np.isin(state, (0, 4)), 1.0, np.exp(log_p)) * np.exp(-coupon_rate[who] * overlap)
        counts = orders.window(who, np.full(who.size, s), np.full(who.size, stop))["all"]
        frames.append(
            pd.DataFrame(
                {
                    "person_id": person_ids[who],
                    "snapshot_month": month,
                    "window_days": WINDOW_DAYS,
                    "state": pd.Categorical.from_codes(state, STATES),
                    "p_churn": p_churn,
                    "churned": counts == 0,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def persons_truth(persons: pd.DataFrame, person_ids: np.ndarray, timeline: Timeline, n_orders: np.ndarray,
                  birth: np.ndarray) -> pd.DataFrame:
    """persons.parquet: latent persona, demographics, process parameters and fate.

    ``birth`` (the true birth dates, kit.demo.raw.birth_dates) becomes the last column,
    ``birth_date`` (midnight): what the CRM and app profiles write, before any mistake.
    """
    end = timeline.end

    def stamp(days: np.ndarray, before_end: bool = True) -> pd.Series:
        ok = np.isfinite(days) & ((days < end) if before_end else True)
        values = timeline.to_timestamps(np.where(ok, days, 0.0)).astype("datetime64[us]")
        return pd.Series(np.where(ok, values, np.datetime64("NaT")), dtype="datetime64[us]")

    state = latent_state(persons, end)
    return pd.DataFrame(
        {
            "person_id": person_ids,
            "persona": persons["persona"].astype(str).to_numpy(),
            "gender": persons["gender"].to_numpy(),
            "age": np.floor(persons["age"].to_numpy()).astype(np.int64),
            "city": persons["city"].to_numpy(),
            "city_tier": persons["city_tier"].to_numpy().astype(np.int64),
            "join_time": stamp(persons["join"].to_numpy()),
            "first_order_time": stamp(persons["first_order"].to_numpy()),
            "convert_type": persons["convert_type"].astype(str).to_numpy(),
            "lam": persons["lam"].to_numpy(),
            "p": persons["p"].to_numpy(),
            "spend_p": persons["spend_p"].to_numpy(),
            "spend_q": persons["spend_q"].to_numpy(),
            "spend_gamma": persons["spend_gamma"].to_numpy(),
            "spend_nu": persons["spend_nu"].to_numpy(),
            "mean_order_value": persons["spend_p"].to_numpy() / persons["spend_nu"].to_numpy(),
            "discount_share": persons["discount"].to_numpy(),
            "satisfaction": persons["satisfaction"].to_numpy(),
            "visit_rate": persons["visit_rate"].to_numpy(),
            "dropout_time": stamp(persons["dropout_time"].to_numpy()),
            "death_time": stamp(persons["death_time"].to_numpy()),
            "state_at_end": pd.Categorical.from_codes(state, STATES).astype(str),
            "alive_at_end": np.isin(state, (1, 2, 3)),
            "n_orders": n_orders,
            "is_member": persons["is_member"].to_numpy(),
            "is_app_user": persons["app_reg"].to_numpy() < end,
            "birth_date": np.asarray(birth).astype("datetime64[D]").astype("datetime64[us]"),
        }
    )
