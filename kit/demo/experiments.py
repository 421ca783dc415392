"""The demo world's two experiments, simulated with potential outcomes.

``retention_coupon`` (units: CRM members, arms control / coupon, planned 50/50) is
assigned during the first 7 days of the month before ``end_month`` and runs to the end
of ``end_month``. The coupon adds extra "coupon orders" as a Poisson process during the
30 days after assignment, at a rate that depends on the member's lifecycle stage as of
the day before assignment (``COUPON_EXTRA_RATE``): strong for silent members, mild for
churned members and prospects, none for new and active members. Extra orders are drawn
for every assigned member (common random numbers): the outcome under control uses the
member's ordinary orders only, the outcome under coupon adds the extra orders, and only
the realised arm's orders reach the raw files.

``app_homepage`` (units: app users, arms control / variant_a / variant_b, planned 1/3
each) assigns app users at their first visit in the first 14 days of the month two months
before ``end_month``; it has no effect on anything, and a logging bug drops
``SRM_DROP_SHARE`` of variant_b assignments from ``assignments.csv`` (a sample ratio
mismatch).

Lifecycle stage as of the start of the assignment day, from the person's paid (not
refunded) orders before it: the business vocabulary's definition (kit.core.vocabulary)
with the default thresholds, computed here independently from the generator's own orders
(``prospect`` no order; ``new`` first order at most 90 days before; ``active`` last order
at most 90 days before; ``silent`` at most 180; ``churned`` older).

Metrics over the ``EXPOSURE_DAYS`` days from the assignment instant (orders of any
source): ``conversion`` at least one paid order; ``orders_per_user`` paid orders;
``revenue_per_user`` paid amount of paid orders; ``aov`` revenue / paid orders (ratio of
sums); ``refund_rate`` refunded orders / all orders (ratio of sums). "Paid" means status
paid (not refunded).

experiments.yml format (read by ``kit.experiments``)::

    experiments:
      - id: retention_coupon
        name: Retention coupon
        hypothesis: ...
        control: control
        variants: {control: 0.5, coupon: 0.5}   # planned share of units per arm
        unit_type: member                       # member | app_user (as in assignments.csv)
        start: "2026-09-01"                     # first assignment day
        end: "2026-10-31"                       # last day of the experiment
        primary_metric: conversion
        secondary_metrics: [revenue_per_user, orders_per_user, aov]
        guardrail_metrics: [refund_rate]
        segments: [lifecycle_stage, value_tier, persona]
        exposure_days: 30
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kit.core.config import SegmentationConfig
from kit.core.dates import shift_month, snapshot_date
from kit.demo.timeline import Timeline, sample_nhpp
from kit.demo.world import PERSONA_NAMES
from kit.experiments.catalog import SEGMENTS, Experiment

EXPOSURE_DAYS = 30
STAGES = ("prospect", "new", "active", "silent", "churned")
COUPON_EXTRA_RATE = {"prospect": 0.002, "new": 0.0, "active": 0.0, "silent": 0.006, "churned": 0.0025}
COUPON_ASSIGN_DAYS = 7
HOMEPAGE_ASSIGN_DAYS = 14
SRM_DROP_SHARE = 0.15
METRICS = ("conversion", "revenue_per_user", "orders_per_user", "aov", "refund_rate")


def catalog(end_month: str) -> tuple[Experiment, Experiment]:
    """The two experiments, dated relative to ``end_month``."""
    coupon_month, homepage_month = shift_month(end_month, -1), shift_month(end_month, -2)
    coupon = Experiment(
        id="retention_coupon",
        name="Retention coupon",
        hypothesis="A 20-yuan coupon brings back members who have gone quiet; it should not be needed by active members.",
        control="control",
        variants={"control": 0.5, "coupon": 0.5},
        unit_type="member",
        start=pd.Timestamp(f"{coupon_month}-01"),
        end=snapshot_date(end_month),
        primary_metric="conversion",
        secondary_metrics=("revenue_per_user", "orders_per_user", "aov"),
        guardrail_metrics=("refund_rate",),
        segments=SEGMENTS,
        exposure_days=EXPOSURE_DAYS,
    )
    homepage = Experiment(
        id="app_homepage",
        name="App homepage redesign",
        hypothesis="A redesigned app homepage with personalised recommendations lifts conversion.",
        control="control",
        variants={"control": 1 / 3, "variant_a": 1 / 3, "variant_b": 1 / 3},
        unit_type="app_user",
        start=pd.Timestamp(f"{homepage_month}-01"),
        end=snapshot_date(shift_month(end_month, -1)),
        primary_metric="conversion",
        secondary_metrics=("revenue_per_user", "orders_per_user"),
        guardrail_metrics=("refund_rate",),
        segments=SEGMENTS,
        exposure_days=EXPOSURE_DAYS,
    )
    return coupon, homepage


class OrderIndex:
    """Orders sorted by (person, time) with prefix sums, for window counts and sums."""

    def __init__(self, person: np.ndarray, ts: np.ndarray, amount: np.ndarray, refunded: np.ndarray) -> None:
        key = person * 1e5 + ts  # days < 1e5: one float key sorts by (person, time)
        order = np.argsort(key, kind="stable")
        self.key, self.ts = key[order], ts[order]
        paid = ~refunded[order]
        self.cum_paid = np.concatenate([[0], np.cumsum(paid)])
        self.cum_all = np.concatenate([[0], np.arange(1, order.size + 1)])
        self.cum_revenue = np.concatenate([[0.0], np.cumsum(np.where(paid, amount[order], 0.0))])
        self.paid_key, self.paid_ts = self.key[paid], self.ts[paid]

    def window(self, person: np.ndarray, start: np.ndarray, stop: np.ndarray) -> dict[str, np.ndarray]:
        """Paid orders, all orders and paid revenue per row in [start, stop)."""
        lo = np.searchsorted(self.key, person * 1e5 + start)
        hi = np.searchsorted(self.key, person * 1e5 + stop)
        return {
            "paid": self.cum_paid[hi] - self.cum_paid[lo],
            "all": self.cum_all[hi] - self.cum_all[lo],
            "revenue": self.cum_revenue[hi] - self.cum_revenue[lo],
        }

    def stage(self, person: np.ndarray, day0: np.ndarray) -> np.ndarray:
        """Lifecycle stage code (index into STAGES) from paid orders before day ``day0`` begins."""
        hi = np.searchsorted(self.paid_key, person * 1e5 + day0)
        lo = np.searchsorted(self.paid_key, person * 1e5)
        has = hi > lo
        first = self.paid_ts[np.minimum(lo, self.paid_ts.size - 1)]
        last = self.paid_ts[np.maximum(hi - 1, 0)]
        since_first, since_last = day0 - first, day0 - last
        days = SegmentationConfig()
        stage = np.select(
            [~has, since_first <= days.new_days, since_last <= days.active_days, since_last <= days.silent_days],
            [STAGES.index("prospect"), STAGES.index("new"), STAGES.index("active"), STAGES.index("silent")],
            STAGES.index("churned"),
        )
        return stage.astype(np.int8)


def assign_coupon(
    exp: Experiment, members: pd.DataFrame, index: OrderIndex, timeline: Timeline, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assign members, draw coupon orders for everyone; returns (units, extra orders).

    ``members`` has ``person``, ``member_id`` and ``member_reg`` (day). Units are the
    members registered before the start. ``extra`` orders carry ``unit`` (row in units).
    """
    start = timeline.day(exp.start)
    eligible = members[members["member_reg"] < start]
    n = len(eligible)
    assigned = start + rng.random(n) * COUPON_ASSIGN_DAYS
    person = eligible["person"].to_numpy()
    stage = index.stage(person, np.floor(assigned))
    rate = np.array([COUPON_EXTRA_RATE[s] for s in STAGES])[stage]
    owner, t = sample_nhpp(timeline, assigned, assigned + EXPOSURE_DAYS, rate, rng, seasonal=False)
    variant = np.where(rng.random(n) < 0.5, "control", "coupon")
    units = pd.DataFrame(
        {
            "experiment_id": exp.id, "unit_id": eligible["member_id"].to_numpy(), "person": person,
            "variant": variant, "assigned": assigned, "stage": stage, "coupon_rate": rate, "logged": True,
        }
    )
    extra = pd.DataFrame({"unit": owner, "person": person[owner], "t": t})
    return units, extra


def first_visits(exp: Experiment, events: pd.DataFrame, timeline: Timeline) -> pd.Series:
    """Each person's first app visit in the assignment window (person -> day)."""
    start = timeline.day(exp.start)
    t = events["t"]
    visits = events[(events["event"] == 0) & (t >= start) & (t < start + HOMEPAGE_ASSIGN_DAYS)]
    return visits.groupby("person", sort=True)["t"].min()


def assign_homepage(
    exp: Experiment, app_users: pd.DataFrame, first: pd.Series, index: OrderIndex, rng: np.random.Generator,
) -> pd.DataFrame:
    """App users with a visit in the assignment window, assigned at their first such visit.

    ``first`` is :func:`first_visits` over all events.
    """
    first = first.sort_index()
    users = app_users.set_index("person").loc[first.index]
    person = first.index.to_numpy()
    assigned = first.to_numpy()
    arm = rng.integers(0, 3, person.size)
    variant = np.array(list(exp.variants))[arm]
    logged = ~((variant == "variant_b") & (rng.random(person.size) < SRM_DROP_SHARE))
    return pd.DataFrame(
        {
            "experiment_id": exp.id, "unit_id": users["app_user_id"].to_numpy(), "person": person,
            "variant": variant, "assigned": assigned, "stage": index.stage(person, np.floor(assigned)),
            "coupon_rate": 0.0, "logged": logged,
        }
    )


def potential_outcomes(
    units: pd.DataFrame, base: OrderIndex, extra: OrderIndex | None
) -> pd.DataFrame:
    """Per unit: y0_* (control) and y1_* (treatment) counts and revenue in the exposure window.

    ``extra`` indexes the coupon orders by unit row (its ``person`` is the unit row).
    """
    person = units["person"].to_numpy()
    a = units["assigned"].to_numpy()
    y0 = base.window(person, a, a + EXPOSURE_DAYS)
    out = {f"y0_{k}": v for k, v in y0.items()}
    if extra is None:
        out |= {f"y1_{k}": v for k, v in y0.items()}
    else:
        rows = np.arange(len(units))
        add = extra.window(rows, a, a + EXPOSURE_DAYS)
        out |= {f"y1_{k}": y0[k] + add[k] for k in y0}
    return units.assign(**out)


def true_effects(units: pd.DataFrame, exp: Experiment, persona: np.ndarray) -> pd.DataFrame:
    """Average true effect (treatment - control) per metric, overall, per stage and persona.

    For every non-control variant; ratio metrics (aov, refund_rate) are ratios of sums.
    """
    frame = units.assign(
        lifecycle_stage=np.asarray(STAGES)[units["stage"].to_numpy()],
        persona=np.asarray(PERSONA_NAMES)[persona[units["person"].to_numpy()]],
        all="all",
    )
    rows = []
    for variant in (v for v in exp.variants if v != exp.control):
        for segment_type in ("all", "lifecycle_stage", "persona"):
            for segment, g in frame.groupby(segment_type, sort=True):
                means = {}
                for arm in ("y0", "y1"):
                    paid, every, revenue = (g[f"{arm}_{k}"].to_numpy() for k in ("paid", "all", "revenue"))
                    means[arm] = {
                        "conversion": np.mean(paid > 0),
                        "revenue_per_user": revenue.mean(),
                        "orders_per_user": paid.mean(),
                        "aov": revenue.sum() / paid.sum() if paid.sum() else np.nan,
                        "refund_rate": (every - paid).sum() / every.sum() if every.sum() else np.nan,
                    }
                for metric in METRICS:
                    rows.append(
                        {
                            "experiment_id": exp.id, "variant": variant, "segment_type": segment_type,
                            "segment": str(segment), "metric": metric, "n_units": len(g),
                            "control_mean": means["y0"][metric], "variant_mean": means["y1"][metric],
                            "true_effect": means["y1"][metric] - means["y0"][metric],
                        }
                    )
    return pd.DataFrame(rows)
