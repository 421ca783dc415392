"""kit.clv.run_clv end to end on simulated warehouse orders, and the value formulas (the 04_clv
notebook: tests/e2e/test_notebooks_by_hand.py)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from kit.clv import run_clv
from kit.clv.base import Estimates
from kit.clv.bgnbd import BetaGeoModel
from kit.clv.gammagamma import GammaGammaModel
from kit.clv.simulate import simulate_orders
from kit.clv.value import (
    VALUE_COLUMNS,
    clv_tiers,
    customer_value,
    top_share,
    value_by_group,
)
from kit.core.config import CLVConfig
from kit.core.warehouse import Warehouse


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
    metrics = result.headline()
    assert set(metrics) == {
        "customers_scored", "model", "holdout_mae", "holdout_total_error", "total_clv", "average_clv", "median_clv",
        "top10_share", "average_p_alive", "expected_purchases", "horizon_months", "frequency_spend_correlation",
        "one_time_share", "spend_model",
    }
    assert metrics["model"] == result.model.name and metrics["spend_model"] == "gammagamma"
    assert 0.1 <= metrics["top10_share"] <= 1
    assert metrics["total_clv"] == pytest.approx(result.scores["clv"].sum())


def test_anonymous_store_receipts_are_not_customers(tmp_path):
    from kit.clv import pipeline

    orders = simulate_orders(600, start="2024-01-01", end="2026-11-01", seed=5)
    ids = sorted(orders["customer_id"].unique())
    anonymous, people = ids[:50], ids[50:]
    orders.to_parquet(tmp_path / "orders.parquet", index=False)
    identities = pd.DataFrame({
        "customer_id": ids,
        "source": ["pos"] * 50 + ["shop"] * (len(ids) - 50),
        "rule": ["singleton"] * 50 + ["phone"] * (len(ids) - 50),
        "kind": "orders",
        "keyed": [False] * 50 + [True] * (len(ids) - 50),
    })
    identities.to_parquet(tmp_path / "identities.parquet", index=False)
    wh = Warehouse(tmp_path)
    result = pipeline.run(wh, "2026-10", CLVConfig(holdout_months=6))
    assert set(result.summary["customer_id"]) == set(people)
    assert not set(anonymous) & set(result.scores["customer_id"])
    assert not wh.has_snapshot("2026-10", "clv")  # run computes; write writes
    result.write(wh)
    assert set(wh.read_snapshot("2026-10", "clv")["customer_id"]) == set(people)


def test_page_pieces_in_both_languages(result):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kit.clv import page
    from kit.text.fmt import Formatter

    for lang in ("en", "zh"):
        fmt = Formatter(lang)
        assert len(page.findings(result, fmt)) == 4 and all(page.findings(result, fmt))
        cards = page.kpi_cards(result, fmt)
        assert cards[3].value == fmt.int(len(result.scores))
        table, formats = page.model_table(result, lang)
        assert len(table) == len(result.validation.scores) and set(formats) == set(table.columns)
        notes = page.model_notes(result, lang)
        assert notes[-1][1] == "success"  # the chosen model beats the naive rate on these data
        params, formats, caption = page.params_table(result, lang)
        assert len(params) == len(result.model.param_names) and caption
        tiers, formats, _ = page.tier_table(result, lang)
        assert tiers.iloc[:, 1].sum() == len(result.scores) and set(formats) == set(tiers.columns)
        assert page.group_table(result, "persona", lang) is None  # no segments snapshot here
        for name in page.SECTIONS:
            title, meaning = page.section_text(result, name, fmt)
            assert title and meaning and "{" not in meaning
        for name in page.FIGURES:
            assert "{" not in "".join(page.figure_labels(result, name, fmt).values())
    en = " ".join(page.findings(result, Formatter("en")) + [page.section_text(result, n, Formatter("en"))[1] for n in page.SECTIONS])
    assert "high value" not in en.lower() and "high-value" not in en.lower() and "active" not in en.lower()
    assert "top 10% of customers by predicted CLV" in en
    for plot in (page.plot_holdout, page.plot_expected, page.plot_alive, page.plot_distribution, page.plot_concentration):
        fig, ax = plt.subplots()
        plot(ax, result, Formatter("en"))
        assert ax.has_data() or ax.images
        plt.close(fig)
    curve = result.concentration()
    assert curve["share_value"].iloc[-1] == pytest.approx(1.0)
    assert result.grid("expected").shape == result.grid("p_alive").shape


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


def test_a_short_history_is_checked_on_a_shorter_holdout(tmp_path):
    """Orders from mid-April to October (6.5 months) cannot spare the configured 6 holdout
    months: the models are checked on the last 3 and the page says so."""
    from kit.clv import page, pipeline
    from kit.text.fmt import Formatter

    simulate_orders(1500, start="2026-04-16", end="2026-11-01", seed=8).to_parquet(tmp_path / "orders.parquet", index=False)
    result = pipeline.run(Warehouse(tmp_path), "2026-10", CLVConfig(holdout_months=6))
    assert result.config.holdout_months == 3 and result.configured_holdout == 6
    assert result.calibration_end == "2026-07"
    assert page.model_notes(result, "en")[0] == (
        "The order history is short, so the models were checked on the last 3 months instead of the configured 6 "
        "(clv.holdout_months).", "info")
    assert any("predicted the last 3 months best" in f for f in page.findings(result, Formatter("en")))
    with pytest.raises(ValueError, match="CLV needs at least 2 months of order history"):
        pipeline.holdout_months(pd.DataFrame({"T": [5.0]}), CLVConfig(holdout_months=6))


def test_most_customers_bought_once_is_a_finding(tmp_path):
    from kit.clv import page, pipeline
    from kit.text.fmt import Formatter

    orders = simulate_orders(1500, start="2024-01-01", end="2026-11-01", params={"r": 0.1, "alpha": 20.0, "a": 1.0, "b": 1.0},
                             seed=9)
    orders.to_parquet(tmp_path / "orders.parquet", index=False)
    result = pipeline.run(Warehouse(tmp_path), "2026-10", CLVConfig(holdout_months=6))
    share = result.headline()["one_time_share"]
    assert share == pytest.approx((result.summary["frequency"] == 0).mean()) and share > 0.5
    found = page.findings(result, Formatter("en"))
    assert found[1].startswith(f"{Formatter('en').pct(share)} of these customers have bought only once")


def test_one_price_for_everyone_falls_back_to_average_spend(tmp_path):
    """A subscription-like order log (every order of a customer costs the same) has no spread for
    Gamma-Gamma to fit: each customer's own average is used and the page says why."""
    from kit.clv import page, pipeline
    from kit.text.fmt import Formatter

    orders = simulate_orders(800, start="2024-01-01", end="2026-11-01", seed=9)
    plans = np.array([9.9, 29.0, 79.0])  # three plans, one monthly fee each
    codes = orders["customer_id"].map(lambda c: int(hashlib.md5(c.encode()).hexdigest(), 16) % 3)
    orders.assign(amount=plans[codes.to_numpy()]).to_parquet(tmp_path / "orders.parquet", index=False)
    result = pipeline.run(Warehouse(tmp_path), "2026-10", CLVConfig(holdout_months=6))
    assert result.spend.name == "mean_spend" and result.headline()["spend_model"] == "mean_spend"
    repeat = result.scores["frequency"] > 0
    assert np.allclose(result.scores.loc[repeat, "expected_spend"], result.scores.loc[repeat, "monetary"])
    assert (result.scores["clv"] > 0).all()
    text, level = page.independence_note(result, Formatter("en", "CNY"))
    assert "could not be fitted" in text and level == "info"
