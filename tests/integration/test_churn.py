"""Tests for kit.churn: snapshot scheme, leakage, model, drivers, retention and actions.

A small buy-till-you-die world (``make_world``) with a known dropout process gives the
model real signal; ``simple_features`` is a point-in-time features function over its
orders (the shape of ``kit.profile.features.build_features``, fewer columns) so these tests do
not depend on the features layer. When ``kit.profile.features`` exists, the leakage test also
runs against it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from kit.churn import actions, drivers, page, retention, signals
from kit.churn.dataset import (
    ChurnDataError,
    check_point_in_time,
    churn_labels,
    ids_in,
    label_window,
    plan_snapshots,
    select_population,
    snapshot_examples,
)
from kit.churn.model import (
    FeatureSpec,
    LogisticChurnModel,
    choose_scorer,
    classification_metrics,
    constant_like,
    fit_churn_model,
    gains,
    reliability,
    top_share_caught,
)
from kit.churn.pipeline import run_churn
from kit.core.config import KitConfig, load_config
from kit.core.dates import snapshot_date, snapshot_end
from kit.core.warehouse import Warehouse
from kit.text.fmt import Formatter
from kit.text.i18n import check_catalogue, t

START = np.datetime64("2024-10-01")
END = np.datetime64("2026-11-01")  # exclusive: data up to the end of October 2026
CHANNELS = np.array(["online", "app", "store"], dtype=object)


def make_world(root: Path, n: int = 3000, seed: int = 1) -> Path:
    """A buy-till-you-die orders warehouse: Poisson buying while alive, dropout after each order.

    Unhappy customers (low NPS, in ``customers.nps``) drop out more often, so the churn
    model has a second signal besides recency and frequency.
    """
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    ids = np.array([f"C{i:010x}" for i in range(n)], dtype=object)
    span = (END - START).astype(int)
    first = START + rng.integers(0, span - 30, n).astype("timedelta64[D]")
    lam = rng.gamma(2.0, 1 / 60, n)  # orders per day
    nps = rng.integers(0, 11, n)
    p_drop = np.clip(rng.beta(1.2, 6.0, n) + np.where(nps <= 4, 0.25, 0.0), 0, 0.95)
    n_orders = rng.geometric(p_drop)  # orders placed before dropping out (>= 1)
    owner = np.repeat(np.arange(n), n_orders)
    gaps = rng.exponential(1 / lam[owner])
    starts = np.concatenate([[0], np.cumsum(n_orders)[:-1]])
    gaps[starts] = 0.0  # the first order on the first day
    cum = np.cumsum(gaps)
    offset = cum - np.repeat(cum[starts], n_orders)
    ts = first[owner].astype("datetime64[s]") + (offset * 86400).astype("timedelta64[s]") + rng.integers(
        8 * 3600, 22 * 3600, len(owner)
    ).astype("timedelta64[s]")
    keep = ts < END
    owner, ts = owner[keep], ts[keep]
    m = len(owner)
    refunded = rng.random(m) < 0.03
    orders = pd.DataFrame(
        {
            "order_id": [f"shop:S{i}" for i in range(m)],
            "customer_id": ids[owner],
            "source": "shop",
            "channel": CHANNELS[rng.integers(0, 3, n)][owner],
            "order_ts": pd.to_datetime(ts),
            "amount": np.round(rng.lognormal(5, 0.5, m), 2),
            "discount": 0.0,
            "category": "home",
            "items": 1,
            "payment_method": "alipay",
            "status": np.where(refunded, "refunded", "paid"),
            "is_refund": refunded,
            "store_city": None,
        }
    )
    orders.to_parquet(root / "orders.parquet", index=False)
    customers = pd.DataFrame({"customer_id": ids, "first_seen": pd.to_datetime(first), "nps": nps})
    customers.to_parquet(root / "customers.parquet", index=False)
    return root


def simple_features(wh: Warehouse, month: str, config: KitConfig) -> pd.DataFrame:
    """Point-in-time features over ``make_world`` data (rows strictly before the snapshot end)."""
    end = snapshot_end(month)
    day = snapshot_date(month)
    orders = pd.read_parquet(wh.table_path("orders"))
    orders = orders.loc[(orders["order_ts"] < end) & (orders["status"] == "paid")]
    customers = pd.read_parquet(wh.table_path("customers"))
    customers = customers.loc[customers["first_seen"] < end]
    age = (end - orders["order_ts"]).dt.days
    orders = orders.assign(
        in_90=age < 90, in_365=age < 365, spend_365=orders["amount"].where(age < 365, 0.0)
    )
    grouped = orders.groupby("customer_id")
    per = grouped.agg(
        first_order_date=("order_ts", "min"),
        last_order_date=("order_ts", "max"),
        frequency_all=("order_ts", "size"),
        frequency_90d=("in_90", "sum"),
        frequency_365d=("in_365", "sum"),
        monetary_365d=("spend_365", "sum"),
        main_channel=("channel", "first"),
    )
    per["first_order_date"] = per["first_order_date"].dt.normalize()
    per["last_order_date"] = per["last_order_date"].dt.normalize()
    frame = customers[["customer_id", "first_seen"]].merge(per, left_on="customer_id", right_index=True, how="left")
    frame["snapshot_date"] = day
    frame["has_ordered"] = frame["frequency_all"].notna()
    frame["recency_days"] = (day - frame["last_order_date"]).dt.days
    frame["tenure_days"] = (day - frame["first_seen"].dt.normalize()).dt.days
    frame["last_nps"] = frame["customer_id"].map(pd.read_parquet(wh.table_path("customers")).set_index("customer_id")["nps"])
    for c in ("frequency_all", "frequency_90d", "frequency_365d", "monetary_365d"):
        frame[c] = frame[c].fillna(0)
    return frame.drop(columns="first_seen").reset_index(drop=True)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One OpenMP thread: on a shared 2-core machine, oversubscribed OpenMP spin-waits
    make HistGradientBoosting on these tiny frames 5-10x slower than single-threaded."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Warehouse, KitConfig]:
    root = tmp_path_factory.mktemp("churn_world")
    make_world(root / "warehouse")
    (root / "config").mkdir()
    cfg_file = root / "config" / "kit.yml"
    cfg_file.write_text("paths:\n  warehouse: warehouse\n  reports: reports\n", encoding="utf-8")
    config = load_config(cfg_file)
    return Warehouse.from_config(config), config


@pytest.fixture(scope="module")
def result(world: tuple[Warehouse, KitConfig]):
    wh, config = world
    return run_churn(wh, "2026-10", config, features_fn=simple_features)


# --------------------------------------------------------------------------- snapshot scheme


def test_plan_validation_label_window_ends_by_run_month_and_training_before_validation() -> None:
    plan = plan_snapshots("2026-10", 90, 6)
    assert plan.validation == "2026-07"
    assert plan.training == ("2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04")
    assert plan.final == ("2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07")
    assert label_window(plan.validation, 90)[1] <= snapshot_end("2026-10")
    assert label_window(plan.validation, 90)[0] == snapshot_end("2026-07")
    for m in plan.training:
        assert label_window(m, 90)[1] <= snapshot_end(plan.validation)
    # a shorter window moves the validation snapshot closer to the run month
    assert plan_snapshots("2026-10", 30, 3).validation == "2026-09"


def test_plan_refuses_too_little_history() -> None:
    with pytest.raises(ChurnDataError, match="training snapshot"):
        plan_snapshots("2026-10", 90, 6, first_month="2026-04")
    with pytest.raises(ChurnDataError, match="at least 2"):
        plan_snapshots("2026-10", 90, 1)


# --------------------------------------------------------------------------- leakage


def _leakage_cases() -> list[str]:
    """The features functions to check: ours always, kit.profile.features and the churn signals
    on top of it (``run_churn``'s default) once kit.profile.features exists."""
    has_features = importlib.util.find_spec("kit.profile.features") is not None
    return ["simple"] + (["kit.profile.features", "kit.churn.signals"] if has_features else [])


@pytest.mark.parametrize("case", _leakage_cases())
def test_orders_inside_the_label_window_change_labels_but_not_features(tmp_path: Path, case: str) -> None:
    if case == "simple":
        root, features_fn = make_world(tmp_path / "warehouse", n=400, seed=5), simple_features
    else:
        from worlds import make_warehouse

        from kit.churn.signals import churn_features
        from kit.profile.features import build_features

        features_fn = build_features if case == "kit.profile.features" else churn_features
        root = make_warehouse(tmp_path / "warehouse", n_customers=400, seed=5)
    config = load_config(overrides={"paths": {"warehouse": str(root)}})
    wh = Warehouse(root)
    month = "2026-06"
    before = snapshot_examples(wh, month, config, features_fn)
    start, end = label_window(month, config.churn.window_days)
    churners = before.loc[before["churned"], "customer_id"].head(25).to_numpy()
    assert len(churners) == 25
    orders = pd.read_parquet(wh.table_path("orders"))
    planted = orders.iloc[: len(churners)].assign(
        order_id=[f"shop:PLANT{i}" for i in range(len(churners))],
        customer_id=churners,
        order_ts=pd.Series(
            [start, start + pd.Timedelta(hours=1), end - pd.Timedelta(seconds=1)] * 8 + [start]
        ).astype(orders["order_ts"].dtype),
        status="paid",
        is_refund=False,
    )
    pd.concat([orders, planted], ignore_index=True).to_parquet(wh.table_path("orders"), index=False)
    after = snapshot_examples(wh, month, config, features_fn)
    pd.testing.assert_frame_equal(before.drop(columns="churned"), after.drop(columns="churned"))
    flipped = set(after.loc[before["churned"] & ~after["churned"], "customer_id"])
    assert flipped == set(churners)
    for column in ("snapshot_date", "first_order_date", "last_order_date"):
        assert (pd.to_datetime(after[column]).dropna() < snapshot_end(month)).all()


def test_purchase_history_and_visit_signals_by_hand(tmp_path: Path) -> None:
    """Customer a: purchase days 1 May (100), 1 June (60 + 40) and 1 July (40), ten visits
    from 2 May to 30 June and one on 10 July; b: one order, no visits. Refunds and rows at
    or after the snapshot end (1 August) are ignored."""
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(7)],
            "customer_id": ["a", "a", "a", "a", "a", "a", "b"],
            "order_ts": pd.to_datetime(
                ["2026-05-01 10:00", "2026-06-01 10:00", "2026-06-01 18:00", "2026-07-01 10:00", "2026-07-20 10:00",
                 "2026-08-01 00:00", "2026-07-15 12:00"]
            ),
            "amount": [100.0, 60.0, 40.0, 40.0, 500.0, 500.0, 80.0],
            "status": ["paid", "paid", "paid", "paid", "refunded", "paid", "paid"],
            "is_refund": [False, False, False, False, True, False, False],
        }
    )
    visits = pd.to_datetime(
        [f"2026-05-{d:02d} 09:00" for d in (2, 9, 16, 23, 30)] + [f"2026-06-{d:02d} 09:00" for d in (6, 13, 20, 27, 30)]
        + ["2026-07-10 09:00", "2026-08-02 09:00"]
    )
    events = pd.DataFrame({"customer_id": "a", "event_ts": visits, "event_type": "visit"})
    events = pd.concat([events, pd.DataFrame({"customer_id": ["a"], "event_ts": [visits[0]], "event_type": ["view"]})])
    orders.to_parquet(tmp_path / "orders.parquet", index=False)
    events.to_parquet(tmp_path / "events.parquet", index=False)
    wh = Warehouse(tmp_path)

    history = signals.purchase_history(wh, "2026-07")
    assert history.loc["a", "purchase_days"] == 3
    assert history.loc["a", "last_order_value_ratio"] == pytest.approx(40 / 100)
    assert np.isnan(history.loc["b", "last_order_value_ratio"])
    out = signals.visit_signals(history, wh, "2026-07", window_days=365)
    rate = 10 / 61  # visits from 2 May up to and including 1 July, the last purchase day
    assert out.loc["a", "visits_since_last_order"] == 1
    assert out.loc["a", "visit_rate_before_order"] == pytest.approx(rate)
    assert out.loc["a", "visit_shortfall"] == pytest.approx(stats.poisson.cdf(1, rate * 30))  # 2-31 July
    assert out.loc["b"].isna().all()


def test_btyd_signals_rank_leavers(world: tuple[Warehouse, KitConfig]) -> None:
    wh, config = world
    month = "2026-03"
    out = signals.btyd_signals(signals.purchase_history(wh, month), wh, month, config)
    assert out["btyd_p_alive"].between(0, 1).all() and (out["btyd_expected_orders"] >= 0).all()
    frame = snapshot_examples(wh, month, config, simple_features).set_index("customer_id")
    joined = frame.join(out)
    assert joined["btyd_p_alive"].notna().all()
    # BG/NBD keeps one-time buyers alive (p_alive = 1), and in a population of recent buyers
    # (not yet lost) p_alive alone barely ranks; the expected orders in the window carry the
    # purchase rate too
    assert roc_auc_score(joined["churned"], -joined["btyd_p_alive"]) > 0.5
    assert roc_auc_score(joined["churned"], -joined["btyd_expected_orders"]) > 0.7


def test_point_in_time_guard_names_the_leaking_column() -> None:
    frame = pd.DataFrame({"customer_id": ["a"], "last_order_date": [pd.Timestamp("2026-07-01")]})
    check_point_in_time(frame, "2026-07")  # the last day's midnight... next month is not allowed
    with pytest.raises(ChurnDataError, match="last_order_date"):
        check_point_in_time(frame, "2026-06")


def test_labels_count_paid_orders_only_inside_the_window(world: tuple[Warehouse, KitConfig]) -> None:
    wh, _ = world
    orders = pd.read_parquet(wh.table_path("orders"))
    start, end = label_window("2026-03", 90)
    inside = orders.loc[(orders["order_ts"] >= start) & (orders["order_ts"] < end)]
    expected = set(inside.loc[(inside["status"] == "paid") & ~inside["is_refund"], "customer_id"])
    assert set(churn_labels(wh, "2026-03", 90)) == expected


def test_ids_in_matches_isin_and_handles_missing_and_empty() -> None:
    ids = pd.Series(["a", "b", None, "c"], dtype="str")
    assert ids_in(ids, pd.Series(["c", "a", "z"], dtype="str")).tolist() == [True, False, False, True]
    assert ids_in(ids, pd.Series([], dtype="str")).tolist() == [False] * 4
    assert ids_in(pd.Series([], dtype="str"), pd.Series(["a"], dtype="str")).tolist() == []


def test_population_keeps_recent_buyers_only() -> None:
    frame = pd.DataFrame(
        {"customer_id": list("abcd"), "has_ordered": [True, True, False, True], "recency_days": [10, 400, None, 365]}
    )
    assert select_population(frame, 365)["customer_id"].tolist() == ["a", "d"]


# --------------------------------------------------------------------------- model


def test_feature_spec_fixes_columns_and_levels() -> None:
    train = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "recency_days": [1, 2],
            "is_member": [True, False],
            "main_channel": pd.Series(["app", "store"], dtype="str"),
            "last_order_date": pd.to_datetime(["2026-01-01", "2026-01-02"]),
        }
    )
    spec = FeatureSpec.infer(train)
    assert spec.numeric == ("recency_days", "is_member")
    assert spec.categorical == (("main_channel", ("app", "store")),)
    later = train.assign(main_channel=pd.Series(["online", None], dtype="str"))
    matrix = spec.matrix(later)
    assert matrix["main_channel"].isna().all()
    assert matrix["recency_days"].dtype == np.float32
    with pytest.raises(ValueError, match="recency_days"):
        spec.matrix(later.drop(columns="recency_days"))


@pytest.mark.parametrize("n_calibration", [800, 3000])  # sigmoid below ISOTONIC_MIN_ROWS, isotonic above
def test_calibrate_maps_raw_scores_like_predict(n_calibration: int) -> None:
    rng = np.random.default_rng(n_calibration)
    n = 3000 + n_calibration
    frame = pd.DataFrame({"recency_days": rng.exponential(60, n), "visits_90d": rng.poisson(2, n)})
    churned = rng.random(n) < 1 / (1 + np.exp(-(frame["recency_days"] / 40 - frame["visits_90d"] / 2)))
    spec = FeatureSpec.infer(frame)
    matrix = spec.matrix(frame)
    model = fit_churn_model(spec, matrix.iloc[:3000], churned[:3000], matrix.iloc[3000:], churned[3000:], seed=1, fit_ids=np.arange(3000))
    assert model.calibration_method == ("sigmoid" if n_calibration < 2000 else "isotonic")
    np.testing.assert_allclose(model.calibrate(model.booster.decision_function(matrix)), model.predict(matrix), rtol=0, atol=1e-12)


def test_top_share_and_metrics_match_hand_counts() -> None:
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1], dtype=bool)
    p = np.array([0.9, 0.8, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05])
    caught, lift = top_share_caught(y, p, 0.2)
    assert caught == pytest.approx(2 / 3)
    assert lift == pytest.approx(1.0 / 0.3)
    m = classification_metrics(y, p)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert m["caught_top10"] == pytest.approx(1 / 3)
    curve = gains(y, p, points=10)
    assert curve["caught"].iloc[-1] == pytest.approx(1.0)
    table = reliability(y, p, n_bins=5)
    assert table["n"].sum() == 10
    assert (table["observed"] * table["n"]).sum() == pytest.approx(3)


def test_model_beats_chance_and_is_calibrated_out_of_time(result) -> None:
    quality = result.quality.set_index("model")
    assert quality.loc["model", "roc_auc"] > 0.75
    assert quality.loc["baseline", "roc_auc"] > 0.65
    # calibrated on an earlier snapshot, the average risk is close to the realised rate
    assert abs(quality.loc["model", "mean_predicted"] - quality.loc["model", "churn_rate"]) < 0.06
    assert result.reliability["n"].sum() == quality.loc["model", "n"]
    assert quality.loc["model", "caught_top20"] > 0.2


def test_drivers_rank_real_signals_first(result) -> None:
    top = result.drivers["feature"].head(3).tolist()
    assert {"recency_days", "last_nps"} & set(top)
    assert not result.dependence.empty
    sentences = page.describe_dependence(result.dependence, Formatter("en"))
    assert sentences and all(s.startswith("Risk ") for s in sentences)
    assert all("风险" in s for s in page.describe_dependence(result.dependence, Formatter("zh")))
    summary = drivers.dependence_summary(result.dependence)
    assert summary["feature"].tolist() == list(dict.fromkeys(result.dependence["feature"]))
    assert set(summary["trend"]) <= {"rises", "falls", "flat"}


def test_scores_have_contract_columns_reasons_and_actions(result) -> None:
    scores = result.scores
    assert set(actions.SNAPSHOT_COLUMNS) <= set(scores.columns)
    assert scores["churn_probability"].between(0, 1).all()
    assert scores["customer_id"].is_unique
    assert set(scores["action"]) <= set(actions.ACTIONS)
    assert result.clv_source == "margin_365d" and not result.has_segments
    risky = scores.nlargest(50, "churn_probability")
    assert (risky["reason_1"] != "").mean() > 0.9
    assert result.trend["kind"].tolist().count("predicted") == 1



def test_scores_do_not_depend_on_the_row_order_of_the_features(result, world) -> None:
    """Features arriving in another row order (DuckDB scans in parallel) give the same
    probabilities, drivers and reasons: inputs are sorted by customer id before fitting
    and every sample is drawn by a seeded hash of the id."""
    wh, config = world

    def shuffled_features(wh: Warehouse, month: str, config: KitConfig) -> pd.DataFrame:
        return simple_features(wh, month, config).sample(frac=1.0, random_state=5).reset_index(drop=True)

    again = run_churn(wh, "2026-10", config, features_fn=shuffled_features)
    by_id = [r.scores.sort_values("customer_id", ignore_index=True) for r in (again, result)]
    pd.testing.assert_frame_equal(*by_id)
    pd.testing.assert_frame_equal(again.drivers, result.drivers)
    pd.testing.assert_frame_equal(again.quality, result.quality)


# --------------------------------------------------------------------------- reasons


def test_occlusion_attributions_come_from_the_model(result, world) -> None:
    """Replacing a feature by its reference moves the risk by exactly the attribution."""
    wh, config = world
    spec = result.model.spec
    fit, cal = (snapshot_examples(wh, m, config, simple_features) for m in ("2026-03", "2026-04"))
    model = fit_churn_model(
        spec, spec.matrix(fit), fit["churned"].to_numpy(), spec.matrix(cal), cal["churned"].to_numpy(), 7,
        fit["customer_id"].to_numpy(),
    )
    frame = snapshot_examples(wh, "2026-10", config, simple_features, labelled=False)
    matrix = model.spec.matrix(frame).head(200)
    ref = drivers.reference_values(matrix)
    reasons = ["recency_days", "last_nps", "main_channel"]
    raw, att = drivers.occlusion_attributions(model, matrix, reasons, ref, batch_rows=64)
    # the raw scores it returns give the scored probability without another pass
    np.testing.assert_allclose(model.calibrate(raw), model.predict(matrix), rtol=0, atol=1e-12)
    for feature in reasons:  # the path-wise shortcut equals re-predicting the whole model
        occluded = matrix.assign(**{feature: constant_like(matrix[feature], ref[feature])})
        np.testing.assert_allclose(att[feature], model.raw(matrix) - model.raw(occluded), atol=1e-6)
    # the quietest customers of the population (no order for two months) get recency as a risk-raising driver
    silent = matrix["recency_days"] > 60
    assert silent.sum() >= 10 and (att.loc[silent, "recency_days"] > 0).mean() > 0.8


def test_top_reasons_and_phrases() -> None:
    att = pd.DataFrame({"recency_days": [0.3, 0.0], "last_nps": [0.1, 0.002], "visit_trend_90d": [0.2, -0.1]})
    codes = drivers.top_reasons(att)
    assert codes.iloc[0].tolist() == ["recency_days", "visit_trend_90d", "last_nps"]
    assert codes.iloc[1].tolist() == ["", "", ""]
    features = pd.DataFrame(
        {"recency_days": [142, 3], "last_nps": [3, 9], "visits_90d": [3, 1], "visits_prev_90d": [10, 1]}
    )
    reasons = drivers.reason_inputs(features, codes, {"recency_days": 20.0, "last_nps": 8.0})
    nan = pytest.approx(np.nan, nan_ok=True)
    assert reasons.iloc[0].tolist()[:8] == ["recency_days", 142.0, nan, 20.0, "visit_trend_90d", 3.0, 10.0, nan]
    en = page.reason_phrases(reasons, Formatter("en"))
    assert en.iloc[0].tolist() == [
        "no order for 142 days (typical: 20 days)", "visits fell 70% vs previous quarter", "last NPS 3 (typical: 8)"
    ]
    zh = page.reason_phrases(reasons, Formatter("zh"))
    assert zh.iloc[0].tolist() == ["已142天未下单(一般为20天)", "访问次数较上季度下降70%", "最近一次NPS 3分(一般为8)"]
    assert zh.iloc[1].tolist() == ["", "", ""]


# --------------------------------------------------------------------------- retention


def test_kaplan_meier_matches_statsmodels() -> None:
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(3)
    duration = np.round(rng.exponential(100, 500))
    lapsed = rng.random(500) < 0.6
    grid = np.array([0.0, 30.0, 90.0, 180.0])
    ours = retention.kaplan_meier(duration, lapsed, grid)
    ref = sm.SurvfuncRight(duration, lapsed.astype(int))
    expected = [ref.surv_prob[ref.surv_times <= g][-1] if (ref.surv_times <= g).any() else 1.0 for g in grid]
    np.testing.assert_allclose(ours["survival"], expected, atol=1e-9)
    assert (ours["low"] <= ours["survival"] + 1e-12).all() and (ours["high"] >= ours["survival"] - 1e-12).all()


def test_lifetimes_and_groups() -> None:
    features = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "first_order_date": pd.to_datetime(["2026-01-01", "2026-01-01", None]),
            "last_order_date": pd.to_datetime(["2026-03-02", "2026-09-30", None]),
            "recency_days": [243, 31, None],
        }
    )
    spans = retention.lifetimes(features, 180)  # lost = churned: no order for more than silent_days
    assert spans["customer_id"].tolist() == ["a", "b"]
    # a churned 180 days after the last order (60 + 180); b is censored at the month end, its age (272 + 31)
    assert spans["duration_days"].tolist() == [240.0, 303.0]
    assert spans["lapsed"].tolist() == [True, False]
    # 150 days without an order is silent, not churned (it lapsed under the old 90-day rule)
    silent = features.assign(recency_days=[150, 31, None])
    assert retention.lifetimes(silent, 180)["lapsed"].tolist() == [False, False]
    rng = np.random.default_rng(0)
    many = pd.DataFrame({"duration_days": rng.exponential(50, 100), "lapsed": rng.random(100) < 0.5})
    curves = retention.km_by_group(many, np.where(np.arange(100) < 80, "big", "small"))
    assert set(curves["group"]) == {"big"}  # the 20-customer group is below the minimum size
    assert curves["survival"].is_monotonic_decreasing


def product_limit(duration: np.ndarray, lapsed: np.ndarray, day: float) -> float:
    """Kaplan-Meier S(day) by hand: the product over event times t <= day of 1 - d_t / n_t."""
    survival = 1.0
    for when in np.unique(duration[lapsed & (duration <= day)]):
        survival *= 1 - (lapsed & (duration == when)).sum() / (duration >= when).sum()
    return survival


def test_retention_curves_start_at_100_percent_and_keep_every_large_segment() -> None:
    """Before: one-time buyers were lost at their last order (day 0), so curves started at
    24% to 62%, and a segment nobody had churned from (the largest, the best) was dropped."""
    rng = np.random.default_rng(5)
    n = 400
    first = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 500, n), unit="D")
    active = rng.integers(0, 200, n) * (rng.random(n) < 0.5)  # half are one-time buyers
    recency = rng.integers(0, 400, n)
    segment = np.where(np.arange(n) < 200, "Champions", np.where(np.arange(n) < 380, "Lost", "Tiny"))
    recency[segment == "Champions"] = rng.integers(0, 60, 200)  # nobody churned yet
    features = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "first_order_date": first,
                             "last_order_date": first + pd.to_timedelta(active, unit="D"), "recency_days": recency})
    spans = retention.lifetimes(features, 180)
    grid = np.array([0.0, 90.0, 180.0, 270.0, 400.0, 600.0])
    curves = retention.km_by_group(spans, segment, grid)
    assert set(curves["group"]) == {"Champions", "Lost"}  # every group of at least 30 customers
    first_day = curves[curves["day"] == 0]
    assert (first_day["survival"] == 1.0).all()
    assert (curves.loc[curves["group"] == "Champions", "survival"] == 1.0).all()
    lost = segment == "Lost"
    duration, lapsed = spans["duration_days"].to_numpy(), spans["lapsed"].to_numpy()
    # independent check: a churned customer is lost silent_days after the last order, the rest censored at their age
    assert np.allclose(duration, active + np.where(recency > 180, 180, recency)) and (lapsed == (recency > 180)).all()
    expected = [product_limit(duration[lost], lapsed[lost], day) for day in grid]
    np.testing.assert_allclose(curves.loc[curves["group"] == "Lost", "survival"], expected, atol=1e-12)
    assert expected[1] == 1.0 and expected[-1] < 0.9  # nobody is churned before 180 days


def test_cohort_matrix_counts_distinct_buyers_per_month(tmp_path: Path) -> None:
    rows = [
        ("a", "2026-08-03"), ("a", "2026-09-10"), ("a", "2026-09-20"),
        ("b", "2026-08-15"), ("b", "2026-10-01"),
        ("c", "2026-09-05"),
        ("d", "2026-07-01"), ("d", "2026-08-01"),  # cohort before the window: excluded
        ("e", "2026-11-02"),  # after the snapshot: ignored
    ]
    orders = pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "order_ts": pd.to_datetime([r[1] for r in rows]),
            "status": "paid",
            "is_refund": False,
        }
    )
    orders.to_parquet(tmp_path / "orders.parquet", index=False)
    matrix = retention.cohort_matrix(Warehouse(tmp_path), "2026-10", n_cohorts=3)
    assert matrix.index.tolist() == ["2026-08", "2026-09"]
    assert matrix.loc["2026-08"].tolist() == [1.0, 0.5, 0.5]
    assert matrix.loc["2026-09", 0] == 1.0 and matrix.loc["2026-09", 1] == 0.0
    assert np.isnan(matrix.loc["2026-09", 2])


# --------------------------------------------------------------------------- actions


def test_action_buckets_are_shares_of_the_list_ranked_by_value_at_risk() -> None:
    cfg = dataclasses.replace(load_config().churn, call_share=0.2, coupon_share=0.3)
    risk = np.array([0.9, 0.1, 0.5, 0.3, 0.8, 0.2, 0.7, 0.4, 0.6, 0.05])
    var = np.array([10.0, 90.0, 50.0, 80.0, 5.0, 1.0, 60.0, 2.0, 3.0, 4.0])
    got = actions.action_buckets(risk, var, cfg).tolist()
    # ranked by value at risk: rows 1, 3 call; 6, 2, 0 coupon; the rest nurture
    assert got == ["coupon", "call", "coupon", "call", "nurture", "nurture", "coupon", "nurture", "nurture", "nurture"]


def test_equal_value_for_everyone_still_yields_calls_and_coupons_by_risk() -> None:
    """One price for everyone: value at risk ties follow risk, so the riskiest get the calls."""
    cfg = load_config().churn
    risk = np.linspace(0.01, 0.99, 200)
    clv = np.full(200, 120.0)
    got = actions.action_buckets(risk, risk * 0 + clv.mean(), cfg)
    assert (got == "call").sum() == round(cfg.call_share * 200) > 0
    assert (got == "coupon").sum() == round(cfg.coupon_share * 200) > 0
    called = risk[got == "call"]
    assert called.min() > risk[got == "coupon"].max() > risk[got == "nurture"].max()


def test_budget_outcome_contacts_highest_value_at_risk_first() -> None:
    risk = np.array([0.5, 0.9, 0.1, 0.8])
    var = np.array([50.0, 10.0, 90.0, 40.0])
    out = actions.budget_outcome(risk, var, 2, success_rate=0.25)
    assert out["expected_churners_reached"] == pytest.approx(0.6)
    assert out["value_at_risk_reached"] == pytest.approx(140.0)
    assert out["expected_value_saved"] == pytest.approx(35.0)
    curve = actions.budget_curve(risk, var, 0.25, points=4)
    assert curve["contacted"].tolist() == [0, 1, 2, 3, 4]
    assert curve.loc[4, "expected_churners_reached"] == pytest.approx(2.3)


def test_customer_value_uses_clv_snapshot_then_fallback(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path)
    features = pd.DataFrame({"customer_id": ["a", "b"], "monetary_365d": [1000.0, 200.0]})
    fallback = actions.customer_value(wh, "2026-10", features, 0.3)
    assert fallback["clv"].tolist() == pytest.approx([300.0, 60.0])
    assert set(fallback["clv_source"]) == {"margin_365d"}
    wh.write_snapshot("2026-10", "clv", pd.DataFrame({"customer_id": ["a"], "clv": [5000.0]}))
    mixed = actions.customer_value(wh, "2026-10", features, 0.3)
    assert mixed["clv"].tolist() == pytest.approx([5000.0, 60.0])
    assert mixed["clv_source"].tolist() == ["clv_model", "margin_365d"]


def test_export_is_utf8_bom_ids_only_sorted_by_value_at_risk(result, world, tmp_path: Path) -> None:
    wh, config = world
    folder = actions.export_path(config, "2026-10")
    assert folder == config.resolve("reports") / "2026-10" / "exports"
    path = actions.write_export(result.scores, tmp_path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(path, encoding="utf-8-sig")
    assert list(table.columns)[:5] == ["customer_id", "risk", "clv", "clv_source", "value_at_risk"]
    assert table["value_at_risk"].is_monotonic_decreasing
    assert set(table["action"]) <= set(actions.ACTIONS)  # codes: the same file in every language
    assert table["reason_1"].fillna("").str.fullmatch(r"[a-z0-9_]*(=.*)?").all()
    assert not {"name", "phone", "email"} & {c.lower() for c in table.columns}
    snapshot = actions.write_snapshot(wh, "2026-10", result.scores)
    assert pd.read_parquet(snapshot).columns.tolist() == actions.SNAPSHOT_COLUMNS


def test_translations_complete() -> None:
    problems = [p for p in check_catalogue() if p.startswith("churn.")]
    assert problems == []


# --------------------------------------------------------------------------- page helpers


def test_page_helpers_use_the_result_numbers(result) -> None:
    h = result.headline()
    assert h["customers_scored"] == len(result.scores)
    assert h["value_at_risk_total"] == pytest.approx(result.scores["value_at_risk"].sum())
    assert sum(h[f"action_{a}"] for a in actions.ACTIONS) == len(result.scores)
    assert h["auc"] == pytest.approx(result.quality.loc[0, "roc_auc"])
    for lang in ("en", "zh"):
        items = page.findings(result, Formatter(lang))
        assert 3 <= len(items) <= 5 and all(items)
        table, formats = page.quality_table(result, lang)
        assert set(formats) == set(table.columns) and len(table) == 3  # trees, baseline, recency yardstick
        assert table.iloc[:, 1].tolist() == [len(result.validation)] * 3  # customers tested
        assert result.sample_customers is None
        assert page.quality_meaning(result, Formatter(lang)) == t(
            "churn.meaning.quality", lang, month=Formatter(lang).month(result.plan.validation), days=90
        )
        contacts, _ = page.contact_list(result, Formatter(lang), n=5)
        assert len(contacts) == 5
        assert contacts.iloc[:, 3].is_monotonic_decreasing  # value at risk, highest first
    summary, _ = page.action_summary(result, "en")
    assert summary["Customers"].sum() == len(result.scores)
    assert summary["Value at risk"].sum() == pytest.approx(h["value_at_risk_total"])


def test_headline_is_codes_and_numbers_with_the_saved_keys(result) -> None:
    from kit.core.vocabulary import value_at_risk

    h = result.headline()
    assert set(h) == {
        "customers_scored", "predicted_churn_rate", "expected_churners", "validation_month", "validation_churn_rate",
        "auc", "auc_baseline", "pr_auc", "brier", "caught_top20", "value_at_risk_total", "top_driver", "clv_source",
        "action_call", "action_coupon", "action_nurture", "scorer", "lift_top10", "mode",
    }
    assert h["top_driver"] == drivers.material_drivers(result.drivers)[0]  # a code: pages look the label up
    assert h["scorer"] in {"model", "baseline"}
    assert h["value_at_risk_total"] == value_at_risk(result.scores["churn_probability"], result.scores["clv"])
    assert all(isinstance(v, (int, float, str)) for v in h.values())


def test_page_words_follow_the_vocabulary(result) -> None:
    """The scored population is recent buyers, never "active customers"; the call band is
    the top X% by CLV, never "high value"; retention counts churned (silent_days) as lost."""
    fmt = Formatter("en")
    texts = page.findings(result, fmt) + [k.label for k in page.kpi_cards(result, fmt)]
    texts += [x for name in page.SECTIONS for x in page.section_text(result, name, fmt)]
    texts += [page.figure_labels(result, name, fmt)["title"] for name in page.FIGURES]
    joined = " ".join(texts).lower()
    assert "active customer" not in joined and "high-value" not in joined and "high value" not in joined
    assert any("not yet churned (an order in the last 180 days)" in f for f in page.findings(result, fmt))
    assert "the first 5% (" in page.findings(result, fmt)[-1]
    assert "180 days" in page.section_text(result, "retention", fmt)[1]
    assert result.silent_days == 180
    for lang in ("en", "zh"):
        for name in page.FIGURES:
            labels = page.figure_labels(result, name, Formatter(lang))
            assert labels["title"] and "{" not in labels["title"] + labels["xlabel"] + labels["ylabel"]


def test_page_cards_banners_and_charts(result, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fmt = Formatter("en")
    cards = page.kpi_cards(result, fmt)
    assert len(cards) == 5 and cards[0].value == fmt.int(len(result.scores))
    assert [level for _, level in page.banners(result, "en")] == ["warning", "warning"]  # CLV fallback, no segments
    assert page.retention_groupings(result) == [("main_channel", "km_channel")]
    curves = page.retention_curves(result, "main_channel")
    assert 0 < curves["group"].nunique() <= page.MAX_RETENTION_GROUPS
    assert list(dict.fromkeys(curves["group"])) == curves.groupby("group", sort=False)["n"].first().sort_values(ascending=False).index.tolist()
    assert len(result.quadrant_sample()) == min(5000, len(result.scores))
    assert "customers" in page.budget_text(result, 10, fmt)
    assert page.export_banner(result, fmt).count(actions.EXPORT_FILE) == 1
    assert result.budget["contacted"].iloc[-1] == len(result.scores)
    assert list(result.cohorts.columns) == list(range(12))
    table, formats = page.dependence_table(result, fmt)
    assert len(table) == result.dependence["feature"].nunique() and set(formats) == set(table.columns)
    plots = [page.plot_trend, page.plot_gains, page.plot_reliability, page.plot_drivers, page.plot_quadrant,
             page.plot_cohorts, page.plot_budget]
    for plot in plots:
        fig, ax = plt.subplots()
        plot(ax, result, fmt)
        assert ax.has_data() or ax.images
        plt.close(fig)
    fig, ax = plt.subplots()
    page.plot_retention(ax, result, fmt, "main_channel")
    assert len(ax.lines) == curves["group"].nunique()
    plt.close(fig)


def test_write_saves_the_snapshot_and_the_export(result, world, tmp_path: Path) -> None:
    wh, _ = world
    assert result.write(wh, tmp_path / "exports") is None
    assert (tmp_path / "exports" / actions.EXPORT_FILE).is_file()
    assert wh.read_snapshot("2026-10", "churn").columns.tolist() == actions.SNAPSHOT_COLUMNS


# --------------------------------------------------------------------------- training sample


def test_stable_key_threshold_and_trim() -> None:
    from kit.churn import sample

    ids = pd.Series([f"C{i:06d}" for i in range(5000)])
    keys = sample.stable_key(ids, 7)
    assert (keys == sample.stable_key(ids.to_numpy()[::-1], 7)[::-1]).all()  # per id, not per position
    assert (keys != sample.stable_key(ids, 8)).mean() > 0.99  # the seed draws other customers
    assert sample.key_threshold(ids, 5000, 7) is None
    threshold = sample.key_threshold(ids, 1000, 7)
    keep = sample.in_sample(ids, threshold, 1000, 7)
    assert keep.sum() == 1000 and keys[keep].max() == threshold
    # a larger population under the same threshold is trimmed to the cap, smallest keys first
    more = pd.concat([ids, pd.Series([f"D{i:06d}" for i in range(5000)])], ignore_index=True)
    trimmed = sample.in_sample(more, threshold, 1000, 7)
    assert trimmed.sum() == 1000 and sample.stable_key(more, 7)[trimmed].max() <= threshold
    with pytest.raises(ValueError, match="at least 20,000"):
        sample.check_cap(500)


def test_sampled_warehouse_rows_equal_the_full_build(tmp_path: Path, monkeypatch) -> None:
    """Every sampled customer's features are those of the full build; the BG/NBD columns
    too once the sample holds the ``BTYD_SAMPLE`` buyers the full build fits on."""
    pytest.importorskip("kit.profile.features")
    monkeypatch.setattr(signals, "BTYD_SAMPLE", 50)
    from worlds import make_warehouse

    from kit.churn import sample
    from kit.churn.signals import churn_features

    root = make_warehouse(tmp_path / "warehouse", n_customers=600, seed=3)
    config = load_config(overrides={"paths": {"warehouse": str(root)}})
    wh = Warehouse(root)
    full = churn_features(wh, "2026-06", config).set_index("customer_id")
    seed = config.churn.seed
    threshold = sample.key_threshold(full.index.to_series(), 200, seed)
    part = churn_features(sample.SampledWarehouse(wh, threshold, seed), "2026-06", config).set_index("customer_id")
    assert len(part) == (sample.stable_key(full.index.to_numpy(), seed) <= np.uint64(threshold)).sum()
    pd.testing.assert_frame_equal(part, full.loc[part.index])


def test_fill_category_shares_adds_only_missing_category_columns() -> None:
    from kit.churn import sample

    frame = pd.DataFrame({"cat_share_food": [0.5, 1.0]})
    filled = sample.fill_category_shares(frame, ("recency_days", "cat_share_food", "cat_share_toys"))
    assert filled.columns.tolist() == ["cat_share_food", "cat_share_toys"]
    assert filled["cat_share_toys"].tolist() == [0.0, 0.0]


def test_run_churn_trains_on_a_followed_sample_and_scores_everyone(world, result, monkeypatch) -> None:
    from kit.churn import sample

    monkeypatch.setattr(sample, "MIN_SAMPLE_CUSTOMERS", 100)
    wh, config = world
    sampled = run_churn(wh, "2026-10", config, features_fn=simple_features, sample_customers=400)
    observed = sampled.trend.loc[sampled.trend["kind"] == "observed"]
    assert (observed["customers"] <= 400).all() and len(sampled.validation) <= 400
    assert len(sampled.scores) == len(result.scores) > 400  # the run month is scored in full
    # the validation customers are followed: those still in a later snapshot's population
    # are all in its sample, because the key threshold is fixed
    threshold = sample.key_threshold(result.scores["customer_id"], 400, config.churn.seed)
    assert (sample.stable_key(sampled.validation["customer_id"], config.churn.seed) <= np.uint64(threshold)).all()
    assert sampled.quality.set_index("model").loc["model", "roc_auc"] > 0.7
    assert sampled.sample_customers == 400
    assert "400" in page.quality_meaning(sampled, Formatter("en"))


def test_reason_phrases_share_one_phrase_per_distinct_value() -> None:
    features = pd.DataFrame(
        {
            "recency_days": [30.0, 30.0, np.nan, 200.0, np.nan],
            "visits_90d": [2.0, 2.0, 0.0, np.nan, 2.0],
            "visits_prev_90d": [4.0, 4.0, 0.0, 1.0, 4.0],
            "visit_trend_90d": [-0.5, -0.5, 0.0, np.nan, -0.5],
        }
    )
    codes = pd.DataFrame({"reason_feature_1": ["recency_days"] * 3 + ["visit_trend_90d", "absent"]})
    reasons = drivers.reason_inputs(features, codes)
    for lang in ("en", "zh"):
        fmt = Formatter(lang)
        expected = [page.phrase(c, v, b, fmt, typical=u) for c, v, b, u in reasons.itertuples(index=False)]
        assert page.reason_phrases(reasons, fmt)["reason_1"].tolist() == expected
    assert page.reason_phrases(reasons, Formatter("en"))["reason_1"].tolist() == [
        "no order for 30 days", "no order for 30 days", "days since last order: no data",
        "— visits in 90 days, none before", "absent: no data",
    ]


def test_run_churn_reports_each_step_as_it_starts(world: tuple[Warehouse, KitConfig]) -> None:
    # before: 05's first cell ran 40-50 s on the demo without a line of progress
    from kit.churn.pipeline import PROGRESS_STEPS
    from kit.text.i18n import t

    wh, config = world
    steps: list[str] = []
    run_churn(wh, "2026-10", config, features_fn=simple_features, progress=steps.append)
    assert steps == list(PROGRESS_STEPS)
    assert all(t(f"churn.progress.{s}", lang) for s in steps for lang in ("en", "zh"))


# --------------------------------------------------------------------------- honest model selection

NOISE_COLUMNS = 30


def noisy_features(wh: Warehouse, month: str, config: KitConfig) -> pd.DataFrame:
    """``simple_features`` plus ``NOISE_COLUMNS`` pure-noise numeric columns (seeded by month):
    signals that carry nothing, which a tree model overfits and a regularised linear one shrinks."""
    frame = simple_features(wh, month, config)
    rng = np.random.default_rng(int(month.replace("-", "")))
    noise = rng.normal(size=(len(frame), NOISE_COLUMNS))
    return frame.assign(**{f"noise_{i}": noise[:, i] for i in range(NOISE_COLUMNS)})


@pytest.fixture(scope="module")
def noisy_result(world: tuple[Warehouse, KitConfig]):
    wh, config = world
    return run_churn(wh, "2026-10", config, features_fn=noisy_features)


def test_choose_scorer_needs_the_stated_margin() -> None:
    quality = pd.DataFrame({"model": ["model", "baseline"], "roc_auc": [0.80, 0.795]})
    assert choose_scorer(quality, 0.01) == "baseline"
    assert choose_scorer(quality, 0.005) == "model"
    assert choose_scorer(quality.assign(roc_auc=[0.70, 0.75]), 0.0) == "baseline"


def test_tree_model_losing_to_the_baseline_falls_back_and_says_so(noisy_result, world) -> None:
    from kit.overview.page import metric_highlights

    result = noisy_result
    quality = result.quality.set_index("model")
    assert quality.loc["model", "roc_auc"] < quality.loc["baseline", "roc_auc"] + result.config.min_auc_gain
    assert result.scorer == "baseline" and isinstance(result.model, LogisticChurnModel)
    # the baseline scores the customers
    wh, config = world
    frame = snapshot_examples(wh, "2026-10", config, noisy_features, labelled=False)
    np.testing.assert_allclose(
        result.scores["churn_probability"], result.model.predict(result.model.spec.matrix(frame)), atol=1e-9
    )
    # the first finding warns, in both languages; the overview's churn highlight says it too
    en, zh = page.findings(result, Formatter("en")), page.findings(result, Formatter("zh"))
    assert en[0].startswith("Mind the model choice: the gradient-boosting model") and "baseline scores the customers" in en[0]
    assert zh[0].startswith("注意") and "基线" in zh[0]
    auc, base = (f"{quality.loc[m, 'roc_auc']:.2f}" for m in ("model", "baseline"))
    assert auc in en[0] and base in en[0]
    h = result.headline()
    assert h["scorer"] == "baseline"
    (highlight,) = [x for x in metric_highlights({"05_churn": h}, Formatter("en")) if x.page == "05_churn.html"]
    assert "baseline scored the customers" in highlight.text
    cards = page.kpi_cards(result, Formatter("en"))
    assert "scores instead" in cards[2].note



def test_drivers_and_reasons_only_from_material_features(noisy_result) -> None:
    """Noise never makes the list of warning signals nor a customer's reasons; the signals
    that do carry their direction (more recency -> more risk, better NPS -> less)."""
    table = noisy_result.drivers.set_index("feature")
    material = drivers.material_drivers(noisy_result.drivers)
    assert material and not [f for f in material if f.startswith("noise_")]
    assert table.loc["recency_days", "direction"] == "raises" and table.loc["last_nps", "direction"] == "lowers"
    assert (table.loc[material, "importance"] > 2 * table.loc[material, "std"]).all()
    codes = set(noisy_result.scores[["reason_1", "reason_2", "reason_3"]].stack()) - {""}
    assert codes and codes <= set(material)
    en = page.findings(noisy_result, Formatter("en"))[3]
    assert "days since the last order (more → higher risk)" in en.lower() or "(more → higher risk)" in en
    assert "noise" not in en


def test_reason_phrases_give_the_typical_value_and_never_zero_days_of_absence() -> None:
    reasons = pd.DataFrame(
        {"reason_1": ["recency_days", "days_since_last_visit", "frequency_90d"],
         "reason_1_value": [142.0, 0.0, 0.0], "reason_1_before": np.nan, "reason_1_typical": [30.0, 12.0, 2.0]}
    )
    got = page.reason_phrases(reasons, Formatter("en"))["reason_1"].tolist()
    assert got[0] == "no order for 142 days (typical: 30 days)"
    assert not got[1].startswith("no visit for 0") and got[1].endswith("(typical: 12 days)")
    assert got[2].endswith("(typical: 2)")
    assert page.reason_phrases(reasons, Formatter("zh"))["reason_1"].iloc[0].endswith("(一般为30天)")


def test_baseline_attributions_are_the_risk_change_of_setting_a_feature_typical(noisy_result, world) -> None:
    wh, config = world
    model = noisy_result.model
    frame = snapshot_examples(wh, "2026-10", config, noisy_features, labelled=False)
    matrix = model.spec.matrix(frame).head(300)
    ref = drivers.reference_values(matrix)
    features = ["recency_days", "last_nps", "main_channel"]
    att = model.attributions(matrix, features, ref)
    for feature in features:
        occluded = matrix.assign(**{feature: constant_like(matrix[feature], ref[feature])})
        np.testing.assert_allclose(att[feature], model.predict(matrix) - model.predict(occluded), atol=1e-5)
    assert (att.loc[matrix["recency_days"] > 200, "recency_days"] > 0).all()
