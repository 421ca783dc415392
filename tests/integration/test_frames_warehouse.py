"""kit.frames on a warehouse's own orders gives the monthly pipeline's layers: the order
profile is kit.profile.features' and the layers are kit.segments'."""

from __future__ import annotations

import numpy as np
import pandas as pd
from worlds import make_warehouse

from kit import frames
from kit.core.config import KitConfig
from kit.core.warehouse import Warehouse
from kit.profile import build_features
from kit.segments import rfm_layers

MONTH = "2026-10"


def test_rfm_segments_of_the_order_log_equal_the_monthly_layers(tmp_path) -> None:
    wh = Warehouse(make_warehouse(tmp_path / "wh", n_customers=600, seed=8))
    config = KitConfig()
    profile = build_features(wh, MONTH, config)
    expected = pd.concat([profile[["customer_id"]], rfm_layers(profile, config)], axis=1)
    expected = expected[profile["has_ordered"].fillna(False).to_numpy(bool)].set_index("customer_id")
    orders = wh.table("orders").to_pandas()
    got = frames.rfm_segments(orders, MONTH, config=config).set_index("customer_id")
    got = got[got["lifecycle_stage"] != "prospect"]
    # buyers only: the profile also holds customers who never ordered, an order log cannot
    assert set(got.index) == set(expected.index)
    got = got.loc[expected.index]
    for column in ("recency_days", "frequency_all", "monetary_all", "monetary_365d"):
        np.testing.assert_allclose(got[column], profile.set_index("customer_id").loc[expected.index, column], rtol=1e-9)
    # value tiers and quantile scores rank among all buyers, the same set on both sides
    for column in ("rfm_segment", "value_tier", "lifecycle_stage", "r_score", "f_score", "m_score"):
        assert (got[column].astype("str") == expected[column].astype("str")).all(), column
