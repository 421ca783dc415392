"""kit.profile.features on the data a company actually has: features whose inputs are absent
are not computed (and say why), hour features only over orders with a time of day, and
event features from the data's own event vocabulary (kit.profile.events)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from worlds import orders_only, other_vocabulary
from worlds import make_warehouse

from kit.core.config import KitConfig
from kit.core.dates import snapshot_end
from kit.core.warehouse import Warehouse
from kit.profile.events import BALANCE_COLUMNS, event_slug, event_vocabulary
from kit.profile.features import FEATURES, build_features, describe, feature_plan
from kit.profile.subscriptions import SUBSCRIPTION_FEATURES

MONTH = "2026-10"
END = snapshot_end(MONTH)
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def orders_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return orders_only(tmp_path_factory.mktemp("orders_only"))


@pytest.fixture(scope="module")
def vocabulary_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return other_vocabulary(tmp_path_factory.mktemp("vocabulary"))


def test_orders_only_computes_what_the_orders_allow_and_says_why_not_the_rest(orders_world: Path) -> None:
    # before: the missing events file raised WarehouseError, the typeless discount column
    # 'UnknownColumn' object has no attribute 'sum'
    wh = Warehouse(orders_world)
    features = build_features(wh, MONTH, KitConfig())
    skipped = feature_plan(wh, KitConfig()).skipped()
    assert {"survey_count": "surveys", "visits_90d": "events", "discount_share": "orders.discount",
            "favourite_category": "orders.category", "avg_items": "orders.items",
            "main_payment_method": "orders.payment_method", "night_share": "orders.time",
            "preferred_hour": "orders.time", "age": "customers.birth_year", "gender": "customers.gender"}.items() <= skipped.items()
    assert not set(skipped) & set(features.columns)
    assert not any(c.startswith(("cat_share_", "ev_", "days_since_ev_")) for c in features.columns)
    assert not [c for c in features.columns if features[c].isna().all()]  # never an all-null column
    assert set(FEATURES) - set(skipped) <= set(features.columns)
    orders = pd.read_parquet(orders_world / "orders.parquet")
    paid = orders[(orders["order_ts"] < END) & ~orders["is_refund"]]
    f = features.set_index("customer_id")
    pd.testing.assert_series_equal(
        f["frequency_all"], paid.groupby("customer_id").size().reindex(f.index, fill_value=0), check_names=False, check_dtype=False
    )
    weekend = paid.assign(w=paid["order_ts"].dt.day_of_week >= 5).groupby("customer_id")["w"].mean()
    np.testing.assert_allclose(f.loc[weekend.index, "weekend_share"], weekend)  # dates alone still give weekdays


def test_date_only_orders_make_nobody_a_night_shopper(tmp_path: Path) -> None:
    # before: date-only orders, stamped 00:00, fell in 22:00-06:00 ("Night owls: 31.5 % of customers")
    root = make_warehouse(tmp_path, n_customers=800, seed=5)
    orders = pd.read_parquet(root / "orders.parquet")
    dated = orders.index % 2 == 0  # every other order comes from a source with dates only
    orders.loc[dated, "order_ts"] = orders.loc[dated, "order_ts"].dt.normalize()
    orders["has_time"] = ~dated
    orders.to_parquet(root / "orders.parquet", index=False)
    f = build_features(Warehouse(root), MONTH, KitConfig()).set_index("customer_id")
    timed = orders[(orders["order_ts"] < END) & ~orders["is_refund"] & orders["has_time"]]
    hours = timed["order_ts"].dt.hour
    night = timed.assign(n=hours.isin([22, 23, 0, 1, 2, 3, 4, 5])).groupby("customer_id")["n"].mean()
    np.testing.assert_allclose(f.loc[night.index, "night_share"], night)
    top = timed.assign(h=hours).groupby(["customer_id", "h"]).size().unstack(fill_value=0).idxmax(axis=1)
    assert (f.loc[top.index, "preferred_hour"].astype(int) == top).all()
    untimed = f.index.difference(night.index)
    assert f.loc[untimed, "night_share"].isna().all() and f.loc[untimed, "preferred_hour"].isna().all()


def test_a_warehouse_without_has_time_or_with_only_dates(orders_world: Path, tmp_path: Path) -> None:
    root = make_warehouse(tmp_path, n_customers=300, seed=2)  # no has_time column: times taken as timed
    assert "night_share" in build_features(Warehouse(root), MONTH, KitConfig())
    assert "night_share" not in build_features(Warehouse(orders_world), MONTH, KitConfig())


def test_features_per_event_type_of_another_vocabulary(vocabulary_world: Path) -> None:
    # before: only visit / view / add_to_cart became features; login, share, complaint were ignored
    wh = Warehouse(vocabulary_world)
    features = build_features(wh, MONTH, KitConfig())
    plan = feature_plan(wh, KitConfig())
    assert plan.events.types == ("complaint", "login", "search", "share")
    assert {"visits_90d": "events.visit", "views_90d": "events.view", "add_to_cart_90d": "events.add_to_cart",
            "survey_count": "surveys"}.items() <= plan.skipped().items()  # an empty surveys table is absent too
    events = pd.read_parquet(vocabulary_world / "events.parquet")
    events = events[events["event_ts"] < END]
    f = features.set_index("customer_id")
    login = events[events["event_type"] == "login"]
    for days in (7, 28, 90):
        expected = login[login["event_ts"] >= END - days * DAY].groupby("customer_id").size()
        assert (f[f"ev_login_{days}d"] == expected.reindex(f.index, fill_value=0)).all()
    recent = events[events["event_ts"] >= END - 28 * DAY]
    active = recent.groupby("customer_id")["event_ts"].apply(lambda ts: ts.dt.normalize().nunique())
    rate = (recent[recent["event_type"] == "share"].groupby("customer_id").size().reindex(active.index, fill_value=0) / active)
    np.testing.assert_allclose(f.loc[active.index, "ev_share_rate_28d"], rate)
    assert f.loc[f.index.difference(active.index), "ev_share_rate_28d"].isna().all()
    before = login[(login["event_ts"] >= END - 56 * DAY) & (login["event_ts"] < END - 28 * DAY)].groupby("customer_id").size()
    last = login[login["event_ts"] >= END - 28 * DAY].groupby("customer_id").size()
    prev, now = before.reindex(f.index, fill_value=0), last.reindex(f.index, fill_value=0)
    np.testing.assert_allclose(f["ev_login_trend_28d"], (now - prev) / prev.clip(lower=1))
    since = ((END - events[events["event_type"] == "complaint"].groupby("customer_id")["event_ts"].max()) / DAY)
    np.testing.assert_allclose(f.loc[since.index, "days_since_ev_complaint"], since)
    assert f["days_since_ev_complaint"].isna().sum() == len(f) - len(since)
    assert describe("ev_login_28d", "en", plan.events)[1] == "'login' events in the last 28 days"
    assert "登录" not in describe("ev_login_28d", "zh", plan.events)[1] and "login" in describe("ev_login_28d", "zh")[1]


def test_event_type_names_become_safe_columns_and_the_most_frequent_are_kept(vocabulary_world: Path, tmp_path: Path) -> None:
    assert event_slug("Add to Cart!") == "add_to_cart"
    assert event_slug("登录").startswith("type_") and event_slug("登录") == event_slug("登录")
    events = pd.DataFrame({"customer_id": ["a"] * 6, "event_ts": pd.Timestamp("2026-01-01"),
                           "event_type": ["Add to cart", "add_to_cart", "登录", "登录", "登录", "x"]})
    events.to_parquet(tmp_path / "events.parquet", index=False)
    wh = Warehouse(tmp_path)
    vocab = event_vocabulary(wh.inputs(), tmp_path)
    slugs = vocab.slugs
    assert len(set(slugs.values())) == 4 and all(s.startswith("add_to_cart_") for s in (slugs["Add to cart"], slugs["add_to_cart"]))
    kept = event_vocabulary(wh.inputs(), tmp_path, limit=2)
    assert kept.types == ("登录", "Add to cart") and kept.left_out == ("add_to_cart", "x")  # by count, then name
    assert describe(f"ev_{slugs['登录']}_7d", "zh", vocab)[1] == "近7天“登录”事件次数"
    listed = event_vocabulary(wh.inputs(), tmp_path, chosen=["x", "登录", "never_logged"])
    assert listed.types == ("x", "登录") and listed.left_out == ("Add to cart", "add_to_cart") and listed.listed


def test_the_demo_shape_keeps_every_feature_and_event_twins_agree(tmp_path: Path) -> None:
    root = make_warehouse(tmp_path, n_customers=600, seed=8)
    f = build_features(Warehouse(root), MONTH, KitConfig())
    # left out, and said: the event balance (no negative or positive types named in the
    # config) and the subscription features (no subscriptions table)
    skipped = feature_plan(Warehouse(root), KitConfig()).skipped()
    assert skipped == {**dict.fromkeys(BALANCE_COLUMNS, "features.negative_events"),
                       **dict.fromkeys(SUBSCRIPTION_FEATURES, "subscriptions")}
    assert set(FEATURES) - set(skipped) <= set(f.columns) and not set(skipped) & set(f.columns)
    assert (f["ev_visit_90d"] == f["visits_90d"]).all() and (f["ev_add_to_cart_90d"] == f["add_to_cart_90d"]).all()
    for column in f.columns:
        assert describe(column, "zh")[1]
    assert pq.read_schema(root / "orders.parquet").get_field_index("has_time") == -1
