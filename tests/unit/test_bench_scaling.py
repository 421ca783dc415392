"""The bench's cost model: a least-squares line per stage and its cluster extrapolation."""

from __future__ import annotations

import numpy as np
import pytest

from kit.bench.scaling import Cluster, extrapolate, fit_costs, stage_seconds


def run(customers: int, started: str, **seconds: float) -> dict:
    """A bench JSON's content with the given stage seconds (all ok), plus one failed stage."""
    stages = [{"name": name, "status": "ok", "seconds": s} for name, s in seconds.items()]
    return {"customers": customers, "started_at": started,
            "stages": [*stages, {"name": "broken", "status": "failed", "seconds": None}]}


def test_fixed_and_per_million_costs_are_recovered_from_three_sizes():
    # features: 12 s fixed + 40 s per million; churn: 30 s + 100 s per million, one size rerun
    results = [run(250_000, "1", features=22, churn=55), run(500_000, "2", features=32, churn=80),
               run(1_000_000, "3", features=52, churn=999), run(1_000_000, "4", churn=130)]
    seconds = stage_seconds(results)
    assert set(seconds["stage"]) == {"features", "churn"}  # the failed stage is left out
    assert seconds.loc[(seconds.stage == "churn") & (seconds.customers == 1_000_000), "seconds"].item() == 130
    costs = fit_costs(seconds).set_index("stage")
    np.testing.assert_allclose(costs.loc["features", ["fixed", "per_million"]].to_numpy(float), [12, 40])
    np.testing.assert_allclose(costs.loc["churn", ["fixed", "per_million"]].to_numpy(float), [30, 100])
    assert costs.loc["churn", "worst_residual"] == pytest.approx(0, abs=1e-9)


def test_one_size_gives_no_fit_and_the_estimate_spreads_only_the_per_row_part():
    costs = fit_costs(stage_seconds([run(1_000_000, "1", features=50)]))
    assert costs["per_million"].isna().all()
    costs = fit_costs(stage_seconds([run(250_000, "1", churn=55), run(1_000_000, "2", churn=130)]))
    cluster = Cluster(executors=32, cores_per_executor=4, efficiency=0.5)  # 64 effective cores
    estimate = extrapolate(costs, 100_000_000, cluster, bench_cores=2)["estimate_seconds"].item()
    assert estimate == pytest.approx(30 + 100 * 100 / 32)
