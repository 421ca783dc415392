"""kit.frames: the kit's computations on DataFrames with an analyst's own column names,
checked against hand-computed values, the warehouse path and scipy / statsmodels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats as sps

from kit import frames
from kit.clv.simulate import simulate_orders
from kit.clv.summary import customer_summary
from kit.core.config import CLVConfig, SegmentationConfig
from kit.core.warehouse import Warehouse


def _log() -> pd.DataFrame:
    """Two customers' transaction log with the analyst's own column names."""
    return pd.DataFrame({
        "cust": ["a", "a", "a", "a", "b", "a"],
        "when": ["2026-01-01 09:00", "2026-01-01 18:00", "2026-01-08", "2026-01-15", "2026-01-10", "2026-01-20"],
        "paid": [10.0, 5.0, 20.0, 30.0, 7.0, 99.0],
    })


def test_rfm_summary_as_of_any_day_with_own_columns_and_no_refund_columns() -> None:
    summary = frames.rfm_summary(_log(), "2026-01-17", customer_id="cust", order_ts="when", amount="paid", time_unit="D")
    a, b = summary.set_index("customer_id").loc["a"], summary.set_index("customer_id").loc["b"]
    # Jan 1 (two orders, one purchase day), Jan 8, Jan 15; the Jan 20 order is after the as-of day
    assert a["frequency"] == 2 and a["recency"] == 14 and a["T"] == 16
    assert a["monetary"] == pytest.approx(25.0)
    assert (b["frequency"], b["recency"], b["T"], b["monetary"]) == (0, 0, 7, 0)
    assert summary.attrs["time_unit"] == "D"


def test_rfm_summary_defaults_to_the_latest_order_day_and_drops_refunds() -> None:
    log = _log().assign(status=["paid", "paid", "paid", "refunded", "paid", "paid"])
    summary = frames.rfm_summary(log, customer_id="cust", order_ts="when", amount="paid", time_unit="D")
    a = summary.set_index("customer_id").loc["a"]
    assert a["T"] == 19  # as of Jan 20, the latest order
    assert a["frequency"] == 2 and a["recency"] == 19  # Jan 15 refunded: Jan 1, Jan 8, Jan 20


def test_rfm_summary_holdout_from_any_calibration_date() -> None:
    summary = frames.rfm_summary(_log(), "2026-01-31", customer_id="cust", order_ts="when", amount="paid", time_unit="D",
                                 calibration_end="2026-01-09")
    a = summary.set_index("customer_id").loc["a"]
    assert a["frequency"] == 1 and a["T"] == 8 and a["frequency_holdout"] == 2
    assert summary["duration_holdout"].iloc[0] == 22
    assert "b" not in set(summary["customer_id"])  # first bought after the calibration end


def test_a_time_zone_keeps_the_local_day() -> None:
    log = _log().assign(when=pd.to_datetime(_log()["when"], format="mixed").dt.tz_localize("America/New_York"))
    plain = frames.rfm_summary(_log(), "2026-01-17", customer_id="cust", order_ts="when", amount="paid")
    zoned = frames.rfm_summary(log, "2026-01-17", customer_id="cust", order_ts="when", amount="paid")
    pd.testing.assert_frame_equal(plain, zoned)


def test_rfm_summary_of_a_frame_equals_the_warehouse_summary(tmp_path: Path) -> None:
    orders = simulate_orders(400, start="2025-01-01", end="2026-11-01", seed=2)
    orders.to_parquet(tmp_path / "orders.parquet", index=False)
    expected = customer_summary(Warehouse(tmp_path), "2026-10", CLVConfig())
    got = frames.rfm_summary(orders, "2026-10")
    pd.testing.assert_frame_equal(expected, got)


def test_missing_columns_and_wrong_kinds_are_named() -> None:
    with pytest.raises(ValueError, match=r"no column 'customer_id' \(set customer_id= to name yours\); its columns are 'cust', 'when', 'paid'"):
        frames.rfm_summary(_log(), order_ts="when", amount="paid")
    with pytest.raises(ValueError, match="column 'paid' must hold numbers"):
        frames.rfm_summary(_log().assign(paid="ten"), customer_id="cust", order_ts="when", amount="paid")
    with pytest.raises(ValueError, match="column 'when' must hold dates"):
        frames.rfm_summary(_log().assign(when="soon"), customer_id="cust", order_ts="when", amount="paid")
    with pytest.raises(TypeError, match="orders must be a pandas DataFrame"):
        frames.rfm_summary([1, 2, 3])
    with pytest.raises(ValueError, match="1 of 6 orders with a missing or negative amount"):
        frames.rfm_summary(_log().assign(paid=[1.0, 2, 3, 4, -5, 6]), customer_id="cust", order_ts="when", amount="paid")
    with pytest.raises(ValueError, match="column 'is_refund' must hold true/false refund flags"):
        frames.rfm_summary(_log().assign(is_refund="maybe"), customer_id="cust", order_ts="when", amount="paid")
    with pytest.raises(ValueError, match="'visits' is not a date"):
        frames.rfm_summary(_log(), "visits", customer_id="cust", order_ts="when", amount="paid")


def test_fit_clv_values_every_customer_and_checks_its_inputs() -> None:
    orders = simulate_orders(2000, start="2025-01-01", end="2026-11-01", seed=4)
    summary = frames.rfm_summary(orders, "2026-10-31")
    fitted = frames.fit_clv(summary, "paretonbd", horizon_months=6, gross_margin=1.0)
    scores = fitted.scores
    assert len(scores) == len(summary) and (scores["model"] == "paretonbd").all()
    assert scores["clv"].gt(0).all() and scores["p_alive"].between(0, 1).all()
    longer = frames.fit_clv(summary, "paretonbd", horizon_months=12, gross_margin=1.0).scores
    assert (longer["clv"] > scores["clv"]).all()
    with pytest.raises(ValueError, match="model 'gbm' is not known; use one of bgnbd, paretonbd, mbgnbd"):
        frames.fit_clv(summary, "gbm")
    with pytest.raises(ValueError, match="differs from the summary's 'W'"):
        frames.fit_clv(summary, time_unit="D")
    with pytest.raises(ValueError, match="summary has no column 'T'"):
        frames.fit_clv(summary.drop(columns="T"))


def test_rfm_segments_layers_an_order_log() -> None:
    log = pd.DataFrame({
        "member": ["a"] * 6 + ["b", "c", "c", "d"],
        "day": pd.to_datetime(["2026-10-01", "2026-09-01", "2026-08-01", "2026-07-01", "2026-06-01", "2026-05-01",
                               "2025-01-05", "2026-10-10", "2026-10-11", "2026-10-12"]),
        "spend": [100.0] * 6 + [5.0, 20.0, 30.0, 8.0],
        "is_refund": [False] * 9 + [True],
    })
    seg = frames.rfm_segments(log, "2026-10-15", customer_id="member", order_ts="day", amount="spend").set_index("customer_id")
    assert seg.loc["a", "frequency_all"] == 6 and seg.loc["a", "recency_days"] == 15
    assert seg.loc["a", "value_tier"] == "high" and seg.loc["a", "lifecycle_stage"] == "active"
    assert seg.loc["b", "lifecycle_stage"] == "churned" and seg.loc["c", "lifecycle_stage"] == "new"
    # d's only order was refunded: a customer who has not bought, as in the monthly profile
    assert seg.loc["d", "lifecycle_stage"] == "prospect" and seg.loc["d", "rfm_segment"] == "Prospect"
    assert pd.isna(seg.loc["d", "r_score"])
    cn8 = frames.rfm_segments(log, "2026-10-15", customer_id="member", order_ts="day", amount="spend",
                              config=SegmentationConfig(rfm_scheme="cn8"))
    assert set(cn8["rfm_segment"]) <= {"Important value", "Important development", "Important retention",
                                       "Important win-back", "General value", "General development",
                                       "General retention", "General win-back", "Prospect"}


def _units(n: int = 3000, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = rng.choice(["control", "coupon", "gift"], n)
    pre = np.where(rng.random(n) < 0.8, rng.gamma(2, 40, n), np.nan)
    spend = np.nan_to_num(pre, nan=60) * 0.6 + rng.gamma(2, 15, n) + 4 * (arm == "coupon")
    return pd.DataFrame({"arm": arm, "spend": spend, "pre": pre, "bought": (rng.random(n) < 0.2 + 0.05 * (arm == "gift")).astype(int),
                         "orders": rng.integers(1, 4, n)})


def test_analyze_experiment_equals_welch_and_the_proportion_test() -> None:
    units = _units()
    out = frames.analyze_experiment(units, "spend", variant="arm").results.set_index("variant")
    for arm in ("coupon", "gift"):
        welch = sps.ttest_ind(units.loc[units.arm == arm, "spend"], units.loc[units.arm == "control", "spend"], equal_var=False)
        assert out.loc[arm, "p_value"] == pytest.approx(welch.pvalue, rel=1e-6)
        diff = units.loc[units.arm == arm, "spend"].mean() - units.loc[units.arm == "control", "spend"].mean()
        assert out.loc[arm, "effect"] == pytest.approx(diff)
    # Holm over the two treatments
    ordered = np.sort(out["p_value"].to_numpy())
    assert out["p_adj"].min() == pytest.approx(min(1.0, 2 * ordered[0]))
    binary = frames.analyze_experiment(units, "bought", variant="arm").results.set_index("variant")
    part = units[units.arm.isin(["control", "gift"])]
    z = sm.stats.proportions_ztest(part.groupby("arm").bought.sum()[["gift", "control"]],
                                   part.groupby("arm").bought.size()[["gift", "control"]])
    assert binary.loc["gift", "raw_p"] == pytest.approx(z[1], rel=1e-3)


def test_analyze_experiment_cuped_equals_ols_and_finds_the_effect() -> None:
    units = _units()
    two = units[units.arm.isin(["control", "coupon"])].reset_index(drop=True)
    readout = frames.analyze_experiment(two, "spend", variant="arm", covariate="pre", planned={"control": 0.5, "coupon": 0.5})
    row = readout.results.iloc[0]
    has = two.pre.notna().astype(float)
    x = np.column_stack([np.ones(len(two)), (two.arm == "coupon").astype(float), two.pre.fillna(0.0), has])
    ols = sm.OLS(two.spend.to_numpy(), x).fit()
    assert row["effect"] == pytest.approx(ols.params[1], rel=1e-8)
    assert row["variance_reduction"] > 0.3 and row["cuped"]
    assert readout.decision.verdict == "ship" and readout.decision.variant == "coupon"
    assert readout.srm is not None and not readout.srm.failed
    ratio = frames.analyze_experiment(two, "spend", variant="arm", denominator="orders").results.iloc[0]
    assert ratio["control_mean"] == pytest.approx(two[two.arm == "control"].spend.sum() / two[two.arm == "control"].orders.sum())


def test_analyze_experiment_names_what_is_wrong() -> None:
    units = _units()
    with pytest.raises(ValueError, match=r"units has no column 'variant' \(set variant= to name yours\)"):
        frames.analyze_experiment(units, "spend")
    with pytest.raises(ValueError, match="no column 'revenue'"):
        frames.analyze_experiment(units, "revenue", variant="arm")
    with pytest.raises(ValueError, match="control arm 'base' is not a value of column 'arm'"):
        frames.analyze_experiment(units, "spend", variant="arm", control="base")
    with pytest.raises(ValueError, match="too few units"):
        frames.analyze_experiment(units.head(5), "spend", variant="arm")


def test_churn_scores_checks_its_frames_before_training() -> None:
    orders = pd.DataFrame({"member": ["a", "b"], "paid_at": ["2026-01-03", "2026-02-04"], "total": [10.0, 20.0]})
    with pytest.raises(ValueError, match=r"no column 'customer_id' \(set customer_id= to name yours\)"):
        frames.churn_scores(orders, "2026-10")
    own = {"customer_id": "member", "order_ts": "paid_at", "amount": "total"}
    with pytest.raises(ValueError, match="no order before the end of 2025-12"):
        frames.churn_scores(orders, "2025-12", **own)
    events = pd.DataFrame({"member": ["a"], "at": ["2026-01-02"]})
    with pytest.raises(ValueError, match=r"events has no column 'event_type'"):
        frames.churn_scores(orders, "2026-10", events, event_ts="at", **own)
    with pytest.raises(ValueError, match="YYYY-MM"):
        frames.churn_scores(orders, "October", **own)
