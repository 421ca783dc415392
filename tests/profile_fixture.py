"""Synthetic customer profile frames for the segmentation tests (docs/data_contract.md, §3).

``make_profile(n, seed, month)`` returns ``(profile, groups)``: a frame shaped like
``kit.profile.features.build_features`` output (one row per customer, the columns kit.segments.pipeline,
kit.segments.personas and kit.segments.movement read) and the latent group of every row. Four clear groups
drive channels, categories, discounts, spend, frequency, recency and age, so clustering has
a known answer:

0 app bargain hunters   app, high discount share, beauty/apparel, young, many small orders
1 loyal store spenders  store, no discounts, home/grocery, older, frequent and expensive
2 online gift buyers    web, electronics, rare large orders, mid age
3 lapsed sports fans    app/web mix, sports, few orders long ago

About 5% of customers never ordered (``has_ordered`` false, RFM fields NaN / 0).
Vectorised numpy; fine up to 1,000,000 rows for timing by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kit.core.dates import snapshot_date

CATEGORIES = ("apparel", "beauty", "electronics", "grocery", "home", "sports")
CHANNELS = ("online", "app", "store")
GROUPS = ("app bargain hunters", "loyal store spenders", "online gift buyers", "lapsed sports fans")

# per group: channel weights (online, app, store), category weights, discount share mean,
# orders per year, order value (yuan), mean days since last order, age mean
_CHANNEL = np.array([[0.15, 0.8, 0.05], [0.05, 0.1, 0.85], [0.85, 0.1, 0.05], [0.45, 0.45, 0.1]])
_CATEGORY = np.array(
    [
        [0.4, 0.4, 0.05, 0.05, 0.05, 0.05],
        [0.05, 0.05, 0.05, 0.45, 0.35, 0.05],
        [0.1, 0.05, 0.65, 0.05, 0.1, 0.05],
        [0.1, 0.05, 0.05, 0.05, 0.05, 0.7],
    ]
)
_DISCOUNT = np.array([0.55, 0.03, 0.1, 0.2])
_RATE = np.array([10.0, 14.0, 1.5, 2.0])
_AOV = np.array([60.0, 400.0, 1500.0, 150.0])
_RECENCY = np.array([25.0, 15.0, 120.0, 330.0])
_AGE = np.array([24.0, 52.0, 38.0, 30.0])


def make_profile(n: int = 2000, seed: int = 0, month: str = "2026-10") -> tuple[pd.DataFrame, np.ndarray]:
    """A profile frame of ``n`` customers as of ``month`` and each customer's latent group."""
    rng = np.random.default_rng(seed)
    snap = snapshot_date(month)
    group = rng.choice(len(GROUPS), n, p=[0.35, 0.2, 0.25, 0.2])
    ordered = rng.random(n) > 0.05

    tenure = rng.integers(30, 900, n).astype(float)
    recency = np.minimum(rng.exponential(_RECENCY[group]), tenure - 1).round()
    first_age = np.maximum(tenure - rng.integers(0, 30, n), recency)
    years = np.maximum(first_age, 30) / 365.0
    freq_all = 1 + rng.poisson(_RATE[group] * years * rng.gamma(4.0, 0.25, n))
    aov = _AOV[group] * rng.lognormal(0, 0.3, n)
    monetary_all = freq_all * aov
    active_share = np.clip(365 / np.maximum(first_age, 365), 0, 1) * (recency < 365)
    freq_365 = np.minimum(freq_all, rng.binomial(freq_all, active_share))
    freq_365 = np.where((recency < 365) & (freq_365 == 0), 1, freq_365)
    freq_90 = np.minimum(freq_365, rng.binomial(freq_365, 0.3) + (recency < 90))
    freq_30 = np.minimum(freq_90, rng.binomial(freq_90, 0.35) + (recency < 30))

    channels = _dirichlet_rows(rng, _CHANNEL[group] * 20)
    categories = _dirichlet_rows(rng, _CATEGORY[group] * 15)
    discount = np.clip(rng.normal(_DISCOUNT[group], 0.08), 0, 1)
    age = np.clip(rng.normal(_AGE[group], 6), 18, 80).round()
    visits_90 = rng.poisson(np.where(channels[:, 1] > 0.5, 25, 4) * (recency < 120) + 1)

    def when_ordered(values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        return np.where(ordered, values, fill)

    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:010x}" for i in range(n)],
            "snapshot_date": snap,
            "tenure_days": tenure,
            "has_ordered": ordered,
            "first_order_date": pd.to_datetime(np.where(ordered, snap - pd.to_timedelta(first_age, "D"), pd.NaT)),
            "last_order_date": pd.to_datetime(np.where(ordered, snap - pd.to_timedelta(recency, "D"), pd.NaT)),
            "recency_days": when_ordered(recency),
            "frequency_30d": when_ordered(freq_30, 0).astype("int64"),
            "frequency_90d": when_ordered(freq_90, 0).astype("int64"),
            "frequency_365d": when_ordered(freq_365, 0).astype("int64"),
            "frequency_all": when_ordered(freq_all, 0).astype("int64"),
            "monetary_30d": when_ordered(freq_30 * aov, 0.0),
            "monetary_90d": when_ordered(freq_90 * aov, 0.0),
            "monetary_365d": when_ordered(freq_365 * aov, 0.0),
            "monetary_all": when_ordered(monetary_all, 0.0),
            "aov_all": when_ordered(aov),
            "interpurchase_days": when_ordered(np.where(freq_all > 1, first_age / np.maximum(freq_all - 1, 1), np.nan)),
            "order_trend_90d": when_ordered(rng.normal(0, 1, n)),
            "spend_trend_90d": when_ordered(rng.normal(0, 1, n)),
        }
    )
    for j, cat in enumerate(CATEGORIES):
        frame[f"cat_share_{cat}"] = when_ordered(categories[:, j], 0.0)
    frame["favourite_category"] = pd.array(
        np.where(ordered, np.array(CATEGORIES, dtype=object)[categories.argmax(1)], None), dtype="str"
    )
    for j, chan in enumerate(CHANNELS):
        frame[f"channel_share_{chan}"] = when_ordered(channels[:, j], 0.0)
    frame["main_channel"] = pd.array(
        np.where(ordered, np.array(CHANNELS, dtype=object)[channels.argmax(1)], None), dtype="str"
    )
    frame["discount_share"] = when_ordered(discount, 0.0)
    frame["main_payment_method"] = pd.array(rng.choice(["alipay", "wechat_pay", "card"], n), dtype="str")
    frame["preferred_weekday"] = rng.integers(0, 7, n)
    frame["preferred_hour"] = rng.integers(8, 23, n)
    frame["visits_30d"] = rng.binomial(visits_90, 0.35)
    frame["visits_90d"] = visits_90
    frame["visits_prev_90d"] = rng.poisson(visits_90 + 1)
    frame["visit_trend_90d"] = (visits_90 - frame["visits_prev_90d"]) / np.maximum(frame["visits_prev_90d"], 1)
    frame["views_90d"] = rng.poisson(visits_90 * 3)
    frame["add_to_cart_90d"] = rng.poisson(visits_90 * 0.5)
    frame["cart_abandonment_rate_90d"] = rng.beta(2, 3, n)
    frame["days_since_last_visit"] = np.where(visits_90 > 0, rng.integers(0, 90, n), np.nan)
    frame["last_nps"] = np.where(rng.random(n) < 0.4, rng.integers(0, 11, n), np.nan)
    frame["avg_csat"] = np.where(rng.random(n) < 0.4, rng.uniform(1, 5, n), np.nan)
    frame["low_score_count"] = rng.poisson(0.2, n)
    frame["age"] = np.where(rng.random(n) < 0.08, np.nan, age)
    frame["age_band"] = pd.array(
        pd.cut(frame["age"], [0, 25, 35, 45, 55, 120], labels=["18-25", "26-35", "36-45", "46-55", "56+"]).astype(object),
        dtype="str",
    )
    frame["gender"] = pd.array(rng.choice(["female", "male"], n), dtype="str")
    frame["city"] = pd.array(rng.choice(["上海", "北京", "成都", "洛阳"], n), dtype="str")
    frame["city_tier"] = rng.integers(1, 5, n)
    return frame, group


def _dirichlet_rows(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    """One Dirichlet draw per row of ``alpha`` (vectorised through gamma draws)."""
    draws = rng.gamma(alpha)
    return draws / draws.sum(axis=1, keepdims=True)
