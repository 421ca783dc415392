"""Tests for kit.profile.features: definitions against an independent pandas computation,
point-in-time correctness, exact values on a hand-built warehouse, and the profile file."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from worlds import make_warehouse

from kit.core.config import FeaturesConfig, KitConfig
from kit.core.dates import snapshot_end
from kit.core.warehouse import Warehouse
from kit.profile.events import BALANCE_COLUMNS
from kit.profile.features import (
    FEATURES,
    build_features,
    category_column,
    describe,
    feature_plan,
    reference_aggregation,
    write_profile,
)
from kit.profile.subscriptions import SUBSCRIPTION_FEATURES

MONTH = "2026-10"
END = snapshot_end(MONTH)
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_warehouse(tmp_path_factory.mktemp("wh"), n_customers=1500, seed=3)


@pytest.fixture(scope="module")
def features(world: Path) -> pd.DataFrame:
    return build_features(Warehouse(world), MONTH, KitConfig())


def _orders(world: Path, month: str = MONTH) -> pd.DataFrame:
    orders = pd.read_parquet(world / "orders.parquet")
    return orders[(orders["order_ts"] < snapshot_end(month)) & ~orders["is_refund"]]


def test_one_row_per_customer_seen_before_the_snapshot(world: Path) -> None:
    customers = pd.read_parquet(world / "customers.parquet")
    early = build_features(Warehouse(world), "2025-06", KitConfig())
    expected = customers.loc[customers["first_seen"] < snapshot_end("2025-06"), "customer_id"]
    assert early["customer_id"].is_unique
    assert sorted(early["customer_id"]) == sorted(expected)
    assert len(early) < len(customers)


def test_every_column_is_documented(features: pd.DataFrame) -> None:
    for col in features.columns:
        dtype, text = describe(col, "zh")
        assert dtype in {"text", "number", "bool", "date"} and text
    assert set(FEATURES) <= set(features.columns)


def test_value_features_match_an_independent_pandas_computation(world: Path, features: pd.DataFrame) -> None:
    orders = _orders(world)
    g = orders.groupby("customer_id")
    f = features.set_index("customer_id")
    recent = orders[orders["order_ts"] >= END - 90 * DAY].groupby("customer_id")["amount"].sum()
    pd.testing.assert_series_equal(
        f["frequency_all"], g.size().reindex(f.index, fill_value=0), check_names=False, check_dtype=False
    )
    np.testing.assert_allclose(f["monetary_90d"], recent.reindex(f.index, fill_value=0.0), rtol=1e-9)
    recency = ((END - g["order_ts"].max()) / DAY).reindex(f.index)
    np.testing.assert_allclose(f["recency_days"], recency, rtol=1e-9)
    gaps = g["order_ts"].apply(lambda s: s.sort_values().diff().mean() / DAY).reindex(f.index)
    np.testing.assert_allclose(f["interpurchase_days"], gaps.astype("float64"), rtol=1e-9)
    disc = g["discount"].sum() / (g["amount"].sum() + g["discount"].sum())
    np.testing.assert_allclose(f["discount_share"], disc.reindex(f.index), rtol=1e-9)
    assert f.loc[~f["has_ordered"], "recency_days"].isna().all()


def test_habit_features_match_pandas_modes(world: Path, features: pd.DataFrame) -> None:
    orders = _orders(world).assign(hour=lambda d: d["order_ts"].dt.hour)
    f = features.set_index("customer_id")
    shares = [c for c in f.columns if c.startswith("cat_share_")]
    bought = f["has_ordered"]
    np.testing.assert_allclose(f.loc[bought, shares].sum(axis=1), 1.0)
    counts = orders.groupby(["customer_id", "category"]).size().unstack(fill_value=0)
    top = counts.idxmax(axis=1)  # first category in sorted order on ties, like the feature
    assert (f.loc[top.index, "favourite_category"] == top).all()
    hours = orders.groupby(["customer_id", "hour"]).size().unstack(fill_value=0).idxmax(axis=1)
    assert (f.loc[hours.index, "preferred_hour"].astype(int) == hours).all()
    ch = orders.groupby("customer_id")["channel"].apply(lambda s: (s == "app").mean())
    np.testing.assert_allclose(f.loc[ch.index, "channel_share_app"], ch)


def test_event_and_survey_features(world: Path, features: pd.DataFrame) -> None:
    events = pd.read_parquet(world / "events.parquet")
    events = events[events["event_ts"] < END]
    f = features.set_index("customer_id")
    visits = events[(events["event_type"] == "visit") & (events["event_ts"] >= END - 90 * DAY)]
    expected = visits.groupby("customer_id").size().reindex(f.index, fill_value=0)
    assert (f["visits_90d"] == expected).all()
    rate = f["cart_abandonment_rate_90d"].dropna()
    assert rate.between(0, 1).all() and len(rate) == int((f["add_to_cart_90d"] > 0).sum())
    surveys = pd.read_parquet(world / "surveys.parquet").dropna(subset=["nps"]).sort_values("survey_ts")
    last = surveys.groupby("customer_id")["nps"].last()
    np.testing.assert_allclose(f.loc[last.index, "last_nps"], last)
    assert f["age_band"].dropna().isin(["<25", "25-34", "35-44", "45-54", "55+"]).all()
    assert ((f["age"] < 25).fillna(False) == (f["age_band"] == "<25")).all()


def test_future_rows_change_nothing(world: Path, features: pd.DataFrame, tmp_path: Path) -> None:
    planted = tmp_path / "wh"
    shutil.copytree(world, planted)
    ids = features["customer_id"].iloc[:50]
    for table, ts_col, extra in (
        ("orders", "order_ts", {"amount": 99999.0, "is_refund": False, "status": "paid", "channel": "app"}),
        ("events", "event_ts", {"event_type": "visit"}),
        ("surveys", "survey_ts", {"nps": 0, "csat": 1}),
    ):
        frame = pd.read_parquet(world / f"{table}.parquet")
        future = frame.iloc[: len(ids)].copy()
        future["customer_id"] = ids.to_numpy()
        future[ts_col] = END + pd.to_timedelta(np.arange(len(ids)), unit="h")  # exactly at the cut and later
        for col, value in extra.items():
            future[col] = value
        if table == "orders":
            future["order_id"] = [f"shop:F{i}" for i in range(len(ids))]
        pd.concat([frame, future]).to_parquet(planted / f"{table}.parquet", index=False)
    customers = pd.read_parquet(world / "customers.parquet")
    late = customers.iloc[:1].assign(customer_id="Cffffffffff", first_seen=END)
    pd.concat([customers, late]).to_parquet(planted / "customers.parquet", index=False)
    after = build_features(Warehouse(planted), MONTH, KitConfig())
    pd.testing.assert_frame_equal(after, features)


def _tiny_warehouse(root: Path) -> Path:
    """Two customers with hand-counted orders, events and surveys."""
    ts = lambda days: END - pd.Timedelta(days=days)  # noqa: E731
    make_warehouse(root, n_customers=5, seed=1)  # identities/assignments; main tables overwritten
    pd.DataFrame(
        {
            "customer_id": ["Caaaaaaaaaa", "Cbbbbbbbbbb"],
            "first_seen": [ts(400), ts(10)],
            "member_since": [ts(400), pd.NaT],
            "signup_channel": ["store", "app"],
            "gender": ["female", None],
            "birth_year": pd.array([2000, None], dtype="Int64"),
            "city": ["上海", "绵阳"],
            "city_tier": pd.array([1, 3], dtype="Int64"),
            "n_sources": pd.array([2, 1], dtype="Int64"),
            "sources": ["crm,shop", "app"],
        }
    ).to_parquet(root / "customers.parquet", index=False)
    rows = [  # days ago, amount, discount, category, channel, refunded
        (10, 100.0, 0.0, "beauty", "app", False),
        (100, 50.0, 50.0, "home", "store", False),
        (150, 30.0, 0.0, "beauty", "online", False),
        (200, 80.0, 0.0, "home", "store", True),
    ]
    pd.DataFrame(
        {
            "order_id": [f"shop:S{i}" for i in range(len(rows))],
            "customer_id": "Caaaaaaaaaa",
            "source": "shop",
            "channel": [r[4] for r in rows],
            "order_ts": [ts(r[0]) for r in rows],
            "amount": [r[1] for r in rows],
            "discount": [r[2] for r in rows],
            "category": [r[3] for r in rows],
            "items": pd.array([1, 2, 3, 4], dtype="Int64"),
            "payment_method": ["alipay", "card", "alipay", "card"],
            "status": ["refunded" if r[5] else "paid" for r in rows],
            "is_refund": [r[5] for r in rows],
            "store_city": None,
        }
    ).to_parquet(root / "orders.parquet", index=False)
    pd.DataFrame(
        {
            "customer_id": ["Cbbbbbbbbbb"] * 4,
            "event_ts": [ts(1), ts(2), ts(3), ts(120)],
            "event_type": ["visit", "add_to_cart", "add_to_cart", "visit"],
            "category": [None, "beauty", "beauty", None],
        }
    ).to_parquet(root / "events.parquet", index=False)
    pd.DataFrame(
        {
            "response_id": ["V1", "V2"],
            "customer_id": ["Caaaaaaaaaa", "Caaaaaaaaaa"],
            "survey_ts": [ts(50), ts(5)],
            "nps": pd.array([3, 9], dtype="Int64"),
            "csat": pd.array([2, None], dtype="Int64"),
        }
    ).to_parquet(root / "surveys.parquet", index=False)
    return root


def test_exact_values_on_a_hand_built_warehouse(tmp_path: Path) -> None:
    f = build_features(Warehouse(_tiny_warehouse(tmp_path)), MONTH, KitConfig()).set_index("customer_id")
    a, b = f.loc["Caaaaaaaaaa"], f.loc["Cbbbbbbbbbb"]
    assert a["frequency_all"] == 3 and a["refund_count_all"] == 1
    assert a["monetary_all"] == pytest.approx(180.0) and a["monetary_90d"] == pytest.approx(100.0)
    assert a["recency_days"] == pytest.approx(10) and a["interpurchase_days"] == pytest.approx(70)
    assert a["order_trend_90d"] == pytest.approx(-0.5)  # 1 order vs 2 in the 90 days before
    assert a["spend_trend_90d"] == pytest.approx((100 - 80) / 80)
    assert a["aov_all"] == pytest.approx(60.0) and a["discount_share"] == pytest.approx(50 / 230)
    assert a["favourite_category"] == "beauty" and a["main_channel"] == "online"  # 3-way tie -> online
    assert a["cat_share_beauty"] == pytest.approx(2 / 3) and a["category_count"] == 2
    assert a["last_nps"] == 9 and a["avg_csat"] == 2 and a["low_score_count"] == 1
    assert a["age"] == 26 and a["age_band"] == "25-34" and a["is_member"]
    assert not b["has_ordered"] and np.isnan(b["recency_days"]) and b["frequency_all"] == 0
    assert b["visits_90d"] == 1 and b["visits_prev_90d"] == 1 and b["add_to_cart_90d"] == 2
    assert b["cart_abandonment_rate_90d"] == 1.0 and b["days_since_last_visit"] == pytest.approx(1)
    assert pd.isna(b["age"]) and pd.isna(b["favourite_category"]) and b["city_tier"] == 3


def test_reference_aggregation_agrees(world: Path, features: pd.DataFrame) -> None:
    ref = reference_aggregation(Warehouse(world), MONTH).set_index("customer_id").reindex(features["customer_id"])
    f = features.set_index("customer_id")
    assert (ref["frequency_all"].fillna(0).astype(int) == f["frequency_all"]).all()
    np.testing.assert_allclose(ref["monetary_365d"].fillna(0), f["monetary_365d"], rtol=1e-9)
    assert (ref["visits_90d"].fillna(0).astype(int) == f["visits_90d"]).all()


def test_write_profile_keeps_each_month(world: Path, features: pd.DataFrame, tmp_path: Path) -> None:
    wh = Warehouse(tmp_path)
    tags = pd.DataFrame({"vip": features["monetary_all"] > 1000})
    write_profile(wh, MONTH, features, tags)
    write_profile(wh, "2026-09", features, tags)
    profile = wh.read_snapshot(MONTH, "profile")
    assert list(profile.columns[:2]) == ["customer_id", "snapshot_date"] and profile.columns[-1] == "tag_vip"
    assert len(profile) == len(features) and wh.has_snapshot("2026-09", "profile")
    with pytest.raises(ValueError, match="rows"):
        write_profile(wh, MONTH, features, tags.iloc[:5])


def test_category_column_is_a_safe_identifier() -> None:
    assert category_column("Home & Garden") == "cat_share_home_garden"
    assert category_column("美妆") == "cat_share_美妆"


def test_city_tiers_from_config_fill_missing_tiers(tmp_path: Path) -> None:
    root = _tiny_warehouse(tmp_path)
    customers = pd.read_parquet(root / "customers.parquet")
    customers["city_tier"] = pd.array([1, None], dtype="Int64")
    customers.to_parquet(root / "customers.parquet", index=False)
    plain = build_features(Warehouse(root), MONTH, KitConfig()).set_index("customer_id")
    assert pd.isna(plain.loc["Cbbbbbbbbbb", "city_tier"])
    config = dataclasses.replace(KitConfig(), features=FeaturesConfig(city_tiers={"绵阳": 3, "上海": 2}))
    filled = build_features(Warehouse(root), MONTH, config).set_index("customer_id")
    assert filled.loc["Cbbbbbbbbbb", "city_tier"] == 3
    assert filled.loc["Caaaaaaaaaa", "city_tier"] == 1  # ingest's tier wins over the config


def test_months_before_any_orders_or_customers(tmp_path: Path) -> None:
    root = _tiny_warehouse(tmp_path)
    no_orders = build_features(Warehouse(root), "2025-10", KitConfig())
    assert list(no_orders["customer_id"]) == ["Caaaaaaaaaa"]
    assert not no_orders["has_ordered"].any() and no_orders["favourite_category"].isna().all()
    assert not any(c.startswith("cat_share_") for c in no_orders.columns)
    empty = build_features(Warehouse(root), "2024-01", KitConfig())
    skipped = feature_plan(Warehouse(root), KitConfig()).skipped()
    # the hand-built events have no product views; no event balance (no types named) and no
    # subscription features (no subscriptions table)
    assert skipped == {"views_90d": "events.view", **dict.fromkeys(BALANCE_COLUMNS, "features.negative_events"),
                       **dict.fromkeys(SUBSCRIPTION_FEATURES, "subscriptions")}
    assert len(empty) == 0 and set(FEATURES) - set(skipped) <= set(empty.columns)
