"""Behaviour and subscription features on the subscription world (shape ``subscription_app``):
the balance of negative and positive events from the config's lists, the subscription
features checked against the generator's files and truth, point in time, and a retail
config that plans neither."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from worlds import make_warehouse

from kit.core.config import load_config
from kit.core.dates import snapshot_end
from kit.core.warehouse import Warehouse
from kit.demo.shapes import write_shape
from kit.demo.subscriptions import EVENT_RATES, POSITIVE
from kit.ingest import run_ingest
from kit.profile.events import BALANCE_COLUMNS
from kit.profile.features import build_features, describe, feature_plan
from kit.profile.subscriptions import SUBSCRIPTION_FEATURES

ACCOUNTS = 1500
MONTH, NEXT = "2026-06", "2026-07"
END = snapshot_end(MONTH)
SUBS = tuple(SUBSCRIPTION_FEATURES)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    config = load_config(write_shape("subscription_app", tmp_path_factory.mktemp("subscription_app"), customers=ACCOUNTS, seed=11))
    run_ingest(config)
    return config


@pytest.fixture(scope="module")
def features(world) -> pd.DataFrame:
    return build_features(Warehouse.from_config(world), MONTH, world)


def _customer_ids(world) -> dict[str, str]:
    """customer number -> unified customer id (the accounts source's identities)."""
    ids = pd.read_parquet(world.resolve(world.paths.warehouse) / "identities.parquet")
    return dict(ids.loc[ids["source"] == "accounts", ["source_id", "customer_id"]].to_numpy())


def test_shape_config_lists_the_worlds_positive_and_other_events(world, features):
    assert world.features.positive_events == list(POSITIVE)
    assert sorted(world.features.negative_events) == sorted(set(EVENT_RATES) - set(POSITIVE))
    skipped = feature_plan(Warehouse.from_config(world), world).skipped()
    assert not set(skipped) & {*BALANCE_COLUMNS, *SUBS}
    assert {*BALANCE_COLUMNS, *SUBS} <= set(features.columns)
    events = feature_plan(Warehouse.from_config(world), world).events
    for name in (*BALANCE_COLUMNS, *SUBS):
        assert features[name].notna().any(), name
        assert features[name].nunique() > 1 or name == "sub_count", name  # one subscription per account here
        assert describe(name, "zh", events)[1]
    assert features["sub_plan"].dtype == "str"
    assert all(features[c].dtype.kind in "if" for c in (*BALANCE_COLUMNS, *(c for c in SUBS if c != "sub_plan")))
    # the balance sums the per-type counts of the listed types
    negative = sum(features[f"ev_{t}_28d"] for t in world.features.negative_events)
    assert (features["ev_negative_28d"] == negative).all()
    ratio = (features["ev_negative_28d"] + 1) / (features["ev_positive_28d"] + 1)
    np.testing.assert_allclose(features["ev_negative_per_positive_28d"], ratio)


def test_subscription_features_match_the_exported_subscriptions_and_the_truth(world, features):
    raw = world.resolve(world.paths.raw)
    subs = pd.read_csv(raw / "subscriptions.csv", parse_dates=["started_at", "paid_through", "cancelled_at"])
    subs["customer_id"] = subs["customer_no"].map(_customer_ids(world))
    f = features.set_index("customer_id")
    seen = subs[subs["started_at"] < END].set_index("customer_id")
    assert len(seen) > 500 and f.loc[seen.index, "sub_count"].eq(1).all()
    assert f["sub_count"].drop(seen.index).eq(0).all()  # accounts whose subscription starts later
    np.testing.assert_allclose(f.loc[seen.index, "sub_tenure_days"], (END - seen["started_at"]) / pd.Timedelta(days=1))
    assert (f.loc[seen.index, "sub_plan"] == seen["plan"]).all()
    # active at the snapshot: what the generator's truth calls active (its label population)
    labels = pd.read_parquet(raw / "_truth" / "labels.parquet")
    truth_active = set(labels.loc[labels["snapshot"] == END, "customer_no"].map(_customer_ids(world)))
    assert set(f.index[f["sub_mrr"] > 0]) == truth_active and len(truth_active) > 300
    np.testing.assert_allclose(f.loc[sorted(truth_active), "sub_mrr"], seen.loc[sorted(truth_active), "mrr"])
    cancelled = seen.index[seen["cancelled_at"] < END]
    expected = pd.Series(0.0, index=f.index)
    expected[sorted(set(cancelled) & truth_active)] = 1.0
    pd.testing.assert_series_equal(f["sub_cancelled"], expected, check_names=False)
    assert 0 < f["sub_cancelled"].sum() < len(cancelled)  # cancellations of lapsed accounts do not count


def test_churners_have_more_negative_events_per_positive_one(world, features):
    labels = pd.read_parquet(world.resolve(world.paths.raw) / "_truth" / "labels.parquet")
    at = labels[labels["snapshot"] == END].assign(customer_id=lambda x: x["customer_no"].map(_customer_ids(world)))
    joined = at.merge(features, on="customer_id", validate="one_to_one")
    by_label = joined.groupby("churned_30d")[["ev_negative_per_positive_28d", "ev_negative_per_positive_90d"]].mean()
    assert joined["churned_30d"].sum() >= 20
    assert (by_label.loc[True] > by_label.loc[False]).all(), by_label


def test_rows_and_cancellations_after_the_snapshot_change_no_feature(world, features, tmp_path):
    source = world.resolve(world.paths.warehouse)
    planted = tmp_path / "warehouse"
    shutil.copytree(source, planted)
    subs = pd.read_parquet(source / "subscriptions.parquet")
    active = (subs["started_at"] < END) & (subs["paid_through"] > END)
    uncancelled = active & subs["cancelled_at"].isna()
    changed = subs.copy()
    # a cancellation from the snapshot on, and a paid period extended further into the future
    changed.loc[uncancelled, "cancelled_at"] = END + pd.Timedelta(hours=1)
    changed.loc[active, "paid_through"] = changed.loc[active, "paid_through"] + pd.Timedelta(days=400)
    # new subscriptions (a second plan) starting exactly at the cut and later
    later = changed[active].head(40).copy()
    later["subscription_id"] = [f"subscriptions:LATE{i}" for i in range(len(later))]
    later["started_at"] = END + pd.to_timedelta(np.arange(len(later)), unit="D")
    later["plan"], later["mrr"], later["paid_through"] = "team", 79.0, END + pd.Timedelta(days=500)
    pd.concat([changed, later], ignore_index=True).to_parquet(planted / "subscriptions.parquet", index=False)
    after = build_features(Warehouse(planted), MONTH, world)
    pd.testing.assert_frame_equal(after, features)
    # the same changes are seen once the snapshot passes them
    wh, moved = Warehouse(source), Warehouse(planted)
    before_next, after_next = build_features(wh, NEXT, world), build_features(moved, NEXT, world)
    for name in ("sub_cancelled", "sub_count", "sub_plan", "sub_mrr"):
        assert not before_next[name].equals(after_next[name]), name


def test_retail_config_plans_no_ratio_and_no_subscription_features(tmp_path):
    config = load_config()  # the retail demo's config: no event lists, no subscriptions source
    assert config.features.negative_events == [] and config.features.positive_events == []
    wh = Warehouse(make_warehouse(tmp_path / "wh", n_customers=300, seed=4))
    skipped = feature_plan(wh, config).skipped()
    assert {c: skipped[c] for c in BALANCE_COLUMNS} == dict.fromkeys(BALANCE_COLUMNS, "features.negative_events")
    assert {c: skipped[c] for c in SUBS} == dict.fromkeys(SUBS, "subscriptions")
    features = build_features(wh, "2026-10", config)
    assert not set(features.columns) & {*BALANCE_COLUMNS, *SUBS}
    assert any(c.startswith("ev_") for c in features.columns)  # the per-type event features are still there
