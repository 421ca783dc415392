"""The row-level stages give the same customers and numbers on Spark as on DuckDB.

One demo world of 2,500 customers is ingested (DuckDB), then every stage that reads the
warehouse through Ibis runs on both engines from the same Parquet files: the profile
(features and tags), the segmentation's browsing inputs, the churn signals, a labelled
churn snapshot and its sampled variant, the CLV summary (with a holdout) and an experiment's
user metrics. Spark runs as ``local[2]`` through ``kit.core.backends`` (pyspark and Java 17
are part of the test install: this test never skips). Equal means the same ids in the
same order and every number within 1e-9 relative, NaN where the other has NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from worlds import demo_world

from kit.churn import sample
from kit.churn.dataset import snapshot_examples
from kit.churn.signals import churn_features
from kit.clv.summary import customer_summary
from kit.core.backends import connect
from kit.core.config import WarehouseConfig
from kit.core.dates import previous_month
from kit.core.warehouse import Warehouse
from kit.experiments.readout import load_experiments, read_out
from kit.ingest.pipeline import run_ingest
from kit.profile.pipeline import build_profile
from kit.segments.personas import browsing_features

RELATIVE = 1e-9


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    """The demo world's config and its warehouse on DuckDB and on Spark (one session)."""
    config = demo_world(tmp_path_factory.mktemp("parity"))
    run_ingest(config)
    spark_settings = WarehouseConfig(backend="pyspark", spark={"spark.sql.shuffle.partitions": "4"})
    duck = Warehouse.from_config(config)
    spark = Warehouse(duck.root, connect(spark_settings))
    yield config, duck, spark
    spark.con.disconnect()


def assert_same(left: pd.DataFrame, right: pd.DataFrame, key: str = "customer_id") -> None:
    """Same columns and dtypes, the same ``key`` values in the same order (after sorting by
    ``key`` when the stage does not sort), numbers within ``RELATIVE``, other values equal."""
    left = left.sort_values(key, kind="stable").reset_index(drop=True)
    right = right.sort_values(key, kind="stable").reset_index(drop=True)
    assert list(left.columns) == list(right.columns)
    assert len(left) == len(right) > 0
    for column in left.columns:
        a, b = left[column], right[column]
        assert a.dtype == b.dtype, column
        if pd.api.types.is_numeric_dtype(a) and not pd.api.types.is_bool_dtype(a):
            x, y = a.to_numpy("float64", na_value=np.nan), b.to_numpy("float64", na_value=np.nan)
            np.testing.assert_allclose(x, y, rtol=RELATIVE, atol=0, equal_nan=True, err_msg=column)
        else:
            pd.testing.assert_series_equal(a, b, check_names=False, obj=column)


def test_profile_and_segment_inputs(engines):
    config, duck, spark = engines
    month = config.run.month
    on_duck, on_spark = build_profile(duck, month, config, write=False), build_profile(spark, month, config, write=False)
    assert_same(on_duck.profile, on_spark.profile)
    assert len(on_duck.profile.columns) > 60  # features, tags and the RFM scores
    assert_same(browsing_features(duck, month), browsing_features(spark, month))


def test_churn_snapshot_and_its_sample(engines):
    config, duck, spark = engines
    month = previous_month(previous_month(config.run.month))
    assert_same(snapshot_examples(duck, month, config, churn_features), snapshot_examples(spark, month, config, churn_features))
    ids = duck.table("customers").select("customer_id").to_pandas()["customer_id"]
    threshold = sample.key_threshold(ids, len(ids) // 3, config.churn.seed)
    sampled = [snapshot_examples(sample.SampledWarehouse(wh, threshold, config.churn.seed), month, config, churn_features)
               for wh in (duck, spark)]
    assert 0 < len(sampled[0]) < len(ids)
    assert_same(*sampled)


def test_clv_summary_with_holdout(engines):
    config, duck, spark = engines
    month = config.run.month
    calibration = previous_month(previous_month(previous_month(month)))
    assert_same(customer_summary(duck, month, config), customer_summary(spark, month, config))
    assert_same(customer_summary(duck, month, config, calibration_end=f"{calibration}-28"),
                customer_summary(spark, month, config, calibration_end=f"{calibration}-28"))


def test_experiment_readout(engines):
    config, duck, spark = engines
    experiment = load_experiments(config, "all", config.run.month)[0]
    on_duck, on_spark = (read_out(wh, config, experiment, config.run.month) for wh in (duck, spark))
    assert on_duck.assigned == on_spark.assigned and on_duck.exclusions == on_spark.exclusions
    assert on_duck.caps == pytest.approx(on_spark.caps, rel=RELATIVE)
    keys = ["metric", "treatment"]
    for name in ("results", "segments"):
        left, right = getattr(on_duck, name), getattr(on_spark, name)
        by = [c for c in ("dimension", "segment", *keys) if c in left.columns]
        assert_same(left.assign(key=left[by].astype("string").agg("|".join, axis=1)),
                    right.assign(key=right[by].astype("string").agg("|".join, axis=1)), key="key")
    assert on_duck.decision == on_spark.decision
