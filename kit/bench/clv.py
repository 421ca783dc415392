"""Speed benchmark of kit.clv on simulated data, and the comparison with lifetimes.

``run(customers)`` simulates warehouse orders for ``customers`` buyers (BG/NBD purchases,
Gamma-Gamma spend, 3% refunded copies), then times: the summary from the warehouse, the
BG/NBD fit (and its extra memory, measured separately with tracemalloc), and predicting
every customer (expected purchases over the horizon and P(alive)); also, untargeted, the
Gamma-Gamma fit and the full CLV scoring (12 monthly steps). Targets at 1,000,000
customers: summary < 30 s, fit < 2 s and < 300 MB, predict < 3 s.

lifetimes 0.11.3 is a *benchmark-only* reference, never a runtime dependency: it does not
support pandas 3, so it runs in its own venv ``.venv-bench`` (created on first use with
``pip install lifetimes "pandas<3" numpy scipy``) through a subprocess, fitting the same
summary (written to a temporary CSV). We report the speed ratio, the largest relative
parameter difference and both log-likelihoods. Run: ``python -m kit.bench.clv 1000000``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
import venv
from pathlib import Path

import numpy as np

from kit.clv.base import Estimates, per_customer
from kit.clv.bgnbd import BetaGeoModel
from kit.clv.gammagamma import GammaGammaModel
from kit.clv.pipeline import run_clv
from kit.clv.simulate import simulate_orders
from kit.clv.summary import customer_summary
from kit.clv.value import MONTH_DAYS, customer_value
from kit.core.config import PROJECT_ROOT, CLVConfig, KitConfig
from kit.core.warehouse import Warehouse

BENCH_VENV = PROJECT_ROOT / ".venv-bench"
LIFETIMES_SCRIPT = """
import json, sys, time
import numpy as np, pandas as pd
from lifetimes import BetaGeoFitter
d = pd.read_csv(sys.argv[1])
start = time.perf_counter()
fit = BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"])
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "params": {k: float(v) for k, v in fit.params_.items()}}))
"""


def lifetimes_python() -> Path:
    """The benchmark venv's python, created with lifetimes on first use."""
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        venv.create(BENCH_VENV, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "lifetimes", "pandas<3", "numpy", "scipy"], check=True)
    return python


def run(customers: int, seed: int = 0, with_lifetimes: bool = True) -> dict:
    """Time the CLV steps on ``customers`` simulated buyers; figures in seconds and MB."""
    config = CLVConfig()
    out: dict = {"customers": customers}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        start = time.perf_counter()
        orders = simulate_orders(customers, start="2024-01-01", end="2026-11-01", seed=seed)
        orders.to_parquet(root / "orders.parquet", index=False)
        out["orders"] = len(orders)
        out["simulate_seconds"] = time.perf_counter() - start
        del orders
        start = time.perf_counter()
        summary = customer_summary(Warehouse(root), "2026-10", config)
        out["summary_seconds"] = time.perf_counter() - start
        f, r, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))

        start = time.perf_counter()
        model = BetaGeoModel().fit(f, r, T)
        out["fit_seconds"] = time.perf_counter() - start
        tracemalloc.start()
        BetaGeoModel().fit(f, r, T)
        out["fit_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        out["params"] = model.params_
        out["loglik"] = model.log_likelihood_

        horizon = config.horizon_months * MONTH_DAYS / 7
        start = time.perf_counter()
        per_customer(lambda x, t_x, age: model.conditional_expected_purchases(horizon, x, t_x, age), f, r, T)
        per_customer(model.p_alive, f, r, T)
        out["predict_seconds"] = time.perf_counter() - start

        start = time.perf_counter()
        spend = GammaGammaModel().fit(f, summary["monetary"].to_numpy(float))
        out["gamma_gamma_fit_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        customer_value(model, spend, summary, config)
        out["score_clv_seconds"] = time.perf_counter() - start

        if with_lifetimes:
            csv = root / "summary.csv"
            summary[["frequency", "recency", "T"]].to_csv(csv, index=False)
            script = root / "fit_lifetimes.py"
            script.write_text(LIFETIMES_SCRIPT)
            done = subprocess.run(
                [str(lifetimes_python()), str(script), str(csv)], check=True, capture_output=True, text=True
            )
            theirs = json.loads(done.stdout.strip().splitlines()[-1])
            out["lifetimes_seconds"] = theirs["seconds"]
            out["lifetimes_params"] = theirs["params"]
            reference = BetaGeoModel()
            values = np.array([theirs["params"][k] for k in reference.param_names])
            reference.estimates_ = Estimates(reference.param_names, values, np.zeros(4), 0.0, 0.0)
            out["lifetimes_loglik"] = reference.log_likelihood(f, r, T)
            out["speed_ratio"] = theirs["seconds"] / out["fit_seconds"]
            out["max_param_rel_diff"] = max(
                abs(out["params"][k] / theirs["params"][k] - 1) for k in out["params"]
            )
    return out


def stage(config: KitConfig) -> dict:
    """A ``kit bench`` stage: the whole 04_clv pipeline (summary, holdout validation of the
    configured models, refit, scoring, snapshot) on the bench world's warehouse."""
    result = run_clv(Warehouse.from_config(config), config.run.month, config)
    return result.headline()



def models_stage(config: KitConfig) -> dict:
    """A ``kit bench`` stage: the model timings of issue 7 on 1,000,000 simulated customers
    (summary, BG/NBD fit, memory, prediction) and lifetimes on the same data, with the ratio."""
    return run(1_000_000)


def main() -> None:
    """Print the benchmark for the number of customers given on the command line."""
    customers = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    result = run(customers)
    print(json.dumps(result, indent=2, default=float))
    checks = {
        "summary < 30 s": result["summary_seconds"] < 30,
        "BG/NBD fit < 2 s": result["fit_seconds"] < 2,
        "fit memory < 300 MB": result["fit_peak_mb"] < 300,
        "predict < 3 s": result["predict_seconds"] < 3,
        ">= 4x faster than lifetimes": result.get("speed_ratio", np.inf) >= 4,
        "parameters equal to 4 significant digits": result.get("max_param_rel_diff", 0) < 5e-5,
    }
    for what, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {what}")


if __name__ == "__main__":
    main()
