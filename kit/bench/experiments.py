"""Benchmark of the experiment readout: synthetic per-user metrics of a given size.

``run(assignments)`` builds a DuckDB table of ``assignments`` users in 3 arms with segment
labels, a has-pre-period flag and the per-user metrics with their pre-period values
(deterministic hash-based random numbers, so it is reproducible and runs in parallel),
then times the readout on it: winsorisation caps, the sufficient-statistics query and the
analysis (5 metrics, CUPED, 3 segment dimensions, SRM, corrections, Bayes, sequential).
The generation is timed separately; the target is readout < 60 s for 10,000,000 users on
2 cores.
"""

from __future__ import annotations

import time

import ibis
import pandas as pd

from kit.core.config import KitConfig
from kit.experiments.catalog import Experiment
from kit.experiments.metrics import sufficient_stats, winsor_caps
from kit.experiments.readout import Settings, analyse

#: Uniform(0,1) number from row i and stream k (DuckDB hash, reproducible across runs).
_U = "((hash(i * 16 + {k}) % 1000003) + 0.5) / 1000003.0"

_SQL = """
CREATE OR REPLACE TABLE bench_users AS
WITH base AS (
  SELECT i,
    CASE WHEN {u0} < 1/3 THEN 'control' WHEN {u0} < 2/3 THEN 'variant_a' ELSE 'variant_b' END AS variant,
    ['prospect','new','active','silent','churned'][1 + CAST(floor({u1} * 5) AS INTEGER)] AS lifecycle_stage,
    ['low','mid','high'][1 + CAST(floor({u2} * 3) AS INTEGER)] AS value_tier,
    ['p1','p2','p3','p4','p5','p6'][1 + CAST(floor({u3} * 6) AS INTEGER)] AS persona,
    CAST({u4} < 0.8 AS TINYINT) AS has_pre,
    -ln({u5}) AS habit
  FROM range({n}) t(i)
), outcome AS (
  SELECT *,
    CAST(floor(-ln({u6}) * habit * 0.6) AS DOUBLE) AS orders_per_user,
    CAST(floor(-ln({u7}) * habit * 0.6) * has_pre AS DOUBLE) AS orders_per_user_pre,
    CAST({u8} < 0.3 + 0.2 * has_pre AS DOUBLE) AS retention,
    CAST({u9} < 0.3 AS DOUBLE) * has_pre AS retention_pre
  FROM base
)
SELECT i AS customer_id, variant, lifecycle_stage, value_tier, persona, has_pre,
  CAST(orders_per_user > 0 AS DOUBLE) AS conversion,
  CAST(orders_per_user_pre > 0 AS DOUBLE) AS conversion_pre,
  orders_per_user * 80 * (-ln({u10})) AS revenue_per_user,
  orders_per_user_pre * 80 * (-ln({u11})) AS revenue_per_user_pre,
  orders_per_user, orders_per_user_pre, retention, retention_pre,
  orders_per_user AS all_orders, 0.0 AS refunded_orders
FROM outcome
"""


def bench_experiment() -> Experiment:
    """A 3-arm experiment with 5 metrics and 3 segment dimensions."""
    return Experiment(
        id="bench", name="Benchmark", hypothesis="", control="control",
        variants={"control": 1 / 3, "variant_a": 1 / 3, "variant_b": 1 / 3}, unit_type="member",
        start=pd.Timestamp("2026-09-01"), end=pd.Timestamp("2026-09-30"), primary_metric="conversion",
        secondary_metrics=("revenue_per_user", "orders_per_user", "aov"), guardrail_metrics=("retention",),
        segments=("lifecycle_stage", "value_tier", "persona"), exposure_days=30,
    )


def run(assignments: int) -> dict:
    """Synthesise ``assignments`` users, time the readout; returns the timings in seconds."""
    con = ibis.duckdb.connect()
    uniforms = {f"u{k}": _U.format(k=k) for k in range(12)}
    t0 = time.perf_counter()
    con.raw_sql(_SQL.format(n=int(assignments), **uniforms))
    table = con.table("bench_users")
    t1 = time.perf_counter()
    settings = Settings()
    caps = winsor_caps(table, settings.winsorize_quantile)
    t2 = time.perf_counter()
    stats = sufficient_stats(table, caps)
    t3 = time.perf_counter()
    arms = stats[stats.metric == "conversion"].groupby("variant").n.sum()
    experiment = bench_experiment()
    readout = analyse(stats, experiment, {str(k): int(v) for k, v in arms.items()}, settings, early=False)
    t4 = time.perf_counter()
    con.disconnect()
    return {
        "assignments": int(assignments),
        "arms": len(experiment.variants),
        "metrics": len(experiment.metrics),
        "segment_dimensions": len(experiment.segments),
        "stat_cells": int(len(stats)),
        "generate_seconds": round(t1 - t0, 2),
        "caps_seconds": round(t2 - t1, 2),
        "aggregate_seconds": round(t3 - t2, 2),
        "analyse_seconds": round(t4 - t3, 2),
        "readout_seconds": round(t4 - t1, 2),
        "decision": readout.decision.verdict,
        "srm_p_value": readout.srm.p_value,
    }


#: The size the issue sets the 60-second target for.
TARGET_ASSIGNMENTS = 10_000_000


def stage(config: KitConfig) -> dict:
    """``kit bench`` stage entry (takes the bench config, unused): the 10,000,000-user readout."""
    return run(TARGET_ASSIGNMENTS)
