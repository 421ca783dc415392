"""A per-stage cost model from bench runs at several sizes, and its extrapolation to a cluster.

``python -m kit.bench.scaling reports/bench/bench-*-pyspark-*.json`` reads the bench results
(``kit bench``'s JSON files) of one backend at several world sizes and fits, per stage,
``seconds = fixed + per_million * millions of customers`` by least squares: ``fixed`` is
what does not grow with the data (starting the engine, planning the queries, fitting a
model on a fixed-size sample), ``per_million`` the cost of each million customers (with the
demo world's volumes: about 10 orders and 40 events per customer).

The extrapolation to ``customers`` on a cluster assumes what docs/scaling.md states: the
per-row part spreads over the cluster's cores with a parallel ``efficiency`` (shuffles,
skew and stragglers make it less than 1), relative to the cores the bench ran on; the fixed
part does not shrink. Work the driver does per customer (reading the customer-grain
frames back, scoring) does not spread, so the estimate is a lower bound for stages with a
large driver share: the doc says which.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Cluster:
    """The cluster an estimate is for: executors x cores each, and the parallel efficiency."""

    executors: int = 32
    cores_per_executor: int = 4
    efficiency: float = 0.5

    @property
    def cores(self) -> int:
        """Cores doing the per-row work."""
        return self.executors * self.cores_per_executor


def stage_seconds(results: list[dict]) -> pd.DataFrame:
    """One row per (stage, customers) with the seconds of every stage that ended ok, from
    bench JSON contents ``results`` (the newest run wins when a size was run twice)."""
    rows = [
        {"stage": s["name"], "customers": r["customers"], "seconds": s["seconds"], "started_at": r["started_at"]}
        for r in results
        for s in r["stages"]
        if s["status"] == "ok"
    ]
    frame = pd.DataFrame(rows, columns=["stage", "customers", "seconds", "started_at"])
    newest = frame.sort_values("started_at").drop_duplicates(["stage", "customers"], keep="last")
    return newest.drop(columns="started_at").sort_values(["stage", "customers"], ignore_index=True)


def fit_costs(seconds: pd.DataFrame) -> pd.DataFrame:
    """Per stage: ``fixed`` seconds and seconds ``per_million`` customers, fitted by least
    squares on the sizes measured, with the sizes used and the largest relative residual.
    A stage measured at fewer than two sizes gets no fit (NaN), not a guess."""
    out = []
    for stage, part in seconds.groupby("stage", sort=True):
        millions, secs = part["customers"].to_numpy(float) / 1e6, part["seconds"].to_numpy(float)
        if np.unique(millions).size < 2:
            out.append({"stage": stage, "fixed": np.nan, "per_million": np.nan, "sizes": len(part), "worst_residual": np.nan})
            continue
        per_million, fixed = np.polyfit(millions, secs, 1)
        residual = np.max(np.abs(fixed + per_million * millions - secs) / secs)
        out.append({"stage": stage, "fixed": fixed, "per_million": per_million, "sizes": len(part), "worst_residual": residual})
    return pd.DataFrame(out)


def extrapolate(costs: pd.DataFrame, customers: int, cluster: Cluster, bench_cores: int) -> pd.DataFrame:
    """``costs`` (``fit_costs``) with the estimated seconds for ``customers`` on ``cluster``:
    the fixed part as measured, the per-row part divided by the cluster's effective cores
    relative to ``bench_cores``."""
    speedup = cluster.cores * cluster.efficiency / bench_cores
    per_row = costs["per_million"].clip(lower=0) * customers / 1e6
    return costs.assign(estimate_seconds=costs["fixed"].clip(lower=0) + per_row / speedup)


def main(files: list[str]) -> None:
    """Print the cost model of the bench JSON ``files`` and the 100,000,000-customer estimate."""
    results = [json.loads(Path(f).read_text(encoding="utf-8")) for f in files]
    backends = {r.get("backend", "duckdb") for r in results}
    if len(backends) != 1:
        sys.exit(f"the files mix backends {sorted(backends)}: give one backend's results")
    cluster, cores = Cluster(), int(results[0]["machine"]["cpus"])
    model = extrapolate(fit_costs(stage_seconds(results)), 100_000_000, cluster, cores)
    print(f"backend {backends.pop()}, measured on {cores} cores; estimate for 100,000,000 customers on "
          f"{cluster.executors} executors x {cluster.cores_per_executor} cores, efficiency {cluster.efficiency}")
    print(model.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))


if __name__ == "__main__":
    main(sys.argv[1:])
