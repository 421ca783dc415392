"""kit.clv.run_clv end to end on simulated warehouse orders, and the value formulas (the 04_clv
notebook: tests/e2e/test_notebooks_by_hand.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kit.clv import run_clv
from kit.clv.base import Estimates
from kit.clv.bgnbd import BetaGeoModel
from kit.clv.gammagamma import GammaGammaModel
from kit.clv.simulate import simulate_orders
from kit.clv.value import VALUE_COLUMNS, clv_tiers, customer_value, top_share, value_by_group
from kit.config import CLVConfig
from kit.warehouse import Warehouse


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    root = tmp_path_factory.mktemp("clvwh")
    simulate_orders(3000, start="2024-01-01", end="2026-11-01", seed=21).to_parquet(root / "orders.parquet", index=False)
    return run_clv(Warehouse(root), "2026-10", CLVConfig(holdout_months=6))


def test_run_clv_writes_the_contract_snapshot(result):
    saved = pd.read_parquet(result.path)
    assert list(saved.columns) == VALUE_COLUMNS
    assert len(saved) == 3000 and saved["customer_id"].is_unique
    assert saved["p_alive"].between(0, 1).all() and (saved["clv"] >= 0).all()
    assert set(saved["clv_tier"]) == {"high", "medium", "low"}
    assert (saved["model"] == result.model.name).all()


def test_validation_scores_models_and_beats_naive(result):
    scores = result.validation.scores.set_index("model")
    assert set(scores.index) == {"naive", "bgnbd", "paretonbd", "mbgnbd"}
    assert result.validation.chosen == result.model.name
    chosen = scores.loc[result.model.name]
    assert chosen["mae"] == scores.loc[scores["status"] == "ok", "mae"].drop("naive").min()
    assert chosen["mae"] < scores.loc["naive", "mae"]  # data follow BG/NBD: models beat the naive rate
    assert abs(chosen["total_error"]) < 0.1
    buckets = result.validation.buckets
    assert buckets["customers"].sum() == result.validation.n_customers


def test_metrics_are_json_ready(result):
    metrics = result.metrics()
    assert metrics["model"] == result.model.name
    assert 0.1 <= metrics["top10_share"] <= 1
    assert metrics["total_clv"] == pytest.approx(result.scores["clv"].sum())


def _fixed(model, params):
    values = np.array([params[k] for k in model.param_names])
    model.estimates_ = Estimates(model.param_names, values, np.zeros(len(values)), 0.0, 0.0)
    return model


def test_clv_formula_by_hand():
    model = _fixed(BetaGeoModel(), {"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5})
    spend = _fixed(GammaGammaModel(), {"p": 6.0, "q": 4.0, "v": 60.0})
    summary = pd.DataFrame({"customer_id": ["C1"], "frequency": [3], "recency": [20.0], "T": [30.0], "monetary": [100.0]})
    config = CLVConfig(time_unit="W", horizon_months=3, monthly_discount_rate=0.02, gross_margin=0.4)
    row = customer_value(model, spend, summary, config).iloc[0]
    month = 365.25 / 12 / 7
    cumulative = [float(model.conditional_expected_purchases(m * month, 3, 20.0, 30.0)) for m in range(4)]
    by_hand = sum((cumulative[m] - cumulative[m - 1]) / 1.02**m for m in range(1, 4))
    spend_per_order = (6 * 60 + 6 * 3 * 100) / (6 * 3 + 4 - 1)
    assert row["expected_spend"] == pytest.approx(spend_per_order)
    assert row["clv"] == pytest.approx(0.4 * spend_per_order * by_hand)
    assert row["expected_purchases"] == pytest.approx(cumulative[3])


def test_tiers_and_concentration():
    clv = np.arange(100, dtype=float)
    tiers = clv_tiers(clv)
    assert (tiers[90:] == "high").all() and (tiers[60:90] == "medium").all() and (tiers[:60] == "low").all()
    assert top_share(np.array([90.0] + [1.0] * 9 + [0.0] * 0), 0.1) == pytest.approx(0.90909, rel=1e-4)


def test_collapse_matches_numpy_unique_rows():
    from kit.clv.base import collapse

    rng = np.random.default_rng(0)
    rows = np.column_stack([rng.integers(0, 4, 500), rng.integers(0, 6, 500) / 7, rng.integers(6, 9, 500) / 7]).astype(float)
    got = collapse(rows[:, 0], rows[:, 1], rows[:, 2])
    unique = np.column_stack([got.ux[got.cx], got.ut[got.ct], got.uT[got.cT]])
    expected, inverse = np.unique(rows, axis=0, return_inverse=True)
    assert np.array_equal(unique, expected)
    assert np.array_equal(unique[got.inverse], rows)


def test_value_by_group_shares(result):
    groups = pd.DataFrame({"customer_id": result.scores["customer_id"].iloc[:100], "persona": "A"})
    table = value_by_group(result.scores, groups, "persona").set_index("persona")
    assert table["customers"].sum() == len(result.scores)
    assert table.loc["(none)", "customers"] == len(result.scores) - 100
    assert table["clv_share"].sum() == pytest.approx(1.0)
